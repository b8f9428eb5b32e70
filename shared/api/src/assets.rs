//! Assets: lists and their filters, one asset's page, history, counts,
//! and the assets entered, edited and retired by hand.

use serde::{Deserialize, Serialize};

/// Query of `GET /api/v1/assets`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AssetQuery {
    /// Text in the host name, serial, model, user, IP, MAC or id (any case; `*` matches any text).
    pub search: Option<String>,
    /// `NAME` or `NAME@CONSTRAINT`, e.g. `openssl@>=3.0,<3.0.13`; NAME is
    /// matched in any case, and `*` in it matches any text
    /// (`Mozilla Firefox*@<120`).
    pub software: Option<String>,
    /// Substring of OS name and version.
    pub os: Option<String>,
    /// Substring of manufacturer and model.
    pub model: Option<String>,
    /// Seen within this long, e.g. `7d`.
    pub seen_within: Option<String>,
    /// Not seen for this long, e.g. `30d`.
    pub not_seen_for: Option<String>,
    /// Carrying this label (static or dynamic).
    pub label: Option<String>,
    /// `in-service` (the default), `retired` or `all`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<AssetStatus>))]
    pub status: Option<String>,
    /// Warranty still running and ending within this long, e.g. `90d`.
    #[serde(default)]
    pub warranty_ends_within: Option<String>,
    /// `true`: only assets whose warranty has ended.
    #[serde(default)]
    pub out_of_warranty: Option<String>,
    /// Lists only: what to sort by (`name`, the default; `last-seen`,
    /// `ram`, `packages`, `model`, ...: `store::AssetSort`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", param(value_type = Option<AssetSort>))]
    pub sort: Option<String>,
    /// Lists only: `asc` (the default) or `desc`.
    #[serde(default)]
    pub order: Option<String>,
    /// Lists only: at most this many assets (the answer's
    /// `X-Total-Count` header says how many matched).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Lists only: skip this many first.
    #[serde(default)]
    pub offset: Option<usize>,
}

/// An asset in a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetView {
    /// Asset id.
    pub id: String,
    /// `computer` for agent-reported assets, else what was entered.
    pub kind: String,
    /// Where it is.
    pub location: String,
    /// Host name.
    pub hostname: String,
    /// OS name and version.
    pub os: String,
    /// Manufacturer and model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Logged-in or last user.
    pub user: String,
    /// IPv4 addresses.
    pub ipv4: String,
    /// RAM, bytes.
    pub memory_bytes: i64,
    /// Installed packages.
    pub software_count: i64,
    /// Connected now.
    pub online: bool,
    /// Last heard from, RFC 3339.
    pub last_seen: Option<String>,
    /// Latest inventory, RFC 3339.
    pub last_inventory_at: String,
    /// Set when the asset is retired.
    #[serde(default)]
    pub retired: Option<RetiredView>,
    /// Last day of its warranty (`YYYY-MM-DD`), empty if unknown.
    #[serde(default)]
    pub warranty_until: String,
    /// In a list filtered by software: the matching packages this asset
    /// has, by name and version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_software: Vec<MatchedPackage>,
}

/// A package an asset has that a software filter matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatchedPackage {
    /// Its name as the asset reports it.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// When, by whom and why an asset was retired.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetiredView {
    /// When, RFC 3339.
    pub at: String,
    /// The operator.
    pub by: String,
    /// Why (may be empty).
    pub reason: String,
}

/// One installed package.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SoftwareView {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Vendor or publisher.
    pub vendor: String,
    /// Source database.
    pub source: String,
    /// Architecture.
    pub arch: String,
    /// Install time, RFC 3339.
    pub install_date: Option<String>,
}

/// One history event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryView {
    /// When, RFC 3339.
    pub at: String,
    /// Category.
    pub category: String,
    /// Item.
    pub item: String,
    /// Kind of change.
    pub change: String,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
}

/// Query of `GET /api/v1/assets/{key}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    /// Only the packages whose name contains this (any case).
    #[serde(default)]
    pub software: Option<String>,
}

/// Query of `GET /api/v1/assets/{key}/history`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// How far back, e.g. `7d`, or from when, e.g. `tuesday` or
    /// `2026-11-24` (UTC; see `ChangesQuery::since`); everything if absent.
    pub since: Option<String>,
    /// Only this category, e.g. `software`.
    pub category: Option<String>,
}

