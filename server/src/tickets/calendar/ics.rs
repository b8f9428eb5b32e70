//! Holidays from an iCalendar file (RFC 5545, as calendar programs and
//! public-holiday feeds export them): the local dates its events cover.
//! The file is untrusted: its size, its number of events and the length
//! of each event are bounded, and what is not understood is skipped.
//!
//! - `DTSTART;VALUE=DATE:20261225` is that date; a `DTSTART` with a time
//!   (`20261225T090000`, `...Z`, with a `TZID`) is the date as written.
//! - An all-day event with a `DTEND` date covers each day from its start
//!   up to `DTEND`, exclusive; without one (or with a time) it is one day.
//! - Other properties (`SUMMARY`, `RRULE`, `DURATION`...) and other
//!   components (`VTIMEZONE`, `VTODO`, an event's `VALARM`) are ignored:
//!   a recurring event counts once, on its first date.

use std::collections::BTreeSet;

use jiff::civil::Date;

/// The largest file read, in bytes.
pub const MAX_ICS_BYTES: usize = 4 << 20;

/// The most events one file may have.
pub const MAX_EVENTS: usize = 5000;

/// The most days one event may cover.
pub const MAX_EVENT_DAYS: usize = 366;

const HINT: &str =
    "export the holidays as an iCalendar (.ics) file, with events like DTSTART;VALUE=DATE:20261225";

/// The dates (sorted, each once) the events of an iCalendar file cover;
/// an error naming the line for a file that is not iCalendar, is cut
/// short, has an event without a start or a start that is not a date, or
/// is over the bounds.
pub fn holidays_from_ics(text: &str) -> Result<Vec<Date>, String> {
    if text.len() > MAX_ICS_BYTES {
        return Err(format!(
            "the holidays file is {} bytes, at most {MAX_ICS_BYTES} are read: keep only the years you need",
            text.len()
        ));
    }
    if text.contains('\0') {
        return Err(format!(
            "the holidays file holds binary data, not iCalendar text: {HINT}"
        ));
    }
    let lines = unfold(text);
    if !lines
        .iter()
        .any(|(_, l)| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(format!(
            "the holidays file is not iCalendar: it has no BEGIN:VCALENDAR line; {HINT}"
        ));
    }
    let mut dates = BTreeSet::new();
    let mut events = 0usize;
    let mut event: Option<Event> = None;
    for (n, line) in &lines {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = split_property(line) else {
            return Err(format!(
                "line {n} of the holidays file is not an iCalendar property (NAME:VALUE): {HINT}"
            ));
        };
        let value = value.trim();
        match (name.to_ascii_uppercase().as_str(), event.as_mut()) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                event = Some(Event::new(*n));
            }
            ("BEGIN", Some(e)) => e.nested += 1,
            ("END", Some(e)) if e.nested > 0 => e.nested -= 1,
            ("END", Some(e)) if value.eq_ignore_ascii_case("VEVENT") => {
                events += 1;
                if events > MAX_EVENTS {
                    return Err(format!(
                        "the holidays file has more than {MAX_EVENTS} events: keep only the years you need"
                    ));
                }
                e.dates(&mut dates)?;
                event = None;
            }
            ("END", Some(e)) => {
                return Err(format!(
                    "line {n} of the holidays file ends {value} inside the event begun on line {}: the file is damaged, export it again",
                    e.line
                ));
            }
            ("DTSTART", Some(e)) if e.nested == 0 => {
                e.start = Some(parse_date(value, *n, "DTSTART")?);
            }
            ("DTEND", Some(e)) if e.nested == 0 => {
                // A DTEND with a time ends a timed event: its start's day.
                let end = parse_date(value, *n, "DTEND")?;
                e.end = end.1.then_some(end.0);
            }
            _ => {}
        }
    }
    if let Some(e) = event {
        return Err(format!(
            "the event begun on line {} of the holidays file has no END:VEVENT: the file is cut short, export it again",
            e.line
        ));
    }
    Ok(dates.into_iter().collect())
}

/// An event being read.
struct Event {
    /// The line of its BEGIN:VEVENT.
    line: usize,
    /// Its start date, and whether it had no time.
    start: Option<(Date, bool)>,
    /// Its all-day end date (exclusive).
    end: Option<Date>,
    /// How deep inside components of its own (VALARM) the reader is.
    nested: usize,
}

impl Event {
    fn new(line: usize) -> Event {
        Event {
            line,
            start: None,
            end: None,
            nested: 0,
        }
    }

    /// Adds the dates it covers.
    fn dates(&self, dates: &mut BTreeSet<Date>) -> Result<(), String> {
        let Some((start, all_day)) = self.start else {
            return Err(format!(
                "the event begun on line {} of the holidays file has no DTSTART: give each holiday a date, like DTSTART;VALUE=DATE:20261225",
                self.line
            ));
        };
        dates.insert(start);
        let Some(end) = self.end.filter(|_| all_day) else {
            return Ok(());
        };
        let mut day = start;
        for _ in 0..MAX_EVENT_DAYS {
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => return Ok(()),
            };
            if day >= end {
                return Ok(());
            }
            dates.insert(day);
        }
        Err(format!(
            "the event begun on line {} of the holidays file lasts more than {MAX_EVENT_DAYS} days: a holiday is shorter, check its DTEND",
            self.line
        ))
    }
}

/// The logical lines, with the number of the physical line each starts
/// on: a line beginning with a space or a tab continues the one before.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.1.push_str(rest),
            _ => lines.push((i + 1, raw.to_string())),
        }
    }
    lines
}

/// `NAME;PARAMS:VALUE` as its name and value, split at the first colon
/// outside quotes; parameters are not needed.
fn split_property(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    let colon = line.char_indices().find_map(|(i, c)| match c {
        '"' => {
            quoted = !quoted;
            None
        }
        ':' if !quoted => Some(i),
        _ => None,
    })?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let name = head.split_once(';').map_or(head, |(name, _)| name).trim();
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    valid.then_some((name, value))
}

/// `YYYYMMDD`, or `YYYYMMDDTHHMMSS` with an optional `Z`: the date, and
/// whether there was no time.
fn parse_date(value: &str, line: usize, name: &str) -> Result<(Date, bool), String> {
    let bad = |why: &str| {
        format!(
            "line {line} of the holidays file: {name} \"{value}\" {why}: write dates like 20261225 or 20261225T090000"
        )
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = match value.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    if date.len() != 8 || !digits(date) {
        return Err(bad("is not a date"));
    }
    if let Some(t) = time {
        let t = t.strip_suffix(['Z', 'z']).unwrap_or(t);
        if t.len() != 6 || !digits(t) {
            return Err(bad("has a time that is not HHMMSS"));
        }
    }
    let year = date.get(0..4).and_then(|s| s.parse::<i16>().ok());
    let month = date.get(4..6).and_then(|s| s.parse::<i8>().ok());
    let day = date.get(6..8).and_then(|s| s.parse::<i8>().ok());
    let (Some(y), Some(m), Some(d)) = (year, month, day) else {
        return Err(bad("is not a date"));
    };
    let date = Date::new(y, m, d).map_err(|_| bad("is not a day of the calendar"))?;
    Ok((date, time.is_none()))
}

#[cfg(test)]
mod tests;
