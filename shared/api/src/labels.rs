//! Labels that group assets, by hand or by a filter.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/labels`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateLabel {
    /// Name.
    pub name: String,
    /// A filter (`key=value` words) for a dynamic label; none for a static one.
    pub filter: Option<String>,
}

/// A label as listed.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelView {
    /// Name.
    pub name: String,
    /// `static` or `dynamic`.
    pub kind: String,
    /// The filter of a dynamic label.
    pub filter: Option<String>,
    /// How many assets carry it now.
    pub assets: usize,
    /// Creator.
    pub created_by: String,
}

/// `POST /api/v1/assets/{key}/labels`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LabelAsset {
    /// The static label to put on the asset.
    pub label: String,
}
