//! Time logged on tickets, as pure rules: the durations technicians
//! write (`25m`, `1h30m`, `90m`), the bounds of one entry, when it may be
//! dated, who may remove it, and the timeline's words for it.
//!
//! An entry is at least [`MIN_SECS`] and at most [`MAX_SECS`], in whole
//! minutes; it may be dated in the past (work done yesterday), never in
//! the future. Its author or an admin may remove it. A closed ticket takes
//! no more time and gives none back: it is done for good.

use super::Status;

/// The shortest entry: one minute.
pub const MIN_SECS: i64 = 60;

/// The longest entry: one day (log longer work day by day, with `--at`).
pub const MAX_SECS: i64 = 24 * 3600;

/// The longest note of an entry, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Parses a duration as technicians write it: hours and minutes, each a
/// number and a unit, `25m`, `1h30m`, `1h 30m`, `90m`, `2h` (also `min`,
/// `hr`, `hour(s)`, `minute(s)`). Checked against [`MIN_SECS`] and
/// [`MAX_SECS`]; the error says what is accepted.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    const SHAPE: &str = "write hours and minutes such as 25m, 1h30m or 90m";
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Err(format!("no duration given: {SHAPE}"));
    }
    let mut secs: i64 = 0;
    let mut rest = t.as_str();
    let mut seen_hours = false;
    let mut seen_minutes = false;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!("`{}` is not a duration: {SHAPE}", text.trim()));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{}` is too long: at most 24h", text.trim()))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let per = match unit {
            "h" | "hr" | "hrs" | "hour" | "hours" if !seen_hours && !seen_minutes => {
                seen_hours = true;
                3600
            }
            "m" | "min" | "mins" | "minute" | "minutes" if !seen_minutes => {
                seen_minutes = true;
                60
            }
            "" if rest.is_empty() => {
                return Err(format!(
                    "`{}` has no unit: write {n}m for minutes or {n}h for hours",
                    text.trim()
                ));
            }
            "s" | "sec" | "secs" | "second" | "seconds" => {
                return Err(format!(
                    "`{}`: time is logged in whole minutes, e.g. 25m",
                    text.trim()
                ));
            }
            _ => return Err(format!("`{}` is not a duration: {SHAPE}", text.trim())),
        };
        secs = n
            .checked_mul(per)
            .and_then(|s| secs.checked_add(s))
            .filter(|s| *s <= MAX_SECS)
            .ok_or_else(|| {
                format!(
                    "`{}` is more than 24h: log longer work as one entry per day (--at)",
                    text.trim()
                )
            })?;
    }
    if secs < MIN_SECS {
        return Err(format!(
            "`{}` is less than a minute: log at least 1m",
            text.trim()
        ));
    }
    Ok(secs)
}

/// When an entry counts as done: `at` if given (the work was done then),
/// `now` otherwise; refused in the future.
pub fn entry_time(at: Option<i64>, now: i64) -> Result<i64, String> {
    match at {
        Some(at) if at > now => Err(
            "the work cannot be dated in the future: give --at a past time, or leave it out for now"
                .into(),
        ),
        Some(at) => Ok(at),
        None => Ok(now),
    }
}

/// Whether a ticket in `status` takes time logged, or gives an entry back.
pub fn may_change(number: i64, status: Status) -> Result<(), String> {
    match status {
        Status::Closed => Err(format!(
            "ticket {number} is closed, and its time logged stays as it is"
        )),
        _ => Ok(()),
    }
}

/// Whether `operator` may remove an entry `author` logged: its author
/// may, and an admin may.
pub fn may_remove(id: i64, author: &str, operator: &str, admin: bool) -> Result<(), String> {
    if admin || author == operator {
        Ok(())
    } else {
        Err(format!(
            "entry {id} was logged by {author}: only they or an admin may remove it"
        ))
    }
}

/// A duration in the timeline's words: `25 min`, `1 h 30 min`, `2 h`.
pub fn describe(secs: i64) -> String {
    let minutes = secs / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// A ticket's time logged in all: `1 h 10 min (3 entries)`, or `none`.
pub fn total_text(secs: i64, entries: usize) -> String {
    match entries {
        0 => "none".into(),
        1 => format!("{} (1 entry)", describe(secs)),
        n => format!("{} ({n} entries)", describe(secs)),
    }
}

/// The timeline entry's text for an entry logged: `25 min logged: remote fix`.
pub fn logged_text(secs: i64, note: &str) -> String {
    if note.is_empty() {
        format!("{} logged", describe(secs))
    } else {
        format!("{} logged: {note}", describe(secs))
    }
}

/// The timeline entry's text for an entry removed.
pub fn removed_text(id: i64, secs: i64, author: &str) -> String {
    format!("removed {} logged by {author} (entry {id})", describe(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_technicians_write_them() {
        for (text, secs) in [
            ("25m", 1500),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("90m", 5400),
            ("2h", 7200),
            (" 1H ", 3600),
            ("1m", 60),
            ("24h", 86400),
            ("45 min", 2700),
            ("1 hour 5 minutes", 3900),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn bad_durations_are_refused_with_what_to_write() {
        for (text, says) in [
            ("", "no duration"),
            ("25", "no unit: write 25m"),
            ("0m", "less than a minute"),
            ("30s", "whole minutes"),
            ("25h", "more than 24h"),
            ("23h61m", "more than 24h"),
            ("99999999999999999999m", "too long"),
            ("soon", "not a duration"),
            ("1.5h", "not a duration"),
            ("30m1h", "not a duration"),
            ("1h1h", "not a duration"),
            ("-5m", "not a duration"),
        ] {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn entries_are_dated_in_the_past_or_now_never_later() {
        assert_eq!(entry_time(None, 1000), Ok(1000));
        assert_eq!(entry_time(Some(500), 1000), Ok(500));
        assert_eq!(entry_time(Some(1000), 1000), Ok(1000));
        let err = entry_time(Some(1001), 1000).expect_err("future");
        assert!(err.contains("future"), "{err}");
    }

    #[test]
    fn only_the_author_or_an_admin_removes_an_entry_and_never_on_a_closed_ticket() {
        assert!(may_remove(3, "bob", "bob", false).is_ok());
        assert!(may_remove(3, "bob", "root", true).is_ok());
        let err = may_remove(3, "bob", "carol", false).expect_err("not hers");
        assert!(err.contains("logged by bob"), "{err}");
        assert!(may_change(7, Status::Resolved).is_ok());
        let err = may_change(7, Status::Closed).expect_err("closed");
        assert!(err.contains("ticket 7 is closed"), "{err}");
    }

    #[test]
    fn the_timeline_says_how_long_in_words() {
        assert_eq!(logged_text(1500, "remote fix"), "25 min logged: remote fix");
        assert_eq!(logged_text(5400, ""), "1 h 30 min logged");
        assert_eq!(describe(7200), "2 h");
        assert_eq!(total_text(4200, 3), "1 h 10 min (3 entries)");
        assert_eq!(total_text(0, 0), "none");
        assert_eq!(
            removed_text(4, 60, "bob"),
            "removed 1 min logged by bob (entry 4)"
        );
    }
}
