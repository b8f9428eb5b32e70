//! SMBIOS (DMI) table parser: identity, firmware, processors and memory modules.
//!
//! Input is the raw structure table, as in `/sys/firmware/dmi/tables/DMI` on
//! Linux or `MSSMBios_RawSMBiosTables.SMBiosData` on Windows. Truncated or
//! malformed structures end the walk with a warning; what was read is kept.
#![cfg_attr(target_os = "macos", allow(dead_code))]

use deskhand_shared::inventory::{Firmware, Identity, MemoryModule};

use super::text::clean;

/// What the SMBIOS table tells.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SmbiosInfo {
    /// Identity fields (system, base board, chassis).
    pub(crate) identity: Identity,
    /// BIOS vendor, version, date.
    pub(crate) firmware: Firmware,
    /// Populated processor sockets.
    pub(crate) processors: Vec<Processor>,
    /// Installed memory modules (empty slots left out).
    pub(crate) modules: Vec<MemoryModule>,
}

impl SmbiosInfo {
    /// Copies the identity, firmware and memory modules into `inv`,
    /// leaving the processors to the caller; returns them.
    pub(crate) fn apply_hardware(
        self,
        inv: &mut deskhand_shared::inventory::Inventory,
    ) -> Vec<Processor> {
        let id = &mut inv.identity;
        let s = self.identity;
        id.system_uuid = s.system_uuid;
        id.manufacturer = s.manufacturer;
        id.model = s.model;
        id.serial = s.serial;
        id.sku = s.sku;
        id.chassis_type = s.chassis_type;
        id.asset_tag = s.asset_tag;
        id.board_manufacturer = s.board_manufacturer;
        id.board_product = s.board_product;
        id.board_serial = s.board_serial;
        inv.firmware.vendor = self.firmware.vendor;
        inv.firmware.version = self.firmware.version;
        inv.firmware.release_date = self.firmware.release_date;
        inv.memory_modules = self.modules;
        self.processors
    }
}

/// One populated processor socket (type 4).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Processor {
    /// Socket designation.
    pub(crate) socket: Option<String>,
    /// Version string (model name).
    pub(crate) version: Option<String>,
    /// Manufacturer.
    pub(crate) manufacturer: Option<String>,
    /// Max speed, MHz.
    pub(crate) max_mhz: Option<u32>,
    /// Current speed at boot, MHz.
    pub(crate) current_mhz: Option<u32>,
    /// Core count.
    pub(crate) cores: Option<u32>,
    /// Thread count.
    pub(crate) threads: Option<u32>,
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// SMBIOS version from the entry point (`_SM_` 2.x or `_SM3_` 3.x).
pub(crate) fn entry_point_version(ep: &[u8]) -> Option<(u8, u8)> {
    if ep.starts_with(b"_SM3_") {
        Some((*ep.get(7)?, *ep.get(8)?))
    } else if ep.starts_with(b"_SM_") {
        Some((*ep.get(6)?, *ep.get(7)?))
    } else {
        None
    }
}

struct Structure<'a> {
    kind: u8,
    data: &'a [u8],
    strings: Vec<&'a [u8]>,
}

