//! Small text helpers shared by the parsers: placeholder filtering, key-value lines.

/// Values that firmware and vendors use to mean "no value".
const PLACEHOLDERS: &[&str] = &[
    "",
    "--",
    "0",
    "00000000",
    "0123456789",
    "1234567890",
    "123456789",
    "default string",
    "none",
    "not applicable",
    "not available",
    "not specified",
    "n/a",
    "na",
    "o.e.m.",
    "oem",
    "system manufacturer",
    "system product name",
    "system serial number",
    "system version",
    "to be filled by o.e.m.",
    "type1productconfigid",
    "unknown",
    "xxxxxxxxxxxx",
];

/// Trimmed value, or `None` when empty or a well-known placeholder.
pub(crate) fn clean(s: &str) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if PLACEHOLDERS.contains(&t.to_ascii_lowercase().as_str()) {
        None
    } else {
        Some(t.to_string())
    }
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// Trimmed value, or `None` when empty (placeholders kept).
pub(crate) fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
/// Value of `key` in `KEY=value` lines (shell-style files like os-release), quotes removed.
pub(crate) fn shell_var(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        non_empty(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_dropped() {
        assert_eq!(clean(" To Be Filled By O.E.M. "), None);
        assert_eq!(clean("Default string"), None);
        assert_eq!(clean("PF2ABCDE\0\0"), Some("PF2ABCDE".into()));
    }

    #[test]
    fn shell_vars_lose_quotes() {
        let t = "NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\nID=debian\n";
        assert_eq!(shell_var(t, "NAME").as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(shell_var(t, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(shell_var(t, "ID").as_deref(), Some("debian"));
        assert_eq!(shell_var(t, "MISSING"), None);
    }
}
