//! Snap packages: `/snap/NAME/current/meta/snap.yaml` of each installed snap.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use deskhand_shared::inventory::{Package, PackageSource};

/// Directory where snaps are mounted.
pub(crate) const SNAP_ROOT: &str = "/snap";

/// A package from the top-level `name`, `version`, `architectures` of a snap.yaml.
pub(crate) fn parse_snap_yaml(text: &str) -> Option<Package> {
    let mut name = None;
    let mut version = None;
    let mut arch = None;
    let mut in_arches = false;
    for line in text.lines() {
        if in_arches {
            if let Some(item) = line.trim_start().strip_prefix("- ") {
                arch.get_or_insert_with(|| unquote(item).to_string());
                continue;
            }
            in_arches = false;
        }
        if line.starts_with(' ') || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = unquote(v.trim());
        match k {
            "name" => name = Some(v.to_string()),
            "version" => version = Some(v.to_string()),
            "architectures" => {
                if let Some(list) = v.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    arch = list
                        .split(',')
                        .next()
                        .map(|a| unquote(a.trim()).to_string());
                } else {
                    in_arches = true;
                }
            }
            _ => {}
        }
    }
    Some(Package {
        name: name.filter(|n| !n.is_empty())?,
        version: version.unwrap_or_default(),
        arch,
        source: PackageSource::Snap,
        ..Package::default()
    })
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snap_yaml() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/snap/firefox.snap.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let p = parse_snap_yaml(&text);
        assert_eq!(p.as_ref().map(|p| p.name.as_str()), Some("firefox"));
        assert_eq!(p.as_ref().map(|p| p.version.as_str()), Some("127.0.2-1"));
        assert_eq!(p.and_then(|p| p.arch), Some("amd64".to_string()));
        assert!(
            parse_snap_yaml("version: 1\n").is_none(),
            "no name, no package"
        );
    }
}
