//! Business-hours calendars, pure: a time zone, working hours per weekday
//! and holidays, and the two sums SLA clocks need: the working time
//! between two instants ([`Calendar::working_secs`]) and the instant a
//! given amount of working time has elapsed ([`Calendar::due`]). Time is
//! unix seconds; the time zone database is the copy compiled into the
//! binary (jiff's bundled IANA database), as for maintenance windows.
//!
//! The rules:
//!
//! - Hours are wall-clock hours on each local date, start inclusive, end
//!   exclusive, to the second; `24:00` is the midnight ending the day. An
//!   interval never crosses midnight (write `Mon 22:00-24:00; Tue
//!   00:00-06:00`); overlapping or touching intervals of a day are joined.
//! - A holiday is a local date with no working time at all.
//! - Working time is real elapsed time: a working day from 00:00 to 24:00
//!   lasts 23 hours when the clocks go forward and 25 when they go back.
//! - A wall time that does not exist (the hour skipped when clocks go
//!   forward) is read as the moment the clocks jump: hours 01:00-04:00
//!   on Paris's spring-forward day are two hours, hours starting at 02:30
//!   start at 03:00. A wall time that happens twice (the hour repeated
//!   when clocks go back) starts an interval the first time and ends it
//!   the second time: 02:00-03:00 on Paris's fall-back day is two hours.
//!   These are the maintenance windows' rules (`rollouts::window`).
//! - Sums walk the calendar day by day, at most [`HORIZON_DAYS`] local
//!   days after the first instant: working time past that is not counted
//!   (a clock that old is far past any target), and [`Calendar::due`]
//!   answers `None` when the time is not reached within it.
//! - An instant outside the range the calendar handles (before year -9999
//!   or after 9999) has no working time around it.
//!
//! Holidays come from an iCalendar file ([`holidays_from_ics`]) or by
//! hand ([`Calendar::with_holidays`]).

mod ics;

pub use ics::{MAX_EVENT_DAYS, MAX_EVENTS, MAX_ICS_BYTES, holidays_from_ics};

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use crate::week::{
    self, DAY_NAMES, Edge, MINUTES_PER_DAY, database, days_text, instant, parse_time,
};

/// How many local days [`Calendar::working_secs`] and [`Calendar::due`]
/// walk at most after the first instant: three years.
pub const HORIZON_DAYS: usize = 3 * 366;

/// The most `;`-separated parts one hours text may have.
pub const MAX_PARTS: usize = 32;

/// The most intervals one weekday may have, after joining.
pub const MAX_INTERVALS_PER_DAY: usize = 24;

/// The longest hours text accepted, in bytes.
pub const MAX_HOURS_LEN: usize = 1000;

/// What errors call the text they read.
const WHAT: &str = "working hours";
const EXAMPLE: &str =
    "like \"Mon-Fri 08:00-18:00\" or \"Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00\"";

/// Working hours in a time zone, with holidays.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// The IANA name, canonical (`Europe/Paris`).
    zone: String,
    tz: TimeZone,
    /// Per weekday, Monday first: sorted, disjoint, non-touching
    /// intervals `[start, end)` in minutes after local midnight, end at
    /// most 1440.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl PartialEq for Calendar {
    fn eq(&self, other: &Self) -> bool {
        self.zone == other.zone && self.week == other.week && self.holidays == other.holidays
    }
}

impl Eq for Calendar {}

