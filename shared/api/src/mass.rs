//! Mass incidents: merging duplicate tickets into one, parent and child
//! tickets, and bulk changes to the tickets a filter selects. Each
//! answers per ticket ([`TicketOutcome`]): one ticket that refuses is
//! reported, the others go on.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/tickets/{number}/merge`: tickets merged into `{number}`,
/// the one that goes on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicates' numbers: each is closed, its requester follows
    /// `{number}` from then on.
    pub tickets: Vec<i64>,
    /// Why, shown on each merged ticket and mailed to its requester.
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/tickets/{number}/children`: tickets linked under
/// `{number}`, their parent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChildrenRequest {
    /// The children's numbers.
    pub children: Vec<i64>,
}

/// `POST /api/v1/tickets/bulk`: one change to every ticket a filter
/// selects (at most 500), each through the ticket's own rules.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `key=value` terms joined by `,`, all of which must hold: parent,
    /// status (`open|pending`; new, open and pending if absent),
    /// priority, category, assignee (`none`: unassigned), channel, team,
    /// requester. E.g. `category=email,status=open`.
    pub filter: String,
    /// `resolve` (needs `note`), `comment` (needs `text`) or `assign`
    /// (needs `to`; `none` unassigns).
    pub action: String,
    /// The resolution note.
    #[serde(default)]
    pub note: String,
    /// The comment.
    #[serde(default)]
    pub text: String,
    /// The comment is an internal note.
    #[serde(default)]
    pub internal: bool,
    /// The technician to assign.
    #[serde(default)]
    pub to: Option<String>,
    /// Only say what would change.
    #[serde(default)]
    pub dry_run: bool,
}

/// What became of one ticket of a merge, a link or a bulk change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketOutcome {
    /// The ticket.
    pub number: i64,
    /// `changed`, `would change` (a dry run) or `refused`.
    pub outcome: String,
    /// Why it was refused, or what changed.
    pub message: String,
}

/// The answer of a merge, a link or a bulk change: one outcome per
/// ticket, in number order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MassResult {
    /// Nothing was written: what would change.
    pub dry_run: bool,
    /// Per ticket.
    pub results: Vec<TicketOutcome>,
}

/// Another ticket as a ticket's relations show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelatedTicket {
    /// Its number.
    pub number: i64,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: String,
    /// Its requester.
    pub requester: String,
}

/// A requester who follows a ticket since theirs was merged into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowerView {
    /// As on their ticket: an address (mailed with the ticket's public
    /// news) or a name (shown only).
    pub requester: String,
    /// Their OS account, `AGENT_ID/USER`: the portal lists the ticket
    /// as theirs.
    pub account: Option<String>,
    /// The ticket of theirs that was merged.
    pub from_ticket: i64,
    /// When, RFC 3339.
    pub added_at: String,
}

/// A ticket's place in a mass incident.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketRelations {
    /// The ticket this one was merged into (it is then closed).
    pub merged_into: Option<i64>,
    /// Its parent.
    pub parent: Option<RelatedTicket>,
    /// Its children.
    pub children: Vec<RelatedTicket>,
    /// The tickets merged into it.
    pub merged: Vec<RelatedTicket>,
    /// Who follows it.
    pub followers: Vec<FollowerView>,
}
