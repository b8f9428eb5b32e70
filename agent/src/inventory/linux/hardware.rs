//! Linux hardware: SMBIOS, /proc/cpuinfo, /proc/meminfo, /sys/block, DRM EDIDs, power supplies, PCI and USB.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use deskhand_shared::inventory::{
    Battery, Device, Disk, DiskKind, Encryption, Gpu, Inventory, Volume,
};

use super::{attr, list_dir, read};
use crate::inventory::text::clean;
use crate::inventory::{Apply, Findings, edid, pciids, smbios};

const DMI_TABLE: &str = "/sys/firmware/dmi/tables/DMI";
const DMI_ENTRY: &str = "/sys/firmware/dmi/tables/smbios_entry_point";
const DMI_ID: &str = "/sys/class/dmi/id";

pub(super) fn collect_smbios(w: &mut Findings) -> Apply {
    match fs::read(DMI_TABLE) {
        Ok(table) => {
            let version = fs::read(DMI_ENTRY)
                .ok()
                .and_then(|ep| smbios::entry_point_version(&ep))
                .unwrap_or((3, 0));
            let info = smbios::parse(&table, version, w);
            Box::new(move |inv: &mut Inventory| {
                let processors = info.apply_hardware(inv);
                if !processors.is_empty() {
                    inv.cpu.sockets = u32::try_from(processors.len()).ok();
                    let p = &processors[0];
                    inv.cpu.max_mhz = inv.cpu.max_mhz.or(p.max_mhz);
                    inv.cpu.base_mhz = inv.cpu.base_mhz.or(p.current_mhz);
                }
                secure_boot_and_mode(inv);
            })
        }
        Err(e) => {
            // Without root the raw table is unreadable; the world-readable
            // attributes of /sys/class/dmi/id still give most of the identity.
            let dmi = Path::new(DMI_ID);
            let get = |f: &str| attr(dmi.join(f)).and_then(|v| clean(&v));
            if dmi.exists() {
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    w.push("smbios table needs root: serials, uuid and memory modules are missing; run the agent as root".into());
                }
            } else {
                w.push(format!("no SMBIOS on this machine ({DMI_TABLE}: {e})"));
            }
            let ident = (
                get("sys_vendor"),
                get("product_name"),
                get("product_serial"),
                get("product_uuid"),
                get("chassis_asset_tag"),
                get("board_vendor"),
                get("board_name"),
                get("board_serial"),
                get("product_sku"),
            );
            let fw = (get("bios_vendor"), get("bios_version"), get("bios_date"));
            let chassis = attr(dmi.join("chassis_type")).and_then(|t| t.parse::<u8>().ok());
            Box::new(move |inv: &mut Inventory| {
                let id = &mut inv.identity;
                id.manufacturer = ident.0;
                id.model = ident.1;
                id.serial = ident.2;
                id.system_uuid = ident.3.map(|u| u.to_ascii_uppercase());
                id.asset_tag = ident.4;
                id.board_manufacturer = ident.5;
                id.board_product = ident.6;
                id.board_serial = ident.7;
                id.sku = ident.8;
                id.chassis_type = chassis.map(|c| format!("type {c}"));
                inv.firmware.vendor = fw.0;
                inv.firmware.version = fw.1;
                inv.firmware.release_date = fw.2;
                secure_boot_and_mode(inv);
            })
        }
    }
}

/// UEFI or BIOS boot, and the SecureBoot EFI variable (4 attribute bytes, then the value).
fn secure_boot_and_mode(inv: &mut Inventory) {
    let efi = Path::new("/sys/firmware/efi");
    inv.firmware.mode = Some(if efi.exists() { "uefi" } else { "bios" }.into());
    if efi.exists() {
        let var = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
        inv.firmware.secure_boot = fs::read(var).ok().and_then(|b| b.get(4).map(|v| *v == 1));
    } else {
        inv.firmware.secure_boot = Some(false);
    }
}

/// CPU facts from /proc/cpuinfo.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuInfo {
    /// Model name.
    pub(crate) model: Option<String>,
    /// Vendor id.
    pub(crate) vendor: Option<String>,
    /// Distinct physical ids.
    pub(crate) sockets: Option<u32>,
    /// Distinct (physical id, core id) pairs.
    pub(crate) cores: Option<u32>,
    /// Processor entries.
    pub(crate) threads: u32,
    /// The hypervisor flag is set.
    pub(crate) hypervisor: bool,
}