impl Calendar {
    /// Every second is working time ("24/7"): UTC, every day from 00:00 to
    /// 24:00, no holidays. Its sums are plain arithmetic, with no horizon.
    pub fn always() -> &'static Calendar {
        static ALWAYS: OnceLock<Calendar> = OnceLock::new();
        ALWAYS.get_or_init(|| Calendar {
            zone: "UTC".to_string(),
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
            holidays: BTreeSet::new(),
        })
    }

    /// Parses a zone (an IANA name, `Europe/Paris`) and working hours:
    /// `DAYS HH:MM-HH:MM[,HH:MM-HH:MM...]`, several separated by `;`, or
    /// `24/7`. DAYS is `daily` or a comma-separated list of days (`Mon` or
    /// `Monday`, any case) and ranges (`Mon-Fri`; `Sat-Mon` wraps). Hours
    /// run from `00:00` to `24:00` and end after they start.
    pub fn parse(zone: &str, hours: &str) -> Result<Calendar, String> {
        let (zone, tz) = zone_by_name(zone)?;
        let text = hours.trim();
        if text.is_empty() {
            return Err(format!(
                "the working hours are empty: give days and hours, {EXAMPLE}"
            ));
        }
        if text.len() > MAX_HOURS_LEN {
            return Err(format!(
                "the working hours are {} bytes long, at most {MAX_HOURS_LEN} are allowed: merge days that share hours ({EXAMPLE})",
                text.len()
            ));
        }
        if text == "24/7" {
            return Ok(Calendar {
                zone,
                tz,
                ..Calendar::always().clone()
            });
        }
        let parts = text.split(';').count();
        if parts > MAX_PARTS {
            return Err(format!(
                "the working hours have {parts} parts, at most {MAX_PARTS} are allowed: merge days that share hours ({EXAMPLE})"
            ));
        }
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "working hours \"{text}\" have an empty part between semicolons: remove the extra ';'"
                ));
            }
            let Some(split) = part.find(|c: char| c.is_ascii_digit()) else {
                return Err(format!(
                    "working hours \"{part}\" have no hours: write them after the days, {EXAMPLE}"
                ));
            };
            let (days, intervals) = part.split_at(split);
            let days = parse_days(days.trim(), part)?;
            let intervals = intervals
                .split(',')
                .map(|i| parse_interval(i.trim(), part))
                .collect::<Result<Vec<_>, _>>()?;
            for (day, hours) in week.iter_mut().enumerate() {
                if days & (1 << day) != 0 {
                    hours.extend_from_slice(&intervals);
                }
            }
        }
        for (day, hours) in week.iter_mut().enumerate() {
            join(hours);
            if hours.len() > MAX_INTERVALS_PER_DAY {
                return Err(format!(
                    "{} has {} working intervals, at most {MAX_INTERVALS_PER_DAY} are allowed: join some of them",
                    DAY_NAMES[day],
                    hours.len()
                ));
            }
        }
        Ok(Calendar {
            zone,
            tz,
            week,
            holidays: BTreeSet::new(),
        })
    }

    /// The calendar with these dates (local dates in its zone) added to
    /// its holidays.
    pub fn with_holidays(mut self, dates: impl IntoIterator<Item = Date>) -> Calendar {
        self.holidays.extend(dates);
        self
    }

    /// The zone's canonical IANA name.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The working intervals of a weekday, minutes after local midnight
    /// (`[start, end)`, end at most 1440), sorted.
    pub fn hours_on(&self, weekday: Weekday) -> &[(u16, u16)] {
        &self.week[weekday_index(weekday)]
    }

    /// The holidays, in order.
    pub fn holidays(&self) -> impl Iterator<Item = Date> + '_ {
        self.holidays.iter().copied()
    }

    /// The hours in canonical text (`Mon-Fri 08:00-12:00,13:00-17:00;
    /// Sat 09:00-12:00`), which [`Calendar::parse`] reads back to the same
    /// hours; empty if no weekday has any.
    pub fn hours_text(&self) -> String {
        let mut out = String::new();
        let mut done = 0u8;
        for day in 0..7 {
            if done & (1 << day) != 0 || self.week[day].is_empty() {
                continue;
            }
            let days = (day..7)
                .filter(|&d| self.week[d] == self.week[day])
                .fold(0u8, |acc, d| acc | (1 << d));
            done |= days;
            if !out.is_empty() {
                out.push_str("; ");
            }
            out.push_str(&days_text(days));
            for (i, &(start, end)) in self.week[day].iter().enumerate() {
                out.push(if i == 0 { ' ' } else { ',' });
                let _ = write!(
                    out,
                    "{:02}:{:02}-{:02}:{:02}",
                    start / 60,
                    start % 60,
                    end / 60,
                    end % 60
                );
            }
        }
        out
    }

    /// Whether `at` (unix seconds) is working time.
    pub fn is_working(&self, at: i64) -> bool {
        at.checked_add(1)
            .is_some_and(|next| self.working_secs(at, next) == 1)
    }

    /// The working time in `[from, to)`, seconds: 0 if `to` is not after
    /// `from`. Counts at most [`HORIZON_DAYS`] local days after `from`.
    pub fn working_secs(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if self.is_always() {
            return to.saturating_sub(from);
        }
        let mut total: i64 = 0;
        for (start, end) in self.intervals_from(from) {
            if start >= to {
                break;
            }
            let overlap = end.min(to) - start.max(from);
            if overlap > 0 {
                total = total.saturating_add(overlap);
            }
        }
        total
    }

    /// The instant `secs` seconds of working time after `start`: `start`
    /// itself for no time, else the moment the last needed second ends
    /// (so exactly at the end of an interval when it uses it up). `None`
    /// if the calendar has not that much working time within
    /// [`HORIZON_DAYS`] local days of `start` (none at all, say).
    pub fn due(&self, start: i64, secs: i64) -> Option<i64> {
        if secs <= 0 {
            return Some(start);
        }
        if self.is_always() {
            return start.checked_add(secs);
        }
        let mut left = secs;
        for (from, end) in self.intervals_from(start) {
            let from = from.max(start);
            if end <= from {
                continue;
            }
            let len = end - from;
            if len >= left {
                return Some(from + left);
            }
            left -= len;
        }
        None
    }

    /// Every second is working time: the sums are arithmetic.
    fn is_always(&self) -> bool {
        self.holidays.is_empty()
            && self
                .week
                .iter()
                .all(|hours| hours.as_slice() == [(0, MINUTES_PER_DAY)])
    }

    /// The working intervals in UTC seconds, sorted and disjoint, from the
    /// local date before `from`'s (a repeated midnight may carry the
    /// previous day's last interval past it) to [`HORIZON_DAYS`] after it.
    fn intervals_from(&self, from: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let first = Timestamp::from_second(from)
            .ok()
            .and_then(|ts| self.tz.to_datetime(ts).date().yesterday().ok());
        let mut covered = i64::MIN;
        std::iter::successors(first, |d| d.tomorrow().ok())
            .take(HORIZON_DAYS + 2)
            .flat_map(move |day| self.day_intervals(day))
            .filter_map(move |(start, end)| {
                // Where a repeated hour makes one interval's end come after
                // the next one's start, count the overlap once.
                let start = start.max(covered);
                if start >= end {
                    return None;
                }
                covered = end;
                Some((start, end))
            })
    }

    /// The UTC intervals of one local date, in order; none on a holiday.
    fn day_intervals(&self, day: Date) -> impl Iterator<Item = (i64, i64)> + '_ {
        let hours: &[(u16, u16)] = if self.holidays.contains(&day) {
            &[]
        } else {
            &self.week[weekday_index(day.weekday())]
        };
        hours.iter().filter_map(move |&(start, end)| {
            let start = instant(&self.tz, day, start, Edge::Start)?;
            let end = instant(&self.tz, day, end, Edge::End)?;
            (start < end).then_some((start, end))
        })
    }
}

