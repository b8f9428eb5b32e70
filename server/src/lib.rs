//! The deskhand server and the operator CLI, one binary (`deskhand`).
//!
//! `deskhand server` runs [`serve::run`]: it loads the CA ([`pki`]), opens
//! the database ([`store`]), listens for agents over QUIC ([`link`],
//! tracking live sessions in [`presence`]) and for operators over HTTP
//! ([`api`]). Every other subcommand is a client of that API (the
//! `deskhand-cli` crate).
//!
//! - [`dev_agent`]: `server --dev`'s in-process local agent, the only
//!   use of the agent crate (feature `dev-agent`, on by default).
//! - [`diag`]: diagnostics sent to live agents over QUIC streams.
//! - [`relay`]: requests for an agent whose session another node holds,
//!   relayed to that node over mTLS.
//! - [`help`]: end users' help requests, relayed by agents, become tickets.
//! - [`escalator`]: the periodic task that escalates tickets whose SLA ran out.
//! - [`reports_task`]: the periodic task that mails scheduled reports.
//! - [`mail`]: e-mail in (`tickets from-email`: parse, decide) and out
//!   (notices queued with the change that causes them, sent by a task).
//! - [`config`]: server settings from flags, environment and TOML.
//! - [`limits`]: per-address connection caps and refusals logged one
//!   line per burst, for the agent endpoint and the API.
//! - [`secrets`]: enrollment and operator tokens, stored hashed.
//! - [`text`]: the one rule for names, titles and filters (no control or
//!   text-direction characters, nothing blank where a value is needed).
//! - [`kb`]: the knowledge base's rules (visibility, search words, suggestions).
//! - [`tickets`]: help-desk tickets as pure logic (status machine, SLA
//!   clocks, escalation decisions, report arithmetic).
//! - [`migrate`]: `deskhand migrate`, a SQLite install copied into
//!   PostgreSQL (the copy is the store's).
//! - [`rollouts`]: staged rollouts as pure logic (wave plans, the
//!   controller's state machine, maintenance windows in local time).
//!
//! Architecture invariants: all SQL lives in [`store`]; only [`api`]
//! knows JSON; nothing on the per-heartbeat path touches the disk.

pub mod admin_password;
pub mod api;
pub mod api_tls;
pub mod backup;
pub mod conductor;
pub mod config;
pub mod content;
pub mod dev_agent;
pub mod diag;
pub mod escalator;
pub mod help;
pub mod https;
pub mod inventory;
pub mod jobs;
pub mod kb;
pub mod limits;
pub mod link;
pub mod mail;
pub mod migrate;
pub mod nodes;
pub mod passwords;
pub mod pki;
pub mod portal;
pub mod presence;
pub mod relay;
pub mod remote;
pub mod reports_task;
pub mod rollouts;
pub mod secrets;
pub mod serve;
pub mod store;
#[cfg(test)]
mod testkit;
pub mod text;
pub mod tickets;
pub mod version;
pub mod week;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub use text::said;

/// A unix time as RFC 3339, UTC, to the second.
pub fn rfc3339(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}
