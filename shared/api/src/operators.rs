//! Operators, their roles, and the audit log of what they did.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/operators`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddOperator {
    /// Unique name.
    pub name: String,
    /// `admin`, `technician` or `viewer`.
    pub role: String,
}

/// An operator as listed.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Whether they may open remote sessions (an admin withdraws it;
    /// their role must allow it too).
    #[serde(default = "allowed_by_default")]
    pub remote_allowed: bool,
}

fn allowed_by_default() -> bool {
    true
}

/// A new operator with their API token, shown once.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorCreated {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The API token.
    pub token: String,
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AuditQuery {
    /// Most entries to return.
    pub limit: Option<i64>,
}

/// An audit log entry.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditView {
    /// Time, RFC 3339.
    pub at: String,
    /// Who.
    pub operator: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Details.
    pub detail: String,
}

/// `POST /api/v1/operators/{name}/password`: sets an operator's console
/// password; without one, the server generates it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// The new password (at least 12 characters); none: generate one.
    #[serde(default)]
    pub password: Option<String>,
}

/// What a password change reached.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordSet {
    /// Whose.
    pub name: String,
    /// The generated password, shown once; none when one was given.
    pub password: Option<String>,
}
