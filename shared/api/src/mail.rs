//! E-mail: what `POST /api/v1/tickets/email` did with a message, the
//! outbox as `deskhand mail queue` lists it, and an operator's address.

use serde::{Deserialize, Serialize};

/// What the server did with a message piped to `tickets from-email`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailOutcome {
    /// `opened` (a new ticket), `added` (the requester's reply),
    /// `commented` (an operator's comment), `ignored` (automatic mail) or
    /// `refused` (an unknown sender, told so by mail).
    pub outcome: String,
    /// The ticket it opened or landed on.
    pub ticket: Option<i64>,
    /// Attachments kept.
    pub attachments: usize,
    /// Why it was ignored or refused, or what else happened.
    pub detail: String,
}

/// One mail in the outbox not sent yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutboxView {
    /// Its id.
    pub id: i64,
    /// `opened`, `answered`, `pending`, `resolved`, `assigned`, `breach` or `refused`.
    pub kind: String,
    /// The ticket it is about.
    pub ticket: Option<i64>,
    /// To whom.
    pub recipient: String,
    /// `waiting` or `failed` (given up).
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Queued at, RFC 3339.
    pub created_at: String,
    /// Next attempt, RFC 3339 (while waiting).
    pub due_at: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
}

/// `PUT /api/v1/operators/{name}/email`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OperatorEmail {
    /// The address; none or empty clears it.
    pub email: Option<String>,
}
