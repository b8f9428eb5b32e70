//! Alpine apk database: parses `/lib/apk/db/installed` (one `X:value` line per field).
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use deskhand_shared::inventory::{Package, PackageSource};

/// Location of the apk installed database.
pub(crate) const DB_PATH: &str = "/lib/apk/db/installed";

/// Packages of an apk installed database.
pub(crate) fn parse_installed(text: &str, warnings: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    for (index, block) in text.split("\n\n").enumerate() {
        let mut p = Package {
            source: PackageSource::Apk,
            ..Package::default()
        };
        let mut any = false;
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            any = true;
            match k {
                "P" => p.name = v.to_string(),
                "V" => p.version = v.to_string(),
                "A" => p.arch = Some(v.to_string()),
                "I" => p.size_bytes = v.parse().ok(),
                "m" => p.vendor = Some(v.to_string()),
                // Build time; apk does not record the install time.
                "t" => p.install_date = v.parse().ok(),
                _ => {}
            }
        }
        if !any {
            continue;
        }
        if p.name.is_empty() || p.version.is_empty() {
            warnings.push(format!(
                "apk database: entry {} lacks a name or version",
                index + 1
            ));
            continue;
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed_db() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/apk/installed");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut w = Vec::new();
        let pkgs = parse_installed(&text, &mut w);
        assert!(w.is_empty(), "{w:?}");
        let names: Vec<_> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "busybox-binsh", "musl", "readline"]);
        assert_eq!(pkgs[2].version, "1.2.4_git20230717-r4");
        assert_eq!(pkgs[2].size_bytes, Some(667_648));
        assert_eq!(pkgs[0].arch.as_deref(), Some("x86_64"));
    }

    #[test]
    fn corrupt_entry_warns() {
        let mut w = Vec::new();
        let pkgs = parse_installed("P:ok\nV:1\n\nV:2\nA:x86_64\n\n\u{fffd}\u{0}", &mut w);
        assert_eq!(pkgs.len(), 1);
        assert_eq!(w.len(), 1);
    }
}
