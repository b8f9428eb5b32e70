//! EDID parser: a display's vendor, model, serial, size and native resolution.
#![cfg_attr(target_os = "macos", allow(dead_code))]

use deskhand_shared::inventory::Display;

use super::text::clean;

/// Errors that make an EDID unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EdidError {
    /// Fewer than 128 bytes.
    #[error("edid is {0} bytes, a base block needs 128")]
    Truncated(usize),
    /// The fixed 8-byte header is missing.
    #[error("edid header is missing")]
    BadHeader,
}

/// Well-known PNP ids, for a readable manufacturer name.
fn pnp_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "ACI" | "AUS" => "ASUS",
        "ACR" => "Acer",
        "AOC" => "AOC",
        "APP" => "Apple",
        "AUO" => "AU Optronics",
        "BNQ" => "BenQ",
        "BOE" => "BOE",
        "CMN" => "Chimei Innolux",
        "DEL" => "Dell",
        "ENC" => "EIZO",
        "GSM" => "LG Electronics",
        "HPN" | "HWP" => "HP",
        "HSD" => "HannStar",
        "IVM" => "Iiyama",
        "LEN" => "Lenovo",
        "LGD" => "LG Display",
        "MSI" => "MSI",
        "NEC" => "NEC",
        "PHL" => "Philips",
        "SAM" => "Samsung",
        "SDC" => "Samsung Display",
        "SHP" => "Sharp",
        "SNY" => "Sony",
        "VSC" => "ViewSonic",
        _ => return None,
    })
}

/// Parse the base block of an EDID (extension blocks are ignored).
pub(crate) fn parse(edid: &[u8]) -> Result<Display, EdidError> {
    let b: &[u8; 128] = edid
        .get(..128)
        .and_then(|s| s.try_into().ok())
        .ok_or(EdidError::Truncated(edid.len()))?;
    if b[..8] != [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00] {
        return Err(EdidError::BadHeader);
    }
    let m = u16::from_be_bytes([b[8], b[9]]);
    let letter = |shift: u16| char::from(b'@' + ((m >> shift) & 0x1F) as u8);
    let vendor: String = [letter(10), letter(5), letter(0)].iter().collect();
    let product_code = u16::from_le_bytes([b[10], b[11]]);
    let serial_num = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    let week = b[16];
    let year = u16::from(b[17]) + 1990;

    let mut model = None;
    let mut serial_text = None;
    let mut native = None;
    for d in b[54..126].chunks_exact(18) {
        if d[0] != 0 || d[1] != 0 {
            if native.is_none() {
                let w = u16::from(d[2]) | (u16::from(d[4] & 0xF0) << 4);
                let h = u16::from(d[5]) | (u16::from(d[7] & 0xF0) << 4);
                native = Some(format!("{w}x{h}"));
            }
            continue;
        }
        let text = || {
            let raw = &d[5..18];
            let end = raw.iter().position(|&c| c == 0x0A).unwrap_or(raw.len());
            clean(&String::from_utf8_lossy(&raw[..end]))
        };
        match d[3] {
            0xFC => model = text(),
            0xFF => serial_text = text(),
            _ => {}
        }
    }
    let serial = serial_text.or_else(|| (serial_num != 0).then(|| serial_num.to_string()));
    Ok(Display {
        connector: None,
        manufacturer: pnp_name(&vendor).map(str::to_string),
        vendor,
        model,
        product_code,
        serial,
        width_cm: (b[21] != 0).then_some(u16::from(b[21])),
        height_cm: (b[22] != 0).then_some(u16::from(b[22])),
        // Week 0xFF means the year is a model year.
        year: (b[17] != 0).then_some(year),
        week: (week != 0 && week != 0xFF).then_some(week),
        native_resolution: native,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/edid/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn dell_with_serial_descriptor() {
        let d = parse(&fixture("dell-u3818dw.bin"));
        let d = d.as_ref().ok();
        assert_eq!(d.map(|d| d.vendor.as_str()), Some("DEL"));
        assert_eq!(d.and_then(|d| d.manufacturer.as_deref()), Some("Dell"));
        assert_eq!(d.and_then(|d| d.model.as_deref()), Some("DELL U3818DW"));
        assert_eq!(d.and_then(|d| d.serial.as_deref()), Some("5KC0391E08EL"));
        assert_eq!(d.map(|d| d.product_code), Some(0xA0F4));
        assert_eq!(d.and_then(|d| d.width_cm.zip(d.height_cm)), Some((88, 37)));
        assert_eq!(d.and_then(|d| d.year.zip(d.week)), Some((2019, 3)));
        assert_eq!(
            d.and_then(|d| d.native_resolution.as_deref()),
            Some("3840x1600")
        );
    }

    #[test]
    fn aoc_with_numeric_serial() {
        let d = parse(&fixture("aoc-1670w.bin"));
        let d = d.as_ref().ok();
        assert_eq!(d.map(|d| d.vendor.as_str()), Some("AOC"));
        assert_eq!(d.and_then(|d| d.model.as_deref()), Some("1670W"));
        assert_eq!(d.and_then(|d| d.serial.as_deref()), Some("363"));
        assert_eq!(
            d.and_then(|d| d.native_resolution.as_deref()),
            Some("1366x768")
        );
        assert_eq!(d.and_then(|d| d.year), Some(2018));
    }

    #[test]
    fn truncated_and_corrupt_edid_are_errors() {
        let full = fixture("aoc-1670w.bin");
        assert_eq!(parse(&full[..100]), Err(EdidError::Truncated(100)));
        assert_eq!(parse(&[]), Err(EdidError::Truncated(0)));
        let mut bad = full.clone();
        bad[1] = 0;
        assert_eq!(parse(&bad), Err(EdidError::BadHeader));
        let mut noise = full;
        for (i, b) in noise.iter_mut().enumerate().skip(8) {
            *b = (i * 37) as u8;
        }
        assert!(parse(&noise).is_ok(), "noise after the header still parses");
    }
}
