//! SLA clocks, pure: fed a ticket's status changes and `now`.
//!
//! Each ticket has two clocks, with targets taken from its priority when
//! it is created:
//!
//! - **first response**: from creation to the first public reply to the
//!   requester (a public comment, or setting the ticket pending or
//!   resolved). Internal notes and assignments are not a response.
//! - **resolution**: from creation to resolution.
//!
//! Both count the working time of a [`Calendar`] (the ticket's team's
//! business hours; [`Calendar::always`], every second, for tickets with
//! no team or calendar and for priorities the policy keeps "around the
//! clock") while the ticket is new or open. They pause while it is
//! pending on the requester, and the resolution clock stops while it is
//! resolved: a reopened ticket carries on from where its clock stood. A
//! clock is *breached* once its running time exceeds its target, which
//! can only happen in working time; a ticket is *at risk* ("about to
//! breach", what `tickets list --breaching` shows) when a clock that is
//! not done has run out, or is running with at most the policy's warning
//! window of working time left.

use super::calendar::Calendar;
use super::{Priority, Status};

/// Targets of one priority, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    /// Time to the first response.
    pub first_response: i64,
    /// Time to resolution.
    pub resolution: i64,
}

/// Targets per priority and the warning window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// Urgent tickets.
    pub urgent: SlaTargets,
    /// High-priority tickets.
    pub high: SlaTargets,
    /// Normal tickets.
    pub normal: SlaTargets,
    /// Low-priority tickets.
    pub low: SlaTargets,
    /// A running clock with at most this many seconds left is "about to
    /// breach".
    pub warning: i64,
    /// Priorities whose clocks count every second whatever the team's
    /// calendar says ("24/7"); by default urgent.
    pub around_the_clock: Vec<Priority>,
}

const HOUR: i64 = 3600;
const DAY: i64 = 86400;

impl Default for SlaPolicy {
    fn default() -> Self {
        Self {
            urgent: SlaTargets {
                first_response: HOUR / 2,
                resolution: 4 * HOUR,
            },
            high: SlaTargets {
                first_response: HOUR,
                resolution: 8 * HOUR,
            },
            normal: SlaTargets {
                first_response: 4 * HOUR,
                resolution: 3 * DAY,
            },
            low: SlaTargets {
                first_response: DAY,
                resolution: 7 * DAY,
            },
            warning: HOUR,
            around_the_clock: vec![Priority::Urgent],
        }
    }
}

impl SlaPolicy {
    /// The targets of a priority.
    pub fn targets(&self, p: Priority) -> SlaTargets {
        match p {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }

    /// The calendar a ticket of priority `p` counts in: every second for
    /// priorities kept around the clock and tickets whose team has no
    /// calendar, else its team's.
    pub fn calendar_for<'a>(&self, p: Priority, team: Option<&'a Calendar>) -> &'a Calendar {
        match team {
            Some(c) if !self.around_the_clock.contains(&p) => c,
            _ => Calendar::always(),
        }
    }

    pub(crate) fn targets_mut(&mut self, p: Priority) -> &mut SlaTargets {
        match p {
            Priority::Urgent => &mut self.urgent,
            Priority::High => &mut self.high,
            Priority::Normal => &mut self.normal,
            Priority::Low => &mut self.low,
        }
    }
}

/// A status change, as the clocks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// When, unix seconds.
    pub at: i64,
    /// The new status.
    pub to: Status,
}

/// What a clock is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Counting; due at `now + remaining`.
    Running,
    /// The ticket is pending on the requester.
    Paused,
    /// Done: responded, or resolved.
    Stopped,
}

/// One SLA clock of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Target, seconds of working time.
    pub target: i64,
    /// Working time counted so far (until done), seconds.
    pub elapsed: i64,
    /// `target - elapsed`; negative once breached.
    pub remaining: i64,
    /// Counting, paused or stopped.
    pub state: ClockState,
    /// Responded (first response) or resolved (resolution).
    pub done: bool,
    /// The running time exceeded the target.
    pub breached: bool,
    /// While running: when it runs out (in the future) or ran out (in the
    /// past, once breached), in the calendar's working time. `None` when
    /// paused or stopped, or beyond the calendar's horizon.
    pub due: Option<i64>,
}

