//! Windows collectors: the registry (software, updates, services, firewall,
//! EDIDs, identity) and WMI (SMBIOS table, hardware, Security Center).
//!
//! Software comes from the Uninstall keys of the 64-bit and 32-bit registry
//! views and of every loaded user hive under HKEY_USERS; never Win32_Product.

use std::collections::{BTreeMap, HashMap};

use deskhand_shared::inventory::{
    Antivirus, Category, Device, Disk, DiskKind, Encryption, Firewall, Inventory, LocalGroup,
    NetInterface, Service, UserAccount, Volume,
};
use winreg::RegKey as WinKey;
use winreg::enums::{HKEY_LOCAL_MACHINE, HKEY_USERS, KEY_READ, KEY_WOW64_32KEY, KEY_WOW64_64KEY};
use wmi::{Variant, WMIConnection};

use super::regexport::{RegKey, RegValue, decode_value};
use super::text::clean;
use super::{Apply, Collector, Findings, edid, smbios, uninstall};

type Row = HashMap<String, Variant>;

/// The Windows collectors, in the order their parts are applied.
pub(crate) fn collectors() -> Vec<Collector> {
    use deskhand_shared::inventory::Category as C;
    vec![
        Collector::new("uninstall", &[C::Software], collect_software),
        Collector::new("hotfixes", &[C::Updates], collect_updates),
        Collector::new("services", &[C::Services], collect_services),
        Collector::new(
            "smbios",
            &[C::Identity, C::Firmware, C::Cpu, C::MemoryModules],
            collect_smbios,
        ),
        Collector::new(
            "system",
            &[
                C::Cpu,
                C::Memory,
                C::Identity,
                C::Os,
                C::Sessions,
                C::Firmware,
            ],
            collect_system,
        ),
        Collector::new("storage", &[C::Disks, C::Volumes], collect_storage),
        Collector::new("network", &[C::Interfaces, C::Network], collect_network),
        Collector::new(
            "displays",
            &[C::Displays, C::Gpus, C::Batteries],
            collect_displays,
        ),
        Collector::new("devices", &[C::Devices], collect_devices),
        Collector::new("accounts", &[C::Users, C::Groups], collect_accounts),
        Collector::new("security", &[C::Firewalls, C::Antivirus], collect_security),
    ]
}

/// Read one key (values only) into the platform-neutral form.
fn read_key(key: &WinKey, path: &str) -> RegKey {
    let mut values = BTreeMap::new();
    for (name, value) in key.enum_values().filter_map(Result::ok) {
        let vtype = value.vtype.clone() as u32;
        values.insert(name.to_ascii_lowercase(), decode_value(vtype, &value.bytes));
    }
    RegKey {
        path: path.to_string(),
        values,
    }
}

/// Every direct subkey of `root\sub`, read with `flags` (registry view);
/// a key that cannot be opened is a warning and no subkeys.
fn read_children(
    root: &WinKey,
    root_name: &str,
    sub: &str,
    flags: u32,
    w: &mut Vec<String>,
) -> Vec<RegKey> {
    try_read_children(root, root_name, sub, flags).unwrap_or_else(|e| {
        w.push(format!("cannot open {root_name}\\{sub}: {e}"));
        Vec::new()
    })
}

/// Every direct subkey of `root\sub`: none when the key does not exist,
/// an error when it exists and cannot be opened.
fn try_read_children(
    root: &WinKey,
    root_name: &str,
    sub: &str,
    flags: u32,
) -> std::io::Result<Vec<RegKey>> {
    let parent = match root.open_subkey_with_flags(sub, KEY_READ | flags) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(parent
        .enum_keys()
        .filter_map(Result::ok)
        .filter_map(|name| {
            let k = parent
                .open_subkey_with_flags(&name, KEY_READ | flags)
                .ok()?;
            Some(read_key(&k, &format!("{root_name}\\{sub}\\{name}")))
        })
        .collect())
}

const UNINSTALL: &str = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";

