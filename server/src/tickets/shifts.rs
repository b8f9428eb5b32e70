//! Team shifts, pure: a team's weekly schedule read from CSV, ISO weeks
//! and local times turned into instants, and who is on shift at an
//! instant ([`on_shift`]). Time is unix seconds; local times are read in
//! the team calendar's zone (UTC for a team without one) with jiff's
//! bundled time zone database, by the business-hours calendar's rules
//! for a skipped or repeated wall time ([`super::calendar`]).
//!
//! The rules:
//!
//! - A schedule is CSV with the header `operator,day,start,end`: day is
//!   `Mon`..`Sun` of the week or a date in it (`2026-12-07`), times are
//!   `HH:MM` and an end may be `24:00`. A row never crosses midnight: a
//!   night shift is two rows, which join into one shift.
//! - Only the team's members may have shifts; an operator's overlapping
//!   or touching rows join.
//! - A member with no shift rows at all in the team is on shift whenever
//!   the team's calendar says it is working time (always, for a team
//!   without a calendar), so small teams work without schedules. A
//!   member with shift rows is on shift only during them.
//! - An absence always wins: an absent member is never on shift.

use std::collections::BTreeSet;

use jiff::Timestamp;
use jiff::civil::{Date, ISOWeekDate, Weekday};
use jiff::tz::TimeZone;

use super::calendar::Calendar;
use crate::week::{self, DAY_NAMES, Edge, MINUTES_PER_DAY, database};

/// The most rows one schedule may have.
pub const MAX_ROWS: usize = 2000;

/// The most errors one refused schedule names.
const MAX_ERRORS: usize = 10;

/// One operator's working time in a team, `[starts_at, ends_at)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Who works.
    pub operator: String,
    /// From, unix seconds.
    pub starts_at: i64,
    /// Until, unix seconds (exclusive).
    pub ends_at: i64,
}

/// An operator away, `[starts_at, ends_at)`, in every team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    /// Who is away.
    pub operator: String,
    /// From, unix seconds.
    pub starts_at: i64,
    /// Until, unix seconds (exclusive).
    pub ends_at: i64,
}

/// A time zone by its IANA name, from the bundled database.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// UTC, the zone of a team without a calendar.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: TimeZone::UTC,
        }
    }

    /// A zone by its IANA name (`Europe/Paris`).
    pub fn parse(name: &str) -> Result<Zone, String> {
        let name = name.trim();
        let tz = (!name.is_empty())
            .then(|| database().get(name).ok())
            .flatten()
            .ok_or_else(|| {
                format!("unknown time zone \"{name}\": give an IANA name like Europe/Paris or UTC")
            })?;
        let name = tz.iana_name().unwrap_or(name).to_string();
        Ok(Zone { name, tz })
    }

    /// The zone of a calendar, or UTC without one.
    pub fn of(calendar: Option<&Calendar>) -> Zone {
        calendar
            .and_then(|c| Zone::parse(c.zone()).ok())
            .unwrap_or_else(Zone::utc)
    }

    /// The canonical IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The local date of an instant.
    pub fn date_of(&self, at: i64) -> Option<Date> {
        let ts = Timestamp::from_second(at).ok()?;
        Some(self.tz.to_datetime(ts).date())
    }

    /// The unix second of `minute` (0 to 1440) after local midnight on
    /// `day`. A skipped wall time is the moment the clocks jump; a
    /// repeated one is its first occurrence for a start, its second for
    /// an end (the calendar's rules).
    fn instant(&self, day: Date, minute: u16, end: bool) -> Option<i64> {
        let edge = if end { Edge::End } else { Edge::Start };
        week::instant(&self.tz, day, minute, edge)
    }

    /// Local midnight starting `day`, unix seconds.
    fn midnight(&self, day: Date) -> Option<i64> {
        self.instant(day, 0, false)
    }
}

/// An ISO 8601 week (`2026-W50`): Monday to Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Week {
    monday: Date,
}

