//! Remote access sessions: opening one (an HTTP upgrade), the session
//! list, a recording, a kill.
//!
//! `GET /api/v1/agents/{key}/remote?kind=...` with `Connection: Upgrade`
//! and `Upgrade: deskhand-remote/1` (see [`UPGRADE_PROTOCOL`]) answers
//! `101 Switching Protocols` once the agent accepted; the connection then
//! carries `deskhand_shared::remote::RemoteFrame`s as length-prefixed
//! frames (`deskhand_shared::frame`) both ways. The response's
//! [`SESSION_HEADER`] names the session, [`TICKET_HEADER`] its ticket,
//! [`UNTIL_HEADER`] when the user's consent ends (Unix seconds). A
//! refusal is an ordinary error: 400 (bad arguments), 403 (the role, the
//! operator's remote access withdrawn, or the machine's policy: the
//! agent's sentence), 404, 409 (offline, or an agent too old).

use serde::{Deserialize, Serialize};

/// The `Upgrade:` protocol of a remote session.
pub const UPGRADE_PROTOCOL: &str = "deskhand-remote/1";
/// Response header: the session's id.
pub const SESSION_HEADER: &str = "x-deskhand-session";
/// Response header: the session's ticket, when it has one.
pub const TICKET_HEADER: &str = "x-deskhand-ticket";
/// Response header: when the consent that admitted it ends, Unix seconds.
pub const UNTIL_HEADER: &str = "x-deskhand-until";

/// What a remote session is: the query of the upgrade request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct OpenRemote {
    /// `terminal`, `get`, `put`, `ls`, `tunnel` or `desktop`.
    pub kind: String,
    /// The ticket the session is for; it appears in its timeline.
    pub ticket: Option<i64>,
    /// terminal: columns (default 80).
    pub cols: Option<u16>,
    /// terminal: rows (default 24).
    pub rows: Option<u16>,
    /// terminal: in the logged-in user's session.
    #[serde(default)]
    pub as_user: bool,
    /// get, put, ls: the absolute path on the machine.
    pub path: Option<String>,
    /// get: where to resume.
    pub offset: Option<u64>,
    /// put: the file's size.
    pub size: Option<u64>,
    /// put: the file's SHA-256, hex.
    pub sha256: Option<String>,
    /// tunnel: the port on the machine.
    pub port: Option<u16>,
    /// desktop: keyboard and pointer too, not only the picture.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub control: bool,
}

/// One remote session, live or ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteSessionView {
    /// Its id.
    pub id: i64,
    /// The agent.
    pub agent_id: String,
    /// The machine's host name.
    pub hostname: String,
    /// Who opened it.
    pub operator: String,
    /// `terminal`, `get`, `put`, `ls` or `tunnel`.
    pub kind: String,
    /// The path or port.
    pub detail: String,
    /// The ticket it belongs to.
    pub ticket: Option<i64>,
    /// Started, Unix seconds.
    pub started_at: i64,
    /// Ended, Unix seconds; none while live.
    pub ended_at: Option<i64>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// Bytes from the operator to the machine.
    pub bytes_up: i64,
    /// Bytes from the machine to the operator.
    pub bytes_down: i64,
    /// Whether a recording is kept (terminals).
    pub recorded: bool,
    /// Whether it is open now.
    pub live: bool,
}

/// Which sessions to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RemoteSessionQuery {
    /// Only live sessions.
    #[serde(default)]
    pub live: bool,
    /// Only this agent's (id, id prefix or host name).
    pub agent: Option<String>,
    /// Only this operator's.
    pub operator: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<u32>,
}

/// Whether an operator may open remote sessions (an admin withdraws it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteAllowed {
    /// Allowed.
    pub allowed: bool,
}

/// An agent's remote-access policy as it last told the server (shown on
/// its asset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemotePolicyView {
    /// `off`, `ticket` (only while the user's consent is open) or `on`.
    pub access: String,
    /// The ports a tunnel may reach on the machine.
    pub tunnel_ports: Vec<u16>,
    /// When the user's open consent ends, Unix seconds; none when there
    /// is none open.
    pub consent_until: Option<i64>,
    /// The ticket the open consent was given for.
    pub consent_ticket: Option<i64>,
    /// When the agent last told it, Unix seconds.
    pub updated_at: i64,
}
