//! The machine's paths as text: Unix (`/var/log`) or Windows (`C:\Users`,
//! `\\server\share`), whatever platform this server runs on, which is
//! all `std::path` knows.

/// Where a listing starts when no path is asked: the system drive on
/// Windows, the root elsewhere.
pub(super) fn default_root(os_name: &str) -> &'static str {
    if os_name.to_ascii_lowercase().contains("windows") {
        "C:\\"
    } else {
        "/"
    }
}

/// The separator a path of the machine's uses: `\` for a Windows path
/// (one with a backslash and no slash), `/` otherwise.
fn separator(path: &str) -> char {
    if path.contains('\\') && !path.contains('/') {
        '\\'
    } else {
        '/'
    }
}

/// `C:`: a drive with no directory.
fn is_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The directory above `path`, or `None` at a root (`/`, `C:\`, a share
/// `\\server\share`).
pub(super) fn parent(path: &str) -> Option<String> {
    let sep = separator(path);
    let trimmed = path.trim_end_matches(sep);
    if trimmed.is_empty() || is_drive(trimmed) {
        return None;
    }
    let cut = trimmed.rfind(sep)?;
    let head = &trimmed[..cut];
    if sep == '\\' && path.starts_with("\\\\") {
        // A share's root is `\\server\share`: above it is no directory.
        let rest = head.trim_start_matches('\\');
        return rest.contains('\\').then(|| head.to_string());
    }
    if head.is_empty() {
        return Some(sep.to_string());
    }
    if is_drive(head) {
        return Some(format!("{head}{sep}"));
    }
    Some(head.to_string())
}

/// `name` in directory `dir`, with the separator `dir` uses.
pub(super) fn join(dir: &str, name: &str) -> String {
    let sep = separator(dir);
    if dir.ends_with(sep) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{sep}{name}")
    }
}

/// The last part of a path: a download's file name.
pub(super) fn base_name(path: &str) -> &str {
    let sep = separator(path);
    path.trim_end_matches(sep)
        .rsplit(sep)
        .next()
        .unwrap_or_default()
}
