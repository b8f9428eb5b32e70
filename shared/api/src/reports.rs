//! Reports for supervisors: the fleet and its inventory over time.

use serde::{Deserialize, Serialize};

use crate::assets::CountView;
use crate::changes::ChangeGroupView;

/// The fleet now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FleetView {
    /// Assets in service.
    pub in_service: usize,
    /// Of those, computers (reported by an agent).
    pub computers: usize,
    /// Of those, entered by hand (printers, monitors, ...).
    pub by_hand: usize,
    /// Computers with a live connection now.
    pub online_now: usize,
    /// Computers in service not seen for 30 days (or never).
    pub not_seen_30d: usize,
    /// Assets taken out of service.
    pub retired: usize,
    /// In service with a warranty that has ended.
    pub warranty_ended: usize,
    /// In service with a warranty ending within 90 days.
    pub warranty_ends_90d: usize,
    /// In service without a warranty date.
    pub warranty_unknown: usize,
}

/// One period of the inventory report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryPeriodView {
    /// Start, RFC 3339.
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
    /// Assets first inventoried or entered in the period.
    pub added: usize,
    /// Assets retired in the period (and still retired).
    pub retired: usize,
    /// Packages installed (history events: one per package and asset).
    pub installed: usize,
    /// Packages removed.
    pub removed: usize,
    /// Packages upgraded.
    pub upgraded: usize,
    /// Packages downgraded.
    pub downgraded: usize,
}

/// `GET /api/v1/reports/inventory`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryReport {
    /// daily, weekly or monthly.
    pub period: String,
    /// Start of the first period, RFC 3339.
    pub from: String,
    /// End of the last period, RFC 3339.
    pub to: String,
    /// When it was computed: the time the fleet figures are of.
    pub generated_at: String,
    /// The fleet now.
    pub fleet: FleetView,
    /// One row per period.
    pub periods: Vec<InventoryPeriodView>,
    /// The whole span.
    pub total: InventoryPeriodView,
    /// Assets in service by OS, most first (the first 10).
    pub by_os: Vec<CountView>,
    /// Assets in service by model, most first (the first 10).
    pub by_model: Vec<CountView>,
    /// The software changes on the most assets in the span (the first 10).
    pub top_software_changes: Vec<ChangeGroupView>,
}
