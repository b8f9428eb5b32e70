//! Maintenance windows, evaluated in each machine's own time zone: the
//! `--window` syntax ([`Window::parse`]), whether a window is open at a
//! UTC second ([`Window::is_open`]) and when it next opens
//! ([`Window::next_open`]), for a zone as an agent reports it
//! ([`MachineZone`]). Pure: time is an argument, the time zone database is
//! the copy compiled into the binary (jiff's bundled IANA database), so
//! results never depend on the server's `/usr/share/zoneinfo`.
//!
//! The rules, as a person reading the wall clock would expect:
//!
//! - `Mon-Fri 19:00-06:00` is open from 19:00 on each weekday it names;
//!   a window whose end is before its start crosses midnight and belongs
//!   to the day it starts (Friday's runs into Saturday morning, and there
//!   is none on Sunday night). `24:00` is midnight at the end of the day.
//! - Start inclusive, end exclusive, to the second.
//! - Days and hours are the machine's: a Sydney machine's Monday 08:00 is
//!   Sunday evening in UTC.
//! - A wall time that does not exist (the hour skipped when clocks go
//!   forward) is read as the moment the clocks jump: a window from 01:30
//!   to 03:30 on the spring-forward day in Paris is open one hour, a
//!   window that starts at 02:30 opens at 03:00.
//! - A wall time that happens twice (the hour repeated when clocks go
//!   back) starts a window the first time and ends it the second time: a
//!   window from 01:30 to 02:30 on New York's fall-back day is open from
//!   the first 01:30 until the second 02:30, two hours, with no gap.
//!
//! A machine whose agent reported no zone is evaluated in UTC: that is the
//! server's rule (see [`MachineZone::utc`]).

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};

use crate::week::{Edge, MINUTES_PER_DAY, database, days_text, instant, parse_days, parse_time};

/// The most parts (`;`-separated) one `--window` may have.
pub const MAX_OPENINGS: usize = 32;

/// How far ahead [`Window::next_open`] looks: a weekly window opens within
/// a week, plus a day for clock changes.
pub const LOOKAHEAD_SECONDS: i64 = 8 * 86_400;

/// The largest UTC offset accepted from an agent, in seconds (18 hours,
/// beyond any real zone).
pub const MAX_OFFSET_SECONDS: i32 = 18 * 3600;

/// What errors call the text they read.
const WHAT: &str = "window";
const EXAMPLE: &str = "like \"Mon-Fri 19:00-06:00\" or \"daily 22:00-05:00\"";

/// A maintenance window: one or more [`Opening`]s (the `;`-separated parts
/// of `--window`); it is open when any of them is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    openings: Vec<Opening>,
}

/// One part of a window: the days of the week it starts on and its hours
/// (`Mon-Fri 19:00-06:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opening {
    /// Bit 0 is Monday, bit 6 Sunday.
    days: u8,
    /// Minutes after midnight, 0 to 1439.
    start: u16,
    /// Minutes after midnight, 1 to 1440, never equal to `start`; at or
    /// before `start` means the next day.
    end: u16,
}

