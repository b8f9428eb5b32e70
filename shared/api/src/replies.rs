//! Canned replies: `/api/v1/replies`. A reply's body may hold the
//! placeholders `{requester}`, `{ticket}`, `{title}`, `{asset}` and
//! `{technician}`, filled in for a ticket when a comment names the reply
//! (`CommentRequest::reply`); `{{` writes a brace.

use serde::{Deserialize, Serialize};

/// A canned reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplyView {
    /// Its name, a slug such as `printer-queue`.
    pub name: String,
    /// Its body, with placeholders.
    pub body: String,
    /// Who created it.
    pub created_by: String,
    /// When, RFC 3339.
    pub created_at: String,
    /// Who changed it last.
    pub updated_by: String,
    /// When, RFC 3339.
    pub updated_at: String,
}

/// `POST /api/v1/replies`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateReply {
    /// Lower-case letters, digits and dashes, at most 64.
    pub name: String,
    /// The text, with placeholders.
    pub body: String,
}

/// `PUT /api/v1/replies/{name}`: the new body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateReply {
    /// The text, with placeholders.
    pub body: String,
}
