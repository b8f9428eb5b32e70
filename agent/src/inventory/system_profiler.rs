//! macOS `system_profiler -xml` output: hardware identity, OS, GPUs, displays, battery.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io::Cursor;

use deskhand_shared::inventory::{Battery, Display, Gpu};

use super::text::clean;

/// Data types asked of system_profiler; [`parse`] reads them.
pub(crate) const DATA_TYPES: &[&str] = &[
    "SPHardwareDataType",
    "SPSoftwareDataType",
    "SPDisplaysDataType",
    "SPPowerDataType",
];

/// What system_profiler tells.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Marketing name (MacBook Pro).
    pub(crate) machine_name: Option<String>,
    /// Model identifier (MacBookPro18,3).
    pub(crate) model: Option<String>,
    /// Serial number.
    pub(crate) serial: Option<String>,
    /// Hardware UUID.
    pub(crate) uuid: Option<String>,
    /// Boot ROM / firmware version.
    pub(crate) firmware: Option<String>,
    /// Chip or CPU name.
    pub(crate) cpu: Option<String>,
    /// Total cores.
    pub(crate) cores: Option<u32>,
    /// Physical memory, bytes.
    pub(crate) memory_bytes: Option<u64>,
    /// macOS name and version (macOS, 14.5), build (23F79).
    pub(crate) os: (Option<String>, Option<String>, Option<String>),
    /// Kernel.
    pub(crate) kernel: Option<String>,
    /// Graphics.
    pub(crate) gpus: Vec<Gpu>,
    /// Displays.
    pub(crate) displays: Vec<Display>,
    /// Batteries.
    pub(crate) batteries: Vec<Battery>,
}

fn s(d: &plist::Dictionary, k: &str) -> Option<String> {
    d.get(k).and_then(plist::Value::as_string).and_then(clean)
}

fn n(d: &plist::Dictionary, k: &str) -> Option<u64> {
    let v = d.get(k)?;
    v.as_unsigned_integer()
        .or_else(|| v.as_string().and_then(|s| s.trim().parse().ok()))
}

/// "16 GB" / "512 MB" to bytes.
fn size(text: &str) -> Option<u64> {
    let mut parts = text.split_whitespace();
    let num: u64 = parts.next()?.parse().ok()?;
    let mult = match parts.next()? {
        "TB" => 1u64 << 40,
        "GB" => 1 << 30,
        "MB" => 1 << 20,
        _ => return None,
    };
    Some(num * mult)
}

