//! The supervisors' ticket report, as arithmetic over [`TicketFacts`].
//!
//! Periods are UTC calendar days, ISO weeks (Monday to Sunday) or
//! calendar months. Definitions:
//!
//! - *opened*: created in the period; *resolved*: last resolved in the
//!   period (a resolved or closed ticket's latest resolution).
//! - *backlog*: created before the period's end and not resolved by then.
//! - *first-response and resolution times*: SLA running time (pauses
//!   excluded) of the tickets first answered, respectively resolved, in
//!   the period.
//! - *median*: the middle value, or the mean of the two middle values
//!   rounded down to the second; *p90*: nearest rank, the value at
//!   position ⌈0.9·n⌉ of the sorted values.
//! - *SLA compliance*: of the tickets resolved in the period, the share
//!   that met both their first-response and resolution targets.
//! - *satisfaction*: mean of the ratings given in the period.
//! - by *channel* and the *requesters' side* (their own ratings, the
//!   survey's response rate, knowledge-base deflections): see
//!   [`requesters`].
//! - *time logged*: the effort technicians logged on tickets, by when the
//!   work was done and who did it: see [`effort`].

use std::collections::BTreeMap;

use time::{Date, Duration, Month, OffsetDateTime, Weekday};

use super::Channel;

pub mod effort;
pub mod groups;
pub mod requesters;
pub mod schedule;

pub use requesters::{ChannelRow, RequesterCounts, RequesterRow};

/// What the report needs of one ticket, already evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFacts {
    /// Ticket number.
    pub number: i64,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// First response, unix seconds.
    pub first_response_at: Option<i64>,
    /// SLA running seconds to the first response.
    pub response_secs: Option<i64>,
    /// Latest resolution, if resolved or closed now.
    pub resolved_at: Option<i64>,
    /// SLA running seconds to that resolution.
    pub resolution_secs: Option<i64>,
    /// First response within its target.
    pub response_met: bool,
    /// Resolution within its target.
    pub resolution_met: bool,
    /// Current assignee.
    pub assignee: Option<String>,
    /// Satisfaction, 1 to 5.
    pub rating: Option<i64>,
    /// When it was rated.
    pub rated_at: Option<i64>,
    /// Rated by its requester (portal, survey), not typed in for them.
    pub rated_by_requester: bool,
    /// Where it came from.
    pub channel: Channel,
    /// Linked assets (id, name).
    pub assets: Vec<(String, String)>,
    /// The software it is about, if given.
    pub software: String,
    /// New, open or pending now.
    pub active: bool,
    /// Its category (`software`, ...), empty if none.
    pub category: String,
    /// Its team, if any.
    pub team: Option<String>,
}

/// Length of a report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// UTC days.
    Daily,
    /// ISO weeks, Monday to Sunday.
    Weekly,
    /// Calendar months.
    Monthly,
}

impl Period {
    /// Parses `daily`, `weekly` or `monthly`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Ok(Period::Daily),
            "weekly" | "week" => Ok(Period::Weekly),
            "monthly" | "month" => Ok(Period::Monthly),
            _ => Err(format!(
                "unknown period `{s}`: use daily, weekly or monthly"
            )),
        }
    }

    /// The name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    /// How far back a report goes when no start is given.
    pub fn default_span(self) -> i64 {
        match self {
            Period::Daily => 14 * 86400,
            Period::Weekly => 8 * 7 * 86400,
            Period::Monthly => 183 * 86400,
        }
    }
}

fn date_of(unix: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date()
}

fn unix_of(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp()
}

/// The start of the period that contains `unix`.
pub fn period_start(period: Period, unix: i64) -> i64 {
    let d = date_of(unix);
    let start = match period {
        Period::Daily => d,
        Period::Weekly => d
            .checked_sub(Duration::days(i64::from(
                d.weekday().number_days_from_monday(),
            )))
            .unwrap_or(d),
        Period::Monthly => d.replace_day(1).unwrap_or(d),
    };
    unix_of(start)
}

/// The start of the next period; `i64::MAX` past the calendar's end.
fn next_start(period: Period, start: i64) -> i64 {
    let d = date_of(start);
    let next = match period {
        Period::Daily => d.checked_add(Duration::days(1)),
        Period::Weekly => d.checked_add(Duration::days(7)),
        Period::Monthly => {
            let (y, m) = if d.month() == Month::December {
                (d.year() + 1, Month::January)
            } else {
                (d.year(), d.month().next())
            };
            Date::from_calendar_date(y, m, 1).ok()
        }
    };
    next.map_or(i64::MAX, unix_of)
}

/// The periods covering `[from, to)`: the first starts at the start of
/// the period containing `from`. At most 1,000.
pub fn periods(period: Period, from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut start = period_start(period, from);
    while start < to && out.len() < 1000 {
        let end = next_start(period, start);
        out.push((start, end));
        start = end;
    }
    out
}