/// Parse /proc/cpuinfo (x86 and ARM layouts).
pub(crate) fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut sockets = BTreeSet::new();
    let mut cores = BTreeSet::new();
    let mut physical = None;
    for block in text.split("\n\n") {
        let mut is_proc = false;
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "processor" => is_proc = v.parse::<u32>().is_ok(),
                "model name" | "Processor" if info.model.is_none() => info.model = clean(v),
                "vendor_id" | "CPU implementer" if info.vendor.is_none() => info.vendor = clean(v),
                "physical id" => {
                    physical = Some(v.to_string());
                    sockets.insert(v.to_string());
                }
                "core id" => {
                    cores.insert((physical.clone(), v.to_string()));
                }
                "flags" | "Features" if v.split_whitespace().any(|f| f == "hypervisor") => {
                    info.hypervisor = true;
                }
                _ => {}
            }
        }
        if is_proc {
            info.threads += 1;
        }
    }
    info.sockets = (!sockets.is_empty()).then(|| u32::try_from(sockets.len()).unwrap_or(0));
    info.cores = (!cores.is_empty()).then(|| u32::try_from(cores.len()).unwrap_or(0));
    info
}

pub(super) fn collect_cpu(w: &mut Findings) -> Apply {
    let Some(text) = read("/proc/cpuinfo") else {
        w.push("cannot read /proc/cpuinfo".into());
        return Box::new(|_| {});
    };
    let info = parse_cpuinfo(&text);
    let khz = |f: &str| {
        attr(format!("/sys/devices/system/cpu/cpu0/cpufreq/{f}"))
            .and_then(|v| v.parse::<u32>().ok())
            .map(|k| k / 1000)
    };
    let max = khz("cpuinfo_max_freq");
    let base = khz("base_frequency");
    Box::new(move |inv: &mut Inventory| {
        let cpu = &mut inv.cpu;
        cpu.model = info.model;
        cpu.vendor = info.vendor;
        cpu.threads = Some(info.threads);
        cpu.cores = info.cores.or(Some(info.threads));
        cpu.sockets = cpu.sockets.or(info.sockets).or(Some(1));
        cpu.max_mhz = max.or(cpu.max_mhz);
        cpu.base_mhz = base.or(cpu.base_mhz);
        if info.hypervisor && inv.identity.virtualization.is_none() {
            inv.identity.virtualization = Some("vm".into());
        }
    })
}

/// (MemTotal, SwapTotal) in bytes from /proc/meminfo.
pub(crate) fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kib * 1024)
        })
    };
    (get("MemTotal"), get("SwapTotal"))
}

pub(super) fn collect_memory(w: &mut Findings) -> Apply {
    let (total, swap) = read("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    if total.is_none() {
        w.push("cannot read MemTotal from /proc/meminfo".into());
    }
    Box::new(move |inv: &mut Inventory| {
        inv.memory.total_bytes = total.unwrap_or(0);
        inv.memory.swap_bytes = swap.unwrap_or(0);
    })
}