fn collect_software(w: &mut Findings) -> Apply {
    let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
    // The machine-wide list is the bulk of the software: unreadable, the
    // software is unknown.
    let mut keys = match try_read_children(&hklm, "HKEY_LOCAL_MACHINE", UNINSTALL, KEY_WOW64_64KEY)
    {
        Ok(keys) => keys,
        Err(e) => {
            w.not_collected(
                Category::Software,
                format!("cannot open HKEY_LOCAL_MACHINE\\{UNINSTALL}: {e}"),
            );
            Vec::new()
        }
    };
    // The 32-bit view, named as regedit shows it so the mapper knows the arch.
    for mut k in read_children(&hklm, "HKEY_LOCAL_MACHINE", UNINSTALL, KEY_WOW64_32KEY, w) {
        k.path = k.path.replacen("SOFTWARE\\", "SOFTWARE\\WOW6432Node\\", 1);
        keys.push(k);
    }
    let hku = WinKey::predef(HKEY_USERS);
    for sid in hku.enum_keys().filter_map(Result::ok) {
        if sid.ends_with("_Classes") {
            continue;
        }
        let sub = format!("{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall");
        keys.extend(read_children(&hku, "HKEY_USERS", &sub, 0, w));
    }
    let pkgs = uninstall::packages(&keys);
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

fn collect_updates(w: &mut Findings) -> Apply {
    let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
    let sub = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages";
    let mut keys = Vec::new();
    match hklm.open_subkey_with_flags(sub, KEY_READ | KEY_WOW64_64KEY) {
        Ok(parent) => {
            for name in parent.enum_keys().filter_map(Result::ok) {
                // Thousands of packages: read values only of those named after a KB.
                if !name.contains("KB") {
                    continue;
                }
                if let Ok(k) = parent.open_subkey_with_flags(&name, KEY_READ | KEY_WOW64_64KEY) {
                    keys.push(read_key(&k, &format!("HKEY_LOCAL_MACHINE\\{sub}\\{name}")));
                }
            }
        }
        Err(e) => w.not_collected(
            Category::Updates,
            format!("cannot open the servicing packages key: {e}"),
        ),
    }
    let updates = uninstall::updates(&keys);
    Box::new(move |inv: &mut Inventory| inv.updates = updates)
}

fn wmi(namespace: &str, w: &mut Vec<String>) -> Option<WMIConnection> {
    match WMIConnection::with_namespace_path(namespace) {
        Ok(c) => Some(c),
        Err(e) => {
            w.push(format!("cannot connect to WMI {namespace}: {e}"));
            None
        }
    }
}

fn query(conn: &WMIConnection, wql: &str, w: &mut Vec<String>) -> Vec<Row> {
    try_query(conn, wql).unwrap_or_else(|e| {
        w.push(e);
        Vec::new()
    })
}

/// A WMI query's rows, or why it failed.
fn try_query(conn: &WMIConnection, wql: &str) -> Result<Vec<Row>, String> {
    conn.raw_query::<Row>(wql)
        .map_err(|e| format!("WMI query {wql:?} failed: {e}"))
}

fn vs(row: &Row, k: &str) -> Option<String> {
    match row.get(k)? {
        Variant::String(s) => clean(s),
        _ => None,
    }
}

fn vu(row: &Row, k: &str) -> Option<u64> {
    match row.get(k)? {
        Variant::UI1(v) => Some(u64::from(*v)),
        Variant::UI2(v) => Some(u64::from(*v)),
        Variant::UI4(v) => Some(u64::from(*v)),
        Variant::UI8(v) => Some(*v),
        Variant::I2(v) => u64::try_from(*v).ok(),
        Variant::I4(v) => u64::try_from(*v).ok(),
        Variant::I8(v) => u64::try_from(*v).ok(),
        Variant::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn vb(row: &Row, k: &str) -> Option<bool> {
    match row.get(k)? {
        Variant::Bool(b) => Some(*b),
        _ => None,
    }
}

fn vstrings(row: &Row, k: &str) -> Vec<String> {
    match row.get(k) {
        Some(Variant::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Variant::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn collect_services(w: &mut Findings) -> Apply {
    let mut services = Vec::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT Name, DisplayName, State, StartMode FROM Win32_Service",
            w,
        ) {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            services.push(Service {
                name,
                description: vs(&row, "DisplayName"),
                state: vs(&row, "State")
                    .unwrap_or_else(|| "unknown".into())
                    .to_ascii_lowercase(),
                start_mode: vs(&row, "StartMode")
                    .unwrap_or_else(|| "unknown".into())
                    .to_ascii_lowercase(),
                manager: "windows".into(),
            });
        }
    }
    if services.is_empty() {
        // Fallback: the service database in the registry (no run state).
        let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
        // Neither WMI nor the service database: the services are unknown.
        let keys = try_read_children(
            &hklm,
            "HKEY_LOCAL_MACHINE",
            "SYSTEM\\CurrentControlSet\\Services",
            0,
        )
        .unwrap_or_else(|e| {
            w.not_collected(
                Category::Services,
                format!("no WMI, and cannot open the service database: {e}"),
            );
            Vec::new()
        });
        for k in keys {
            let kind = k.get("Type").and_then(RegValue::as_u64).unwrap_or(0);
            if kind & 0x30 == 0 {
                continue; // drivers
            }
            let start = match k.get("Start").and_then(RegValue::as_u64) {
                Some(2) => "auto",
                Some(3) => "manual",
                Some(4) => "disabled",
                Some(0 | 1) => "boot",
                _ => "unknown",
            };
            services.push(Service {
                name: k.leaf().to_string(),
                description: k.string("DisplayName"),
                state: "unknown".into(),
                start_mode: start.into(),
                manager: "windows".into(),
            });
        }
    }
    Box::new(move |inv: &mut Inventory| inv.services = services)
}

fn collect_smbios(w: &mut Findings) -> Apply {
    let Some(conn) = wmi("ROOT\\WMI", w) else {
        return Box::new(|_| {});
    };
    let rows = query(
        &conn,
        "SELECT SMBiosData, SmbiosMajorVersion, SmbiosMinorVersion FROM MSSMBios_RawSMBiosTables",
        w,
    );
    let Some(row) = rows.into_iter().next() else {
        w.push("no SMBIOS table from WMI".into());
        return Box::new(|_| {});
    };
    let table: Vec<u8> = match row.get("SMBiosData") {
        Some(Variant::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Variant::UI1(b) => Some(*b),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let version = (
        vu(&row, "SmbiosMajorVersion")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(3),
        vu(&row, "SmbiosMinorVersion")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(0),
    );
    let info = smbios::parse(&table, version, w);
    Box::new(move |inv: &mut Inventory| {
        let processors = info.apply_hardware(inv);
        inv.cpu.sockets = u32::try_from(processors.len()).ok().filter(|&n| n > 0);
        if let Some(p) = processors.first() {
            inv.cpu.max_mhz = p.max_mhz;
            inv.cpu.base_mhz = p.current_mhz;
        }
    })
}

fn reg_string(path: &str, name: &str) -> Option<String> {
    let k = WinKey::predef(HKEY_LOCAL_MACHINE)
        .open_subkey_with_flags(path, KEY_READ | KEY_WOW64_64KEY)
        .ok()?;
    read_key(&k, path).string(name)
}

fn reg_u64(path: &str, name: &str) -> Option<u64> {
    let k = WinKey::predef(HKEY_LOCAL_MACHINE)
        .open_subkey_with_flags(path, KEY_READ | KEY_WOW64_64KEY)
        .ok()?;
    read_key(&k, path).get(name).and_then(RegValue::as_u64)
}

fn collect_system(w: &mut Findings) -> Apply {
    let super::sysinfo_basics::SysinfoBasics {
        total,
        swap,
        threads,
        brand,
        vendor,
        cores,
        hostname,
        boot,
    } = super::sysinfo_basics::read(w);
    let kernel = sysinfo::System::kernel_version().ok();
    let cv = "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
    let product = reg_string(cv, "ProductName");
    let display_version = reg_string(cv, "DisplayVersion").or_else(|| reg_string(cv, "ReleaseId"));
    let build = reg_string(cv, "CurrentBuild").map(|b| match reg_u64(cv, "UBR") {
        Some(ubr) => format!("{b}.{ubr}"),
        None => b,
    });
    let install = reg_u64(cv, "InstallDate");
    let machine_guid = reg_string("SOFTWARE\\Microsoft\\Cryptography", "MachineGuid");
    let tz = reg_string(
        "SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation",
        "TimeZoneKeyName",
    );
    let last_user = reg_string(
        "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Authentication\\LogonUI",
        "LastLoggedOnUser",
    );
    let secure_boot = reg_u64(
        "SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State",
        "UEFISecureBootEnabled",
    );
    let mut domain = None;
    let mut logged_in = Vec::new();
    let mut max_mhz = None;
    let mut locale = None;
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT Domain, PartOfDomain, UserName FROM Win32_ComputerSystem",
            w,
        ) {
            if vb(&row, "PartOfDomain") == Some(true) {
                domain = vs(&row, "Domain");
            }
            logged_in.extend(vs(&row, "UserName"));
        }
        for row in query(&conn, "SELECT MaxClockSpeed FROM Win32_Processor", w) {
            max_mhz = max_mhz.or(vu(&row, "MaxClockSpeed").and_then(|v| u32::try_from(v).ok()));
        }
        for row in query(
            &conn,
            "SELECT Locale, OSLanguage FROM Win32_OperatingSystem",
            w,
        ) {
            locale = vs(&row, "Locale");
        }
    }
    let efi = reg_string("SYSTEM\\CurrentControlSet\\Control", "PEFirmwareType").or_else(|| {
        reg_u64("SYSTEM\\CurrentControlSet\\Control", "PEFirmwareType").map(|v| v.to_string())
    });
    Box::new(move |inv: &mut Inventory| {
        inv.memory.total_bytes = total;
        inv.memory.swap_bytes = swap;
        inv.cpu.threads = threads;
        inv.cpu.model = brand;
        inv.cpu.vendor = vendor;
        inv.cpu.cores = cores;
        inv.cpu.max_mhz = inv.cpu.max_mhz.or(max_mhz);
        inv.identity.fqdn = domain.as_ref().map(|d| format!("{hostname}.{d}"));
        inv.identity.hostname = hostname;
        inv.identity.domain = domain;
        inv.identity.machine_id = machine_guid;
        inv.os.name = product;
        inv.os.version = display_version;
        inv.os.build = build;
        inv.os.kernel = kernel;
        inv.os.install_date = install;
        inv.os.last_boot = boot;
        inv.os.time_zone = tz;
        inv.os.locale = locale;
        inv.sessions.logged_in = logged_in;
        inv.sessions.last_logged_in = last_user;
        inv.firmware.mode = efi.map(|t| {
            if t == "2" {
                "uefi".into()
            } else {
                "bios".into()
            }
        });
        inv.firmware.secure_boot = secure_boot.map(|v| v == 1);
    })
}

fn collect_storage(w: &mut Findings) -> Apply {
    let mut disks = Vec::new();
    let mut bitlocker: HashMap<String, Encryption> = HashMap::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT DeviceID, Model, SerialNumber, Size, InterfaceType, MediaType, FirmwareRevision FROM Win32_DiskDrive",
            w,
        ) {
            let bus = vs(&row, "InterfaceType").map(|b| b.to_ascii_lowercase());
            let model = vs(&row, "Model");
            let removable = vs(&row, "MediaType").is_some_and(|m| m.contains("Removable"));
            let kind = if model.as_deref().is_some_and(|m| m.contains("NVMe")) {
                DiskKind::Nvme
            } else if removable || bus.as_deref() == Some("usb") {
                DiskKind::Removable
            } else if model.as_deref().is_some_and(|m| m.contains("Virtual")) {
                DiskKind::Virtual
            } else {
                DiskKind::Unknown
            };
            disks.push(Disk {
                name: vs(&row, "DeviceID").unwrap_or_default(),
                model,
                serial: vs(&row, "SerialNumber"),
                firmware: vs(&row, "FirmwareRevision"),
                size_bytes: vu(&row, "Size").unwrap_or(0),
                kind,
                bus,
            });
        }
    }
    // BitLocker state needs administrator rights; without them it stays unknown.
    if let Ok(conn) =
        WMIConnection::with_namespace_path("ROOT\\CIMV2\\Security\\MicrosoftVolumeEncryption")
        && let Ok(rows) = conn
            .raw_query::<Row>("SELECT DriveLetter, ProtectionStatus FROM Win32_EncryptableVolume")
    {
        for row in rows {
            let Some(letter) = vs(&row, "DriveLetter") else {
                continue;
            };
            let state = match vu(&row, "ProtectionStatus") {
                Some(1) => Encryption::Encrypted("bitlocker".into()),
                Some(0) => Encryption::None,
                _ => Encryption::Unknown,
            };
            bitlocker.insert(letter.to_ascii_uppercase(), state);
        }
    }
    let mut volumes = Vec::new();
    match sysinfo::Disks::new_with_refreshed_list() {
        Ok(list) => {
            for d in list.iter() {
                let mount = d.mount_point().to_string_lossy().into_owned();
                let letter = mount.trim_end_matches('\\').to_ascii_uppercase();
                volumes.push(Volume {
                    encryption: bitlocker.get(&letter).cloned().unwrap_or_default(),
                    mount_point: mount,
                    device: Some(d.name().to_string_lossy().into_owned()).filter(|s| !s.is_empty()),
                    fs_type: Some(d.file_system().to_string_lossy().into_owned()),
                    label: None,
                    size_bytes: d.total_space(),
                    free_bytes: d.available_space(),
                });
            }
        }
        Err(e) => w.push(format!("cannot list volumes: {e}")),
    }
    Box::new(move |inv: &mut Inventory| {
        inv.disks = disks;
        inv.volumes = volumes;
    })
}

fn collect_network(w: &mut Findings) -> Apply {
    let mut interfaces = Vec::new();
    match sysinfo::Networks::new_with_refreshed_list() {
        Ok(list) => {
            for (name, data) in list.iter() {
                let mut ipv4 = Vec::new();
                let mut ipv6 = Vec::new();
                for n in data.ip_networks() {
                    let s = format!("{}/{}", n.addr, n.prefix);
                    if n.addr.is_ipv4() {
                        ipv4.push(s)
                    } else {
                        ipv6.push(s)
                    }
                }
                let mac = data.mac_address().to_string().to_ascii_lowercase();
                interfaces.push(NetInterface {
                    name: name.to_string_lossy().into_owned(),
                    mac: (mac != "00:00:00:00:00:00").then_some(mac),
                    ipv4,
                    ipv6,
                    state: None,
                    speed_mbps: None,
                    kind: None,
                    mtu: u32::try_from(data.mtu()).ok(),
                    driver: None,
                });
            }
        }
        Err(e) => w.push(format!("cannot list network interfaces: {e}")),
    }
    let mut gateways = Vec::new();
    let mut dns = Vec::new();
    let mut search = Vec::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT DefaultIPGateway, DNSServerSearchOrder, DNSDomainSuffixSearchOrder FROM Win32_NetworkAdapterConfiguration WHERE IPEnabled = TRUE",
            w,
        ) {
            gateways.extend(vstrings(&row, "DefaultIPGateway"));
            for d in vstrings(&row, "DNSServerSearchOrder") {
                if !dns.contains(&d) {
                    dns.push(d);
                }
            }
            search.extend(vstrings(&row, "DNSDomainSuffixSearchOrder"));
        }
    }
    gateways.sort();
    gateways.dedup();
    Box::new(move |inv: &mut Inventory| {
        inv.interfaces = interfaces;
        inv.network.default_gateways = gateways;
        inv.network.dns_servers = dns;
        inv.network.search_domains = search;
    })
}

