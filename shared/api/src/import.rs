//! Assets imported from a CSV file.

use serde::{Deserialize, Serialize};

use crate::assets::AssetCreated;

/// One row of a CSV import that was refused.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportError {
    /// Line number in the file (the header is line 1).
    pub line: usize,
    /// Why.
    pub error: String,
}

/// What a CSV import did.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    /// Whether the good rows were stored: false for a check
    /// (`?check=true`), which reports what an import would do.
    #[serde(default = "stored_by_default")]
    pub stored: bool,
    /// Rows stored (or, in a check, that would be; their ids are then
    /// empty).
    pub created: Vec<AssetCreated>,
    /// Rows refused; none of their fields is stored.
    pub failed: Vec<ImportError>,
}

fn stored_by_default() -> bool {
    true
}