impl Week {
    /// Parses `YYYY-Www` (`2026-W50`; the `W` in any case).
    pub fn parse(text: &str) -> Result<Week, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "bad week \"{text}\": write an ISO week as YEAR-WNN, like 2026-W50 (see `date +%G-W%V`)"
            )
        };
        let (year, week) = text.split_once(['-']).ok_or_else(bad)?;
        let week = week
            .strip_prefix(['W', 'w'])
            .filter(|w| (1..=2).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i16 = year.parse().map_err(|_| bad())?;
        let week: i8 = week.parse().map_err(|_| bad())?;
        let date = ISOWeekDate::new(year, week, Weekday::Monday).map_err(|_| {
            format!("{year} has no week {week}: ISO years have weeks 1 to 52, some 53")
        })?;
        Ok(Week {
            monday: date.date(),
        })
    }

    /// The week holding local date `day`.
    pub fn of(day: Date) -> Week {
        let back = i64::from(day.weekday().to_monday_zero_offset());
        let monday = day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day);
        Week { monday }
    }

    /// The week holding `at` in `zone`; the week of 1970-01-01 for an
    /// instant out of range.
    pub fn at(at: i64, zone: &Zone) -> Week {
        Week::of(zone.date_of(at).unwrap_or(jiff::civil::date(1970, 1, 1)))
    }

    /// Its name, `2026-W50`.
    pub fn name(&self) -> String {
        let iso = self.monday.iso_week_date();
        format!("{:04}-W{:02}", iso.year(), iso.week())
    }

    /// Its Monday.
    pub fn monday(&self) -> Date {
        self.monday
    }

    /// Its day `index` (0 is Monday).
    pub fn day(&self, index: usize) -> Date {
        let days = i64::try_from(index).unwrap_or(0);
        self.monday
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(self.monday)
    }

    /// Local midnight starting Monday to local midnight ending Sunday, in
    /// `zone`: the span a schedule for this week replaces.
    pub fn bounds(&self, zone: &Zone) -> Result<(i64, i64), String> {
        let out = || format!("week {} is out of range", self.name());
        let start = zone.midnight(self.monday).ok_or_else(out)?;
        let end = zone.midnight(self.day(7)).ok_or_else(out)?;
        Ok((start, end))
    }
}

/// Reads a week's schedule: CSV with the header `operator,day,start,end`
/// (see the module's rules). Every operator must be one of `members`.
/// Returns the shifts, an operator's overlapping or touching rows joined,
/// by operator and start; or the bad rows, each named by its line.
pub fn parse_schedule(
    csv_text: &str,
    week: &Week,
    zone: &Zone,
    members: &[String],
) -> Result<Vec<Shift>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("the schedule is not CSV: {e}"))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>();
    if header != ["operator", "day", "start", "end"] {
        return Err(format!(
            "line 1: the header is \"{}\": the first line must be operator,day,start,end",
            header.join(",")
        ));
    }
    let mut shifts = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(format!(
                "the schedule has more than {MAX_ROWS} rows: give one week per file"
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(i as u64 + 2, |p| p.line());
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        match row(&record, week, zone, members) {
            Ok(shift) => shifts.push(shift),
            Err(e) => errors.push(format!("line {line}: {e}")),
        }
    }
    if !errors.is_empty() {
        let more = errors.len().saturating_sub(MAX_ERRORS);
        errors.truncate(MAX_ERRORS);
        if more > 0 {
            errors.push(format!("and {more} more"));
        }
        return Err(format!("the schedule was not saved: {}", errors.join("; ")));
    }
    Ok(join_shifts(shifts))
}

/// One CSV row as a shift.
fn row(
    record: &csv::StringRecord,
    week: &Week,
    zone: &Zone,
    members: &[String],
) -> Result<Shift, String> {
    if record.len() != 4 {
        return Err(format!(
            "{} fields, 4 are needed: operator,day,start,end (like alice,Mon,08:00,16:00)",
            record.len()
        ));
    }
    let operator = record[0].to_string();
    if !members.contains(&operator) {
        let shown = if operator.is_empty() {
            "(nothing)"
        } else {
            &operator
        };
        return Err(format!(
            "`{shown}` is not a member of the team: add them with `deskhand teams` first, or fix the name"
        ));
    }
    let day = parse_day(&record[1], week)?;
    let start = parse_time(&record[2])?;
    let end = parse_time(&record[3])?;
    if end <= start {
        return Err(format!(
            "{}-{} ends before it starts: a shift past midnight is two rows (22:00-24:00, then 00:00-06:00 the next day)",
            &record[2], &record[3]
        ));
    }
    let out = || format!("{} is out of range", &record[1]);
    Ok(Shift {
        operator,
        starts_at: zone.instant(day, start, false).ok_or_else(out)?,
        ends_at: zone.instant(day, end, true).ok_or_else(out)?,
    })
}

/// `Mon`..`Sun` (or the full name, any case) of the week, or a date in it.
fn parse_day(text: &str, week: &Week) -> Result<Date, String> {
    if let Ok(date) = text.parse::<Date>() {
        if Week::of(date) != *week {
            return Err(format!(
                "{date} is not in week {}: give a day from {} to {}",
                week.name(),
                week.monday(),
                week.day(6)
            ));
        }
        return Ok(date);
    }
    let index = week::parse_day(text, "schedule", text).map_err(|_| {
        format!("unknown day \"{text}\": use Mon, Tue, Wed, Thu, Fri, Sat, Sun or a date like 2026-12-07")
    })?;
    Ok(week.day(usize::from(index)))
}

