//! The hardware an inventory lists: firmware, processor, memory, disks and
//! volumes, network interfaces, displays, graphics, batteries and devices.

use serde::{Deserialize, Serialize};

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
