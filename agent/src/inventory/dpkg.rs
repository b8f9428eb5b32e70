//! Debian dpkg database: parses `/var/lib/dpkg/status` directly, no subprocess.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use deskhand_shared::inventory::{Package, PackageSource};

/// Default location of the dpkg status database.
pub(crate) const STATUS_PATH: &str = "/var/lib/dpkg/status";

/// One stanza of a deb822 file: (field, value) pairs, continuation lines joined with '\n'.
pub(crate) fn stanzas(text: &str) -> impl Iterator<Item = Vec<(&str, String)>> + '_ {
    text.split("\n\n").filter_map(|block| {
        let mut fields: Vec<(&str, String)> = Vec::new();
        for line in block.lines() {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, v)) = fields.last_mut() {
                    v.push('\n');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim(), v.trim().to_string()));
            }
        }
        (!fields.is_empty()).then_some(fields)
    })
}

/// Packages of a dpkg status file, with a warning per malformed stanza.
///
/// Packages whose files are gone (`config-files`, `not-installed`) are left
/// out; packages in a transient state (`half-installed`, `unpacked`, ...)
/// are kept with their state set.
pub(crate) fn parse_status(text: &str, warnings: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    for (index, fields) in stanzas(text).enumerate() {
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let Some(name) = get("Package").filter(|n| !n.is_empty()) else {
            warnings.push(format!(
                "dpkg status: stanza {} has no Package field",
                index + 1
            ));
            continue;
        };
        let Some(status) = get("Status") else {
            warnings.push(format!("dpkg status: package {name} has no Status field"));
            continue;
        };
        // "want flag state", e.g. "install ok installed".
        let state = status.split_whitespace().nth(2).unwrap_or("");
        match state {
            "installed" => {}
            "config-files" | "not-installed" => continue,
            "half-installed" | "unpacked" | "half-configured" | "triggers-awaited"
            | "triggers-pending" => {}
            other => {
                warnings.push(format!(
                    "dpkg status: package {name} has an unknown state {other:?}"
                ));
                continue;
            }
        }
        let Some(version) = get("Version") else {
            warnings.push(format!("dpkg status: package {name} has no Version field"));
            continue;
        };
        out.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: get("Architecture").map(str::to_string),
            source: PackageSource::Dpkg,
            vendor: get("Maintainer").map(str::to_string),
            install_date: None,
            size_bytes: get("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|kib| kib.saturating_mul(1024)),
            state: (state != "installed").then(|| state.to_string()),
            id: None,
        });
    }
    out
}

/// Name of the file list in /var/lib/dpkg/info: `name:arch.list` for `Multi-Arch: same`
/// packages, `name.list` otherwise; the caller tries both.
pub(crate) fn info_list_names(p: &Package) -> [String; 2] {
    let arch = p.arch.as_deref().unwrap_or("");
    [
        format!("{}:{}.list", p.name, arch),
        format!("{}.list", p.name),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dpkg/status");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn parses_real_status_with_unusual_entries() {
        let mut w = Vec::new();
        let pkgs = parse_status(&fixture(), &mut w);
        assert!(w.is_empty(), "{w:?}");
        // 19 stanzas: one config-files and one not-installed are left out.
        assert_eq!(pkgs.len(), 17);
        let libc: Vec<_> = pkgs.iter().filter(|p| p.name == "libc6").collect();
        let arches: Vec<_> = libc.iter().filter_map(|p| p.arch.as_deref()).collect();
        assert_eq!(arches, ["amd64", "i386"], "multi-arch: one entry per arch");
        let half = pkgs.iter().find(|p| p.name == "libgtk-3-bin");
        assert_eq!(
            half.and_then(|p| p.state.as_deref()),
            Some("half-installed")
        );
        let unpacked = pkgs.iter().find(|p| p.name == "tzdata-legacy");
        assert_eq!(unpacked.and_then(|p| p.state.as_deref()), Some("unpacked"));
        assert!(!pkgs.iter().any(|p| p.name == "old-daemon"));
        assert!(!pkgs.iter().any(|p| p.name == "purged-thing"));
        let bash = pkgs.iter().find(|p| p.name == "bash");
        assert!(bash.is_some_and(|b| b.version.starts_with("5.2")
            && b.vendor.as_deref().is_some_and(|v| v.contains('@'))
            && b.size_bytes.is_some_and(|s| s > 1_000_000)
            && b.state.is_none()));
    }

    #[test]
    fn corrupt_stanzas_warn_and_keep_the_rest() {
        let text = "Package: good\nStatus: install ok installed\nVersion: 1\n\n\
                    Status: install ok installed\nVersion: 2\n\n\
                    Package: noversion\nStatus: install ok installed\n\n\
                    Package: weird\nStatus: install ok exploded\nVersion: 3\n\n\
                    \u{0}\u{1}garbage without colon\n";
        let mut w = Vec::new();
        let pkgs = parse_status(text, &mut w);
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "good");
        assert_eq!(w.len(), 3, "{w:?}");
    }

    #[test]
    fn truncated_file_never_panics() {
        let text = fixture();
        let mut cut = text.len() / 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut w = Vec::new();
        let pkgs = parse_status(&text[..cut], &mut w);
        assert!(!pkgs.is_empty());
    }
}
