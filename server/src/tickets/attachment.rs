//! Files attached to tickets, as the rules see them: the size cap and
//! the file name kept, which comes from a requester or an e-mail and so
//! is untrusted (no path, no control characters, bounded).

/// The largest attachment kept: 10 MiB (a screenshot, a log).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;

/// The most attachments one ticket keeps.
pub const MAX_ATTACHMENTS_PER_TICKET: usize = 50;

/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 120;

/// A file name safe to store and to offer for download: the last path
/// component, without control characters, quotes or backslashes, at
/// most 120 characters; `attachment` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | ';'))
        .take(MAX_NAME_CHARS)
        .collect();
    let kept = kept.trim().trim_start_matches('.').trim();
    if kept.is_empty() {
        "attachment".into()
    } else {
        kept.into()
    }
}

/// Checks an attachment's size before it is stored.
pub fn check_size(len: usize) -> Result<(), String> {
    if len == 0 {
        return Err("the attachment is empty".into());
    }
    if len > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "the attachment is {len} bytes; at most {MAX_ATTACHMENT_BYTES} are kept: attach a smaller file or a link"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_quotes() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\shot.png"), "shot.png");
        assert_eq!(clean_name("a\"b\r\nc.txt"), "abc.txt");
        assert_eq!(clean_name("..."), "attachment");
        assert_eq!(clean_name(""), "attachment");
        assert_eq!(clean_name(&"x".repeat(500)).chars().count(), 120);
    }

    #[test]
    fn sizes_are_capped_and_empty_files_refused() {
        assert!(check_size(1).is_ok());
        assert!(check_size(MAX_ATTACHMENT_BYTES).is_ok());
        assert!(
            check_size(MAX_ATTACHMENT_BYTES + 1)
                .expect_err("over")
                .contains("at most")
        );
        assert!(check_size(0).is_err());
    }
}