impl Structure<'_> {
    fn byte(&self, off: usize) -> Option<u8> {
        self.data.get(off).copied()
    }
    fn word(&self, off: usize) -> Option<u16> {
        let b = self.data.get(off..off + 2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }
    fn dword(&self, off: usize) -> Option<u32> {
        let b = self.data.get(off..off + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// String referenced by the index byte at `off` (1-based; 0 means none).
    fn string(&self, off: usize) -> Option<String> {
        let idx = usize::from(self.byte(off)?);
        let raw = self.strings.get(idx.checked_sub(1)?)?;
        clean(&String::from_utf8_lossy(raw))
    }
}

/// Split the table into structures; stops with a warning at the first malformed one.
fn structures<'a>(table: &'a [u8], warnings: &mut Vec<String>) -> Vec<Structure<'a>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 4 <= table.len() {
        let kind = table[pos];
        let len = usize::from(table[pos + 1]);
        if len < 4 {
            warnings.push(format!(
                "smbios: structure at offset {pos} has invalid length {len}"
            ));
            return out;
        }
        let Some(data) = table.get(pos..pos + len) else {
            warnings.push(format!(
                "smbios: structure type {kind} at offset {pos} is truncated"
            ));
            return out;
        };
        // Strings follow the formatted area and end with a double NUL.
        let mut strings = Vec::new();
        let mut s = pos + len;
        let end = loop {
            let Some(rest) = table.get(s..) else {
                warnings.push(format!(
                    "smbios: strings of structure type {kind} at offset {pos} are truncated"
                ));
                return out;
            };
            match rest.iter().position(|&b| b == 0) {
                None => {
                    warnings.push(format!(
                        "smbios: strings of structure type {kind} at offset {pos} are truncated"
                    ));
                    return out;
                }
                Some(0) => {
                    // Empty string: end of set (a structure without strings has two NULs).
                    if strings.is_empty() && table.get(s + 1) == Some(&0) {
                        break s + 2;
                    }
                    break s + 1;
                }
                Some(n) => {
                    strings.push(&rest[..n]);
                    s += n + 1;
                }
            }
        };
        out.push(Structure {
            kind,
            data,
            strings,
        });
        if kind == 127 {
            break;
        }
        pos = end;
    }
    if pos < table.len() && pos + 4 > table.len() {
        warnings.push(format!(
            "smbios: table ends inside a structure header at offset {pos}"
        ));
    }
    out
}

fn chassis_name(t: u8) -> Option<&'static str> {
    const NAMES: [&str; 36] = [
        "Other",
        "Unknown",
        "Desktop",
        "Low Profile Desktop",
        "Pizza Box",
        "Mini Tower",
        "Tower",
        "Portable",
        "Laptop",
        "Notebook",
        "Hand Held",
        "Docking Station",
        "All in One",
        "Sub Notebook",
        "Space-saving",
        "Lunch Box",
        "Main Server Chassis",
        "Expansion Chassis",
        "SubChassis",
        "Bus Expansion Chassis",
        "Peripheral Chassis",
        "RAID Chassis",
        "Rack Mount Chassis",
        "Sealed-case PC",
        "Multi-system chassis",
        "Compact PCI",
        "Advanced TCA",
        "Blade",
        "Blade Enclosure",
        "Tablet",
        "Convertible",
        "Detachable",
        "IoT Gateway",
        "Embedded PC",
        "Mini PC",
        "Stick PC",
    ];
    NAMES.get(usize::from(t.checked_sub(1)?)).copied()
}

fn memory_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x03 => "DRAM",
        0x0F => "SDRAM",
        0x11 => "RDRAM",
        0x12 => "DDR",
        0x13 => "DDR2",
        0x14 => "DDR2 FB-DIMM",
        0x18 => "DDR3",
        0x19 => "FBD2",
        0x1A => "DDR4",
        0x1B => "LPDDR",
        0x1C => "LPDDR2",
        0x1D => "LPDDR3",
        0x1E => "LPDDR4",
        0x1F => "Logical non-volatile device",
        0x20 => "HBM",
        0x21 => "HBM2",
        0x22 => "DDR5",
        0x23 => "LPDDR5",
        0x24 => "HBM3",
        0x07 => "RAM",
        0x01 => "Other",
        _ => return None,
    })
}

fn form_factor_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x03 => "SIMM",
        0x04 => "SIP",
        0x05 => "Chip",
        0x06 => "DIP",
        0x07 => "ZIP",
        0x08 => "Proprietary Card",
        0x09 => "DIMM",
        0x0A => "TSOP",
        0x0B => "Row of chips",
        0x0C => "RIMM",
        0x0D => "SODIMM",
        0x0E => "SRIMM",
        0x0F => "FB-DIMM",
        0x10 => "Die",
        _ => return None,
    })
}