/// Block devices that are not physical disks.
fn is_virtual_block(name: &str) -> bool {
    [
        "loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd", "mtdblock",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn udev_property(dev: &str, key: &str) -> Option<String> {
    let data = read(format!("/run/udev/data/b{dev}"))?;
    let prefix = format!("E:{key}=");
    data.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(clean)
}

pub(super) fn collect_storage(w: &mut Findings) -> Apply {
    let mut disks = Vec::new();
    for name in list_dir("/sys/block") {
        if is_virtual_block(&name) {
            continue;
        }
        let base = format!("/sys/block/{name}");
        let sectors: u64 = attr(format!("{base}/size"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let dev = attr(format!("{base}/dev")).unwrap_or_default();
        let devpath = fs::canonicalize(format!("{base}/device"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bus = if name.starts_with("nvme") {
            Some("nvme")
        } else if devpath.contains("/usb") {
            Some("usb")
        } else if devpath.contains("virtio") {
            Some("virtio")
        } else if devpath.contains("/ata") {
            Some("sata")
        } else if name.starts_with("mmcblk") {
            Some("mmc")
        } else if devpath.contains("/host") {
            Some("scsi")
        } else {
            None
        };
        let removable = attr(format!("{base}/removable")).as_deref() == Some("1");
        let rotational = attr(format!("{base}/queue/rotational")).as_deref() == Some("1");
        let model = attr(format!("{base}/device/model"))
            .and_then(|m| clean(&m))
            .or_else(|| udev_property(&dev, "ID_MODEL"));
        let kind = if bus == Some("nvme") {
            DiskKind::Nvme
        } else if removable || bus == Some("usb") {
            DiskKind::Removable
        } else if bus == Some("virtio")
            || model.as_deref().is_some_and(|m| {
                m.contains("QEMU") || m.contains("VMware") || m.contains("Virtual")
            })
        {
            DiskKind::Virtual
        } else if rotational {
            DiskKind::Hdd
        } else {
            DiskKind::Ssd
        };
        disks.push(Disk {
            serial: attr(format!("{base}/device/serial"))
                .or_else(|| attr(format!("{base}/serial")))
                .and_then(|s| clean(&s))
                .or_else(|| udev_property(&dev, "ID_SERIAL_SHORT")),
            firmware: attr(format!("{base}/device/firmware_rev"))
                .or_else(|| attr(format!("{base}/device/rev"))),
            model,
            size_bytes: sectors.saturating_mul(512),
            kind,
            bus: bus.map(str::to_string),
            name,
        });
    }
    if disks.is_empty() {
        w.push("no physical disk found in /sys/block".into());
    }

    let sys_disks = match sysinfo::Disks::new_with_refreshed_list() {
        Ok(d) => Some(d),
        Err(e) => {
            w.push(format!("cannot list mounted volumes: {e}"));
            None
        }
    };
    let mut volumes = Vec::new();
    for d in sys_disks.iter().flat_map(|d| d.iter()) {
        let device = d.name().to_string_lossy().into_owned();
        volumes.push(Volume {
            mount_point: d.mount_point().to_string_lossy().into_owned(),
            encryption: linux_encryption(&device),
            device: Some(device),
            fs_type: Some(d.file_system().to_string_lossy().into_owned()),
            label: None,
            size_bytes: d.total_space(),
            free_bytes: d.available_space(),
        });
    }
    Box::new(move |inv: &mut Inventory| {
        inv.disks = disks;
        inv.volumes = volumes;
    })
}

/// dm-crypt (LUKS) anywhere below a volume's block device, following dm slaves.
fn linux_encryption(device: &str) -> Encryption {
    let Some(node) = device.strip_prefix("/dev/") else {
        return Encryption::Unknown;
    };
    let name = if let Some(mapper) = node.strip_prefix("mapper/") {
        match fs::canonicalize(format!("/dev/mapper/{mapper}")) {
            Ok(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Err(_) => return Encryption::Unknown,
        }
    } else {
        node.to_string()
    };
    // Partitions live under their disk in /sys/class/block.
    let mut stack = vec![name];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        seen += 1;
        if seen > 64 {
            break;
        }
        if let Some(uuid) = attr(format!("/sys/class/block/{n}/dm/uuid"))
            && let Some(rest) = uuid.strip_prefix("CRYPT-")
        {
            let method = rest.split('-').next().unwrap_or("dm-crypt");
            return Encryption::Encrypted(method.to_ascii_lowercase());
        }
        stack.extend(list_dir(format!("/sys/class/block/{n}/slaves")));
    }
    Encryption::None
}

pub(super) fn collect_displays(w: &mut Findings) -> Apply {
    let mut displays = Vec::new();
    for conn in list_dir("/sys/class/drm") {
        if !conn.contains('-') {
            continue;
        }
        let Ok(bytes) = fs::read(format!("/sys/class/drm/{conn}/edid")) else {
            continue;
        };
        if bytes.is_empty() {
            continue;
        }
        match edid::parse(&bytes) {
            Ok(mut d) => {
                d.connector = Some(conn);
                displays.push(d);
            }
            Err(e) => w.push(format!("display on {conn}: {e}")),
        }
    }
    Box::new(move |inv: &mut Inventory| inv.displays = displays)
}

pub(super) fn collect_batteries(_w: &mut Findings) -> Apply {
    let mut batteries = Vec::new();
    for name in list_dir("/sys/class/power_supply") {
        let base = format!("/sys/class/power_supply/{name}");
        if attr(format!("{base}/type")).as_deref() != Some("Battery") {
            continue;
        }
        let num = |f: &str| attr(format!("{base}/{f}")).and_then(|v| v.parse::<u64>().ok());
        // energy_* is in µWh; charge_* in µAh, converted with the design voltage (µV).
        let volts = num("voltage_min_design");
        let mwh = |energy: &str, charge: &str| {
            num(energy).map(|e| e / 1000).or_else(|| {
                let c = num(charge)?;
                let v = volts?;
                Some(c.saturating_mul(v) / 1_000_000_000)
            })
        };
        batteries.push(Battery {
            manufacturer: attr(format!("{base}/manufacturer")).and_then(|v| clean(&v)),
            model: attr(format!("{base}/model_name")).and_then(|v| clean(&v)),
            serial: attr(format!("{base}/serial_number")).and_then(|v| clean(&v)),
            chemistry: attr(format!("{base}/technology")).and_then(|v| clean(&v)),
            design_capacity_mwh: mwh("energy_full_design", "charge_full_design"),
            full_capacity_mwh: mwh("energy_full", "charge_full"),
            cycle_count: num("cycle_count")
                .filter(|&c| c > 0)
                .and_then(|c| u32::try_from(c).ok()),
            name,
        });
    }
    Box::new(move |inv: &mut Inventory| inv.batteries = batteries)
}

fn hex_id(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim_start_matches("0x").to_ascii_lowercase())
}

fn ids_file(candidates: &[&str]) -> Option<String> {
    candidates.iter().find_map(read)
}

pub(super) fn collect_devices(_w: &mut Findings) -> Apply {
    let mut devices = Vec::new();
    for addr in list_dir("/sys/bus/pci/devices") {
        let base = format!("/sys/bus/pci/devices/{addr}");
        let driver = fs::read_link(format!("{base}/driver"))
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
        devices.push(Device {
            bus: "pci".into(),
            vendor_id: hex_id(attr(format!("{base}/vendor"))),
            product_id: hex_id(attr(format!("{base}/device"))),
            class: hex_id(attr(format!("{base}/class"))),
            vendor: None,
            name: None,
            driver,
            address: addr,
        });
    }
    for addr in list_dir("/sys/bus/usb/devices") {
        // Interfaces (1-2:1.0) are parts of a device, not devices.
        if addr.contains(':') {
            continue;
        }
        let base = format!("/sys/bus/usb/devices/{addr}");
        devices.push(Device {
            bus: "usb".into(),
            vendor_id: hex_id(attr(format!("{base}/idVendor"))),
            product_id: hex_id(attr(format!("{base}/idProduct"))),
            class: hex_id(attr(format!("{base}/bDeviceClass"))),
            vendor: attr(format!("{base}/manufacturer")).and_then(|v| clean(&v)),
            name: attr(format!("{base}/product")).and_then(|v| clean(&v)),
            driver: None,
            address: addr,
        });
    }
    for (bus, files) in [("pci", pciids::PCI_IDS), ("usb", pciids::USB_IDS)] {
        let wanted: BTreeSet<(String, String)> = devices
            .iter()
            .filter(|d| d.bus == bus && (d.name.is_none() || d.vendor.is_none()))
            .filter_map(|d| Some((d.vendor_id.clone()?, d.product_id.clone()?)))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(text) = ids_file(files) else {
            continue;
        };
        let names = pciids::lookup(&text, &wanted);
        for d in devices.iter_mut().filter(|d| d.bus == bus) {
            let (Some(v), Some(p)) = (d.vendor_id.clone(), d.product_id.clone()) else {
                continue;
            };
            if d.vendor.is_none() {
                d.vendor = names.vendors.get(&v).cloned();
            }
            if d.name.is_none() {
                d.name = names.devices.get(&(v, p)).cloned();
            }
        }
    }
    let gpus: Vec<Gpu> = devices
        .iter()
        .filter(|d| d.bus == "pci" && d.class.as_deref().is_some_and(|c| c.starts_with("03")))
        .map(|d| Gpu {
            address: d.address.clone(),
            name: d.name.clone(),
            vendor: d.vendor.clone(),
            pci_id: d
                .vendor_id
                .as_ref()
                .zip(d.product_id.as_ref())
                .map(|(v, p)| format!("{v}:{p}")),
            driver: d.driver.clone(),
            memory_bytes: None,
        })
        .collect();
    Box::new(move |inv: &mut Inventory| {
        inv.devices = devices;
        inv.gpus = gpus;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/linux/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn cpuinfo_two_sockets_with_hyperthreads() {
        let info = parse_cpuinfo(&fixture("cpuinfo-2socket"));
        assert_eq!(
            info.model.as_deref(),
            Some("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz")
        );
        assert_eq!(info.vendor.as_deref(), Some("GenuineIntel"));
        assert_eq!(info.sockets, Some(2));
        assert_eq!(info.cores, Some(4));
        assert_eq!(info.threads, 8);
        assert!(!info.hypervisor);
    }

    #[test]
    fn cpuinfo_of_a_vm() {
        let info = parse_cpuinfo(&fixture("cpuinfo-vm"));
        assert!(info.threads >= 1);
        assert!(info.model.is_some());
        assert!(info.hypervisor);
    }

    #[test]
    fn meminfo_totals() {
        let (total, swap) = parse_meminfo(&fixture("meminfo"));
        assert_eq!(total, Some(24_684_092 * 1024));
        assert_eq!(swap, Some(0));
        assert_eq!(parse_meminfo("garbage\n"), (None, None));
    }
}
