//! Windows installed software and updates from registry keys: the Uninstall keys
//! (what "Apps & features" lists) and Component Based Servicing packages (hotfixes).
//! Never Win32_Product, which is slow and triggers MSI repairs.
#![cfg_attr(not(windows), allow(dead_code))]

use std::collections::BTreeMap;

use deskhand_shared::inventory::{Package, PackageSource, Update};

use super::regexport::{RegKey, RegValue};

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDD` (what installers write to InstallDate) to seconds since the epoch.
pub(crate) fn parse_install_date(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[4..6].parse().ok()?;
    let d: u32 = s[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1980 {
        return None;
    }
    u64::try_from(days_from_civil(y, m, d) * 86_400).ok()
}

/// Windows FILETIME (100 ns since 1601) to seconds since the Unix epoch.
pub(crate) fn filetime_to_unix(ft: u64) -> Option<u64> {
    (ft / 10_000_000).checked_sub(11_644_473_600)
}

/// Where an Uninstall key lives: the package source and the architecture of the view.
fn classify(path: &str) -> Option<(PackageSource, Option<&'static str>)> {
    let lower = path.to_ascii_lowercase();
    let (parent, _) = lower.rsplit_once('\\')?;
    if !parent.ends_with("\\microsoft\\windows\\currentversion\\uninstall") {
        return None;
    }
    let wow = lower.contains("\\wow6432node\\");
    if lower.starts_with("hkey_local_machine\\") {
        Some((
            PackageSource::WindowsMachine,
            Some(if wow { "x86" } else { "x64" }),
        ))
    } else if let Some(rest) = path.strip_prefix("HKEY_USERS\\") {
        let sid = rest.split('\\').next().unwrap_or("").to_string();
        Some((PackageSource::WindowsUser(sid), None))
    } else if lower.starts_with("hkey_current_user\\") {
        Some((PackageSource::WindowsUser("current-user".into()), None))
    } else {
        None
    }
}

/// Installed programs from Uninstall keys, filtered like "Apps & features":
/// no name, system components and updates of another product are left out.
pub(crate) fn packages(keys: &[RegKey]) -> Vec<Package> {
    let mut out = Vec::new();
    for key in keys {
        let Some((source, arch)) = classify(&key.path) else {
            continue;
        };
        let Some(name) = key.string("DisplayName") else {
            continue;
        };
        if key.get("SystemComponent").and_then(RegValue::as_u64) == Some(1)
            || key.string("ParentKeyName").is_some()
            || key
                .string("ReleaseType")
                .is_some_and(|r| r.contains("Update") || r == "Hotfix")
        {
            continue;
        }
        let version = key.string("DisplayVersion").unwrap_or_else(|| {
            match (
                key.get("VersionMajor").and_then(RegValue::as_u64),
                key.get("VersionMinor").and_then(RegValue::as_u64),
            ) {
                (Some(a), Some(b)) => format!("{a}.{b}"),
                _ => String::new(),
            }
        });
        out.push(Package {
            name,
            version,
            arch: arch.map(str::to_string),
            source,
            vendor: key.string("Publisher"),
            install_date: key
                .string("InstallDate")
                .and_then(|d| parse_install_date(&d)),
            size_bytes: key
                .get("EstimatedSize")
                .and_then(RegValue::as_u64)
                .map(|kib| kib.saturating_mul(1024)),
            state: None,
            id: Some(key.leaf().to_string()),
        });
    }
    out
}

/// Installed updates from Component Based Servicing package keys
/// (`Package_for_KB5034441~31bf3856ad364e35~amd64~~...` with CurrentState 0x70).
pub(crate) fn updates(keys: &[RegKey]) -> Vec<Update> {
    let mut by_id: BTreeMap<String, Update> = BTreeMap::new();
    for key in keys {
        if !key
            .path
            .to_ascii_lowercase()
            .contains("\\component based servicing\\packages\\")
        {
            continue;
        }
        let leaf = key.leaf();
        let Some(at) = leaf.find("KB") else { continue };
        let digits: String = leaf[at + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            continue;
        }
        // 0x70: installed; other states are staged, superseded or pending.
        if key.get("CurrentState").and_then(RegValue::as_u64) != Some(0x70) {
            continue;
        }
        let time = match (
            key.get("InstallTimeHigh").and_then(RegValue::as_u64),
            key.get("InstallTimeLow").and_then(RegValue::as_u64),
        ) {
            (Some(h), Some(l)) => filetime_to_unix((h << 32) | l),
            _ => None,
        };
        let id = format!("KB{digits}");
        let desc = leaf.split('~').next().map(str::to_string);
        let entry = by_id.entry(id.clone()).or_insert(Update {
            id,
            description: desc,
            installed_on: time,
        });
        entry.installed_on = match (entry.installed_on, time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::regexport;

    fn keys() -> Vec<RegKey> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/windows/uninstall.reg"
        );
        let bytes = std::fs::read(path).unwrap_or_default();
        regexport::parse(&bytes, &mut Vec::new()).unwrap_or_default()
    }

    #[test]
    fn programs_of_all_three_views() {
        let pkgs = packages(&keys());
        let names: Vec<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
        for expected in [
            "7-Zip 23.01 (x64)",
            "Google Chrome",
            "Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.38.33135",
            "Zoom",
            "Notepad++ (64-bit x64)",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        // Left out: system component, an update of Office, a key without a name, hotfix.
        assert!(!names.iter().any(|n| n.contains("Update for")));
        assert!(!names.contains(&"Microsoft Visual C++ 2022 X86 Minimum Runtime - 14.38.33135"));
        assert_eq!(pkgs.len(), 7, "{names:?}");

        let zip = pkgs.iter().find(|p| p.name.starts_with("7-Zip"));
        assert!(zip.is_some_and(|z| z.version == "23.01"
            && z.vendor.as_deref() == Some("Igor Pavlov")
            && z.arch.as_deref() == Some("x64")
            && z.size_bytes == Some(5_769 * 1024)
            && z.source == PackageSource::WindowsMachine));
        let vc = pkgs
            .iter()
            .find(|p| p.name.contains("Redistributable (x86)"));
        assert_eq!(vc.and_then(|p| p.arch.as_deref()), Some("x86"));
        let zoom = pkgs.iter().find(|p| p.name == "Zoom");
        assert_eq!(
            zoom.map(|p| &p.source),
            Some(&PackageSource::WindowsUser(
                "S-1-5-21-3623811015-3361044348-30300820-1013".into()
            ))
        );
        let chrome = pkgs.iter().find(|p| p.name == "Google Chrome");
        assert_eq!(chrome.and_then(|p| p.install_date), Some(1_718_928_000)); // 2024-06-21
    }

    #[test]
    fn hotfixes_from_servicing_packages() {
        let ups = updates(&keys());
        let ids: Vec<_> = ups.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(
            ids,
            ["KB5034441", "KB5037768"],
            "staged KB5039999 is not installed"
        );
        assert_eq!(ups[0].installed_on, Some(1_705_065_418));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_install_date("20240621"), Some(1_718_928_000));
        assert_eq!(parse_install_date("2024-06-21"), None);
        assert_eq!(parse_install_date("20241399"), None);
        assert_eq!(filetime_to_unix(116_444_736_000_000_000), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
