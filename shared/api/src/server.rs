//! The server itself: who it is, its health, its endpoints, its errors.

use serde::{Deserialize, Serialize};

/// One endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EndpointView {
    /// HTTP methods, e.g. `GET POST`.
    pub methods: String,
    /// Path; `{name}` is a parameter.
    pub path: String,
    /// What it does. Query parameters are those of the CLI command that
    /// calls it (`deskhand <noun> <verb> --help`), in snake case.
    pub about: String,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
}

/// `GET /api/v1/server`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerInfo {
    /// Server release.
    pub version: String,
    /// CA fingerprint agents pin.
    pub ca_fingerprint: String,
    /// Where agents connect.
    pub agents_endpoint: String,
    /// Agents connected now.
    pub agents_online: usize,
    /// Who is asking.
    pub operator: String,
    /// Whether the database takes writes.
    #[serde(default)]
    pub database: DatabaseHealth,
}

/// `GET /api/v1/health`, for monitoring.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` (answered 200) or `failing` (503): the database refused a
    /// write in the last minute.
    pub status: String,
    /// While failing: what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// While failing: since when, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// Whether the database takes writes (`store::WriteHealth`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabaseHealth {
    /// `ok`, or `failing`: SQLite refused a write in the last minute (a
    /// full disk, an I/O error); what it refuses is not stored.
    pub writes: String,
    /// Since when writes have been failing, RFC 3339.
    #[serde(default)]
    pub failing_since: Option<String>,
    /// What SQLite said last.
    #[serde(default)]
    pub error: Option<String>,
}

/// One server node sharing the database (`GET /api/v1/nodes`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeView {
    /// Its name (`--node-name`).
    pub name: String,
    /// Its API address.
    pub api: String,
    /// The address its agents dial.
    pub agents_endpoint: String,
    /// Whether its lease still runs (a heartbeat in the last 15 seconds).
    pub alive: bool,
    /// Agents connected to it now (none for a node that is not alive).
    pub agents: i64,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// Its last heartbeat, RFC 3339.
    pub heartbeat_at: String,
    /// Whether this is the node that answered.
    pub this_node: bool,
}
