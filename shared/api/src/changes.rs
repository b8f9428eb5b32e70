//! What changed across the fleet in a time window.

use serde::{Deserialize, Serialize};

use crate::assets::HistoryView;

/// Query of `GET /api/v1/changes` and `GET /api/v1/changes/summary`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// From when: a duration back from now (`7d`), a day's midnight
    /// (UTC: `today`, `yesterday`, `tuesday`), a UTC date (`2026-11-24`)
    /// or time (`2026-11-24T09:00`). The last day if absent.
    pub since: Option<String>,
    /// Before when, in the same forms; now if absent.
    pub until: Option<String>,
    /// Only this category, e.g. `software`.
    pub category: Option<String>,
    /// Only items (package names, ...) containing this, in any case.
    pub item: Option<String>,
    /// Only assets carrying this label (static or dynamic): a dynamic
    /// label scopes the changes by any `assets list` filter.
    pub label: Option<String>,
    /// At most this many events, newest first (`/changes` only; default
    /// 1,000).
    pub limit: Option<usize>,
}

/// One change on one asset: a history event with its asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeView {
    /// The asset's id.
    pub asset_id: String,
    /// The asset's host name (or name, if entered by hand).
    pub hostname: String,
    /// The event, its fields beside the asset's.
    #[serde(flatten)]
    pub event: HistoryView,
}

/// One change and how many assets it happened on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeGroupView {
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
    /// On how many assets.
    pub assets: usize,
    /// First time in the window, RFC 3339.
    pub first_at: String,
    /// Last time in the window, RFC 3339.
    pub last_at: String,
}

/// Events without a limit of their own are capped at this many.
pub const CHANGES_LIMIT: usize = 1000;
