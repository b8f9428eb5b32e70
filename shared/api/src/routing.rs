//! Routing rules: which team a new ticket goes to, and how the team
//! assigns it.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/routing/rules`: a rule, added last.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// Its name, unique: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The team a matching ticket goes to.
    pub team: String,
    /// The ticket's category (any case).
    pub category: Option<String>,
    /// A static label one of the ticket's linked assets carries.
    pub label: Option<String>,
    /// `technician`, `agent`, `portal` or `email`.
    pub channel: Option<String>,
    /// `urgent`, `high`, `normal` or `low`.
    pub priority: Option<String>,
    /// `least-loaded`, `round-robin` or `queue`; the team's own mode if
    /// absent.
    pub assign: Option<String>,
}

/// A rule as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleView {
    /// Its place, from 1: the first matching rule wins.
    pub position: i64,
    /// Its name.
    pub name: String,
    /// Category criterion.
    pub category: Option<String>,
    /// Label criterion.
    pub label: Option<String>,
    /// Channel criterion.
    pub channel: Option<String>,
    /// Priority criterion.
    pub priority: Option<String>,
    /// The team.
    pub team: String,
    /// The assign mode; none is the team's own.
    pub assign: Option<String>,
}

/// `POST /api/v1/routing/rules/{name}/move`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MoveRule {
    /// The new place, from 1; past the end is last.
    pub position: i64,
}

/// `GET /api/v1/tickets/{number}/routing`: what routing would do with a
/// ticket now, changing nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingTestView {
    /// The ticket.
    pub number: i64,
    /// Its category.
    pub category: String,
    /// Its channel.
    pub channel: String,
    /// Its priority.
    pub priority: String,
    /// The static labels of its linked assets.
    pub labels: Vec<String>,
    /// The rule that matches; none if no rule does.
    pub rule: Option<String>,
    /// The rule's team.
    pub team: Option<String>,
    /// The assign mode that applies.
    pub assign: Option<String>,
    /// The team's members on shift now.
    pub on_shift: Vec<String>,
    /// Whom it would pick; none: the ticket waits in the team's queue.
    pub assignee: Option<String>,
    /// The timeline's words for it.
    pub note: Option<String>,
}