impl Window {
    /// Parses the `--window` syntax: `DAYS HH:MM-HH:MM`, several separated
    /// by `;`. DAYS is `daily`, or a comma-separated list of days (`Mon`
    /// or `Monday`, any case) and ranges (`Mon-Fri`; `Fri-Mon` wraps over
    /// the weekend). Hours run from `00:00` to `24:00`; an end before the
    /// start crosses midnight; an end equal to the start is refused.
    pub fn parse(text: &str) -> Result<Window, String> {
        if text.trim().is_empty() {
            return Err(format!(
                "the maintenance window is empty: give days and hours, {EXAMPLE}"
            ));
        }
        let parts = text.split(';').count();
        if parts > MAX_OPENINGS {
            return Err(format!(
                "the maintenance window has {parts} parts, at most {MAX_OPENINGS} are allowed: merge days that share hours (\"Mon-Fri 19:00-06:00\")"
            ));
        }
        let mut openings = Vec::with_capacity(parts);
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "window \"{}\" has an empty part between semicolons: remove the extra ';'",
                    text.trim()
                ));
            }
            openings.push(Opening::parse(part)?);
        }
        Ok(Window { openings })
    }

    /// The window's parts, in the order given.
    pub fn openings(&self) -> &[Opening] {
        &self.openings
    }

    /// Whether the window is open at `at_utc` (unix seconds) on a machine
    /// in `zone`. A second outside the range the calendar handles (before
    /// year -9999 or after 9999) is never in a window.
    pub fn is_open(&self, at_utc: i64, zone: &MachineZone) -> bool {
        let Some(today) = local_date(at_utc, zone) else {
            return false;
        };
        // A part that started up to two local days ago may still run (it
        // lasts at most a day, plus a repeated hour); one starting
        // tomorrow may already run where the clocks went back over
        // midnight.
        (-2..=1).any(|offset| {
            self.intervals_on(today, offset, zone)
                .any(|(start, end)| (start..end).contains(&at_utc))
        })
    }

    /// The first UTC second at or after `at_utc` at which the window is
    /// open on a machine in `zone`: `at_utc` itself if it is open now,
    /// `None` if it does not open within [`LOOKAHEAD_SECONDS`] (which a
    /// parsed window always does, but for a calendar's end).
    pub fn next_open(&self, at_utc: i64, zone: &MachineZone) -> Option<i64> {
        let today = local_date(at_utc, zone)?;
        let limit = at_utc.checked_add(LOOKAHEAD_SECONDS)?;
        // Local dates from two days back (a part still running) to a day
        // past the lookahead (dates and UTC days need not line up).
        (-2..=9)
            .flat_map(|offset| self.intervals_on(today, offset, zone))
            .filter(|&(_, end)| end > at_utc)
            .map(|(start, _)| start.max(at_utc))
            .min()
            .filter(|&open| open <= limit)
    }

    /// The UTC intervals `[start, end)` of the parts that start on the
    /// local date `offset` days from `today`; empty ones (a part wholly
    /// inside skipped hours) are left out.
    fn intervals_on<'a>(
        &'a self,
        today: Date,
        offset: i64,
        zone: &'a MachineZone,
    ) -> impl Iterator<Item = (i64, i64)> + 'a {
        let day = add_days(today, offset);
        self.openings.iter().filter_map(move |o| {
            let day = day?;
            o.interval_on(day, &zone.tz)
                .filter(|(start, end)| start < end)
        })
    }
}

impl fmt::Display for Window {
    /// The canonical text (`Mon-Fri 19:00-06:00; Sat,Sun 00:00-24:00`),
    /// which [`Window::parse`] reads back to the same window.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in self.openings.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{o}")?;
        }
        Ok(())
    }
}

impl Opening {
    fn parse(part: &str) -> Result<Opening, String> {
        let Some((days, hours)) = part.rsplit_once(char::is_whitespace) else {
            return Err(format!("window \"{part}\" needs days and hours, {EXAMPLE}"));
        };
        let days = parse_days(days.trim(), WHAT, part)?;
        let Some((start, end)) = hours.split_once('-') else {
            return Err(format!(
                "bad hours \"{hours}\" in window \"{part}\": give a start and an end, like 19:00-06:00"
            ));
        };
        let start = parse_time(start, WHAT, part)?;
        let end = parse_time(end, WHAT, part)?;
        if start == MINUTES_PER_DAY {
            return Err(format!(
                "window \"{part}\" starts at 24:00: start at 00:00 on the next day instead"
            ));
        }
        if end == start {
            return Err(format!(
                "window \"{part}\" ends when it starts: give a different end (00:00-24:00 for a whole day)"
            ));
        }
        // 00:00 as an end means the midnight that ends the day.
        let end = if end == 0 { MINUTES_PER_DAY } else { end };
        Ok(Opening { days, start, end })
    }

    /// Whether the part starts on `weekday` (0 is Monday, 6 Sunday).
    pub fn starts_on(&self, weekday: u8) -> bool {
        weekday < 7 && self.days & (1 << weekday) != 0
    }

    /// Its start, in minutes after local midnight.
    pub fn start_minute(&self) -> u16 {
        self.start
    }

    /// Its end, in minutes after local midnight (1 to 1440); at or before
    /// the start means on the next day.
    pub fn end_minute(&self) -> u16 {
        self.end
    }

    /// Whether it runs past midnight into the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start || self.end == MINUTES_PER_DAY
    }

    /// The UTC interval of this part on the local date `day`, or `None` if
    /// it does not start on that day's weekday.
    fn interval_on(&self, day: Date, tz: &TimeZone) -> Option<(i64, i64)> {
        let weekday = u8::try_from(day.weekday().to_monday_zero_offset()).ok()?;
        if !self.starts_on(weekday) {
            return None;
        }
        let start = instant(tz, day, self.start, Edge::Start)?;
        let end_day = if self.crosses_midnight() {
            day.tomorrow().ok()?
        } else {
            day
        };
        let end = instant(tz, end_day, self.end % MINUTES_PER_DAY, Edge::End)?;
        Some((start, end))
    }
}