fn collect_displays(w: &mut Findings) -> Apply {
    // EDIDs of monitors Windows has seen: Enum\DISPLAY\<model>\<instance>\Device Parameters.
    let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
    let mut displays = Vec::new();
    if let Ok(root) =
        hklm.open_subkey_with_flags("SYSTEM\\CurrentControlSet\\Enum\\DISPLAY", KEY_READ)
    {
        for model in root.enum_keys().filter_map(Result::ok) {
            let Ok(mk) = root.open_subkey_with_flags(&model, KEY_READ) else {
                continue;
            };
            for inst in mk.enum_keys().filter_map(Result::ok) {
                let Ok(params) =
                    mk.open_subkey_with_flags(format!("{inst}\\Device Parameters"), KEY_READ)
                else {
                    continue;
                };
                let Ok(raw) = params.get_raw_value("EDID") else {
                    continue;
                };
                match edid::parse(&raw.bytes) {
                    Ok(mut d) => {
                        d.connector = Some(format!("{model}\\{inst}"));
                        if !displays
                            .iter()
                            .any(|x: &deskhand_shared::inventory::Display| {
                                x.vendor == d.vendor
                                    && x.product_code == d.product_code
                                    && x.serial == d.serial
                            })
                        {
                            displays.push(d);
                        }
                    }
                    Err(e) => w.push(format!("display {model}\\{inst}: {e}")),
                }
            }
        }
    }
    let mut gpus = Vec::new();
    let mut batteries = Vec::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT Name, AdapterCompatibility, PNPDeviceID, AdapterRAM, InstalledDisplayDrivers FROM Win32_VideoController",
            w,
        ) {
            gpus.push(deskhand_shared::inventory::Gpu {
                address: vs(&row, "PNPDeviceID").unwrap_or_default(),
                name: vs(&row, "Name"),
                vendor: vs(&row, "AdapterCompatibility"),
                pci_id: None,
                driver: vs(&row, "InstalledDisplayDrivers"),
                memory_bytes: vu(&row, "AdapterRAM"),
            });
        }
        for row in query(
            &conn,
            "SELECT DeviceID, Name, Chemistry FROM Win32_Battery",
            w,
        ) {
            batteries.push(deskhand_shared::inventory::Battery {
                name: vs(&row, "DeviceID").unwrap_or_else(|| "battery".into()),
                model: vs(&row, "Name"),
                ..Default::default()
            });
        }
    }
    if !batteries.is_empty()
        && let Some(conn) = wmi("ROOT\\WMI", w)
    {
        let design = query(
            &conn,
            "SELECT DesignedCapacity, ManufactureName, SerialNumber FROM BatteryStaticData",
            w,
        );
        let full = query(
            &conn,
            "SELECT FullChargedCapacity FROM BatteryFullChargedCapacity",
            w,
        );
        let cycles = query(&conn, "SELECT CycleCount FROM BatteryCycleCount", w);
        for (i, b) in batteries.iter_mut().enumerate() {
            if let Some(r) = design.get(i) {
                b.design_capacity_mwh = vu(r, "DesignedCapacity");
                b.manufacturer = vs(r, "ManufactureName");
                b.serial = vs(r, "SerialNumber");
            }
            b.full_capacity_mwh = full.get(i).and_then(|r| vu(r, "FullChargedCapacity"));
            b.cycle_count = cycles
                .get(i)
                .and_then(|r| vu(r, "CycleCount"))
                .and_then(|c| u32::try_from(c).ok());
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.displays = displays;
        inv.gpus = gpus;
        inv.batteries = batteries;
    })
}