/// SMBIOS UUID: the first three fields are little-endian since SMBIOS 2.6.
fn uuid(b: &[u8], version: (u8, u8)) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    if b.iter().all(|&x| x == 0) || b.iter().all(|&x| x == 0xFF) {
        return None;
    }
    let le = version >= (2, 6);
    let order: [usize; 16] = if le {
        [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
    } else {
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    };
    let mut s = String::with_capacity(36);
    for (i, &idx) in order.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{:02X}", b[idx]));
    }
    Some(s)
}

fn speed(v: Option<u16>) -> Option<u32> {
    v.filter(|&s| s != 0 && s != 0xFFFF).map(u32::from)
}

/// Parse an SMBIOS structure table of the given SMBIOS `version`.
pub(crate) fn parse(table: &[u8], version: (u8, u8), warnings: &mut Vec<String>) -> SmbiosInfo {
    let mut info = SmbiosInfo::default();
    let structs = structures(table, warnings);
    if structs.is_empty() && warnings.is_empty() {
        warnings.push("smbios: table is empty".into());
    }
    for s in &structs {
        match s.kind {
            0 => {
                info.firmware.vendor = s.string(0x04);
                info.firmware.version = s.string(0x05);
                info.firmware.release_date = s.string(0x08);
            }
            1 => {
                let id = &mut info.identity;
                id.manufacturer = s.string(0x04);
                id.model = s.string(0x05);
                id.serial = s.string(0x07);
                id.system_uuid = s.data.get(0x08..0x18).and_then(|b| uuid(b, version));
                id.sku = s.string(0x19);
                // The product version is often the friendly model name (Lenovo).
                if let (Some(model), Some(v)) = (&id.model, s.string(0x06))
                    && !v.eq_ignore_ascii_case(model)
                    && v.chars().any(char::is_alphabetic)
                {
                    id.model = Some(format!("{model} ({v})"));
                }
            }
            2 => {
                let id = &mut info.identity;
                if id.board_manufacturer.is_none() {
                    id.board_manufacturer = s.string(0x04);
                    id.board_product = s.string(0x05);
                    id.board_serial = s.string(0x07);
                }
            }
            3 => {
                let id = &mut info.identity;
                if id.chassis_type.is_none() {
                    id.chassis_type = s
                        .byte(0x05)
                        .and_then(|t| chassis_name(t & 0x7F))
                        .map(str::to_string);
                    id.asset_tag = s.string(0x08);
                }
            }
            4 => {
                // Central processor in a populated socket.
                let populated = s.byte(0x18).is_some_and(|st| st & 0x40 != 0);
                if s.byte(0x05) != Some(3) || !populated {
                    continue;
                }
                let mut cores = s.byte(0x23).filter(|&c| c != 0).map(u32::from);
                if cores == Some(0xFF) {
                    cores = s.word(0x2A).filter(|&c| c != 0).map(u32::from);
                }
                let mut threads = s.byte(0x25).filter(|&c| c != 0).map(u32::from);
                if threads == Some(0xFF) {
                    threads = s.word(0x2E).filter(|&c| c != 0).map(u32::from);
                }
                info.processors.push(Processor {
                    socket: s.string(0x04),
                    manufacturer: s.string(0x07),
                    version: s.string(0x10),
                    max_mhz: speed(s.word(0x14)),
                    current_mhz: speed(s.word(0x16)),
                    cores,
                    threads,
                });
            }
            17 => {
                let size_bytes = match s.word(0x0C) {
                    None | Some(0) | Some(0xFFFF) => continue,
                    Some(0x7FFF) => u64::from(s.dword(0x1C).unwrap_or(0) & 0x7FFF_FFFF) << 20,
                    Some(v) if v & 0x8000 != 0 => u64::from(v & 0x7FFF) << 10,
                    Some(v) => u64::from(v) << 20,
                };
                if size_bytes == 0 {
                    continue;
                }
                let mut speed_mts = speed(s.word(0x15));
                if speed_mts == Some(0xFFFF) {
                    speed_mts = s.dword(0x54).filter(|&x| x != 0);
                }
                info.modules.push(MemoryModule {
                    slot: s.string(0x10).unwrap_or_else(|| "unknown".into()),
                    bank: s.string(0x11),
                    size_bytes,
                    kind: s.byte(0x12).and_then(memory_type_name).map(str::to_string),
                    form_factor: s.byte(0x0E).and_then(form_factor_name).map(str::to_string),
                    speed_mts,
                    manufacturer: s.string(0x17),
                    serial: s.string(0x18),
                    part_number: s.string(0x1A),
                });
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/smbios/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn parses_asus_all_in_one() {
        let mut w = Vec::new();
        let info = parse(&fixture("asus-v241icr.bin"), (3, 0), &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            info.firmware.vendor.as_deref(),
            Some("American Megatrends Inc.")
        );
        assert_eq!(info.firmware.version.as_deref(), Some("0404"));
        assert_eq!(info.firmware.release_date.as_deref(), Some("03/26/2018"));
        assert_eq!(
            info.identity.manufacturer.as_deref(),
            Some("ASUSTeK COMPUTER INC.")
        );
        assert_eq!(info.identity.model.as_deref(), Some("V241IC-R"));
        assert_eq!(info.identity.serial, None, "'--' is a placeholder");
        assert_eq!(info.identity.chassis_type.as_deref(), Some("All in One"));
        assert_eq!(info.processors.len(), 1);
        let cpu = &info.processors[0];
        assert_eq!(
            cpu.version.as_deref(),
            Some("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz")
        );
        assert_eq!((cpu.cores, cpu.threads), (Some(4), Some(8)));
        assert_eq!(cpu.max_mhz, Some(8300));
        assert_eq!(info.modules.len(), 2);
        let m = &info.modules[0];
        assert_eq!(m.slot, "ChannelA-DIMM0");
        assert_eq!(m.size_bytes, 4096 << 20);
        assert_eq!(m.kind.as_deref(), Some("DDR4"));
        assert_eq!(m.form_factor.as_deref(), Some("SODIMM"));
        assert_eq!(m.speed_mts, Some(2400));
        assert_eq!(m.manufacturer.as_deref(), Some("SK Hynix"));
        assert_eq!(m.part_number.as_deref(), Some("HMA851S6AFR6N-UH"));
    }

    #[test]
    fn parses_uuid_serial_and_asset_tag() {
        let mut w = Vec::new();
        let info = parse(&fixture("lenovo-x1.bin"), (3, 2), &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            info.identity.system_uuid.as_deref(),
            Some("4C4C4544-0042-3510-8052-B4C04F4E3432")
        );
        assert_eq!(info.identity.serial.as_deref(), Some("PF1ABCDE"));
        assert_eq!(info.identity.asset_tag.as_deref(), Some("IT-004217"));
        assert_eq!(info.identity.chassis_type.as_deref(), Some("Notebook"));
        assert_eq!(
            info.identity.model.as_deref(),
            Some("20QDCTO1WW (ThinkPad X1 Carbon 7th)")
        );
        assert_eq!(info.modules.len(), 2, "the empty slot is left out");
        assert_eq!(info.modules[1].size_bytes, 16 << 30);
        assert_eq!(info.modules[1].kind.as_deref(), Some("LPDDR3"));
    }

    #[test]
    fn truncated_tables_warn_and_keep_what_was_read() {
        let full = fixture("asus-v241icr.bin");
        assert!(full.len() > 100);
        for cut in [3, 20, full.len() / 2, full.len() - 3] {
            let mut w = Vec::new();
            let info = parse(&full[..cut], (3, 0), &mut w);
            assert!(!w.is_empty(), "cut at {cut} must warn");
            if cut > full.len() / 3 {
                assert!(info.firmware.vendor.is_some(), "cut at {cut} keeps type 0");
            }
        }
    }

    #[test]
    fn entry_point_versions() {
        assert_eq!(
            entry_point_version(b"_SM3_\x00\x18\x03\x02\x00"),
            Some((3, 2))
        );
        assert_eq!(entry_point_version(b"_SM_\x00\x1f\x02\x08"), Some((2, 8)));
        assert_eq!(entry_point_version(b"junk"), None);
        assert_eq!(entry_point_version(b"_SM3_"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let mut w = Vec::new();
            let _ = parse(&bytes, (3, 0), &mut w);
        }
    }
}
