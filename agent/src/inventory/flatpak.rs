//! Flatpak apps: deployments under `/var/lib/flatpak/app` (and per-user), version from AppStream metainfo.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

/// System-wide flatpak installation.
pub(crate) const SYSTEM_ROOT: &str = "/var/lib/flatpak/app";

/// Value of attribute `attr` in the first `<tag ...>` of an XML text.
fn first_attr<'a>(xml: &'a str, tag: &str, attr: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag} "))?;
    let rest = &xml[start..];
    let end = rest.find('>')?;
    let head = &rest[..end];
    let key = format!("{attr}=\"");
    let at = head.find(&key)? + key.len();
    let value = &head[at..];
    Some(&value[..value.find('"')?])
}

/// Text of the first `<tag>` element.
fn first_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let at = xml.find(&open)? + open.len();
    let rest = &xml[at..];
    Some(rest[..rest.find('<')?].trim())
}

/// (version, developer) from AppStream metainfo XML: the newest `<release>` comes first.
pub(crate) fn parse_metainfo(xml: &str) -> (Option<String>, Option<String>) {
    let version = first_attr(xml, "release", "version").map(str::to_string);
    let developer = first_text(xml, "developer_name")
        .or_else(|| {
            let dev = xml.find("<developer ")?;
            first_text(&xml[dev..], "name")
        })
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    (version, developer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_and_developer() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/flatpak/org.gimp.GIMP.metainfo.xml"
        );
        let xml = std::fs::read_to_string(path).unwrap_or_default();
        let (version, developer) = parse_metainfo(&xml);
        assert_eq!(version.as_deref(), Some("2.10.38"));
        assert_eq!(developer.as_deref(), Some("The GIMP team"));
        assert_eq!(
            parse_metainfo("<component><release version=\"1"),
            (None, None)
        );
    }
}
