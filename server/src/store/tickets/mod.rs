//! Tickets in SQL: the tickets, their linked assets and their timeline.
//!
//! The rules live in [`crate::tickets`]: every change goes through
//! [`Store::change_ticket`], which loads the ticket inside the writer's
//! transaction, asks [`crate::tickets::decide`] what the change does and
//! applies the effects it returns (ticket row, timeline entry, audit
//! entry) in that one step.
//!
//! - `changes`: creating tickets and applying changes (the writes).
//! - `queries`: reading tickets, lists and timelines.
//! - `attachments`: files attached to a ticket (a screenshot from the
//!   portal, an e-mail's attachments).
//! - `effort`: time logged on a ticket (and migration 34).
//! - `mass`: mass incidents: merges and followers, parent and child
//!   tickets, bulk changes by a filter (migration 36).

mod attachments;
mod changes;
mod effort;
mod mass;
mod queries;
#[cfg(test)]
mod tests;

use super::DiagRun;
use crate::tickets::sla::SlaTargets;
use crate::tickets::{Channel, Priority, Status};

pub use attachments::{Attachment, AttachmentInfo, NewAttachment};
pub(super) use attachments::{REQUESTERS_MIGRATION, REQUESTERS_POSTGRES_MIGRATION};
pub(super) use effort::{
    MIGRATION as EFFORT_MIGRATION, POSTGRES_MIGRATION as EFFORT_POSTGRES_MIGRATION,
};
pub use effort::{NewTime, TimeEntry};
pub use mass::{FollowerRow, Related, Relations};
pub(super) use mass::{MIGRATION as MASS_MIGRATION, POSTGRES_MIGRATION as MASS_POSTGRES_MIGRATION};

/// A change to a ticket: the rules' own type, under the store's old name.
pub use crate::tickets::Change as TicketChange;
/// A ticket as stored: the rules' own type, under the store's old name.
pub use crate::tickets::Ticket as TicketRecord;
pub(super) use changes::{
    append as append_ticket_event, apply_change, insert_ticket, move_asset_links,
};

/// The ticket tables, one migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE tickets (
    id                    INTEGER PRIMARY KEY,
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    requester             TEXT NOT NULL,
    category              TEXT NOT NULL DEFAULT '',
    software              TEXT NOT NULL DEFAULT '',
    priority              TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    status                TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    assignee              TEXT,
    tier                  INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    created_by            TEXT NOT NULL,
    updated_at            INTEGER NOT NULL,
    first_response_at     INTEGER,
    resolved_at           INTEGER,
    closed_at             INTEGER,
    response_target       INTEGER NOT NULL,
    resolution_target     INTEGER NOT NULL,
    escalated_response    INTEGER NOT NULL DEFAULT 0,
    escalated_resolution  INTEGER NOT NULL DEFAULT 0,
    rating                INTEGER,
    rating_comment        TEXT,
    rated_at              INTEGER
);
CREATE INDEX tickets_status ON tickets(status);
CREATE INDEX tickets_assignee ON tickets(assignee);
CREATE INDEX tickets_created ON tickets(created_at);
CREATE TABLE ticket_assets (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    asset_id   TEXT NOT NULL,
    linked_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, asset_id)
) WITHOUT ROWID;
CREATE INDEX ticket_assets_by_asset ON ticket_assets(asset_id, ticket_id);
CREATE TABLE ticket_events (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    at         INTEGER NOT NULL,
    author     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    internal   INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL DEFAULT '',
    old_value  TEXT,
    new_value  TEXT,
    ref_kind   TEXT,
    ref_id     INTEGER
);
CREATE INDEX ticket_events_by_ticket ON ticket_events(ticket_id, id);
"#;

/// A ticket to create.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// One line.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Who asked: an e-mail address or a user name.
    pub requester: String,
    /// The requester's OS account (`AGENT_ID/USER`), when they asked
    /// from their machine.
    pub requester_account: Option<String>,
    /// Where it came from.
    pub channel: Channel,
    /// Free category, e.g. `software`.
    pub category: String,
    /// The software it is about, if any (counted in reports).
    pub software: String,
    /// Priority.
    pub priority: Priority,
    /// SLA targets, from the priority at creation.
    pub targets: SlaTargets,
    /// Asset ids to link.
    pub assets: Vec<String>,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    /// When.
    pub at: i64,
    /// Who.
    pub author: String,
    /// `created`, `comment`, `reply` (the requester's), `status`,
    /// `assigned`, `escalated`, `linked`, `unlinked`, `rated`, `inventory`,
    /// `job_result`, `attachment` or `article` (one written from the
    /// ticket, `store::kb`).
    pub kind: String,
    /// An internal note, not for the requester.
    pub internal: bool,
    /// Text.
    pub body: String,
    /// Value before (status, assignee, tier).
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// What a `job_result` refers to: `diag` (later `install`, `script`);
    /// an `attachment` or `article` entry, its own kind.
    pub ref_kind: Option<String>,
    /// The id of that run.
    pub ref_id: Option<i64>,
}

/// Filters of `tickets list`; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Any of these statuses; empty means new, open and pending.
    pub statuses: Vec<Status>,
    /// Any of these priorities; empty means all.
    pub priorities: Vec<Priority>,
    /// Assigned to this operator.
    pub assignee: Option<String>,
    /// Linked to this asset id.
    pub asset: Option<String>,
    /// Any of these channels; empty means all.
    pub channels: Vec<Channel>,
    /// Children of this ticket.
    pub parent: Option<i64>,
    /// Routed to this team.
    pub team: Option<String>,
    /// Assigned to nobody.
    pub unassigned: bool,
}

/// What a help request from an agent attaches to its new ticket.
#[derive(Debug, Clone)]
pub struct HelpAttachments {
    /// The agent (and asset) that asked.
    pub agent_id: String,
    /// One line on the inventory the agent reported just before.
    pub inventory: String,
    /// The diagnostic it ran.
    pub diagnostic: Option<DiagRun>,
}
