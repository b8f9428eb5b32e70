//! The inventory document: what one machine is made of and runs, as sent on the wire.
//!
//! [`Inventory`] is the wire type. It is encoded with postcard, which is not
//! self-describing: fields are positional, so any change to a type here is a
//! schema change and must bump [`SCHEMA_VERSION`]. For the same reason there
//! is no `skip_serializing_if`, no untagged enum and no `flatten` anywhere in
//! this module.
//!
//! Two inventories are compared in two ways:
//! - [`Inventory::content_hash`]: SHA-256 over the canonical postcard encoding
//!   (every collection sorted, volatile fields cleared), so an agent can tell
//!   the server "nothing changed" with 32 bytes;
//! - [`diff`] / [`apply`]: an [`InventoryDelta`] of typed changes (added,
//!   removed, changed, per category and key) such that
//!   `apply(a, &diff(a, b)) == b.canonical()`. The server's history is built on
//!   these deltas.
//!
//! A category the agent could not collect (its source unreadable, its
//! collector crashed) is listed in [`CollectionMeta::unknown`]: it is
//! unknown, not empty, and [`Inventory::carry_forward_unknown`] takes its
//! last known value before anything is diffed, so it removes nothing.
//!
//! No I/O here: collectors live in the agent.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the inventory wire form; bump on any change to a type in this module.
/// 2: [`CollectionMeta::unknown`], the categories that were not collected.
pub const SCHEMA_VERSION: u32 = 2;

/// Upper bound on an encoded inventory accepted by [`Inventory::from_wire`].
pub const MAX_WIRE_BYTES: usize = 32 * 1024 * 1024;

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

/// BIOS/UEFI firmware.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Firmware {
    /// Firmware vendor.
    pub vendor: Option<String>,
    /// Firmware version.
    pub version: Option<String>,
    /// Release date as the firmware reports it (usually MM/DD/YYYY).
    pub release_date: Option<String>,
    /// `uefi` or `bios`, when known.
    pub mode: Option<String>,
    /// Secure Boot enabled, when readable.
    pub secure_boot: Option<bool>,
}

/// Processor summary.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cpu {
    /// Model name.
    pub model: Option<String>,
    /// Vendor (GenuineIntel, AuthenticAMD, Apple, ...).
    pub vendor: Option<String>,
    /// Architecture (x86_64, aarch64).
    pub arch: String,
    /// Populated sockets.
    pub sockets: Option<u32>,
    /// Physical cores in all sockets.
    pub cores: Option<u32>,
    /// Logical processors.
    pub threads: Option<u32>,
    /// Base frequency, MHz.
    pub base_mhz: Option<u32>,
    /// Maximum frequency, MHz.
    pub max_mhz: Option<u32>,
}

/// Memory totals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemorySummary {
    /// Memory usable by the OS, bytes.
    pub total_bytes: u64,
    /// Swap space, bytes.
    pub swap_bytes: u64,
}

/// One memory module (SMBIOS type 17).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct MemoryModule {
    /// Slot (device locator).
    pub slot: String,
    /// Bank locator.
    pub bank: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Memory type (DDR4, LPDDR5, ...).
    pub kind: Option<String>,
    /// Form factor (DIMM, SODIMM, ...).
    pub form_factor: Option<String>,
    /// Speed in MT/s.
    pub speed_mts: Option<u32>,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Part number.
    pub part_number: Option<String>,
}

/// What kind of medium a disk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskKind {
    /// Not known.
    #[default]
    Unknown,
    /// Rotational hard disk.
    Hdd,
    /// SATA/SAS solid-state disk.
    Ssd,
    /// NVMe solid-state disk.
    Nvme,
    /// Virtual disk of a hypervisor.
    Virtual,
    /// Removable medium (USB stick, card reader).
    Removable,
}

/// One physical disk.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Disk {
    /// OS device name (sda, nvme0n1, \\.\PHYSICALDRIVE0, disk0).
    pub name: String,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Firmware revision.
    pub firmware: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Medium kind.
    pub kind: DiskKind,
    /// Bus (sata, nvme, usb, virtio, scsi, ...).
    pub bus: Option<String>,
}

/// Whether a volume is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// Not readable.
    #[default]
    Unknown,
    /// Known not to be encrypted.
    None,
    /// Encrypted; the method (luks2, bitlocker, filevault, ...).
    Encrypted(String),
}

/// One mounted volume.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Volume {
    /// Mount point or drive letter.
    pub mount_point: String,
    /// Device or volume name.
    pub device: Option<String>,
    /// File system type.
    pub fs_type: Option<String>,
    /// Label.
    pub label: Option<String>,
    /// Size, bytes.
    pub size_bytes: u64,
    /// Free space, bytes (volatile, not part of the content hash).
    pub free_bytes: u64,
    /// Encryption state.
    pub encryption: Encryption,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct NetInterface {
    /// Interface name.
    pub name: String,
    /// Hardware address, lower-case colon-separated.
    pub mac: Option<String>,
    /// IPv4 addresses with prefix (192.0.2.1/24), sorted.
    pub ipv4: Vec<String>,
    /// IPv6 addresses with prefix, sorted.
    pub ipv6: Vec<String>,
    /// Operational state (up, down, unknown, ...).
    pub state: Option<String>,
    /// Link speed, Mbit/s.
    pub speed_mbps: Option<u32>,
    /// Kind (ethernet, wifi, loopback, bridge, virtual, ...).
    pub kind: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Driver.
    pub driver: Option<String>,
}

