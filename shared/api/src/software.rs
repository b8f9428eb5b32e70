//! Installed software across all assets.

use serde::{Deserialize, Serialize};

/// A package and how many assets have it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoftwareCountView {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Vendor.
    pub vendor: String,
    /// Source.
    pub source: String,
    /// Architecture.
    pub arch: String,
    /// Assets that have it.
    pub assets: i64,
}

/// Query of `GET /api/v1/software`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SoftwareQuery {
    /// Text in the name (any case; `*` matches any text).
    pub name: Option<String>,
    /// `name` (the default: name, then version) or `assets` (how many
    /// have it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<SoftwareSort>))]
    pub sort: Option<String>,
    /// `asc` (the default) or `desc`.
    #[serde(default)]
    pub order: Option<String>,
    /// At most this many rows (`X-Total-Count` says how many matched).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Skip this many first.
    #[serde(default)]
    pub offset: Option<usize>,
}

/// What `software list` is sorted by (`sort=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SoftwareSort {
    /// Name, then version.
    #[default]
    Name,
    /// How many assets have it (ties by name and version).
    Assets,
}

crate::keyword!(SoftwareSort {
    Name => "name",
    Assets => "assets",
});