/// Parses a report bound: `YYYY-MM-DD` (UTC midnight) or an RFC 3339
/// time, in UTC (`Z` optional, seconds too: `2026-11-24T09:00`).
pub fn parse_day(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let parts: Vec<&str> = t.split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>())
    {
        let month = Month::try_from(m).map_err(|_| format!("`{t}`: there is no month {m}"))?;
        let date = Date::from_calendar_date(y, month, d)
            .map_err(|_| format!("`{t}` is not a date in the calendar"))?;
        return Ok(unix_of(date));
    }
    let with_seconds;
    let stamp = if t.len() == 16 {
        with_seconds = format!("{t}:00");
        &with_seconds
    } else {
        t
    };
    humantime::parse_rfc3339_weak(stamp)
        .ok()
        .and_then(|st| st.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or_else(|| format!("`{t}` is not a date such as 2026-11-01 or 2026-11-01T08:00:00Z"))
}

/// The median of some values (mean of the middle two, rounded down).
pub fn median(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => {
            let sum = i128::from(v[n / 2 - 1]) + i128::from(v[n / 2]);
            i64::try_from(sum.div_euclid(2)).ok()
        }
    }
}

/// The nearest-rank percentile `p` (0 < p ≤ 100) of some values.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * v.len() as u64).div_ceil(100).max(1);
    v.get(usize::try_from(rank - 1).unwrap_or(0)).copied()
}

pub(super) fn mean(values: &[i64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<i64>() as f64 / values.len() as f64)
}

pub(super) fn percent(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64) * 100.0 / (whole as f64))
}

/// Times of a set of tickets: median and p90, seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Times {
    /// How many values.
    pub count: usize,
    /// Median.
    pub median: Option<i64>,
    /// 90th percentile.
    pub p90: Option<i64>,
}

impl Times {
    fn of(values: &[i64]) -> Self {
        Self {
            count: values.len(),
            median: median(values),
            p90: percentile(values, 90),
        }
    }
}

/// One row per period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodRow {
    /// Start, unix seconds.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// Tickets created.
    pub opened: usize,
    /// Tickets resolved.
    pub resolved: usize,
    /// Unresolved at the end of the period.
    pub backlog: usize,
    /// First-response times.
    pub first_response: Times,
    /// Resolution times.
    pub resolution: Times,
    /// Resolved tickets that met both targets, percent.
    pub sla_compliance: Option<f64>,
    /// Mean rating.
    pub satisfaction: Option<f64>,
    /// How many ratings.
    pub ratings: usize,
    /// Time logged in the period, seconds ([`effort::add_effort`]).
    pub time_logged: i64,
}

/// One row per technician, over the whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct TechnicianRow {
    /// Operator name, or `(unassigned)`.
    pub technician: String,
    /// Their tickets still active now.
    pub open_now: usize,
    /// Their tickets resolved in the report's span.
    pub resolved: usize,
    /// First-response times of their tickets answered in the span.
    pub first_response: Times,
    /// Resolution times of their tickets resolved in the span.
    pub resolution: Times,
    /// Of those resolved, the share that met both targets, percent.
    pub sla_compliance: Option<f64>,
    /// Mean rating of their tickets rated in the span.
    pub satisfaction: Option<f64>,
    /// Time they logged in the span, on any ticket, seconds.
    pub time_logged: i64,
}

/// Age of the tickets still active now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BacklogAge {
    /// How many.
    pub count: usize,
    /// Median age, seconds.
    pub median: Option<i64>,
    /// 90th percentile age.
    pub p90: Option<i64>,
    /// Oldest.
    pub oldest: Option<i64>,
    /// Counts younger than 1 day, 1-3 days, 3-7 days, older.
    pub buckets: [usize; 4],
}

/// Something tickets are counted by: an asset or a software name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRow {
    /// Id (asset id, or the software name).
    pub key: String,
    /// Name shown.
    pub name: String,
    /// Tickets opened in the span.
    pub tickets: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Period length.
    pub period: Period,
    /// Start of the first period.
    pub from: i64,
    /// End of the last period.
    pub to: i64,
    /// One row per period.
    pub periods: Vec<PeriodRow>,
    /// The whole span in one row.
    pub total: PeriodRow,
    /// One row per technician.
    pub technicians: Vec<TechnicianRow>,
    /// The backlog now.
    pub backlog_age: BacklogAge,
    /// Assets with the most tickets opened in the span (top 10).
    pub top_assets: Vec<TopRow>,
    /// Software with the most tickets opened in the span (top 10).
    pub top_software: Vec<TopRow>,
    /// One row per channel, in [`Channel::ALL`] order.
    pub channels: Vec<ChannelRow>,
    /// The requesters' side over the whole span.
    pub requesters: RequesterRow,
}

pub(super) fn in_span(t: Option<i64>, start: i64, end: i64) -> bool {
    t.is_some_and(|t| t >= start && t < end)
}