/// Machine-wide network settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// Default gateways (v4 and v6), sorted.
    pub default_gateways: Vec<String>,
    /// DNS servers in resolver order.
    pub dns_servers: Vec<String>,
    /// DNS search domains in resolver order.
    pub search_domains: Vec<String>,
}

/// One display, from its EDID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Display {
    /// Connector the display is attached to (card0-HDMI-A-1, ...).
    pub connector: Option<String>,
    /// Three-letter PNP manufacturer id (DEL, SAM, AUO).
    pub vendor: String,
    /// Manufacturer name, when the PNP id is a well-known one.
    pub manufacturer: Option<String>,
    /// Model name from the display descriptor.
    pub model: Option<String>,
    /// Product code.
    pub product_code: u16,
    /// Serial: the serial descriptor string, else the numeric serial.
    pub serial: Option<String>,
    /// Maximum image width, cm.
    pub width_cm: Option<u16>,
    /// Maximum image height, cm.
    pub height_cm: Option<u16>,
    /// Year of manufacture.
    pub year: Option<u16>,
    /// Week of manufacture.
    pub week: Option<u8>,
    /// Native (preferred) resolution as WIDTHxHEIGHT.
    pub native_resolution: Option<String>,
}

/// One graphics adapter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Gpu {
    /// Bus address or device id.
    pub address: String,
    /// Name or model.
    pub name: Option<String>,
    /// Vendor.
    pub vendor: Option<String>,
    /// PCI vendor:device id.
    pub pci_id: Option<String>,
    /// Kernel driver.
    pub driver: Option<String>,
    /// Dedicated memory, bytes.
    pub memory_bytes: Option<u64>,
}

/// One battery.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Battery {
    /// OS name (BAT0).
    pub name: String,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Serial.
    pub serial: Option<String>,
    /// Chemistry (Li-ion, ...).
    pub chemistry: Option<String>,
    /// Design capacity, mWh.
    pub design_capacity_mwh: Option<u64>,
    /// Capacity when full now, mWh.
    pub full_capacity_mwh: Option<u64>,
    /// Charge cycles.
    pub cycle_count: Option<u32>,
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
    /// Time zone (IANA or Windows name).
    pub time_zone: Option<String>,
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

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageSource {
    /// Not known.
    #[default]
    Unknown,
    /// Debian/Ubuntu dpkg database.
    Dpkg,
    /// RPM database.
    Rpm,
    /// Alpine apk database.
    Apk,
    /// Flatpak.
    Flatpak,
    /// Snap.
    Snap,
    /// Windows Uninstall registry key, machine-wide.
    WindowsMachine,
    /// Windows Uninstall registry key of one user (the SID).
    WindowsUser(String),
    /// macOS application bundle.
    MacApp,
    /// macOS installer package receipt.
    MacPkg,
    /// Anything else.
    Other(String),
}

