//! What the machine is made of, as Windows reports it: the SMBIOS table,
//! processor, memory and OS basics, storage, network, displays, graphics,
//! batteries and PCI/USB devices.

use super::*;

pub(super) fn collect_smbios(w: &mut Findings) -> Apply {
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

pub(super) fn collect_system(w: &mut Findings) -> Apply {
    let super::super::sysinfo_basics::SysinfoBasics {
        total,
        swap,
        threads,
        brand,
        vendor,
        cores,
        hostname,
        boot,
    } = super::super::sysinfo_basics::read(w);
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
    // The zone's Windows name, reported as its IANA name, and the bias in
    // effect now (daylight saving time counted).
    let tzi = "SYSTEM\\CurrentControlSet\\Control\\TimeZoneInformation";
    let tz =
        reg_string(tzi, "TimeZoneKeyName").and_then(|n| super::super::zones::reported_zone(&n));
    let utc_offset = reg_u64(tzi, "ActiveTimeBias").and_then(super::super::zones::offset_from_bias);
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
        inv.os.utc_offset_secs = utc_offset;
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

pub(super) fn collect_storage(w: &mut Findings) -> Apply {
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

pub(super) fn collect_network(w: &mut Findings) -> Apply {
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

pub(super) fn collect_displays(w: &mut Findings) -> Apply {
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

pub(super) fn collect_devices(w: &mut Findings) -> Apply {
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