impl fmt::Display for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&days_text(self.days))?;
        write!(
            f,
            " {:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// The machine's local date at `at_utc`.
fn local_date(at_utc: i64, zone: &MachineZone) -> Option<Date> {
    let ts = Timestamp::from_second(at_utc).ok()?;
    Some(zone.tz.to_datetime(ts).date())
}

/// The date `n` days after `day` (before, if negative); `n` is small.
fn add_days(day: Date, n: i64) -> Option<Date> {
    let mut d = day;
    for _ in 0..n.unsigned_abs() {
        d = if n < 0 { d.yesterday() } else { d.tomorrow() }.ok()?;
    }
    Some(d)
}

/// A machine's time zone as its agent reports it: an IANA name
/// (`Europe/Paris`) and the UTC offset it saw, resolved once.
#[derive(Debug, Clone)]
pub struct MachineZone {
    tz: TimeZone,
    resolved: ResolvedZone,
}

/// Which zone a [`MachineZone`] evaluates windows in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedZone {
    /// The IANA zone the agent named, found in the database: daylight
    /// saving time follows its rules.
    Iana(String),
    /// The fixed UTC offset the agent saw, because it named no zone or
    /// one the database does not know (`unknown_name`): no daylight
    /// saving time, so windows shift by an hour when the machine's clocks
    /// change, until its next report.
    FixedOffset {
        /// Seconds east of UTC.
        seconds: i32,
        /// The zone name the database did not know, if one was given.
        unknown_name: Option<String>,
    },
    /// UTC: the agent reported no usable zone nor offset (the server's
    /// rule for such machines).
    Utc {
        /// The zone name the database did not know, if one was given.
        unknown_name: Option<String>,
    },
}

impl MachineZone {
    /// Resolves what an agent reported: its IANA zone name if the
    /// database knows it, else the UTC offset it saw (if within
    /// ±[`MAX_OFFSET_SECONDS`]), else UTC.
    pub fn from_report(iana_name: Option<&str>, utc_offset_seconds: Option<i32>) -> MachineZone {
        let name = iana_name.map(str::trim).filter(|n| !n.is_empty());
        // `Etc/Unknown` is the database's word for "no zone".
        if let Some(name) = name
            && !name.eq_ignore_ascii_case("Etc/Unknown")
            && let Ok(tz) = database().get(name)
        {
            let canonical = tz.iana_name().unwrap_or(name).to_string();
            return MachineZone {
                tz,
                resolved: ResolvedZone::Iana(canonical),
            };
        }
        let unknown_name = name.map(str::to_string);
        let offset = utc_offset_seconds
            .filter(|s| s.unsigned_abs() <= MAX_OFFSET_SECONDS.unsigned_abs())
            .and_then(|s| Offset::from_seconds(s).ok().map(|o| (s, o)));
        match offset {
            Some((seconds, offset)) => MachineZone {
                tz: TimeZone::fixed(offset),
                resolved: ResolvedZone::FixedOffset {
                    seconds,
                    unknown_name,
                },
            },
            None => MachineZone {
                tz: TimeZone::UTC,
                resolved: ResolvedZone::Utc { unknown_name },
            },
        }
    }

    /// The zone of a machine whose agent reported none: the server's rule
    /// is to evaluate its windows in UTC.
    pub fn utc() -> MachineZone {
        MachineZone {
            tz: TimeZone::UTC,
            resolved: ResolvedZone::Utc { unknown_name: None },
        }
    }

    /// Which zone windows are evaluated in, and why.
    pub fn resolved(&self) -> &ResolvedZone {
        &self.resolved
    }
}

impl fmt::Display for ResolvedZone {
    /// For `rollouts preview` and `show`: `Europe/Paris`,
    /// `UTC+05:30 (fixed offset; zone "X" unknown)`, `UTC (no zone reported)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolvedZone::Iana(name) => f.write_str(name),
            ResolvedZone::FixedOffset {
                seconds,
                unknown_name,
            } => {
                let sign = if *seconds < 0 { '-' } else { '+' };
                let abs = seconds.unsigned_abs();
                write!(f, "UTC{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)?;
                match unknown_name {
                    Some(n) => write!(f, " (fixed offset; zone \"{n}\" unknown)"),
                    None => f.write_str(" (fixed offset; no zone reported)"),
                }
            }
            ResolvedZone::Utc { unknown_name } => match unknown_name {
                Some(n) => write!(f, "UTC (zone \"{n}\" unknown, no offset reported)"),
                None => f.write_str("UTC (no zone reported)"),
            },
        }
    }
}

#[cfg(test)]
mod tests;