impl PackageSource {
    /// The source's name as stored and shown: `dpkg`, `rpm`, `windows`,
    /// `windows-user:S-1-5-...`, `macos-app`; an `Other` source is its own
    /// name.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        Cow::Borrowed(match self {
            PackageSource::Unknown => "unknown",
            PackageSource::Dpkg => "dpkg",
            PackageSource::Rpm => "rpm",
            PackageSource::Apk => "apk",
            PackageSource::Flatpak => "flatpak",
            PackageSource::Snap => "snap",
            PackageSource::WindowsMachine => "windows",
            PackageSource::WindowsUser(sid) => return Cow::Owned(format!("windows-user:{sid}")),
            PackageSource::MacApp => "macos-app",
            PackageSource::MacPkg => "macos-pkg",
            PackageSource::Other(o) => o,
        })
    }

    /// The source a name stands for (inverse of [`PackageSource::name`]).
    pub fn from_name(s: &str) -> PackageSource {
        match s {
            "unknown" => PackageSource::Unknown,
            "dpkg" => PackageSource::Dpkg,
            "rpm" => PackageSource::Rpm,
            "apk" => PackageSource::Apk,
            "flatpak" => PackageSource::Flatpak,
            "snap" => PackageSource::Snap,
            "windows" => PackageSource::WindowsMachine,
            "macos-app" => PackageSource::MacApp,
            "macos-pkg" => PackageSource::MacPkg,
            other => match other.strip_prefix("windows-user:") {
                Some(sid) => PackageSource::WindowsUser(sid.to_string()),
                None => PackageSource::Other(other.to_string()),
            },
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Package {
    /// Package name (or display name on Windows).
    pub name: String,
    /// Version string as the source reports it.
    pub version: String,
    /// Architecture.
    pub arch: Option<String>,
    /// Source database.
    pub source: PackageSource,
    /// Vendor, publisher or maintainer.
    pub vendor: Option<String>,
    /// Install time, seconds since the Unix epoch.
    pub install_date: Option<u64>,
    /// Installed size, bytes.
    pub size_bytes: Option<u64>,
    /// State when not simply installed (half-installed, unpacked, ...).
    pub state: Option<String>,
    /// Source-specific id (registry key, bundle id, flatpak ref).
    pub id: Option<String>,
}

/// The largest install date or size a package carries: a store keeps them
/// as signed 64-bit numbers, so a larger one reads as unknown.
pub const MAX_PACKAGE_NUMBER: u64 = i64::MAX as u64;

impl Package {
    /// What names a package in a software catalog: two packages with the
    /// same name, version, vendor, source and architecture are one.
    pub fn identity(&self) -> (&str, &str, Option<&str>, &PackageSource, Option<&str>) {
        (
            &self.name,
            &self.version,
            self.vendor.as_deref(),
            &self.source,
            self.arch.as_deref(),
        )
    }

    /// Whether the package is already in its one written form
    /// ([`Package::normalize`] would change nothing).
    pub fn is_normal(&self) -> bool {
        let empty = |s: &Option<String>| s.as_deref() == Some("");
        ![&self.arch, &self.vendor, &self.state, &self.id]
            .into_iter()
            .any(empty)
            && [self.install_date, self.size_bytes]
                .into_iter()
                .flatten()
                .all(|n| n <= MAX_PACKAGE_NUMBER)
            && match &self.source {
                PackageSource::Other(o) => {
                    matches!(PackageSource::from_name(o), PackageSource::Other(_))
                }
                _ => true,
            }
    }

    /// Writes the package one way only, so that what a store keeps of it
    /// reads back equal: an empty vendor, arch, state or id is none; a
    /// source named like a known one (`Other("dpkg")`) is that one; a date
    /// or size past [`MAX_PACKAGE_NUMBER`] is unknown.
    pub fn normalize(&mut self) {
        for field in [
            &mut self.arch,
            &mut self.vendor,
            &mut self.state,
            &mut self.id,
        ] {
            if field.as_deref() == Some("") {
                *field = None;
            }
        }
        for n in [&mut self.install_date, &mut self.size_bytes] {
            if n.is_some_and(|n| n > MAX_PACKAGE_NUMBER) {
                *n = None;
            }
        }
        if let PackageSource::Other(o) = &self.source {
            let known = PackageSource::from_name(o);
            if !matches!(known, PackageSource::Other(_)) {
                self.source = known;
            }
        }
    }
}

/// One installed OS update.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Update {
    /// Update id (KB5034441).
    pub id: String,
    /// Description or package name.
    pub description: Option<String>,
    /// Install time, seconds since the Unix epoch.
    pub installed_on: Option<u64>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Service {
    /// Service name (sshd.service, Spooler, com.apple.xyz).
    pub name: String,
    /// Display name or description.
    pub description: Option<String>,
    /// Run state: running, stopped, unknown.
    pub state: String,
    /// Start mode: enabled/disabled/static/masked (systemd), auto/manual/disabled (Windows), load/disabled (launchd).
    pub start_mode: String,
    /// Manager: systemd, windows, launchd.
    pub manager: String,
}

/// One PCI or USB device.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Device {
    /// Bus: pci, usb, pnp.
    pub bus: String,
    /// Address on the bus (0000:00:1f.3, 1-2).
    pub address: String,
    /// Vendor id, 4 hex digits.
    pub vendor_id: Option<String>,
    /// Product/device id, 4 hex digits.
    pub product_id: Option<String>,
    /// Class code (hex) or class name.
    pub class: Option<String>,
    /// Vendor name.
    pub vendor: Option<String>,
    /// Product name.
    pub name: Option<String>,
    /// Bound driver.
    pub driver: Option<String>,
}

/// One package repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Repository {
    /// Package system: apt, yum, zypper, apk, flatpak.
    pub kind: String,
    /// Repository id or name, when the source gives one.
    pub name: Option<String>,
    /// Base URL.
    pub url: String,
    /// Suite or distribution (bookworm, $releasever).
    pub suite: Option<String>,
    /// Components (main contrib), space-separated.
    pub components: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// File it is configured in.
    pub file: Option<String>,
}

/// One firewall and its state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Firewall {
    /// Firewall or profile name (ufw, firewalld, nftables, Windows Domain profile, macOS ALF).
    pub name: String,
    /// Enabled, when known.
    pub enabled: Option<bool>,
}

/// One antivirus product as the OS reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Antivirus {
    /// Product name.
    pub name: String,
    /// Real-time protection enabled, when known.
    pub enabled: Option<bool>,
    /// Signatures up to date, when known.
    pub up_to_date: Option<bool>,
    /// Product version.
    pub version: Option<String>,
}

// ---------------------------------------------------------------------------
// Canonical form and content hash

/// SHA-256 of an inventory's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Lower-case hex form.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        s
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            parse_hex32(&s)
                .map(ContentHash)
                .ok_or_else(|| serde::de::Error::custom("content hash must be 64 hex digits"))
        } else {
            <[u8; 32]>::deserialize(deserializer).map(ContentHash)
        }
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Errors decoding or applying inventory data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InventoryError {
    /// The document was made by an agent with another schema version.
    #[error(
        "inventory schema version {found} is not supported (this build reads {expected}); upgrade the older side"
    )]
    UnsupportedSchema {
        /// Version in the document.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The encoded document is larger than [`MAX_WIRE_BYTES`].
    #[error("inventory of {0} bytes exceeds the {MAX_WIRE_BYTES} byte limit")]
    TooLarge(usize),
    /// The bytes are not a valid encoding.
    #[error("inventory is not valid postcard: {0}")]
    Decode(String),
    /// A delta removes or changes an item the base does not have.
    #[error(
        "delta does not fit the base inventory: {category} item {key} is missing; send a full inventory"
    )]
    DeltaMismatch {
        /// Category of the item.
        category: Category,
        /// Key of the item.
        key: String,
    },
}

impl Inventory {
    /// An empty inventory of the current schema version.
    pub fn new() -> Self {
        Inventory {
            schema_version: SCHEMA_VERSION,
            ..Inventory::default()
        }
    }

