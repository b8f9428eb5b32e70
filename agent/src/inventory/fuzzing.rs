//! The inventory parsers as the fuzz targets in `agent/fuzz` see them
//! (only with the `fuzzing` feature; no collector uses this module).
//!
//! Each function runs one parser the way its collector does, on arbitrary
//! bytes, and checks what the parser promises beyond not panicking: at
//! most one warning per malformed record, nothing left out that should be
//! kept, values cleaned as documented. A broken promise comes back as
//! `Err` with a message that names it; the fuzz target turns that into a
//! crash so the input is kept. A panic inside a parser is a crash too.

use deskhand_shared::inventory::{Package, PackageSource};

use super::{dpkg, edid, regexport, rpm, smbios, uninstall};

/// A value that went through [`super::text::clean`]: trimmed, not empty.
fn cleaned(what: &str, v: Option<&String>) -> Result<(), String> {
    match v {
        Some(s) if s.is_empty() || s.trim() != s.as_str() => {
            Err(format!("{what} {s:?} is not trimmed or is empty"))
        }
        _ => Ok(()),
    }
}

fn named(p: &Package, source: &PackageSource) -> Result<(), String> {
    if p.name.is_empty() {
        return Err(format!("a package without a name: {p:?}"));
    }
    if &p.source != source {
        return Err(format!("package {:?} has source {:?}", p.name, p.source));
    }
    Ok(())
}

/// The dpkg status parser (`/var/lib/dpkg/status`, lossy UTF-8).
pub fn dpkg_status(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let stanzas = dpkg::stanzas(&text).count();
    let mut warnings = Vec::new();
    let pkgs = dpkg::parse_status(&text, &mut warnings);
    if pkgs.len() + warnings.len() > stanzas {
        return Err(format!(
            "{} packages and {} warnings from {stanzas} stanzas",
            pkgs.len(),
            warnings.len()
        ));
    }
    for p in &pkgs {
        named(p, &PackageSource::Dpkg)?;
        if matches!(
            p.state.as_deref(),
            Some("installed" | "config-files" | "not-installed")
        ) {
            return Err(format!("package {:?} kept in state {:?}", p.name, p.state));
        }
        if p.size_bytes.is_some_and(|b| b % 1024 != 0 && b != u64::MAX) {
            return Err(format!("package {:?} size is not in KiB", p.name));
        }
        let _ = dpkg::info_list_names(p);
    }
    Ok(())
}

/// The `rpm -qa --queryformat` output parser (lossy UTF-8).
pub fn rpm_query(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let mut warnings = Vec::new();
    let pkgs = rpm::parse_query(&text, &mut warnings);
    if pkgs.len() + warnings.len() > lines {
        return Err(format!(
            "{} packages and {} warnings from {lines} lines",
            pkgs.len(),
            warnings.len()
        ));
    }
    for p in &pkgs {
        named(p, &PackageSource::Rpm)?;
        if p.name == "gpg-pubkey" || p.name != p.name.trim() || p.name == "(none)" {
            return Err(format!(
                "package name {:?} should have been left out",
                p.name
            ));
        }
    }
    Ok(())
}

