//! Windows registry data model and a parser for `.reg` exports (regedit, `reg export`).
//!
//! The live Windows collector reads keys with the registry API into the same
//! [`RegKey`] type, so the mapping from keys to inventory items is tested on
//! any OS against exported fixtures.
// The live Windows collector uses the data model; the export parser is used
// by tests everywhere and by nothing else yet.
#![cfg_attr(any(not(windows), not(test)), allow(dead_code))]

use std::collections::BTreeMap;

/// One registry value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegValue {
    /// REG_SZ.
    Sz(String),
    /// REG_EXPAND_SZ (unexpanded).
    ExpandSz(String),
    /// REG_MULTI_SZ.
    MultiSz(Vec<String>),
    /// REG_DWORD.
    Dword(u32),
    /// REG_QWORD.
    Qword(u64),
    /// REG_BINARY and every other type.
    Binary(Vec<u8>),
}

impl RegValue {
    /// The value as text, for string types.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The value as a number, for integer types (and numeric strings).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            RegValue::Dword(v) => Some(u64::from(*v)),
            RegValue::Qword(v) => Some(*v),
            RegValue::Sz(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One registry key: its full path and its values (names lower-cased; `""` is the default value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RegKey {
    /// Full path, e.g. `HKEY_LOCAL_MACHINE\SOFTWARE\...`.
    pub(crate) path: String,
    /// Values by lower-case name.
    pub(crate) values: BTreeMap<String, RegValue>,
}

impl RegKey {
    /// Value by name, case-insensitively.
    pub(crate) fn get(&self, name: &str) -> Option<&RegValue> {
        self.values.get(&name.to_ascii_lowercase())
    }

    /// String value by name, trimmed, `None` when empty.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        let s = self.get(name)?.as_str()?.trim();
        (!s.is_empty()).then(|| s.to_string())
    }

    /// Last component of the path.
    pub(crate) fn leaf(&self) -> &str {
        self.path.rsplit('\\').next().unwrap_or("")
    }
}

/// Registry value type codes (winnt.h).
pub(crate) mod reg_type {
    /// REG_SZ
    pub(crate) const SZ: u32 = 1;
    /// REG_EXPAND_SZ
    pub(crate) const EXPAND_SZ: u32 = 2;
    /// REG_DWORD
    pub(crate) const DWORD: u32 = 4;
    /// REG_MULTI_SZ
    pub(crate) const MULTI_SZ: u32 = 7;
    /// REG_QWORD
    pub(crate) const QWORD: u32 = 11;
}

fn utf16le(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Decode raw value bytes of registry type `vtype` (as the registry API returns them).
pub(crate) fn decode_value(vtype: u32, bytes: &[u8]) -> RegValue {
    match vtype {
        reg_type::SZ | reg_type::EXPAND_SZ => {
            let s = utf16le(bytes);
            let s = s.trim_end_matches('\0').to_string();
            if vtype == reg_type::SZ {
                RegValue::Sz(s)
            } else {
                RegValue::ExpandSz(s)
            }
        }
        reg_type::MULTI_SZ => RegValue::MultiSz(
            utf16le(bytes)
                .split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        reg_type::DWORD if bytes.len() >= 4 => {
            RegValue::Dword(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        }
        reg_type::QWORD if bytes.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            RegValue::Qword(u64::from_le_bytes(b))
        }
        _ => RegValue::Binary(bytes.to_vec()),
    }
}

/// Errors that make a `.reg` file unreadable as a whole.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum RegExportError {
    /// Missing "Windows Registry Editor Version 5.00" / "REGEDIT4" header.
    #[error("not a registry export: the first line is not a regedit header")]
    NoHeader,
}

/// Text of a `.reg` file: UTF-16LE with BOM (regedit's default), or UTF-8/ANSI.
fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16le(rest)
    } else if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Parse a quoted string at the start of `s`; returns (string, rest after the closing quote).
fn quoted(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '"' => return Some((out, &s[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    s.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

fn parse_data(data: &str) -> Option<RegValue> {
    let data = data.trim();
    if data.starts_with('"') {
        return quoted(data).map(|(s, _)| RegValue::Sz(s));
    }
    if let Some(h) = data.strip_prefix("dword:") {
        return u32::from_str_radix(h.trim(), 16).ok().map(RegValue::Dword);
    }
    if let Some(h) = data.strip_prefix("hex:") {
        return hex_bytes(h).map(RegValue::Binary);
    }
    let rest = data.strip_prefix("hex(")?;
    let (code, bytes) = rest.split_once("):")?;
    let vtype = u32::from_str_radix(code, 16).ok()?;
    Some(decode_value(vtype, &hex_bytes(bytes)?))
}

/// Parse a `.reg` export into keys; malformed lines become warnings.
pub(crate) fn parse(
    bytes: &[u8],
    warnings: &mut Vec<String>,
) -> Result<Vec<RegKey>, RegExportError> {
    let text = decode_text(bytes);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim();
    if header != "Windows Registry Editor Version 5.00" && header != "REGEDIT4" {
        return Err(RegExportError::NoHeader);
    }
    let mut keys: Vec<RegKey> = Vec::new();
    let mut deleted = false;
    let mut pending = String::new();
    for (n, raw) in lines.enumerate() {
        let line = raw.trim_end();
        // Hex data continues on the next line after a trailing backslash.
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont.trim_start());
            continue;
        }
        pending.push_str(if pending.is_empty() {
            line
        } else {
            line.trim_start()
        });
        let line = std::mem::take(&mut pending);
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(path) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            deleted = path.starts_with('-');
            if !deleted {
                keys.push(RegKey {
                    path: path.to_string(),
                    values: BTreeMap::new(),
                });
            }
            continue;
        }
        if deleted {
            continue;
        }
        let Some(key) = keys.last_mut() else {
            warnings.push(format!(
                "registry export line {}: value outside of a key",
                n + 2
            ));
            continue;
        };
        let (name, rest) = if let Some(rest) = line.strip_prefix('@') {
            (String::new(), rest)
        } else if let Some((name, rest)) = quoted(line) {
            (name, rest)
        } else {
            warnings.push(format!(
                "registry export line {}: cannot read {line:?}",
                n + 2
            ));
            continue;
        };
        let Some(data) = rest.trim_start().strip_prefix('=') else {
            warnings.push(format!(
                "registry export line {}: no '=' after the value name",
                n + 2
            ));
            continue;
        };
        if data.trim() == "-" {
            continue;
        }
        match parse_data(data) {
            Some(v) => {
                key.values.insert(name.to_ascii_lowercase(), v);
            }
            None => warnings.push(format!(
                "registry export line {}: cannot read the data of value {name:?}",
                n + 2
            )),
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/windows/uninstall.reg"
        );
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn parses_utf16_export() {
        let bytes = fixture();
        assert_eq!(
            bytes.get(..2),
            Some(&[0xFF, 0xFE][..]),
            "fixture is UTF-16LE like regedit's"
        );
        let mut w = Vec::new();
        let keys = parse(&bytes, &mut w);
        assert!(w.is_empty(), "{w:?}");
        let keys = keys.unwrap_or_default();
        assert!(keys.len() > 10);
        let zip = keys.iter().find(|k| k.leaf() == "7-Zip");
        assert_eq!(
            zip.and_then(|k| k.string("DisplayName")).as_deref(),
            Some("7-Zip 23.01 (x64)")
        );
        assert_eq!(
            zip.and_then(|k| k.get("EstimatedSize"))
                .and_then(RegValue::as_u64),
            Some(5_769)
        );
        // hex(2) expand string spread over continuation lines.
        let chrome = keys.iter().find(|k| k.leaf() == "Google Chrome");
        assert_eq!(
            chrome.and_then(|k| k.get("DisplayIcon")),
            Some(&RegValue::ExpandSz(
                "%ProgramFiles%\\Google\\Chrome\\Application\\chrome.exe,0".into()
            ))
        );
    }

    #[test]
    fn corrupt_exports() {
        let mut w = Vec::new();
        assert_eq!(parse(b"garbage", &mut w), Err(RegExportError::NoHeader));
        let text = "Windows Registry Editor Version 5.00\r\n\r\n\"orphan\"=\"x\"\r\n[HKEY_LOCAL_MACHINE\\A]\r\n\"ok\"=dword:0000000a\r\n\"bad\"=dword:zz\r\nnonsense\r\n\"cut\"=hex:01,02,\\\r\n";
        let keys = parse(text.as_bytes(), &mut w).unwrap_or_default();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].get("ok"), Some(&RegValue::Dword(10)));
        assert_eq!(w.len(), 3, "{w:?}");
        // Truncated in the middle of a UTF-16 code unit.
        let bytes = fixture();
        let keys = parse(&bytes[..bytes.len() / 2 + 1], &mut w);
        assert!(keys.is_ok_and(|k| !k.is_empty()));
    }
}