/// `HH:MM` from 00:00 to 24:00, in minutes after midnight.
fn parse_time(text: &str) -> Result<u16, String> {
    week::parse_time(text, "schedule", text)
        .map_err(|_| format!("bad time \"{text}\": write HH:MM, from 00:00 to 24:00"))
}

/// Joins each operator's overlapping or touching shifts; sorted by
/// operator, then start.
pub fn join_shifts(mut shifts: Vec<Shift>) -> Vec<Shift> {
    shifts.sort_by(|a, b| {
        (a.operator.as_str(), a.starts_at).cmp(&(b.operator.as_str(), b.starts_at))
    });
    let mut joined: Vec<Shift> = Vec::with_capacity(shifts.len());
    for s in shifts {
        match joined.last_mut() {
            Some(last) if last.operator == s.operator && s.starts_at <= last.ends_at => {
                last.ends_at = last.ends_at.max(s.ends_at);
            }
            _ => joined.push(s),
        }
    }
    joined
}

/// A local date and time (`2026-12-07 08:00`, or with a `T`; `24:00`
/// allowed), or with `whole_day` a date alone: its start, or with
/// `end_of_day` the midnight ending it. Unix seconds in `zone`.
pub fn parse_local(text: &str, zone: &Zone, end_of_day: bool) -> Result<i64, String> {
    let text = text.trim();
    let bad = || {
        format!(
            "bad time \"{text}\": write a local date and time like \"2026-12-07 08:00\", or a date like 2026-12-07"
        )
    };
    let (date, minute) = match text.split_once([' ', 'T']) {
        Some((d, t)) => (d, parse_time(t.trim()).map_err(|_| bad())?),
        None if end_of_day => (text, MINUTES_PER_DAY),
        None => (text, 0),
    };
    let date: Date = date.parse().map_err(|_| bad())?;
    zone.instant(date, minute, minute == MINUTES_PER_DAY || end_of_day)
        .ok_or_else(bad)
}

/// What [`on_shift`] knows of a team.
#[derive(Debug, Clone, Copy)]
pub struct TeamHours<'a> {
    /// The team's members.
    pub members: &'a [String],
    /// Its business hours; `None` is always working.
    pub calendar: Option<&'a Calendar>,
    /// The members that have any shift rows in the team at all.
    pub scheduled: &'a BTreeSet<String>,
}

/// The team's members on shift at `now`, by name: those with a shift
/// covering `now`, and those with no shift rows at all when `now` is the
/// team's working time; never one absent at `now`.
pub fn on_shift(
    team: TeamHours<'_>,
    shifts: &[Shift],
    absences: &[Absence],
    now: i64,
) -> Vec<String> {
    let covers = |from: i64, to: i64| from <= now && now < to;
    let working = team.calendar.is_none_or(|c| c.is_working(now));
    let mut out: Vec<String> = team
        .members
        .iter()
        .filter(|m| {
            if team.scheduled.contains(*m) {
                shifts
                    .iter()
                    .any(|s| &s.operator == *m && covers(s.starts_at, s.ends_at))
            } else {
                working
            }
        })
        .filter(|m| {
            !absences
                .iter()
                .any(|a| &a.operator == *m && covers(a.starts_at, a.ends_at))
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One operator's hours on one local day of a week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayHours {
    /// Who.
    pub operator: String,
    /// 0 is Monday.
    pub day: usize,
    /// Local minutes after midnight.
    pub start: u16,
    /// Local minutes after midnight, up to 1440.
    pub end: u16,
}

impl DayHours {
    /// `08:00-16:00`.
    pub fn text(&self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// The shifts as local hours per day of `week` in `zone`, split at local
/// midnight; parts outside the week are left out.
pub fn week_hours(shifts: &[Shift], week: &Week, zone: &Zone) -> Vec<DayHours> {
    let mut out = Vec::new();
    for day in 0..7 {
        let date = week.day(day);
        let (Some(from), Some(to)) = (zone.midnight(date), zone.midnight(week.day(day + 1))) else {
            continue;
        };
        for s in shifts {
            let start = s.starts_at.max(from);
            let end = s.ends_at.min(to);
            if start >= end {
                continue;
            }
            out.push(DayHours {
                operator: s.operator.clone(),
                day,
                start: local_minute(zone, start),
                end: if end == to {
                    MINUTES_PER_DAY
                } else {
                    local_minute(zone, end)
                },
            });
        }
    }
    out
}

/// The local minutes after midnight of an instant.
fn local_minute(zone: &Zone, at: i64) -> u16 {
    let Ok(ts) = Timestamp::from_second(at) else {
        return 0;
    };
    let t = zone.tz.to_datetime(ts).time();
    u16::try_from(i32::from(t.hour()) * 60 + i32::from(t.minute())).unwrap_or(0)
}

/// The day names, Monday first.
pub fn day_names() -> [&'static str; 7] {
    DAY_NAMES
}

#[cfg(test)]
mod tests;
