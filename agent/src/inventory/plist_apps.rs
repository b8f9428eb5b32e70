//! macOS property lists: application bundles (`Info.plist`), installer receipts
//! (`/var/db/receipts/*.plist`) and launchd jobs. XML and binary plists alike.
#![cfg_attr(not(target_os = "macos"), allow(dead_code))]

use std::io::Cursor;

use deskhand_shared::inventory::{Package, PackageSource, Service};

/// Errors reading a property list.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlistError {
    /// Not a valid XML or binary plist.
    #[error("not a valid property list: {0}")]
    Invalid(#[from] plist::Error),
    /// A required key is missing.
    #[error("property list has no {0}")]
    Missing(&'static str),
}

fn dict(bytes: &[u8]) -> Result<plist::Dictionary, PlistError> {
    let v = plist::Value::from_reader(Cursor::new(bytes))?;
    v.into_dictionary()
        .ok_or(PlistError::Missing("top-level dictionary"))
}

fn string(d: &plist::Dictionary, key: &str) -> Option<String> {
    let s = d.get(key)?.as_string()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn unix(d: &plist::Dictionary, key: &str) -> Option<u64> {
    let t: std::time::SystemTime = d.get(key)?.as_date()?.into();
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Vendor from a copyright line: "Copyright © 2024 Google LLC. All rights reserved." gives "Google LLC".
pub(crate) fn vendor_from_copyright(c: &str) -> Option<String> {
    let mut rest = c.trim();
    for prefix in ["Copyright", "©", "(c)", "(C)"] {
        rest = rest.trim_start().trim_start_matches(prefix);
    }
    let rest = rest.trim_start_matches(|ch: char| {
        ch.is_ascii_digit() || ch.is_whitespace() || matches!(ch, '-' | '–' | ',' | '©')
    });
    let end = rest
        .find(';')
        .or_else(|| rest.find(". All"))
        .or_else(|| rest.find(", All"))
        .or_else(|| rest.find(" All rights"))
        .unwrap_or(rest.len());
    let v = rest[..end].trim().trim_end_matches('.').trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A package from an application bundle's Info.plist.
pub(crate) fn parse_info_plist(bytes: &[u8]) -> Result<Package, PlistError> {
    let d = dict(bytes)?;
    let id = string(&d, "CFBundleIdentifier");
    let name = string(&d, "CFBundleDisplayName")
        .or_else(|| string(&d, "CFBundleName"))
        .or_else(|| id.clone())
        .ok_or(PlistError::Missing("CFBundleName"))?;
    let version = string(&d, "CFBundleShortVersionString")
        .or_else(|| string(&d, "CFBundleVersion"))
        .unwrap_or_default();
    Ok(Package {
        name,
        version,
        arch: None,
        source: PackageSource::MacApp,
        vendor: string(&d, "NSHumanReadableCopyright").and_then(|c| vendor_from_copyright(&c)),
        install_date: None,
        size_bytes: None,
        state: None,
        id,
    })
}

/// A package from an installer receipt (`pkgutil --pkg-info`'s source).
pub(crate) fn parse_receipt(bytes: &[u8]) -> Result<Package, PlistError> {
    let d = dict(bytes)?;
    let name = string(&d, "PackageIdentifier").ok_or(PlistError::Missing("PackageIdentifier"))?;
    Ok(Package {
        vendor: name
            .starts_with("com.apple.")
            .then(|| "Apple Inc.".to_string()),
        id: string(&d, "PackageFileName"),
        name,
        version: string(&d, "PackageVersion").unwrap_or_default(),
        arch: None,
        source: PackageSource::MacPkg,
        install_date: unix(&d, "InstallDate"),
        size_bytes: None,
        state: None,
    })
}

/// A service from a launchd job plist; the state is filled from `launchctl list`.
pub(crate) fn parse_launchd_job(bytes: &[u8]) -> Result<Service, PlistError> {
    let d = dict(bytes)?;
    let label = string(&d, "Label").ok_or(PlistError::Missing("Label"))?;
    let disabled = d.get("Disabled").and_then(plist::Value::as_boolean) == Some(true);
    let at_load = d.get("RunAtLoad").and_then(plist::Value::as_boolean) == Some(true)
        || d.get("KeepAlive").is_some();
    Ok(Service {
        name: label,
        description: d
            .get("ProgramArguments")
            .and_then(plist::Value::as_array)
            .and_then(|a| a.first())
            .and_then(plist::Value::as_string)
            .or_else(|| d.get("Program").and_then(plist::Value::as_string))
            .map(str::to_string),
        state: "unknown".into(),
        start_mode: if disabled {
            "disabled"
        } else if at_load {
            "load"
        } else {
            "on-demand"
        }
        .into(),
        manager: "launchd".into(),
    })
}

/// Labels of running jobs from `launchctl list` (`PID Status Label`, PID `-` when not running).
pub(crate) fn parse_launchctl_list(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let pid = cols.next()?.trim();
            let _status = cols.next()?;
            let label = cols.next()?.trim();
            (!label.is_empty()).then(|| (label.to_string(), pid != "-"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/macos/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn xml_info_plist() {
        let p = parse_info_plist(&fixture("Firefox.Info.plist"));
        let p = p.as_ref().ok();
        assert_eq!(p.map(|p| p.name.as_str()), Some("Firefox"));
        assert_eq!(p.map(|p| p.version.as_str()), Some("127.0.2"));
        assert_eq!(p.and_then(|p| p.id.as_deref()), Some("org.mozilla.firefox"));
        assert_eq!(
            p.and_then(|p| p.vendor.as_deref()),
            Some("Firefox and Mozilla Developers")
        );
    }

    #[test]
    fn binary_info_plist() {
        let bytes = fixture("Slack.Info.plist.bin");
        assert!(bytes.starts_with(b"bplist00"));
        let p = parse_info_plist(&bytes);
        let p = p.as_ref().ok();
        assert_eq!(p.map(|p| p.name.as_str()), Some("Slack"));
        assert_eq!(p.map(|p| p.version.as_str()), Some("4.39.90"));
        assert_eq!(
            p.and_then(|p| p.vendor.as_deref()),
            Some("Slack Technologies, LLC")
        );
    }

    #[test]
    fn receipts_and_jobs() {
        let r = parse_receipt(&fixture(
            "com.apple.pkg.XProtectPayloads_10_15.16U4434.plist",
        ));
        let r = r.as_ref().ok();
        assert_eq!(
            r.map(|r| r.name.as_str()),
            Some("com.apple.pkg.XProtectPayloads_10_15.16U4434")
        );
        assert_eq!(r.map(|r| r.version.as_str()), Some("2.0.0.1.1719958476"));
        assert_eq!(r.and_then(|r| r.install_date), Some(1_720_000_000));
        let j = parse_launchd_job(&fixture("com.openssh.sshd.plist"));
        let j = j.as_ref().ok();
        assert_eq!(j.map(|j| j.name.as_str()), Some("com.openssh.sshd"));
        assert_eq!(j.map(|j| j.start_mode.as_str()), Some("disabled"));
        assert_eq!(
            j.and_then(|j| j.description.as_deref()),
            Some("/usr/libexec/sshd-keygen-wrapper")
        );
        let list = parse_launchctl_list(
            "PID\tStatus\tLabel\n412\t0\tcom.apple.Finder\n-\t0\tcom.openssh.sshd\n",
        );
        assert_eq!(
            list,
            [
                ("com.apple.Finder".to_string(), true),
                ("com.openssh.sshd".to_string(), false)
            ]
        );
    }

    #[test]
    fn corrupt_plists_are_errors() {
        assert!(parse_info_plist(b"<plist><dict><key>CFBundleName</key>").is_err());
        let bytes = fixture("Slack.Info.plist.bin");
        assert!(parse_info_plist(&bytes[..bytes.len() / 2]).is_err());
        assert!(matches!(
            parse_receipt(b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict/></plist>"),
            Err(PlistError::Missing(_))
        ));
        assert_eq!(
            vendor_from_copyright("© 2010–2024 Acme, Inc. All rights reserved."),
            Some("Acme, Inc".into())
        );
    }
}
