//! The inventory document and its machine-wide sections: collection metadata,
//! identity, operating system, sessions, local users and groups.

use serde::{Deserialize, Serialize};

use super::*;

/// The full inventory of one machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Inventory {
    /// Wire schema version, always [`SCHEMA_VERSION`] when produced by this build.
    pub schema_version: u32,
    /// When and how the document was collected (not part of the content hash).
    pub meta: CollectionMeta,
    /// Who the machine is: names, serials, SMBIOS identity.
    pub identity: Identity,
    /// BIOS/UEFI firmware.
    pub firmware: Firmware,
    /// Processor summary.
    pub cpu: Cpu,
    /// Memory totals.
    pub memory: MemorySummary,
    /// Operating system.
    pub os: OsInfo,
    /// Machine-wide network settings (gateways, DNS).
    pub network: NetworkConfig,
    /// Who is or was logged in (volatile, not part of the content hash).
    pub sessions: Sessions,
    /// Memory modules from SMBIOS.
    pub memory_modules: Vec<MemoryModule>,
    /// Physical disks.
    pub disks: Vec<Disk>,
    /// Mounted volumes and file systems.
    pub volumes: Vec<Volume>,
    /// Network interfaces.
    pub interfaces: Vec<NetInterface>,
    /// Connected displays (from EDID).
    pub displays: Vec<Display>,
    /// Graphics adapters.
    pub gpus: Vec<Gpu>,
    /// Batteries.
    pub batteries: Vec<Battery>,
    /// Local user accounts.
    pub users: Vec<UserAccount>,
    /// Local groups.
    pub groups: Vec<LocalGroup>,
    /// Installed software packages from every source.
    pub software: Vec<Package>,
    /// Installed OS updates (Windows hotfixes).
    pub updates: Vec<Update>,
    /// System services (systemd units, Windows services, launchd jobs).
    pub services: Vec<Service>,
    /// PCI and USB devices.
    pub devices: Vec<Device>,
    /// Package repositories the machine installs from.
    pub repositories: Vec<Repository>,
    /// Firewalls and their state.
    pub firewalls: Vec<Firewall>,
    /// Antivirus products the OS reports.
    pub antivirus: Vec<Antivirus>,
}

/// How the document was collected: time, agent, per-collector timing and warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CollectionMeta {
    /// Collection start, milliseconds since the Unix epoch.
    pub collected_at_unix_ms: u64,
    /// Version of the agent that collected it.
    pub agent_version: String,
    /// Wall time of the whole collection, microseconds.
    pub total_micros: u64,
    /// One report per collector that ran.
    pub collectors: Vec<CollectorReport>,
    /// Categories that could not be collected, and why: their values in
    /// this document mean nothing (see [`Inventory::carry_forward_unknown`]).
    pub unknown: Vec<Unknown>,
}

/// What one collector did: its name, the time it took, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct CollectorReport {
    /// Collector name, e.g. `dpkg` or `smbios`.
    pub name: String,
    /// Wall time the collector took, microseconds.
    pub micros: u64,
    /// Problems met; the collector's other results are still in the document.
    pub warnings: Vec<String>,
}

/// Who the machine is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Identity {
    /// Short host name.
    pub hostname: String,
    /// Fully qualified domain name, when known.
    pub fqdn: Option<String>,
    /// DNS or Windows domain, when known.
    pub domain: Option<String>,
    /// OS machine id (/etc/machine-id, MachineGuid, IOPlatformUUID).
    pub machine_id: Option<String>,
    /// SMBIOS system UUID.
    pub system_uuid: Option<String>,
    /// System manufacturer.
    pub manufacturer: Option<String>,
    /// Product name / model.
    pub model: Option<String>,
    /// System serial number.
    pub serial: Option<String>,
    /// SMBIOS SKU number.
    pub sku: Option<String>,
    /// Chassis type (desktop, laptop, ...).
    pub chassis_type: Option<String>,
    /// Asset tag (chassis, else system).
    pub asset_tag: Option<String>,
    /// Base board manufacturer.
    pub board_manufacturer: Option<String>,
    /// Base board product.
    pub board_product: Option<String>,
    /// Base board serial.
    pub board_serial: Option<String>,
    /// Virtualization platform, when the machine is a VM or container.
    pub virtualization: Option<String>,
}

/// Operating system.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsInfo {
    /// Family: linux, windows, macos.
    pub family: String,
    /// Distribution or product name.
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Build number.
    pub build: Option<String>,
    /// Kernel version.
    pub kernel: Option<String>,
    /// Architecture.
    pub arch: String,
    /// Install time, seconds since the Unix epoch.
    pub install_date: Option<u64>,
    /// Last boot, seconds since the Unix epoch (volatile, not part of the content hash).
    pub last_boot: Option<u64>,
    /// Time zone, an IANA name (`Europe/Berlin`); Windows agents map their
    /// zone to one, and report it as it is when there is none.
    pub time_zone: Option<String>,
    /// The machine's offset from UTC when collected, seconds east of UTC
    /// (`7200` in Berlin in summer): what a window falls back on when the
    /// zone's name is not known.
    pub utc_offset_secs: Option<i32>,
    /// Locale (en_US.UTF-8, en-US).
    pub locale: Option<String>,
}

/// Who is and was logged in (volatile, not part of the content hash).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sessions {
    /// Users logged in now, sorted, unique.
    pub logged_in: Vec<String>,
    /// The last user who logged in.
    pub last_logged_in: Option<String>,
}

/// One local user account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct UserAccount {
    /// Login name.
    pub name: String,
    /// uid, or SID on Windows.
    pub uid: Option<String>,
    /// Full name (GECOS).
    pub full_name: Option<String>,
    /// Home directory.
    pub home: Option<String>,
    /// Login shell.
    pub shell: Option<String>,
    /// System account (uid below the login range, or not interactive).
    pub system: bool,
    /// Disabled or locked, when known.
    pub disabled: Option<bool>,
}

/// One local group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct LocalGroup {
    /// Group name.
    pub name: String,
    /// gid, or SID on Windows.
    pub gid: Option<String>,
    /// Members, sorted.
    pub members: Vec<String>,
}