impl Clock {
    fn at_risk(&self, warning: i64) -> bool {
        !self.done
            && (self.breached || (self.state == ClockState::Running && self.remaining <= warning))
    }
}

/// Both clocks of a ticket at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaStatus {
    /// Time to the first response.
    pub first_response: Clock,
    /// Time to resolution.
    pub resolution: Clock,
    /// About to breach or breached, and not done: see the module docs.
    pub at_risk: bool,
}

/// The intervals `[from, to)` within `[created_at, until)` during which
/// the ticket was new or open, given its status changes (any order; a
/// ticket starts new), in order.
pub fn running_intervals(created_at: i64, changes: &[StatusChange], until: i64) -> Vec<(i64, i64)> {
    let mut sorted = changes.to_vec();
    sorted.sort_by_key(|c| c.at);
    let mut out = Vec::new();
    let mut since = created_at;
    let mut status = Status::New;
    for c in sorted {
        let at = c.at.clamp(created_at, until.max(created_at));
        if status.clock_runs() && at > since {
            out.push((since, at));
        }
        since = at;
        status = c.to;
    }
    if status.clock_runs() && until > since {
        out.push((since, until));
    }
    out
}

/// Working time of `calendar` in `[created_at, until)` during which the
/// ticket was new or open.
pub fn running_secs(
    created_at: i64,
    changes: &[StatusChange],
    until: i64,
    calendar: &Calendar,
) -> i64 {
    running_intervals(created_at, changes, until)
        .into_iter()
        .map(|(from, to)| calendar.working_secs(from, to))
        .sum()
}

/// The instant the running time reached `target`, if it did before
/// `until`.
fn ran_out_at(
    created_at: i64,
    changes: &[StatusChange],
    until: i64,
    target: i64,
    calendar: &Calendar,
) -> Option<i64> {
    let mut counted = 0;
    for (from, to) in running_intervals(created_at, changes, until) {
        let w = calendar.working_secs(from, to);
        if counted + w >= target {
            return calendar.due(from, target - counted);
        }
        counted += w;
    }
    None
}

/// The status a ticket has after its changes.
pub fn current_status(changes: &[StatusChange]) -> Status {
    changes
        .iter()
        .max_by_key(|c| c.at)
        .map_or(Status::New, |c| c.to)
}

/// Evaluates both clocks at `now`, counting `calendar`'s working time.
pub fn evaluate(
    created_at: i64,
    targets: SlaTargets,
    first_response_at: Option<i64>,
    changes: &[StatusChange],
    warning: i64,
    now: i64,
    calendar: &Calendar,
) -> SlaStatus {
    let status = current_status(changes);
    let clock = |target: i64, done: bool, until: i64| {
        let elapsed = running_secs(created_at, changes, until, calendar);
        let state = if done {
            ClockState::Stopped
        } else if status.clock_runs() {
            ClockState::Running
        } else {
            ClockState::Paused
        };
        let remaining = target - elapsed;
        let due = match state {
            ClockState::Running if remaining >= 0 => calendar.due(now, remaining),
            ClockState::Running => ran_out_at(created_at, changes, now, target, calendar),
            _ => None,
        };
        Clock {
            target,
            elapsed,
            remaining,
            state,
            done,
            breached: elapsed > target,
            due,
        }
    };
    let first_response = clock(
        targets.first_response,
        first_response_at.is_some(),
        first_response_at.unwrap_or(now).min(now),
    );
    let resolution = clock(
        targets.resolution,
        matches!(status, Status::Resolved | Status::Closed),
        now,
    );
    SlaStatus {
        at_risk: first_response.at_risk(warning) || resolution.at_risk(warning),
        first_response,
        resolution,
    }
}

#[cfg(test)]
mod tests;
