//! `GET /api/v1/assets/{key}`: one asset in full, with its tickets and
//! recent changes (which is why it is apart from `assets`, which the
//! tickets' types use in turn).

use serde::{Deserialize, Serialize};

use crate::assets::{AssetView, HistoryView, SoftwareView};
use crate::tickets::TicketView;

/// A network interface of an asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InterfaceView {
    /// Name.
    pub name: String,
    /// MAC address.
    pub mac: Option<String>,
    /// Addresses with prefix.
    pub addresses: Vec<String>,
    /// State.
    pub state: Option<String>,
}

/// A disk or volume of an asset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageView {
    /// Device name or mount point.
    pub name: String,
    /// Model or filesystem type.
    pub kind: String,
    /// Size, bytes.
    pub size_bytes: u64,
    /// Free space, bytes (volumes).
    pub free_bytes: Option<u64>,
}

/// One asset in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetDetail {
    /// The list fields.
    pub asset: AssetView,
    /// What an operator wrote on it.
    #[serde(default)]
    pub notes: String,
    /// Fully qualified name.
    pub fqdn: String,
    /// Kernel.
    pub kernel: String,
    /// Time zone its agent reported (an IANA name), if any.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Its offset from UTC when last collected, seconds east, if reported.
    #[serde(default)]
    pub utc_offset_secs: Option<i32>,
    /// Architecture.
    pub arch: String,
    /// CPU model.
    pub cpu_model: String,
    /// CPU cores.
    pub cpu_cores: i64,
    /// SMBIOS UUID.
    pub system_uuid: String,
    /// MAC addresses.
    pub macs: String,
    /// First inventory, RFC 3339.
    pub first_inventory_at: String,
    /// Content hash of the latest inventory.
    pub inventory_hash: String,
    /// Size of the latest report on the wire, bytes.
    pub last_report_bytes: i64,
    /// Network interfaces.
    pub interfaces: Vec<InterfaceView>,
    /// Physical disks.
    pub disks: Vec<StorageView>,
    /// Mounted volumes.
    pub volumes: Vec<StorageView>,
    /// Labels, static and dynamic.
    pub labels: Vec<String>,
    /// Installed software.
    pub software: Vec<SoftwareView>,
    /// Its open tickets and those changed in the last 30 days.
    #[serde(default)]
    pub tickets: Vec<TicketView>,
    /// What changed on it in the last 7 days, newest first (at most 100).
    #[serde(default)]
    pub changed_last_7_days: Vec<HistoryView>,
    /// How many changes the last 7 days had in all.
    #[serde(default)]
    pub changes_last_7_days_total: usize,
    /// Parts of its inventory its agent could not collect lately: shown
    /// with their last collected value.
    #[serde(default)]
    pub stale: Vec<StaleView>,
    /// The newest jobs it was a target of (at most 50).
    #[serde(default)]
    pub jobs: Vec<AssetJobView>,
    /// How many jobs it was a target of in all.
    #[serde(default)]
    pub jobs_total: usize,
    /// Its agent's remote-access policy, once the agent told it.
    #[serde(default)]
    pub remote: Option<crate::remote::RemotePolicyView>,
}

/// A job an asset was a target of, and how it went there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssetJobView {
    /// The job id.
    pub job_id: String,
    /// `install`, `uninstall`, `script`, `diag` or `inventory`.
    pub action: String,
    /// `name version` of its package or script, or the check.
    pub item: String,
    /// When the job was created, RFC 3339.
    pub created_at: String,
    /// The state on this asset (`queued`, `running`, `succeeded`, ...).
    pub state: String,
    /// The exit code, once it ended with one.
    pub exit_code: Option<i32>,
    /// It succeeded with an exit code its signed manifest lists as
    /// "restart to finish": the machine awaits a restart.
    #[serde(default)]
    pub reboot_pending: bool,
    /// When it ended on this asset, RFC 3339.
    pub finished_at: Option<String>,
}

/// A part of an asset's inventory that was not collected lately.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaleView {
    /// The category (`software`, `users`, `services`, ...).
    pub category: String,
    /// The first report that did not collect it, RFC 3339.
    pub since: String,
    /// Why, as the agent said.
    pub reason: String,
}
