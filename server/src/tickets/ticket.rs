//! A ticket as the rules see it ([`Ticket`]: its row, linked assets and
//! status changes) and the changes people ask of it ([`Change`]).

use std::sync::Arc;

use super::calendar::Calendar;
use super::sla::{SlaPolicy, SlaStatus, SlaTargets, StatusChange, evaluate};
use super::{Channel, Priority, Status};

/// A ticket as stored, with its linked assets and status changes.
#[derive(Debug, Clone)]
pub struct Ticket {
    /// The ticket number.
    pub number: i64,
    /// One line.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Who asked: an e-mail address (then told of changes) or a name.
    pub requester: String,
    /// The requester's OS account (`AGENT_ID/USER`), when they asked from
    /// their machine: the portal shows them their tickets by it.
    pub requester_account: Option<String>,
    /// Where it came from.
    pub channel: Channel,
    /// Free category.
    pub category: String,
    /// The software it is about.
    pub software: String,
    /// Priority.
    pub priority: Priority,
    /// Status.
    pub status: Status,
    /// Operator working on it.
    pub assignee: Option<String>,
    /// Escalation tier, from 1.
    pub tier: i64,
    /// The team whose queue it is in.
    pub team: Option<String>,
    /// That team's business hours, when it has a calendar: its SLA clocks
    /// count them.
    pub calendar: Option<Arc<Calendar>>,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// Who created it (an operator, or `agent:ID` for a help request).
    pub created_by: String,
    /// Last change.
    pub updated_at: i64,
    /// First public response.
    pub first_response_at: Option<i64>,
    /// Latest resolution (kept after reopening).
    pub resolved_at: Option<i64>,
    /// Closing.
    pub closed_at: Option<i64>,
    /// SLA targets.
    pub targets: SlaTargets,
    /// The escalation task escalated for the first-response clock.
    pub escalated_response: bool,
    /// The escalation task escalated for the resolution clock.
    pub escalated_resolution: bool,
    /// Satisfaction, 1 to 5.
    pub rating: Option<i64>,
    /// The requester's words with the rating.
    pub rating_comment: Option<String>,
    /// When it was rated.
    pub rated_at: Option<i64>,
    /// Linked asset ids.
    pub assets: Vec<String>,
    /// Status changes, oldest first.
    pub changes: Vec<StatusChange>,
    /// Who resolved it last.
    pub resolved_by: Option<String>,
    /// Who gave the rating (an operator typing it in, or the requester).
    pub rated_by: Option<String>,
}

impl Ticket {
    /// Its SLA clocks at `now` under `policy`: its team's working time
    /// unless its priority runs around the clock.
    pub fn sla(&self, policy: &SlaPolicy, now: i64) -> SlaStatus {
        evaluate(
            self.created_at,
            self.targets,
            self.first_response_at,
            &self.changes,
            policy.warning,
            now,
            policy.calendar_for(self.priority, self.calendar.as_deref()),
        )
    }
}

/// A change to a ticket.
#[derive(Debug, Clone)]
pub enum Change {
    /// A comment; public ones are a response to the requester.
    Comment {
        /// Text.
        body: String,
        /// Not for the requester.
        internal: bool,
    },
    /// The requester's own answer (portal or e-mail): public, never the
    /// first response; a ticket pending on them, or resolved at most
    /// `reopen_within` seconds ago, opens again; a closed ticket, or one
    /// resolved longer ago, refuses it (they open a new one).
    Reply {
        /// Text.
        body: String,
        /// How long after resolution a reply still reopens, in seconds.
        reopen_within: i64,
    },
    /// A status change through the status machine.
    Status {
        /// New status.
        to: Status,
        /// Why, e.g. the resolution note.
        note: String,
    },
    /// Assigns to an operator (checked to exist and not be a viewer), or unassigns.
    Assign {
        /// Operator name; `None` unassigns.
        to: Option<String>,
    },
    /// Escalates: to a tier (the next one if `None`), or to a named technician.
    Escalate {
        /// Tier to go to.
        tier: Option<i64>,
        /// Technician to hand over to (tier goes up by one, at most to
        /// `max_tier`).
        technician: Option<String>,
        /// Why.
        note: String,
        /// The highest tier.
        max_tier: i64,
    },
    /// Puts the ticket in a team's queue (`None`: in none); whoever was
    /// assigned is unassigned.
    Move {
        /// The team, checked by the store to exist.
        team: Option<String>,
    },
    /// The escalation task's escalation for a clock that ran out.
    AutoEscalate {
        /// `first response` or `resolution`.
        clock: String,
        /// New tier.
        tier: i64,
    },
    /// Links an asset (by id).
    Link {
        /// Asset id.
        asset_id: String,
        /// Its name, for the timeline.
        name: String,
    },
    /// Unlinks an asset.
    Unlink {
        /// Asset id.
        asset_id: String,
        /// Its name, for the timeline.
        name: String,
    },
    /// Changes fields; a new priority brings its SLA targets (the clocks
    /// keep their running time).
    Update {
        /// New title.
        title: Option<String>,
        /// New description.
        description: Option<String>,
        /// New category.
        category: Option<String>,
        /// New software.
        software: Option<String>,
        /// New priority and its targets.
        priority: Option<(Priority, SlaTargets)>,
    },
    /// The requester's satisfaction.
    Rate {
        /// 1 to 5.
        score: i64,
        /// Their words.
        comment: String,
    },
    /// Attaches a stored job result (today: a diagnostic run).
    AttachJob {
        /// `diag`.
        kind: String,
        /// Run id.
        id: i64,
        /// One line on what it was.
        summary: String,
    },
}

/// Whether the requester may still reopen `t` at `now`: a resolved ticket
/// for `within` seconds after its resolution; never a closed one.
pub fn may_reopen(t: &Ticket, within: i64, now: i64) -> Result<(), String> {
    let n = t.number;
    match t.status {
        super::Status::Closed => Err(format!("ticket {n} is closed; open a new request")),
        super::Status::Resolved => {
            let since = t.resolved_at.unwrap_or(t.updated_at);
            if now.saturating_sub(since) > within {
                Err(format!(
                    "ticket {n} was resolved more than {} days ago; open a new request",
                    within / 86400
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

impl Change {
    /// The operator the change hands the ticket to, if it names one: the
    /// store looks them up and tells [`super::decide`] what it found.
    pub fn named_operator(&self) -> Option<&str> {
        match self {
            Change::Assign { to: Some(name) } => Some(name),
            Change::Escalate {
                technician: Some(name),
                ..
            } => Some(name),
            _ => None,
        }
    }
}