    /// Sort every collection (by key, then by value) and every set-like inner
    /// list; write each package in its normal form ([`Package::normalize`])
    /// and keep one package per [`Package::identity`].
    pub fn canonicalize(&mut self) {
        sort_items(&mut self.memory_modules);
        sort_items(&mut self.disks);
        sort_items(&mut self.volumes);
        for i in &mut self.interfaces {
            i.ipv4.sort();
            i.ipv6.sort();
        }
        sort_items(&mut self.interfaces);
        sort_items(&mut self.displays);
        sort_items(&mut self.gpus);
        sort_items(&mut self.batteries);
        sort_items(&mut self.users);
        for g in &mut self.groups {
            g.members.sort();
        }
        sort_items(&mut self.groups);
        for p in &mut self.software {
            if !p.is_normal() {
                p.normalize();
            }
        }
        sort_items(&mut self.software);
        // One package per identity: a catalog could not tell two apart
        // (Windows lists some programs twice under different keys). Equal
        // identities sort next to each other, the one with the least
        // details first, and that one stays.
        self.software.dedup_by(|b, a| a.identity() == b.identity());
        sort_items(&mut self.updates);
        sort_items(&mut self.services);
        sort_items(&mut self.devices);
        sort_items(&mut self.repositories);
        sort_items(&mut self.firewalls);
        sort_items(&mut self.antivirus);
        self.network.default_gateways.sort();
        self.sessions.logged_in.sort();
        self.sessions.logged_in.dedup();
        self.meta.collectors.sort();
        unknown::canonicalize(&mut self.meta.unknown);
    }

    /// A canonical copy (see [`Inventory::canonicalize`]).
    pub fn canonical(&self) -> Inventory {
        let mut c = self.clone();
        c.canonicalize();
        c
    }

    /// SHA-256 over the canonical postcard encoding, with volatile fields cleared:
    /// collection metadata, volume free space, sessions and last boot time.
    pub fn content_hash(&self) -> ContentHash {
        let mut c = self.canonical();
        c.content_hash_canonical()
    }

    /// [`Inventory::content_hash`] that canonicalizes `self` in place
    /// instead of hashing a canonical copy: the packages, which are most of
    /// an inventory, are neither cloned nor reallocated.
    pub fn canonicalize_and_hash(&mut self) -> ContentHash {
        self.canonicalize();
        let software = std::mem::take(&mut self.software);
        let mut c = self.clone();
        c.software = software;
        let hash = c.content_hash_canonical();
        self.software = c.software;
        hash
    }

    /// The content hash of an inventory that is canonical; clears its
    /// volatile fields.
    fn content_hash_canonical(&mut self) -> ContentHash {
        self.meta = CollectionMeta::default();
        self.sessions = Sessions::default();
        self.os.last_boot = None;
        for v in &mut self.volumes {
            v.free_bytes = 0;
        }
        // The encoding is hashed as it is written, not collected first.
        // Encoding plain owned data cannot fail; if it ever did, the hash
        // would be that of no bytes, still deterministic.
        let sha = Sha256Flavor::default();
        let digest = postcard::serialize_with_flavor(self, sha)
            .unwrap_or_else(|_| ring::digest::Context::new(&ring::digest::SHA256).finish());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        ContentHash(out)
    }