/// Monday is 0, Sunday 6.
fn weekday_index(weekday: Weekday) -> usize {
    usize::try_from(weekday.to_monday_zero_offset()).unwrap_or(0)
}

/// Sorts the intervals and joins those that overlap or touch.
fn join(hours: &mut Vec<(u16, u16)>) {
    hours.sort_unstable();
    let mut joined: Vec<(u16, u16)> = Vec::with_capacity(hours.len());
    for &(start, end) in hours.iter() {
        match joined.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => joined.push((start, end)),
        }
    }
    *hours = joined;
}

/// A zone by its IANA name, with its canonical name.
fn zone_by_name(name: &str) -> Result<(String, TimeZone), String> {
    let name = name.trim();
    let tz = (!name.is_empty())
        .then(|| database().get(name).ok())
        .flatten()
        .ok_or_else(|| {
            let shown = if name.is_empty() { "(nothing)" } else { name };
            format!(
                "unknown time zone \"{shown}\": give an IANA name like Europe/Paris, America/New_York or UTC"
            )
        })?;
    let canonical = tz.iana_name().unwrap_or(name).to_string();
    Ok((canonical, tz))
}

/// `daily` or a list of days and ranges, as a bit set (bit 0 Monday).
fn parse_days(text: &str, part: &str) -> Result<u8, String> {
    if text.is_empty() {
        return Err(format!(
            "working hours \"{part}\" name no days: start with them, {EXAMPLE}"
        ));
    }
    week::parse_days(text, WHAT, part)
}

/// `HH:MM-HH:MM`, ending after it starts, in minutes.
fn parse_interval(text: &str, part: &str) -> Result<(u16, u16), String> {
    let Some((start, end)) = text.split_once('-') else {
        return Err(format!(
            "bad hours \"{text}\" in working hours \"{part}\": give a start and an end, like 08:00-18:00"
        ));
    };
    let start = parse_time(start.trim(), WHAT, part)?;
    let end = parse_time(end.trim(), WHAT, part)?;
    if end <= start {
        return Err(format!(
            "hours \"{text}\" in working hours \"{part}\" end before they start: hours cannot cross midnight, split them like \"Mon 22:00-24:00; Tue 00:00-06:00\""
        ));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests;
