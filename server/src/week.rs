//! Weekly wall-clock schedules, pure: what maintenance windows
//! (`rollouts::window`), business hours (`tickets::calendar`) and shifts
//! share. Day names and day sets (bit 0 is Monday), `HH:MM` times in
//! minutes after midnight, the bundled IANA zone database, and the UTC
//! instant of a local wall time across clock changes.
//!
//! Errors name the text they come from: `what` is the kind of text
//! (`window`, `working hours`) and `part` the piece being read, so a
//! message reads `unknown day "Mnd" in window "Mnd 19:00-06:00": ...`.

use std::fmt::Write as _;
use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};

/// Minutes in a day.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// Every day of the week as a day set.
pub const ALL_DAYS: u8 = 0b111_1111;

/// Short day names, Monday first.
pub const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A day set as written: `daily`, or runs of three or more days as
/// ranges and the rest one by one, Monday first (`Mon-Fri,Sun`).
pub fn days_text(days: u8) -> String {
    if days == ALL_DAYS {
        return "daily".into();
    }
    let mut out = String::new();
    let mut day = 0;
    while day < 7 {
        if days & (1 << day) == 0 {
            day += 1;
            continue;
        }
        let mut last = day;
        while last + 1 < 7 && days & (1 << (last + 1)) != 0 {
            last += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if last - day >= 2 {
            let _ = write!(out, "{}-{}", DAY_NAMES[day], DAY_NAMES[last]);
        } else {
            out.push_str(&DAY_NAMES[day..=last].join(","));
        }
        day = last + 1;
    }
    out
}

/// `daily` or a comma-separated list of days (`Mon` or `Monday`, any
/// case) and ranges (`Mon-Fri`; `Sat-Mon` wraps), as a day set.
pub fn parse_days(text: &str, what: &str, part: &str) -> Result<u8, String> {
    let mut days = 0u8;
    for item in text.split(',') {
        let item = item.trim();
        if item.eq_ignore_ascii_case("daily") {
            days = ALL_DAYS;
            continue;
        }
        match item.split_once('-') {
            Some((from, to)) => {
                let from = parse_day(from.trim(), what, part)?;
                let to = parse_day(to.trim(), what, part)?;
                let mut d = from;
                loop {
                    days |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << parse_day(item, what, part)?,
        }
    }
    Ok(days)
}

/// One day's name, three letters or full, any case: 0 is Monday.
pub fn parse_day(name: &str, what: &str, part: &str) -> Result<u8, String> {
    let lower = name.to_ascii_lowercase();
    (0u8..7)
        .find(|&d| {
            let full = FULL_DAY_NAMES[usize::from(d)];
            lower == full || (lower.len() == 3 && full.starts_with(&lower))
        })
        .ok_or_else(|| {
            let shown = if name.is_empty() { "(nothing)" } else { name };
            format!(
                "unknown day \"{shown}\" in {what} \"{part}\": use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range like Mon-Fri, or daily"
            )
        })
}

/// `HH:MM` (or `H:MM`) from 00:00 to 24:00, in minutes after midnight.
pub fn parse_time(text: &str, what: &str, part: &str) -> Result<u16, String> {
    let bad = || {
        format!(
            "bad time \"{text}\" in {what} \"{part}\": write times as HH:MM, from 00:00 to 24:00"
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Which end of an interval a wall time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// It starts there.
    Start,
    /// It ends there.
    End,
}

/// The UTC second of `minute` (0 to 1440: 1440 is the next midnight)
/// after midnight on the local date `day` in `tz`. A skipped wall time
/// (clocks going forward) is the moment the clocks jump; a repeated one
/// (clocks going back) is its first occurrence for a start and its
/// second for an end. `None` outside the range dates handle.
pub fn instant(tz: &TimeZone, day: Date, minute: u16, edge: Edge) -> Option<i64> {
    let (day, minute) = if minute >= MINUTES_PER_DAY {
        (day.tomorrow().ok()?, minute - MINUTES_PER_DAY)
    } else {
        (day, minute)
    };
    let hour = i8::try_from(minute / 60).ok()?;
    let min = i8::try_from(minute % 60).ok()?;
    let dt: DateTime = day.to_datetime(Time::new(hour, min, 0, 0).ok()?);
    let ts = match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok()?,
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the jump, the wall time is an
            // instant shortly before the jump: the next transition is it.
            let before_jump = after.to_timestamp(dt).ok()?;
            tz.following(before_jump).next()?.timestamp()
        }
        AmbiguousOffset::Fold { before, after } => match edge {
            Edge::Start => before.to_timestamp(dt).ok()?,
            Edge::End => after.to_timestamp(dt).ok()?,
        },
    };
    Some(ts.as_second())
}

/// The IANA time zone database compiled into the binary.
pub fn database() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_sets_read_and_write_back() {
        for (text, days, shown) in [
            ("Mon-Fri", 0b001_1111, "Mon-Fri"),
            ("sat-mon", 0b110_0001, "Mon,Sat,Sun"),
            ("daily", ALL_DAYS, "daily"),
            ("Monday,wed", 0b000_0101, "Mon,Wed"),
        ] {
            assert_eq!(parse_days(text, "window", text), Ok(days), "{text}");
            assert_eq!(days_text(days), shown);
        }
        let e = parse_days("Mnd", "window", "Mnd 19:00-06:00").expect_err("typo");
        assert!(
            e.starts_with("unknown day \"Mnd\" in window \"Mnd 19:00-06:00\""),
            "{e}"
        );
    }

    #[test]
    fn times_are_minutes_up_to_midnight() {
        assert_eq!(parse_time("8:30", "shift", "x"), Ok(510));
        assert_eq!(parse_time("24:00", "shift", "x"), Ok(1440));
        for bad in ["24:01", "12:60", "12", "1:2", "123:00", "ab:cd"] {
            let e = parse_time(bad, "shift", "x").expect_err(bad);
            assert!(e.contains("HH:MM") && e.contains("in shift"), "{e}");
        }
    }

    #[test]
    fn wall_times_across_clock_changes() {
        let paris = database().get("Europe/Paris").expect("zone");
        let spring = jiff::civil::date(2026, 3, 29);
        // 02:30 does not exist: it is the jump, 03:00 CEST = 01:00 UTC.
        let jump = instant(&paris, spring, 150, Edge::Start).expect("instant");
        assert_eq!(
            jump,
            instant(&paris, spring, 180, Edge::Start).expect("3:00")
        );
        let fall = jiff::civil::date(2026, 10, 25);
        // 02:30 happens twice: first (CEST) for a start, second for an end.
        let start = instant(&paris, fall, 150, Edge::Start).expect("start");
        let end = instant(&paris, fall, 150, Edge::End).expect("end");
        assert_eq!(end - start, 3600);
        // 24:00 is the next midnight.
        let midnight = instant(&paris, fall, MINUTES_PER_DAY, Edge::End).expect("24:00");
        assert_eq!(
            midnight,
            instant(&paris, jiff::civil::date(2026, 10, 26), 0, Edge::Start).expect("0:00")
        );
    }
}