pub(super) fn row(facts: &[&TicketFacts], start: i64, end: i64) -> PeriodRow {
    let opened = facts
        .iter()
        .filter(|f| in_span(Some(f.created_at), start, end))
        .count();
    let resolved: Vec<&&TicketFacts> = facts
        .iter()
        .filter(|f| in_span(f.resolved_at, start, end))
        .collect();
    let backlog = facts
        .iter()
        .filter(|f| f.created_at < end && f.resolved_at.is_none_or(|r| r >= end))
        .count();
    let responses: Vec<i64> = facts
        .iter()
        .filter(|f| in_span(f.first_response_at, start, end))
        .filter_map(|f| f.response_secs)
        .collect();
    let resolutions: Vec<i64> = resolved.iter().filter_map(|f| f.resolution_secs).collect();
    let met = resolved
        .iter()
        .filter(|f| f.response_met && f.resolution_met)
        .count();
    let ratings: Vec<i64> = facts
        .iter()
        .filter(|f| in_span(f.rated_at, start, end))
        .filter_map(|f| f.rating)
        .collect();
    PeriodRow {
        start,
        end,
        opened,
        resolved: resolved.len(),
        backlog,
        first_response: Times::of(&responses),
        resolution: Times::of(&resolutions),
        sla_compliance: percent(met, resolved.len()),
        satisfaction: mean(&ratings),
        ratings: ratings.len(),
        time_logged: 0,
    }
}

fn top(counts: BTreeMap<String, (String, usize)>) -> Vec<TopRow> {
    let mut rows: Vec<TopRow> = counts
        .into_iter()
        .map(|(key, (name, tickets))| TopRow { key, name, tickets })
        .collect();
    rows.sort_by(|a, b| b.tickets.cmp(&a.tickets).then_with(|| a.name.cmp(&b.name)));
    rows.truncate(10);
    rows
}

/// Builds the report for `[from, to)` (widened to whole periods) at `now`.
/// `counts` are the requesters' side the tickets do not hold (surveys,
/// deflections), counted by the store over the same span.
pub fn build(
    facts: &[TicketFacts],
    counts: RequesterCounts,
    period: Period,
    from: i64,
    to: i64,
    now: i64,
) -> Report {
    let spans = periods(period, from, to);
    let (from, to) = match (spans.first(), spans.last()) {
        (Some(a), Some(b)) => (a.0, b.1),
        _ => (from, to),
    };
    let all: Vec<&TicketFacts> = facts.iter().collect();
    let periods = spans.iter().map(|&(s, e)| row(&all, s, e)).collect();
    let total = row(&all, from, to);

    let mut by_tech: BTreeMap<String, Vec<&TicketFacts>> = BTreeMap::new();
    for f in facts {
        let name = f.assignee.clone().unwrap_or_else(|| "(unassigned)".into());
        by_tech.entry(name).or_default().push(f);
    }
    // The unassigned come last, after the people.
    let unassigned = by_tech.remove("(unassigned)");
    let technicians = by_tech
        .into_iter()
        .chain(unassigned.map(|u| ("(unassigned)".to_string(), u)))
        .map(|(technician, mine)| {
            let r = row(&mine, from, to);
            TechnicianRow {
                technician,
                open_now: mine.iter().filter(|f| f.active).count(),
                resolved: r.resolved,
                first_response: r.first_response,
                resolution: r.resolution,
                sla_compliance: r.sla_compliance,
                satisfaction: r.satisfaction,
                time_logged: 0,
            }
        })
        .collect();

    let ages: Vec<i64> = facts
        .iter()
        .filter(|f| f.active)
        .map(|f| (now - f.created_at).max(0))
        .collect();
    let mut buckets = [0usize; 4];
    for a in &ages {
        let i = match *a {
            a if a < 86400 => 0,
            a if a < 3 * 86400 => 1,
            a if a < 7 * 86400 => 2,
            _ => 3,
        };
        buckets[i] += 1;
    }
    let backlog_age = BacklogAge {
        count: ages.len(),
        median: median(&ages),
        p90: percentile(&ages, 90),
        oldest: ages.iter().max().copied(),
        buckets,
    };

    let mut assets = BTreeMap::new();
    let mut software = BTreeMap::new();
    for f in facts
        .iter()
        .filter(|f| in_span(Some(f.created_at), from, to))
    {
        for (id, name) in &f.assets {
            assets.entry(id.clone()).or_insert((name.clone(), 0)).1 += 1;
        }
        if !f.software.is_empty() {
            let key = f.software.to_lowercase();
            software.entry(key).or_insert((f.software.clone(), 0)).1 += 1;
        }
    }
    Report {
        period,
        from,
        to,
        periods,
        total,
        technicians,
        backlog_age,
        top_assets: top(assets),
        top_software: top(software),
        channels: requesters::by_channel(facts, from, to),
        requesters: requesters::requester_row(facts, counts, from, to),
    }
}

/// The weekday name of a unix time, for readable period labels.
pub fn weekday(unix: i64) -> Weekday {
    date_of(unix).weekday()
}

#[cfg(test)]
mod tests;