/// What `GET /api/v1/asset-counts/{by}` groups assets by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CountBy {
    /// Manufacturer and model.
    Model,
    /// Manufacturer.
    Manufacturer,
    /// OS name and version.
    Os,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
}

/// One group of `GET /api/v1/asset-counts/{by}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountView {
    /// The model, OS, ... (empty when the assets do not say).
    pub value: String,
    /// How many of the selected assets have it.
    pub assets: usize,
}

/// `POST /api/v1/assets`: an asset without an agent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddAsset {
    /// Name, e.g. `HP LaserJet 4th floor`.
    pub name: String,
    /// What it is: printer, monitor, phone, ...
    pub kind: String,
    /// Serial number.
    #[serde(default)]
    pub serial: String,
    /// Manufacturer.
    #[serde(default)]
    pub manufacturer: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Where it is.
    #[serde(default)]
    pub location: String,
    /// Who uses it.
    #[serde(default)]
    pub user: String,
    /// Free text.
    #[serde(default)]
    pub notes: String,
    /// Last day of its warranty, e.g. `2027-03-31`.
    #[serde(default)]
    pub warranty_until: String,
}

/// A created asset.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetCreated {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// What `PATCH /api/v1/assets/{key}` did.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetEdited {
    /// The asset's id.
    pub id: String,
    /// Its name after the edit.
    pub name: String,
    /// The fields that changed; empty if the edit set what was there.
    pub changes: Vec<FieldChange>,
}

/// `POST /api/v1/assets/{key}/retire`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetireAsset {
    /// Why: disposed, lost, returned to the lessor...
    #[serde(default)]
    pub reason: String,
}

/// What a retire or restore did.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChanged {
    /// The asset's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `retired` or `in-service`, after the request.
    pub status: AssetStatus,
    /// False when the asset already was so (nothing was recorded).
    pub changed: bool,
}

crate::keyword!(CountBy {
    Model => "model",
    Manufacturer => "manufacturer",
    Os => "os",
    Kind => "kind",
    Location => "location",
});

/// The header of a list answer that says how many items matched, before
/// `limit` and `offset`.
pub const TOTAL_COUNT: &str = "x-total-count";

/// One field an edit changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    /// The field: name, kind, serial, manufacturer, model, location, user
    /// or notes.
    pub field: String,
    /// Before.
    pub old: String,
    /// After.
    pub new: String,
}

/// Whether an asset is in service or retired (`status=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AssetStatus {
    /// In service: what lists, counts and job targets mean by default.
    #[default]
    InService,
    /// Retired, kept for its history.
    Retired,
    /// Both.
    All,
}

crate::keyword!(AssetStatus {
    InService => "in-service",
    Retired => "retired",
    All => "all",
});

/// What a list of assets is sorted by (`sort=`). Ties go by name and id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AssetSort {
    /// Host name (or a manual asset's name).
    #[default]
    Name,
    /// Asset id.
    Id,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
    /// OS name and version.
    Os,
    /// Manufacturer and model.
    Model,
    /// Serial number.
    Serial,
    /// Logged-in or last user.
    User,
    /// Memory size.
    Ram,
    /// Number of installed packages.
    Packages,
    /// Last heard from.
    LastSeen,
    /// First inventory.
    FirstSeen,
    /// Last day of the warranty.
    Warranty,
}

crate::keyword!(AssetSort {
    Name => "name",
    Id => "id",
    Kind => "kind",
    Location => "location",
    Os => "os",
    Model => "model",
    Serial => "serial",
    User => "user",
    Ram => "ram",
    Packages => "packages",
    LastSeen => "last-seen",
    FirstSeen => "first-seen",
    Warranty => "warranty",
});

/// `PATCH /api/v1/assets/{key}`: fields of an asset to change; a field
/// left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssetEdit {
    /// New name (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it is: printer, monitor, phone, ... (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Serial number (entered by hand only); "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Manufacturer (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Model (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Who uses it (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Free text; "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Last day of the warranty, e.g. 2027-03-31; "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_until: Option<String>,
}
