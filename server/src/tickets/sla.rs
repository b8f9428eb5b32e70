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
//! Both count wall-clock time (24/7, no business hours) while the ticket
//! is new or open. They pause while it is pending on the requester, and
//! the resolution clock stops while it is resolved: a reopened ticket
//! carries on from where its clock stood. A clock is *breached* once its
//! running time exceeds its target; a ticket is *at risk* ("about to
//! breach", what `tickets list --breaching` shows) when a clock that is
//! not done has run out, or is running with at most the policy's warning
//! window left.

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
    /// Target, seconds.
    pub target: i64,
    /// Running time so far (until done), seconds.
    pub elapsed: i64,
    /// `target - elapsed`; negative once breached.
    pub remaining: i64,
    /// Counting, paused or stopped.
    pub state: ClockState,
    /// Responded (first response) or resolved (resolution).
    pub done: bool,
    /// The running time exceeded the target.
    pub breached: bool,
}

impl Clock {
    /// When it runs out, if it is running now.
    pub fn due_at(&self, now: i64) -> Option<i64> {
        (self.state == ClockState::Running).then(|| now.saturating_add(self.remaining))
    }

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

/// Seconds in `[created_at, until)` during which the ticket was new or
/// open, given its status changes (any order; a ticket starts new).
pub fn running_secs(created_at: i64, changes: &[StatusChange], until: i64) -> i64 {
    let mut sorted = changes.to_vec();
    sorted.sort_by_key(|c| c.at);
    let mut total = 0;
    let mut since = created_at;
    let mut status = Status::New;
    for c in sorted {
        let at = c.at.clamp(created_at, until.max(created_at));
        if status.clock_runs() {
            total += at - since;
        }
        since = at;
        status = c.to;
    }
    if status.clock_runs() && until > since {
        total += until - since;
    }
    total
}

/// The status a ticket has after its changes.
pub fn current_status(changes: &[StatusChange]) -> Status {
    changes
        .iter()
        .max_by_key(|c| c.at)
        .map_or(Status::New, |c| c.to)
}

/// Evaluates both clocks at `now`.
pub fn evaluate(
    created_at: i64,
    targets: SlaTargets,
    first_response_at: Option<i64>,
    changes: &[StatusChange],
    warning: i64,
    now: i64,
) -> SlaStatus {
    let status = current_status(changes);
    let clock = |target: i64, done: bool, until: i64| {
        let elapsed = running_secs(created_at, changes, until);
        let state = if done {
            ClockState::Stopped
        } else if status.clock_runs() {
            ClockState::Running
        } else {
            ClockState::Paused
        };
        Clock {
            target,
            elapsed,
            remaining: target - elapsed,
            state,
            done,
            breached: elapsed > target,
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
mod tests {
    use super::*;
    use Status::*;

    const T: SlaTargets = SlaTargets {
        first_response: 100,
        resolution: 1000,
    };

    fn ch(at: i64, to: Status) -> StatusChange {
        StatusChange { at, to }
    }

    #[test]
    fn a_running_clock_counts_wall_time_and_knows_its_due_time() {
        let s = evaluate(1000, T, None, &[], 30, 1040);
        assert_eq!(s.first_response.elapsed, 40);
        assert_eq!(s.first_response.remaining, 60);
        assert_eq!(s.first_response.due_at(1040), Some(1100));
        assert_eq!(s.resolution.due_at(1040), Some(2000));
        assert!(!s.at_risk);
        // 20 s left of the first response: inside the 30 s warning window.
        let s = evaluate(1000, T, None, &[], 30, 1080);
        assert!(s.at_risk && !s.first_response.breached);
        let s = evaluate(1000, T, None, &[], 30, 1101);
        assert!(s.first_response.breached && s.at_risk);
    }

    #[test]
    fn a_response_stops_the_first_clock_met_or_late() {
        let s = evaluate(0, T, Some(60), &[ch(10, Open)], 30, 500);
        assert_eq!(s.first_response.elapsed, 60);
        assert_eq!(s.first_response.state, ClockState::Stopped);
        assert!(!s.first_response.breached);
        let late = evaluate(0, T, Some(150), &[ch(10, Open)], 30, 500);
        assert!(late.first_response.breached && late.first_response.done);
        // A late response is history, not a risk.
        assert!(!late.at_risk);
    }

    #[test]
    fn pending_pauses_the_clock() {
        // open at 0, pending 100..400, open again: 300 s are not counted.
        let changes = [ch(50, Open), ch(100, Pending), ch(400, Open)];
        let s = evaluate(0, T, Some(100), &changes, 30, 1000);
        assert_eq!(s.resolution.elapsed, 700);
        assert_eq!(s.resolution.due_at(1000), Some(1300));
        // While pending, the clock is paused and has no due time.
        let s = evaluate(0, T, Some(100), &changes[..2], 30, 1000);
        assert_eq!(s.resolution.elapsed, 100);
        assert_eq!(s.resolution.state, ClockState::Paused);
        assert_eq!(s.resolution.due_at(1000), None);
        assert!(!s.at_risk, "a paused clock with time left is not at risk");
    }

    #[test]
    fn several_pauses_add_up() {
        let changes = [
            ch(100, Pending),
            ch(200, Open),
            ch(300, Pending),
            ch(600, Open),
            ch(700, Pending),
            ch(800, Open),
        ];
        // Running: 0-100, 200-300, 600-700, 800-1500 = 100+100+100+700.
        assert_eq!(running_secs(0, &changes, 1500), 1000);
        let s = evaluate(0, T, Some(100), &changes, 30, 1500);
        assert!(!s.resolution.breached);
        assert_eq!(s.resolution.remaining, 0);
        assert!(s.at_risk, "no time left is about to breach");
        let s = evaluate(0, T, Some(100), &changes, 30, 1501);
        assert!(s.resolution.breached);
        // The changes may come in any order.
        let mut shuffled = changes;
        shuffled.reverse();
        assert_eq!(running_secs(0, &shuffled, 1500), 1000);
    }

    #[test]
    fn a_reopened_ticket_carries_on_from_where_its_clock_stood() {
        // Resolved at 400, reopened at 900, resolved again at 1300.
        let changes = [ch(10, Open), ch(400, Resolved), ch(900, Open)];
        let s = evaluate(0, T, Some(10), &changes[..2], 30, 800);
        assert!(s.resolution.done);
        assert_eq!(s.resolution.elapsed, 400);
        assert_eq!(s.resolution.state, ClockState::Stopped);
        let s = evaluate(0, T, Some(10), &changes, 30, 1000);
        assert!(!s.resolution.done);
        assert_eq!(s.resolution.elapsed, 500);
        assert_eq!(s.resolution.due_at(1000), Some(1500));
        let mut all = changes.to_vec();
        all.push(ch(1300, Resolved));
        let s = evaluate(0, T, Some(10), &all, 30, 5000);
        assert_eq!(s.resolution.elapsed, 800);
        assert!(!s.resolution.breached);
        all.push(ch(6000, Closed));
        let s = evaluate(0, T, Some(10), &all, 30, 9000);
        assert_eq!(s.resolution.elapsed, 800, "closed does not count either");
    }

    #[test]
    fn a_breached_paused_ticket_is_still_at_risk() {
        let changes = [ch(1200, Pending)];
        let s = evaluate(0, T, Some(5), &changes, 30, 2000);
        assert!(s.resolution.breached && s.resolution.state == ClockState::Paused);
        assert!(s.at_risk);
    }
}
