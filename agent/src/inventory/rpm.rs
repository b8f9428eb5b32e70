//! RPM database, read through `rpm -qa --queryformat` (one tab-separated line per package).
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use deskhand_shared::inventory::{Package, PackageSource};

/// Query format passed to `rpm -qa`; [`parse_query`] reads its output.
pub(crate) const QUERY_FORMAT: &str = "%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\t%{INSTALLTIME}\\t%{SIZE}\\n";

/// Directories that hold an rpm database; rpm is only run when one exists.
pub(crate) const DB_DIRS: &[&str] = &["/var/lib/rpm", "/usr/lib/sysimage/rpm"];

fn field(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && s != "(none)").then_some(s)
}

/// Packages from the output of `rpm -qa --queryformat QUERY_FORMAT`.
pub(crate) fn parse_query(text: &str, warnings: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 8 {
            warnings.push(format!(
                "rpm: line {} has {} fields, expected 8",
                n + 1,
                cols.len()
            ));
            continue;
        }
        let Some(name) = field(cols[0]) else {
            warnings.push(format!("rpm: line {} has no name", n + 1));
            continue;
        };
        // gpg-pubkey entries are keys imported into the database, not software.
        if name == "gpg-pubkey" {
            continue;
        }
        let version = field(cols[2]).unwrap_or("");
        let release = field(cols[3]);
        let mut full = String::new();
        if let Some(epoch) = field(cols[1]).filter(|e| *e != "0") {
            full.push_str(epoch);
            full.push(':');
        }
        full.push_str(version);
        if let Some(r) = release {
            full.push('-');
            full.push_str(r);
        }
        out.push(Package {
            name: name.to_string(),
            version: full,
            arch: field(cols[4]).map(str::to_string),
            source: PackageSource::Rpm,
            vendor: field(cols[5]).map(str::to_string),
            install_date: field(cols[6]).and_then(|s| s.parse().ok()),
            size_bytes: field(cols[7]).and_then(|s| s.parse().ok()),
            state: None,
            id: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_output() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rpm/qa.txt");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut w = Vec::new();
        let pkgs = parse_query(&text, &mut w);
        assert_eq!(w.len(), 1, "the one truncated line warns: {w:?}");
        assert!(pkgs.len() >= 20);
        assert!(!pkgs.iter().any(|p| p.name == "gpg-pubkey"));
        let kernels: Vec<_> = pkgs.iter().filter(|p| p.name == "kernel-core").collect();
        assert_eq!(kernels.len(), 2, "two kernels installed side by side");
        let shadow = pkgs.iter().find(|p| p.name == "shadow-utils");
        assert_eq!(shadow.map(|p| p.version.as_str()), Some("2:4.15.1-2.fc40"));
        let bash = pkgs.iter().find(|p| p.name == "bash");
        assert!(
            bash.is_some_and(|b| b.vendor.as_deref() == Some("Fedora Project")
                && b.install_date == Some(1_714_000_000)
                && b.arch.as_deref() == Some("x86_64"))
        );
        let chrome = pkgs.iter().find(|p| p.name == "google-chrome-stable");
        assert!(chrome.is_some_and(|c| c.vendor.as_deref() == Some("Google LLC")));
        let noarch = pkgs.iter().find(|p| p.name == "fedora-release-common");
        assert_eq!(noarch.and_then(|p| p.arch.as_deref()), Some("noarch"));
    }
}