fn collect_devices(w: &mut Findings) -> Apply {
    let mut devices = Vec::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT PNPDeviceID, Name, Manufacturer, PNPClass, Service FROM Win32_PnPEntity",
            w,
        ) {
            let Some(id) = vs(&row, "PNPDeviceID") else {
                continue;
            };
            let bus = if id.starts_with("PCI\\") {
                "pci"
            } else if id.starts_with("USB\\") {
                "usb"
            } else {
                continue;
            };
            // PCI\VEN_8086&DEV_A0F0&..., USB\VID_046D&PID_C52B\...
            let field = |tag: &str| {
                id.split(['\\', '&'])
                    .find_map(|p| p.strip_prefix(tag))
                    .map(|v| v.to_ascii_lowercase())
            };
            devices.push(Device {
                bus: bus.into(),
                vendor_id: field("VEN_").or_else(|| field("VID_")),
                product_id: field("DEV_").or_else(|| field("PID_")),
                class: vs(&row, "PNPClass"),
                vendor: vs(&row, "Manufacturer"),
                name: vs(&row, "Name"),
                driver: vs(&row, "Service"),
                address: id,
            });
        }
    }
    Box::new(move |inv: &mut Inventory| inv.devices = devices)
}

fn collect_accounts(w: &mut Findings) -> Apply {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let conn = wmi("ROOT\\CIMV2", w);
    let accounts = conn.as_ref().map(|conn| {
        (
            try_query(
                conn,
                "SELECT Name, SID, FullName, Disabled, SIDType FROM Win32_UserAccount WHERE LocalAccount = TRUE",
            ),
            try_query(conn, "SELECT Name, SID FROM Win32_Group WHERE LocalAccount = TRUE"),
        )
    });
    let (user_rows, group_rows) = match accounts {
        Some((u, g)) => (u, g),
        None => {
            let why = "cannot connect to WMI ROOT\\CIMV2".to_string();
            (Err(why.clone()), Err(why))
        }
    };
    // Without WMI the accounts are unknown, not none.
    let user_rows = user_rows.unwrap_or_else(|e| {
        w.not_collected(Category::Users, e);
        Vec::new()
    });
    let group_rows = group_rows.unwrap_or_else(|e| {
        w.not_collected(Category::Groups, e);
        Vec::new()
    });
    {
        for row in user_rows {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            let sid = vs(&row, "SID");
            // Built-in accounts have RIDs below 1000.
            let rid = sid
                .as_deref()
                .and_then(|s| s.rsplit('-').next()?.parse::<u32>().ok());
            users.push(UserAccount {
                name,
                full_name: vs(&row, "FullName"),
                system: rid.is_none_or(|r| r < 1000),
                uid: sid,
                home: None,
                shell: None,
                disabled: vb(&row, "Disabled"),
            });
        }
        for row in group_rows {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            groups.push(LocalGroup {
                name,
                gid: vs(&row, "SID"),
                members: Vec::new(),
            });
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.users = users;
        inv.groups = groups;
    })
}