/// Parse the XML (or binary) plist that `system_profiler -xml` prints.
pub(crate) fn parse(bytes: &[u8], warnings: &mut Vec<String>) -> Profile {
    let mut p = Profile::default();
    let sections = match plist::Value::from_reader(Cursor::new(bytes)) {
        Ok(plist::Value::Array(a)) => a,
        Ok(_) => {
            warnings.push("system_profiler output is not an array of data types".into());
            return p;
        }
        Err(e) => {
            warnings.push(format!(
                "system_profiler output is not a property list: {e}"
            ));
            return p;
        }
    };
    for section in sections {
        let Some(sec) = section.as_dictionary() else {
            continue;
        };
        let kind = s(sec, "_dataType").unwrap_or_default();
        let items = sec
            .get("_items")
            .and_then(plist::Value::as_array)
            .cloned()
            .unwrap_or_default();
        for item in items.iter().filter_map(plist::Value::as_dictionary) {
            match kind.as_str() {
                "SPHardwareDataType" => {
                    p.machine_name = s(item, "machine_name");
                    p.model = s(item, "machine_model");
                    p.serial = s(item, "serial_number");
                    p.uuid = s(item, "platform_UUID");
                    p.firmware = s(item, "boot_rom_version");
                    p.cpu = s(item, "chip_type").or_else(|| s(item, "cpu_type"));
                    // "proc 10:8:2" = total:performance:efficiency.
                    p.cores = s(item, "number_processors")
                        .and_then(|v| {
                            v.trim_start_matches("proc ")
                                .split(':')
                                .next()?
                                .parse()
                                .ok()
                        })
                        .or_else(|| {
                            n(item, "number_processors").and_then(|c| u32::try_from(c).ok())
                        });
                    p.memory_bytes = s(item, "physical_memory").and_then(|m| size(&m));
                }
                "SPSoftwareDataType" => {
                    // "macOS 14.5 (23F79)"
                    if let Some(v) = s(item, "os_version") {
                        let (main, build) = match v.split_once(" (") {
                            Some((m, b)) => {
                                (m.to_string(), Some(b.trim_end_matches(')').to_string()))
                            }
                            None => (v.clone(), None),
                        };
                        let (name, version) = match main.rsplit_once(' ') {
                            Some((n, ver)) => (Some(n.to_string()), Some(ver.to_string())),
                            None => (Some(main), None),
                        };
                        p.os = (name, version, build);
                    }
                    p.kernel = s(item, "kernel_version");
                }
                "SPDisplaysDataType" => {
                    p.gpus.push(Gpu {
                        address: s(item, "sppci_bus").unwrap_or_else(|| "builtin".into()),
                        name: s(item, "sppci_model"),
                        vendor: s(item, "spdisplays_vendor")
                            .map(|v| v.trim_start_matches("sppci_vendor_").to_string()),
                        pci_id: None,
                        driver: None,
                        memory_bytes: s(item, "spdisplays_vram").and_then(|v| size(&v)),
                    });
                    let ndrvs = item
                        .get("spdisplays_ndrvs")
                        .and_then(plist::Value::as_array);
                    for d in ndrvs
                        .into_iter()
                        .flatten()
                        .filter_map(plist::Value::as_dictionary)
                    {
                        let hex = |k: &str| s(d, k).and_then(|v| u16::from_str_radix(&v, 16).ok());
                        let vendor = hex("_spdisplays_display-vendor-id")
                            .map(pnp_from_id)
                            .unwrap_or_default();
                        p.displays.push(Display {
                            connector: s(d, "spdisplays_connection_type"),
                            vendor,
                            manufacturer: None,
                            model: s(d, "_name"),
                            product_code: hex("_spdisplays_display-product-id").unwrap_or(0),
                            serial: s(d, "_spdisplays_display-serial-number"),
                            width_cm: None,
                            height_cm: None,
                            year: n(d, "_spdisplays_display-year")
                                .and_then(|y| u16::try_from(y).ok())
                                .filter(|&y| y > 0),
                            week: n(d, "_spdisplays_display-week")
                                .and_then(|w| u8::try_from(w).ok())
                                .filter(|&w| w > 0),
                            native_resolution: s(d, "_spdisplays_pixels")
                                .map(|r| r.replace(' ', "")),
                        });
                    }
                }
                "SPPowerDataType" => {
                    let Some(health) = item
                        .get("sppower_battery_health_info")
                        .and_then(plist::Value::as_dictionary)
                    else {
                        continue;
                    };
                    let model = item
                        .get("sppower_battery_model_info")
                        .and_then(plist::Value::as_dictionary);
                    p.batteries.push(Battery {
                        name: "InternalBattery-0".into(),
                        manufacturer: Some("Apple".into()),
                        model: model.and_then(|m| s(m, "sppower_battery_device_name")),
                        serial: model.and_then(|m| s(m, "sppower_battery_serial_number")),
                        chemistry: None,
                        // system_profiler gives health as a percentage only; the
                        // capacities in mWh come from ioreg on a live machine.
                        design_capacity_mwh: None,
                        full_capacity_mwh: None,
                        cycle_count: n(health, "sppower_battery_cycle_count")
                            .and_then(|c| u32::try_from(c).ok()),
                    });
                }
                _ => {}
            }
        }
    }
    p
}

/// Three-letter PNP id from the 16-bit EDID manufacturer id.
fn pnp_from_id(id: u16) -> String {
    let letter = |shift: u16| char::from(b'@' + ((id >> shift) & 0x1F) as u8);
    [letter(10), letter(5), letter(0)].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profile() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/macos/system_profiler.xml"
        );
        let bytes = std::fs::read(path).unwrap_or_default();
        let mut w = Vec::new();
        let p = parse(&bytes, &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(p.model.as_deref(), Some("MacBookPro18,3"));
        assert_eq!(p.serial.as_deref(), Some("C02XK1ABCD12"));
        assert_eq!(p.cpu.as_deref(), Some("Apple M1 Pro"));
        assert_eq!(p.cores, Some(10));
        assert_eq!(p.memory_bytes, Some(16 << 30));
        assert_eq!(
            p.os,
            (
                Some("macOS".into()),
                Some("14.5".into()),
                Some("23F79".into())
            )
        );
        assert_eq!(p.displays.len(), 2);
        assert_eq!(p.displays[1].vendor, "DEL");
        assert_eq!(
            p.displays[1].native_resolution.as_deref(),
            Some("3840x2160")
        );
        assert_eq!(p.batteries.first().and_then(|b| b.cycle_count), Some(187));
        assert_eq!(
            p.gpus.first().and_then(|g| g.name.as_deref()),
            Some("Apple M1 Pro")
        );
    }

    #[test]
    fn bad_output_warns() {
        let mut w = Vec::new();
        assert_eq!(parse(b"not a plist", &mut w), Profile::default());
        assert_eq!(w.len(), 1);
    }
}