/// The SMBIOS table parser, on the bytes as a structure table (read as
/// SMBIOS 2.5 and 3.0) and as an entry point.
pub fn smbios_table(bytes: &[u8]) -> Result<(), String> {
    let _ = smbios::entry_point_version(bytes);
    let (mut w_old, mut w_new) = (Vec::new(), Vec::new());
    let mut old = smbios::parse(bytes, (2, 5), &mut w_old);
    let new = smbios::parse(bytes, (3, 0), &mut w_new);
    if w_new.len() > 1 {
        return Err(format!("more than one warning: {w_new:?}"));
    }
    if w_old != w_new {
        return Err(format!(
            "warnings depend on the version: {w_old:?} / {w_new:?}"
        ));
    }
    // Only the UUID's byte order depends on the version.
    match (&old.identity.system_uuid, &new.identity.system_uuid) {
        (None, None) => {}
        (Some(a), Some(b)) if a.len() == 36 && b.len() == 36 => {
            let (mut x, mut y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            x.sort_unstable();
            y.sort_unstable();
            if x != y {
                return Err(format!(
                    "uuid {a} (2.5) and {b} (3.0) differ in more than order"
                ));
            }
        }
        (a, b) => return Err(format!("uuid {a:?} (2.5) against {b:?} (3.0)")),
    }
    old.identity
        .system_uuid
        .clone_from(&new.identity.system_uuid);
    if old != new {
        return Err("fields other than the uuid depend on the version".into());
    }
    let id = &new.identity;
    for (what, v) in [
        ("manufacturer", &id.manufacturer),
        ("model", &id.model),
        ("serial", &id.serial),
        ("sku", &id.sku),
        ("asset tag", &id.asset_tag),
        ("board manufacturer", &id.board_manufacturer),
        ("board product", &id.board_product),
        ("board serial", &id.board_serial),
        ("firmware vendor", &new.firmware.vendor),
        ("firmware version", &new.firmware.version),
        ("firmware date", &new.firmware.release_date),
    ] {
        cleaned(what, v.as_ref())?;
    }
    for m in &new.modules {
        if m.size_bytes == 0 {
            return Err(format!("memory module {:?} of size 0 kept", m.slot));
        }
        cleaned("module serial", m.serial.as_ref())?;
    }
    for p in &new.processors {
        cleaned("processor version", p.version.as_ref())?;
        if p.cores == Some(0) || p.threads == Some(0) {
            return Err(format!("processor {:?} with 0 cores or threads", p.socket));
        }
    }
    Ok(())
}

/// The EDID parser; extension blocks must not change the result.
pub fn edid_blob(bytes: &[u8]) -> Result<(), String> {
    let parsed = edid::parse(bytes);
    match (&parsed, bytes.len()) {
        (Err(edid::EdidError::Truncated(n)), len) if *n == len && len < 128 => return Ok(()),
        (Err(e), len) if len < 128 => return Err(format!("{len} bytes read as {e:?}")),
        _ => {}
    }
    let base = edid::parse(&bytes[..128]);
    if base != parsed {
        return Err("the extension blocks changed the base block's result".into());
    }
    let Ok(d) = parsed else {
        return Ok(());
    };
    if d.vendor.len() != 3 || !d.vendor.bytes().all(|b| (b'@'..=b'_').contains(&b)) {
        return Err(format!("vendor id {:?} is not three PNP letters", d.vendor));
    }
    cleaned("model", d.model.as_ref())?;
    cleaned("serial", d.serial.as_ref())?;
    if d.width_cm == Some(0) || d.height_cm == Some(0) || d.week == Some(0) {
        return Err("a zero size or week kept".into());
    }
    Ok(())
}

/// The `.reg` export parser, the Uninstall-key mapping behind it, and the
/// registry API's value decoder (first four bytes: the value type).
pub fn reg_export(bytes: &[u8]) -> Result<(), String> {
    if let Some((ty, raw)) = bytes.split_first_chunk::<4>() {
        let v = regexport::decode_value(u32::from_le_bytes(*ty), raw);
        let _ = (v.as_str(), v.as_u64());
    }
    let mut warnings = Vec::new();
    let Ok(keys) = regexport::parse(bytes, &mut warnings) else {
        return Ok(());
    };
    for k in &keys {
        if let Some(name) = k.values.keys().find(|n| n.to_ascii_lowercase() != **n) {
            return Err(format!(
                "value name {name:?} of {:?} is not lower-case",
                k.path
            ));
        }
        let _ = k.leaf();
    }
    for p in uninstall::packages(&keys) {
        if p.name.trim().is_empty() {
            return Err(format!("a program without a name: {p:?}"));
        }
    }
    let _ = uninstall::updates(&keys);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_default()
    }

    #[test]
    fn fixtures_keep_every_promise() {
        assert_eq!(dpkg_status(&fixture("dpkg/status")), Ok(()));
        assert_eq!(rpm_query(&fixture("rpm/qa.txt")), Ok(()));
        assert_eq!(smbios_table(&fixture("smbios/lenovo-x1.bin")), Ok(()));
        assert_eq!(smbios_table(&fixture("smbios/asus-v241icr.bin")), Ok(()));
        assert_eq!(edid_blob(&fixture("edid/dell-u3818dw.bin")), Ok(()));
        assert_eq!(edid_blob(&fixture("edid/aoc-1670w.bin")), Ok(()));
        assert_eq!(reg_export(&fixture("windows/uninstall.reg")), Ok(()));
        for f in [dpkg_status, rpm_query, smbios_table, edid_blob, reg_export] {
            assert_eq!(f(b""), Ok(()));
        }
    }
}