fn collect_security(w: &mut Findings) -> Apply {
    let mut firewalls = Vec::new();
    let base = "SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy";
    for (profile, label) in [
        ("DomainProfile", "Windows Firewall (domain)"),
        ("StandardProfile", "Windows Firewall (private)"),
        ("PublicProfile", "Windows Firewall (public)"),
    ] {
        firewalls.push(Firewall {
            name: label.into(),
            enabled: reg_u64(&format!("{base}\\{profile}"), "EnableFirewall").map(|v| v == 1),
        });
    }
    let mut antivirus = Vec::new();
    // Security Center exists on client editions only; servers have no SecurityCenter2.
    if let Ok(conn) = WMIConnection::with_namespace_path("ROOT\\SecurityCenter2") {
        for row in query(
            &conn,
            "SELECT displayName, productState FROM AntiVirusProduct",
            w,
        ) {
            let Some(name) = vs(&row, "displayName") else {
                continue;
            };
            let state = vu(&row, "productState");
            antivirus.push(Antivirus {
                name,
                // productState: bits 12-15 "on" (0x1000), bits 4-7 "out of date" (0x10).
                enabled: state.map(|s| s & 0x1000 != 0),
                up_to_date: state.map(|s| s & 0x10 == 0),
                version: None,
            });
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.firewalls = firewalls;
        inv.antivirus = antivirus;
    })
}