    /// The postcard wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decode the wire form, checking size and schema version before anything else.
    pub fn from_wire(bytes: &[u8]) -> Result<Inventory, InventoryError> {
        if bytes.len() > MAX_WIRE_BYTES {
            return Err(InventoryError::TooLarge(bytes.len()));
        }
        let (version, _) = postcard::take_from_bytes::<u32>(bytes)
            .map_err(|e| InventoryError::Decode(e.to_string()))?;
        if version != SCHEMA_VERSION {
            return Err(InventoryError::UnsupportedSchema {
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        let (inv, rest) = postcard::take_from_bytes::<Inventory>(bytes)
            .map_err(|e| InventoryError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(InventoryError::Decode(format!(
                "{} trailing bytes after the inventory",
                rest.len()
            )));
        }
        Ok(inv)
    }
}

/// A postcard output that feeds SHA-256 instead of a buffer: the content
/// hash of a 1,500-package inventory needs no 100 KiB encoding in memory.
struct Sha256Flavor {
    sha: ring::digest::Context,
    pending: [u8; 1024],
    len: usize,
}

impl Default for Sha256Flavor {
    fn default() -> Self {
        Self {
            sha: ring::digest::Context::new(&ring::digest::SHA256),
            pending: [0; 1024],
            len: 0,
        }
    }
}

impl postcard::ser_flavors::Flavor for Sha256Flavor {
    type Output = ring::digest::Digest;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        if self.len == self.pending.len() {
            self.sha.update(&self.pending);
            self.len = 0;
        }
        self.pending[self.len] = byte;
        self.len += 1;
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.len + data.len() > self.pending.len() {
            self.sha.update(&self.pending[..self.len]);
            self.len = 0;
            if data.len() > self.pending.len() {
                self.sha.update(data);
                return Ok(());
            }
        }
        self.pending[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        self.sha.update(&self.pending[..self.len]);
        Ok(self.sha.finish())
    }
}

// ---------------------------------------------------------------------------
// Keys

/// An item of a keyed inventory collection: its key says which item it is,
/// so that a change of version is a change, not a removal plus an addition.
pub trait InventoryItem: Clone + Ord {
    /// Human-readable identity of the item within its category.
    fn key(&self) -> String;
}

/// Sorts by key, then by whole item. An agent sends its inventory in this
/// order already, so the server, which must not trust that, checks the
/// order first (one pass) and sorts only what is out of order. A sort
/// orders positions, not items: a package is over 200 bytes, and moving
/// 1,500 of them through a sort was most of a server's canonicalizing.
fn sort_items<T: InventoryItem>(items: &mut Vec<T>) {
    let keys: Vec<String> = items.iter().map(InventoryItem::key).collect();
    let order = |a: usize, b: usize| keys[a].cmp(&keys[b]).then_with(|| items[a].cmp(&items[b]));
    if (1..items.len()).all(|i| order(i - 1, i).is_le()) {
        return;
    }
    let mut positions: Vec<usize> = (0..items.len()).collect();
    positions.sort_unstable_by(|&a, &b| order(a, b));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(positions.into_iter().filter_map(|i| slots[i].take()));
}

fn join_key(parts: &[&str]) -> String {
    parts.join("/")
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

impl InventoryItem for MemoryModule {
    fn key(&self) -> String {
        join_key(&[&self.slot, opt(&self.bank)])
    }
}
impl InventoryItem for Disk {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Volume {
    fn key(&self) -> String {
        self.mount_point.clone()
    }
}
impl InventoryItem for NetInterface {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Display {
    fn key(&self) -> String {
        format!(
            "{}/{:04x}/{}",
            self.vendor,
            self.product_code,
            opt(&self.serial)
        )
    }
}
impl InventoryItem for Gpu {
    fn key(&self) -> String {
        self.address.clone()
    }
}
impl InventoryItem for Battery {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for UserAccount {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for LocalGroup {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Package {
    fn key(&self) -> String {
        let source = match &self.source {
            PackageSource::Unknown => "unknown",
            PackageSource::Dpkg => "dpkg",
            PackageSource::Rpm => "rpm",
            PackageSource::Apk => "apk",
            PackageSource::Flatpak => "flatpak",
            PackageSource::Snap => "snap",
            PackageSource::WindowsMachine => "windows",
            PackageSource::WindowsUser(sid) => sid.as_str(),
            PackageSource::MacApp => "app",
            PackageSource::MacPkg => "pkg",
            PackageSource::Other(s) => s.as_str(),
        };
        join_key(&[source, &self.name, opt(&self.arch)])
    }
}
impl InventoryItem for Update {
    fn key(&self) -> String {
        self.id.clone()
    }
}
impl InventoryItem for Service {
    fn key(&self) -> String {
        join_key(&[&self.manager, &self.name])
    }
}
impl InventoryItem for Device {
    fn key(&self) -> String {
        join_key(&[&self.bus, &self.address])
    }
}
impl InventoryItem for Repository {
    fn key(&self) -> String {
        join_key(&[
            &self.kind,
            &self.url,
            opt(&self.suite),
            opt(&self.components),
        ])
    }
}
impl InventoryItem for Firewall {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Antivirus {
    fn key(&self) -> String {
        self.name.clone()
    }
}

// ---------------------------------------------------------------------------
// Delta

/// The categories of an inventory, as named in deltas and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// [`CollectionMeta`].
    Meta,
    /// [`Identity`].
    Identity,
    /// [`Firmware`].
    Firmware,
    /// [`Cpu`].
    Cpu,
    /// [`MemorySummary`].
    Memory,
    /// [`OsInfo`].
    Os,
    /// [`NetworkConfig`].
    Network,
    /// [`Sessions`].
    Sessions,
    /// [`MemoryModule`]s.
    MemoryModules,
    /// [`Disk`]s.
    Disks,
    /// [`Volume`]s.
    Volumes,
    /// [`NetInterface`]s.
    Interfaces,
    /// [`Display`]s.
    Displays,
    /// [`Gpu`]s.
    Gpus,
    /// [`Battery`]s.
    Batteries,
    /// [`UserAccount`]s.
    Users,
    /// [`LocalGroup`]s.
    Groups,
    /// [`Package`]s.
    Software,
    /// [`Update`]s.
    Updates,
    /// [`Service`]s.
    Services,
    /// [`Device`]s.
    Devices,
    /// [`Repository`]s.
    Repositories,
    /// [`Firewall`]s.
    Firewalls,
    /// [`Antivirus`] products.
    Antivirus,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Category::Meta => "meta",
            Category::Identity => "identity",
            Category::Firmware => "firmware",
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Os => "os",
            Category::Network => "network",
            Category::Sessions => "sessions",
            Category::MemoryModules => "memory_modules",
            Category::Disks => "disks",
            Category::Volumes => "volumes",
            Category::Interfaces => "interfaces",
            Category::Displays => "displays",
            Category::Gpus => "gpus",
            Category::Batteries => "batteries",
            Category::Users => "users",
            Category::Groups => "groups",
            Category::Software => "software",
            Category::Updates => "updates",
            Category::Services => "services",
            Category::Devices => "devices",
            Category::Repositories => "repositories",
            Category::Firewalls => "firewalls",
            Category::Antivirus => "antivirus",
        };
        f.write_str(s)
    }
}

/// A change of a single-valued section: its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replace<T> {
    /// Value in the base inventory.
    pub before: T,
    /// Value in the new inventory.
    pub after: T,
}

/// A change of one item of a keyed collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemChange<T> {
    /// The item is new.
    Added(T),
    /// The item is gone (its last value).
    Removed(T),
    /// The item with this key changed.
    Changed {
        /// Value in the base inventory.
        before: T,
        /// Value in the new inventory.
        after: T,
    },
}

impl<T: InventoryItem> ItemChange<T> {
    /// Key of the item that changed.
    pub fn key(&self) -> String {
        match self {
            ItemChange::Added(x) | ItemChange::Removed(x) => x.key(),
            ItemChange::Changed { after, .. } => after.key(),
        }
    }

    /// What kind of change it is.
    pub fn kind(&self) -> ChangeKind {
        match self {
            ItemChange::Added(_) => ChangeKind::Added,
            ItemChange::Removed(_) => ChangeKind::Removed,
            ItemChange::Changed { .. } => ChangeKind::Changed,
        }
    }
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New item.
    Added,
    /// Item gone.
    Removed,
    /// Item or section changed.
    Changed,
}

/// One line of a delta's summary: category, key and kind of change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeSummary {
    /// Category that changed.
    pub category: Category,
    /// Key of the item within the category (empty for single-valued sections).
    pub key: String,
    /// Kind of change.
    pub kind: ChangeKind,
}

macro_rules! delta_type {
    (
        singles { $($s:ident : $sty:ty => $scat:ident),* $(,)? }
        lists { $($l:ident : $lty:ty => $lcat:ident),* $(,)? }
    ) => {
        /// The typed difference between two inventories of one machine.
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub struct InventoryDelta {
            /// Schema version of both inventories.
            pub schema_version: u32,
            /// Content hash of the base inventory.
            pub base: ContentHash,
            /// Content hash of the new inventory.
            pub target: ContentHash,
            $(
                #[doc = concat!("Change of the `", stringify!($s), "` section, if any.")]
                pub $s: Option<Replace<$sty>>,
            )*
            $(
                #[doc = concat!("Changes of `", stringify!($l), "` items, by key.")]
                pub $l: Vec<ItemChange<$lty>>,
            )*
        }

        /// The changes that turn `base` into `new`; `apply(base, &diff(base, new))`
        /// equals `new.canonical()`.
        pub fn diff(base: &Inventory, new: &Inventory) -> InventoryDelta {
            let a = base.canonical();
            let b = new.canonical();
            InventoryDelta {
                schema_version: SCHEMA_VERSION,
                base: a.content_hash(),
                target: b.content_hash(),
                $(
                    $s: (a.$s != b.$s).then(|| Replace { before: a.$s.clone(), after: b.$s.clone() }),
                )*
                $(
                    $l: diff_items(&a.$l, &b.$l),
                )*
            }
        }

        /// Apply `delta` to `base`: the result is canonical. Fails, without a partial
        /// result, when an item the delta removes or changes is not in `base`.
        pub fn apply(base: &Inventory, delta: &InventoryDelta) -> Result<Inventory, InventoryError> {
            let mut out = base.canonical();
            $(
                if let Some(r) = &delta.$s {
                    if out.$s != r.before {
                        return Err(InventoryError::DeltaMismatch {
                            category: Category::$scat,
                            key: String::new(),
                        });
                    }
                    out.$s = r.after.clone();
                }
            )*
            $(
                out.$l = apply_items(&out.$l, &delta.$l, Category::$lcat)?;
            )*
            out.canonicalize();
            Ok(out)
        }

        impl Inventory {
            /// The list with the most items, and how many: what bounds a
            /// report's size in a receiver's terms.
            pub fn largest_list(&self) -> (Category, usize) {
                let mut most = (Category::Software, self.software.len());
                $(
                    if self.$l.len() > most.1 {
                        most = (Category::$lcat, self.$l.len());
                    }
                )*
                most
            }
        }

        impl InventoryDelta {
            /// True when nothing changed at all, volatile fields included.
            pub fn is_empty(&self) -> bool {
                true $( && self.$s.is_none() )* $( && self.$l.is_empty() )*
            }

            /// The list with the most item changes, and how many.
            pub fn largest_list(&self) -> (Category, usize) {
                let mut most = (Category::Software, self.software.len());
                $(
                    if self.$l.len() > most.1 {
                        most = (Category::$lcat, self.$l.len());
                    }
                )*
                most
            }

            /// One line per change: category, key, kind.
            pub fn summary(&self) -> Vec<ChangeSummary> {
                let mut out = Vec::new();
                $(
                    if self.$s.is_some() {
                        out.push(ChangeSummary {
                            category: Category::$scat,
                            key: String::new(),
                            kind: ChangeKind::Changed,
                        });
                    }
                )*
                $(
                    for c in &self.$l {
                        out.push(ChangeSummary { category: Category::$lcat, key: c.key(), kind: c.kind() });
                    }
                )*
                out
            }
        }
    };
}

/// Calls `$m!` with every category of an inventory, as `singles { field:
/// Type => Category, ... } lists { ... }`: the one list the delta, its
/// application and [`Inventory::carry_forward_unknown`] are generated from.
macro_rules! with_categories {
    ($m:ident) => {
        $m! {
            singles {
                meta: CollectionMeta => Meta,
                identity: Identity => Identity,
                firmware: Firmware => Firmware,
                cpu: Cpu => Cpu,
                memory: MemorySummary => Memory,
                os: OsInfo => Os,
                network: NetworkConfig => Network,
                sessions: Sessions => Sessions,
            }
            lists {
                memory_modules: MemoryModule => MemoryModules,
                disks: Disk => Disks,
                volumes: Volume => Volumes,
                interfaces: NetInterface => Interfaces,
                displays: Display => Displays,
                gpus: Gpu => Gpus,
                batteries: Battery => Batteries,
                users: UserAccount => Users,
                groups: LocalGroup => Groups,
                software: Package => Software,
                updates: Update => Updates,
                services: Service => Services,
                devices: Device => Devices,
                repositories: Repository => Repositories,
                firewalls: Firewall => Firewalls,
                antivirus: Antivirus => Antivirus,
            }
        }
    };
}

with_categories!(delta_type);

mod synthetic;
pub use synthetic::synthetic;
mod unknown;
pub use unknown::Unknown;
mod upgrade;
pub use upgrade::upgrade_from_v1;

/// Group a canonical (sorted by key) slice into runs of equal key.
fn group_by_key<T: InventoryItem>(items: &[T]) -> BTreeMap<String, Vec<&T>> {
    let mut map: BTreeMap<String, Vec<&T>> = BTreeMap::new();
    for item in items {
        map.entry(item.key()).or_default().push(item);
    }
    map
}

fn diff_items<T: InventoryItem>(a: &[T], b: &[T]) -> Vec<ItemChange<T>> {
    let ga = group_by_key(a);
    let gb = group_by_key(b);
    let mut keys: Vec<&String> = ga.keys().chain(gb.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let xs = ga.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let ys = gb.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if xs == ys {
            continue;
        }
        // Multiset difference of two sorted runs.
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < xs.len() || j < ys.len() {
            match (xs.get(i), ys.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    removed.push((*x).clone());
                    i += 1;
                }
                (Some(_), Some(y)) => {
                    added.push((*y).clone());
                    j += 1;
                }
                (Some(x), None) => {
                    removed.push((*x).clone());
                    i += 1;
                }
                (None, Some(y)) => {
                    added.push((*y).clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        if removed.len() == 1 && added.len() == 1 {
            if let (Some(before), Some(after)) = (removed.pop(), added.pop()) {
                out.push(ItemChange::Changed { before, after });
            }
            continue;
        }
        out.extend(removed.into_iter().map(ItemChange::Removed));
        out.extend(added.into_iter().map(ItemChange::Added));
    }
    out
}

fn apply_items<T: InventoryItem>(
    base: &[T],
    changes: &[ItemChange<T>],
    category: Category,
) -> Result<Vec<T>, InventoryError> {
    if changes.is_empty() {
        return Ok(base.to_vec());
    }
    let mut bag: BTreeMap<T, usize> = BTreeMap::new();
    for item in base {
        *bag.entry(item.clone()).or_default() += 1;
    }
    fn take<T: InventoryItem>(
        bag: &mut BTreeMap<T, usize>,
        item: &T,
        category: Category,
    ) -> Result<(), InventoryError> {
        match bag.get_mut(item) {
            Some(n) if *n > 1 => {
                *n -= 1;
                Ok(())
            }
            Some(_) => {
                bag.remove(item);
                Ok(())
            }
            None => Err(InventoryError::DeltaMismatch {
                category,
                key: item.key(),
            }),
        }
    }
    for change in changes {
        match change {
            ItemChange::Added(x) => *bag.entry(x.clone()).or_default() += 1,
            ItemChange::Removed(x) => take(&mut bag, x, category)?,
            ItemChange::Changed { before, after } => {
                take(&mut bag, before, category)?;
                *bag.entry(after.clone()).or_default() += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(base.len());
    for (item, n) in bag {
        for _ in 0..n {
            out.push(item.clone());
        }
    }
    sort_items(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: Some("amd64".into()),
            source: PackageSource::Dpkg,
            ..Package::default()
        }
    }

    #[test]
    fn version_bump_is_one_changed_item() {
        let mut a = Inventory::new();
        a.software = vec![pkg("bash", "5.2"), pkg("curl", "7.88")];
        let mut b = a.clone();
        b.software[1].version = "8.0".into();
        let d = diff(&a, &b);
        assert_eq!(
            d.summary(),
            vec![ChangeSummary {
                category: Category::Software,
                key: "dpkg/curl/amd64".into(),
                kind: ChangeKind::Changed
            }]
        );
        assert_eq!(apply(&a, &d), Ok(b.canonical()));
    }

    #[test]
    fn hash_ignores_order_and_volatile_fields() {
        let mut a = Inventory::new();
        a.software = vec![pkg("bash", "5.2"), pkg("curl", "7.88")];
        a.volumes = vec![Volume {
            mount_point: "/".into(),
            size_bytes: 100,
            free_bytes: 10,
            ..Volume::default()
        }];
        let mut b = a.clone();
        b.software.reverse();
        b.volumes[0].free_bytes = 20;
        b.meta.total_micros = 1234;
        b.sessions.logged_in = vec!["alice".into()];
        assert_eq!(a.content_hash(), b.content_hash());
        b.software[0].version = "5.3".into();
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn canonical_order_is_checked_and_restored_whatever_the_input() {
        // Equal keys (two builds of one package) are ordered by the whole item.
        let mut twin = pkg("curl", "7.88");
        twin.vendor = Some("curl project".into());
        let sorted = vec![
            pkg("bash", "5.2"),
            pkg("curl", "7.88"),
            twin.clone(),
            pkg("zsh", "5.9"),
        ];
        let mut orders = vec![sorted.clone()];
        let mut reversed = sorted.clone();
        reversed.reverse();
        orders.push(reversed);
        orders.push(vec![
            twin,
            pkg("zsh", "5.9"),
            pkg("bash", "5.2"),
            pkg("curl", "7.88"),
        ]);
        for software in orders {
            let mut inv = Inventory::new();
            inv.software = software;
            inv.canonicalize();
            assert_eq!(inv.software, sorted);
        }
    }

    #[test]
    fn packages_are_written_one_way_and_once() {
        // Found by fuzzing: each of these read back from a catalog row as
        // another value, so the rebuilt inventory hashed differently.
        let odd = Package {
            arch: Some(String::new()),
            vendor: Some(String::new()),
            state: Some(String::new()),
            id: Some(String::new()),
            install_date: Some(u64::MAX),
            size_bytes: Some(MAX_PACKAGE_NUMBER + 1),
            source: PackageSource::Other("dpkg".into()),
            ..pkg("curl", "7.88")
        };
        assert!(!odd.is_normal());
        let mut normal = odd.clone();
        normal.normalize();
        assert_eq!(
            normal,
            Package {
                arch: None,
                ..pkg("curl", "7.88")
            }
        );
        assert!(normal.is_normal());
        let mut user = pkg("Zoom", "6");
        user.source = PackageSource::Other("windows-user:S-1-5-21-7".into());
        user.normalize();
        assert_eq!(user.source, PackageSource::WindowsUser("S-1-5-21-7".into()));
        let mut kept = pkg("x", "1");
        kept.source = PackageSource::Other("pip".into());
        kept.size_bytes = Some(MAX_PACKAGE_NUMBER);
        assert!(
            kept.is_normal(),
            "an unknown source and the largest size stay"
        );

        // Source names read back as the source, for every kind.
        for source in [
            PackageSource::Unknown,
            PackageSource::Dpkg,
            PackageSource::Rpm,
            PackageSource::Apk,
            PackageSource::Flatpak,
            PackageSource::Snap,
            PackageSource::WindowsMachine,
            PackageSource::WindowsUser("S-1-5-21-7".into()),
            PackageSource::MacApp,
            PackageSource::MacPkg,
            PackageSource::Other("pip".into()),
            PackageSource::Other(String::new()),
        ] {
            assert_eq!(PackageSource::from_name(&source.name()), source);
        }

        // Windows lists some programs twice under different keys: one
        // identity is one package, whatever order the report gives.
        let mut again = pkg("curl", "7.88");
        again.id = Some("{B}".into());
        let mut first = pkg("curl", "7.88");
        first.id = Some("{A}".into());
        let mut a = Inventory::new();
        a.software = vec![
            again.clone(),
            pkg("curl", "7.88"),
            first.clone(),
            pkg("bash", "5.2"),
        ];
        let mut b = a.clone();
        b.software.reverse();
        a.canonicalize();
        b.canonicalize();
        assert_eq!(a.software, vec![pkg("bash", "5.2"), pkg("curl", "7.88")]);
        assert_eq!(a, b);
        let mut c = Inventory::new();
        c.software = vec![again, first.clone()];
        c.canonicalize();
        assert_eq!(c.software, vec![first]);
    }

    #[test]
    fn content_hash_is_sha256_of_the_canonical_encoding() {
        // Hashed as it is encoded, in pieces of every size: the digest must
        // be that of the whole encoding, as agents and older servers made it.
        for packages in [0, 1, 30, 1500] {
            let mut inv = synthetic(7, packages);
            // A field longer than the hasher's buffer.
            inv.software.push(pkg(&"x".repeat(3000), "1"));
            inv.canonicalize();
            inv.meta.total_micros = 99;
            let mut cleared = inv.clone();
            cleared.meta = CollectionMeta::default();
            let bytes = postcard::to_stdvec(&cleared).expect("encodes");
            let want = ring::digest::digest(&ring::digest::SHA256, &bytes);
            assert_eq!(
                inv.content_hash().0.as_slice(),
                want.as_ref(),
                "{packages} packages"
            );
        }
    }

    #[test]
    fn apply_rejects_delta_for_another_base() {
        let mut a = Inventory::new();
        a.software = vec![pkg("bash", "5.2")];
        let mut b = a.clone();
        b.software[0].version = "5.3".into();
        let d = diff(&a, &b);
        let other = Inventory::new();
        assert!(matches!(
            apply(&other, &d),
            Err(InventoryError::DeltaMismatch {
                category: Category::Software,
                ..
            })
        ));
    }

    #[test]
    fn wire_round_trip_and_version_check() {
        let mut a = Inventory::new();
        a.identity.hostname = "pc-1".into();
        a.software = vec![pkg("bash", "5.2")];
        let bytes = a.to_wire();
        assert_eq!(Inventory::from_wire(&bytes), Ok(a.clone()));
        let mut old = a.clone();
        old.schema_version = SCHEMA_VERSION + 1;
        assert!(matches!(
            Inventory::from_wire(&old.to_wire()),
            Err(InventoryError::UnsupportedSchema { .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            Inventory::from_wire(&trailing),
            Err(InventoryError::Decode(_))
        ));
        assert!(Inventory::from_wire(&bytes[..bytes.len() / 2]).is_err());
    }

    #[test]
    fn content_hash_hex_round_trips_through_json() {
        let h = Inventory::new().content_hash();
        let json = serde_json::to_string(&h).unwrap_or_default();
        assert_eq!(json.len(), 66);
        let back: ContentHash = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, h);
    }
}
