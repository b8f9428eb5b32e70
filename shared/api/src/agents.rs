//! Agents and the enrollment tokens that let them in.

use serde::{Deserialize, Serialize};

/// An agent as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentView {
    /// Server-assigned id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// OS name and version.
    pub os: String,
    /// Kernel version.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Agent release.
    pub agent_version: String,
    /// Connected now.
    pub online: bool,
    /// Last heard from, RFC 3339.
    pub last_seen: Option<String>,
    /// Last remote address.
    pub last_addr: Option<String>,
    /// Enrollment time, RFC 3339.
    pub enrolled_at: String,
    /// Certificate expiry, RFC 3339.
    pub cert_expires_at: String,
    /// Revocation time, RFC 3339, if revoked.
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/enrollment-tokens`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// How many agents may enroll with it.
    pub uses: u32,
    /// Seconds until it expires.
    pub expires_in_secs: u64,
    /// Free text, e.g. the site or batch.
    #[serde(default)]
    pub label: String,
}

/// A newly created enrollment token: shown once, never stored in clear.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    /// The token.
    pub token: String,
    /// Row id.
    pub id: i64,
    /// Uses granted.
    pub uses: i64,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// CA fingerprint to pass to the agent.
    pub ca_fingerprint: String,
    /// The agent endpoint.
    pub server: String,
    /// The enrollment command, ready to paste on a PC.
    pub enroll_command: String,
    /// One line that installs, enrolls and starts the agent on Linux, run
    /// next to `packaging/install-agent.sh` and the agent's package.
    #[serde(default)]
    pub install_command: String,
    /// The same for Windows, run next to the agent's zip contents.
    #[serde(default)]
    pub install_command_windows: String,
}

/// An enrollment token as listed.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// Row id.
    pub id: i64,
    /// Free text.
    pub label: String,
    /// Uses granted.
    pub uses_total: i64,
    /// Uses left.
    pub uses_left: i64,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// Whether it expired.
    pub expired: bool,
    /// Creator.
    pub created_by: String,
}
