//! When a scheduled report is sent and what it covers, as pure code.
//!
//! A schedule runs daily, weekly or monthly at a minute of the day, in
//! UTC: every day, every Monday, or the first of every month at that
//! time ([`next_run`]). A run covers the last whole period before it
//! ([`covered`]): the previous day, ISO week (Monday to Sunday) or
//! calendar month, so Monday's weekly mail is about the week just ended.

use time::{Date, OffsetDateTime};

use super::{Period, period_start};

/// Minutes in a day: `at_minute` is below it.
pub const MINUTES_PER_DAY: i64 = 24 * 60;

fn date_of(unix: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date()
}

/// Parses `--at`: `HH:MM` (UTC) into a minute of the day.
pub fn parse_at(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let bad = || format!("--at `{t}` is not a time of day: write it as HH:MM in UTC, e.g. 07:00");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A minute of the day as `HH:MM`.
pub fn show_at(at_minute: i64) -> String {
    format!("{:02}:{:02}", at_minute / 60, at_minute % 60)
}

/// The first run strictly after `after`: the next day, Monday or first
/// of the month (for daily, weekly, monthly) at `at_minute` UTC.
pub fn next_run(period: Period, at_minute: i64, after: i64) -> i64 {
    let at = at_minute.clamp(0, MINUTES_PER_DAY - 1) * 60;
    // The period that holds `after` starts at a day the schedule runs
    // on; its run is either still to come or the next period's is.
    let mut start = period_start(period, after);
    for _ in 0..3 {
        if start + at > after {
            return start + at;
        }
        start = next_period(period, start);
    }
    start + at
}

/// The start of the period after the one starting at `start`.
fn next_period(period: Period, start: i64) -> i64 {
    let days = match period {
        Period::Daily => 1,
        Period::Weekly => 7,
        // Past the 28th any day is in the next month; its start is the 1st.
        Period::Monthly => {
            return period_start(period, start + 32 * 86_400);
        }
    };
    start + days * 86_400
}

/// The span `[from, to)` a run at `run_at` covers: the last whole period
/// before the one it falls in (the previous day, ISO week or month).
pub fn covered(period: Period, run_at: i64) -> (i64, i64) {
    let to = period_start(period, run_at);
    (period_start(period, to - 1), to)
}

/// The covered period as a file name's part: `2026-12-06`, `2026-W49`,
/// `2026-11`.
pub fn label(period: Period, from: i64) -> String {
    let d = date_of(from);
    match period {
        Period::Daily => day(from),
        Period::Weekly => {
            let (year, week, _) = d.to_iso_week_date();
            format!("{year:04}-W{week:02}")
        }
        Period::Monthly => format!("{:04}-{:02}", d.year(), u8::from(d.month())),
    }
}

/// The day of `unix`, `YYYY-MM-DD`.
fn day(unix: i64) -> String {
    let d = date_of(unix);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The first day a span `[from, to)` includes, `YYYY-MM-DD`.
pub fn first_day(from: i64) -> String {
    day(from)
}

/// The last day a span `[from, to)` includes, `YYYY-MM-DD`.
pub fn last_day(to: i64) -> String {
    day(to - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        super::super::parse_day(text).expect("date")
    }

    #[test]
    fn times_of_day_parse() {
        assert_eq!(parse_at("07:00"), Ok(420));
        assert_eq!(parse_at("23:59"), Ok(1439));
        assert_eq!(parse_at("0:05"), Ok(5));
        for bad in ["24:00", "7", "07:60", "seven", "-1:00", ""] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
        assert_eq!(show_at(425), "07:05");
    }

    #[test]
    fn daily_runs_today_if_still_to_come_else_tomorrow() {
        let d = Period::Daily;
        assert_eq!(
            next_run(d, 420, at("2026-12-06T06:59")),
            at("2026-12-06T07:00")
        );
        assert_eq!(
            next_run(d, 420, at("2026-12-06T07:00")),
            at("2026-12-07T07:00")
        );
        // Across a month's and a year's end.
        assert_eq!(
            next_run(d, 420, at("2026-11-30T08:00")),
            at("2026-12-01T07:00")
        );
        assert_eq!(
            next_run(d, 0, at("2026-12-31T00:00")),
            at("2027-01-01T00:00")
        );
    }

    #[test]
    fn weekly_runs_on_mondays() {
        let w = Period::Weekly;
        // Sunday 2026-12-06 → Monday 12-07.
        assert_eq!(
            next_run(w, 420, at("2026-12-06T12:00")),
            at("2026-12-07T07:00")
        );
        // Monday after the hour → the next Monday.
        assert_eq!(
            next_run(w, 420, at("2026-12-07T07:00")),
            at("2026-12-14T07:00")
        );
        assert_eq!(
            next_run(w, 420, at("2026-12-07T06:00")),
            at("2026-12-07T07:00")
        );
        // Across the year: Thursday 2026-12-31 → Monday 2027-01-04.
        assert_eq!(
            next_run(w, 60, at("2026-12-31T10:00")),
            at("2027-01-04T01:00")
        );
    }

    #[test]
    fn monthly_runs_on_the_first() {
        let m = Period::Monthly;
        assert_eq!(
            next_run(m, 420, at("2026-01-31T23:00")),
            at("2026-02-01T07:00")
        );
        assert_eq!(
            next_run(m, 420, at("2026-02-01T07:00")),
            at("2026-03-01T07:00")
        );
        assert_eq!(
            next_run(m, 420, at("2026-02-01T06:00")),
            at("2026-02-01T07:00")
        );
        assert_eq!(
            next_run(m, 420, at("2026-12-15T00:00")),
            at("2027-01-01T07:00")
        );
        // A leap year's February.
        assert_eq!(
            next_run(m, 0, at("2028-02-29T12:00")),
            at("2028-03-01T00:00")
        );
    }

    #[test]
    fn a_run_covers_the_last_whole_period() {
        assert_eq!(
            covered(Period::Daily, at("2027-01-01T07:00")),
            (at("2026-12-31"), at("2027-01-01"))
        );
        // Monday 2026-12-07: the ISO week 49, Monday 11-30 to Sunday 12-06.
        let (from, to) = covered(Period::Weekly, at("2026-12-07T07:00"));
        assert_eq!((from, to), (at("2026-11-30"), at("2026-12-07")));
        assert_eq!(label(Period::Weekly, from), "2026-W49");
        assert_eq!(last_day(to), "2026-12-06");
        // Across the year: Monday 2027-01-04 covers 2026-W53.
        let (from, _) = covered(Period::Weekly, at("2027-01-04T07:00"));
        assert_eq!(label(Period::Weekly, from), "2026-W53");
        let (from, to) = covered(Period::Monthly, at("2027-01-01T07:00"));
        assert_eq!((from, to), (at("2026-12-01"), at("2027-01-01")));
        assert_eq!(label(Period::Monthly, from), "2026-12");
        let (from, _) = covered(Period::Monthly, at("2026-03-01T07:00"));
        assert_eq!(from, at("2026-02-01"));
        assert_eq!(label(Period::Daily, at("2026-02-28")), "2026-02-28");
        // Sent in the middle of a period, it is still the last whole one.
        assert_eq!(
            covered(Period::Monthly, at("2026-03-17T10:00")),
            (at("2026-02-01"), at("2026-03-01"))
        );
    }
}
