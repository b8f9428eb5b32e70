//! How `deskhand assets show` names the parts of an asset's inventory its
//! agent could not collect lately.

use deskhand_api_types::asset_page::StaleView;

/// One line per stale part: "software: not collected since 2026-12-05
/// 22:40 (why); showing the last collected value".
pub(super) fn lines(stale: &[StaleView]) -> Vec<String> {
    stale
        .iter()
        .map(|s| {
            let since = s.since.get(..16).unwrap_or(&s.since).replace('T', " ");
            format!(
                "{}: not collected since {since} ({}); showing the last collected value",
                s.category, s.reason
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_part_says_since_when_why_and_what_is_shown() {
        let stale = [StaleView {
            category: "software".into(),
            since: "2026-12-05T22:40:00Z".to_string(),
            reason: "dpkg: cannot read /var/lib/dpkg/status: Too many open files (os error 24)"
                .into(),
        }];
        assert_eq!(
            lines(&stale),
            [
                "software: not collected since 2026-12-05 22:40 (dpkg: cannot read \
              /var/lib/dpkg/status: Too many open files (os error 24)); showing the last \
              collected value"
            ]
        );
    }
}
