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
use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};

/// How many local days [`Calendar::working_secs`] and [`Calendar::due`]
/// walk at most after the first instant: three years.
pub const HORIZON_DAYS: usize = 3 * 366;

/// The most `;`-separated parts one hours text may have.
pub const MAX_PARTS: usize = 32;

/// The most intervals one weekday may have, after joining.
pub const MAX_INTERVALS_PER_DAY: usize = 24;

/// The longest hours text accepted, in bytes.
pub const MAX_HOURS_LEN: usize = 1000;

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
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
            write_days(&mut out, days);
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

/// The IANA time zone database compiled into the binary.
fn database() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Days as written: `daily`, or runs of three or more as ranges and the
/// rest one by one, Monday first.
fn write_days(out: &mut String, days: u8) {
    if days == 0b111_1111 {
        out.push_str("daily");
        return;
    }
    let mut first = true;
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
        if !first {
            out.push(',');
        }
        first = false;
        if last - day >= 2 {
            let _ = write!(out, "{}-{}", DAY_NAMES[day], DAY_NAMES[last]);
        } else {
            out.push_str(&DAY_NAMES[day..=last].join(","));
        }
        day = last + 1;
    }
}

/// `daily` or a list of days and ranges, as a bit set (bit 0 Monday).
fn parse_days(text: &str, part: &str) -> Result<u8, String> {
    if text.is_empty() {
        return Err(format!(
            "working hours \"{part}\" name no days: start with them, {EXAMPLE}"
        ));
    }
    let mut days = 0u8;
    for item in text.split(',') {
        let item = item.trim();
        if item.eq_ignore_ascii_case("daily") {
            days = 0b111_1111;
            continue;
        }
        match item.split_once('-') {
            Some((from, to)) => {
                let from = parse_day(from.trim(), part)?;
                let to = parse_day(to.trim(), part)?;
                let mut d = from;
                loop {
                    days |= 1 << d;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days |= 1 << parse_day(item, part)?,
        }
    }
    Ok(days)
}

/// One day's name, three letters or full, any case: 0 is Monday.
fn parse_day(name: &str, part: &str) -> Result<u8, String> {
    let lower = name.to_ascii_lowercase();
    (0u8..7)
        .find(|&d| {
            let full = FULL_DAY_NAMES[usize::from(d)];
            lower == full || (lower.len() == 3 && full.starts_with(&lower))
        })
        .ok_or_else(|| {
            let shown = if name.is_empty() { "(nothing)" } else { name };
            format!(
                "unknown day \"{shown}\" in working hours \"{part}\": use Mon, Tue, Wed, Thu, Fri, Sat, Sun, a range like Mon-Fri, or daily"
            )
        })
}

/// `HH:MM-HH:MM`, ending after it starts, in minutes.
fn parse_interval(text: &str, part: &str) -> Result<(u16, u16), String> {
    let Some((start, end)) = text.split_once('-') else {
        return Err(format!(
            "bad hours \"{text}\" in working hours \"{part}\": give a start and an end, like 08:00-18:00"
        ));
    };
    let start = parse_time(start.trim(), part)?;
    let end = parse_time(end.trim(), part)?;
    if end <= start {
        return Err(format!(
            "hours \"{text}\" in working hours \"{part}\" end before they start: hours cannot cross midnight, split them like \"Mon 22:00-24:00; Tue 00:00-06:00\""
        ));
    }
    Ok((start, end))
}

/// `HH:MM` (or `H:MM`) from 00:00 to 24:00, in minutes.
fn parse_time(text: &str, part: &str) -> Result<u16, String> {
    let bad = || {
        format!(
            "bad time \"{text}\" in working hours \"{part}\": write times as HH:MM, from 00:00 to 24:00"
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
#[derive(Clone, Copy)]
enum Edge {
    Start,
    End,
}

/// The UTC second of `minute` (0 to 1440) after midnight on the local
/// date `day`. A skipped wall time is the moment the clocks jump; a
/// repeated one is its first occurrence for a start, its second for an
/// end.
fn instant(tz: &TimeZone, day: Date, minute: u16, edge: Edge) -> Option<i64> {
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

#[cfg(test)]
mod tests;
