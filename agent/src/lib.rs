//! The deskhand agent, as a library the `deskhand-agent` binary and the
//! server's `--dev` mode both run.
//!
//! - [`state`]: the enrolled identity on disk (key, certificate, pinned CA).
//! - [`tls`]: CA pinning and the QUIC client configuration.
//! - [`link`]: enrollment, the session with the server, reconnects.
//! - [`report`]: full inventory first, then deltas against what the
//!   server acknowledged; pure logic.
//! - [`cli`]: the `deskhand-agent` command line (clap), shared with the
//!   docs generator the packages run.
//! - [`config`]: settings from the optional TOML file.
//! - [`diag`]: the read-only diagnostic catalog and its runner.
//! - [`inventory`]: collectors for this machine's hardware and software
//!   inventory ([`inventory::collect`]) and its text rendering.
//! - [`facts`]: what the agent says about its machine in its hello.
//! - [`help`]: end users' help requests over a local socket, relayed to
//!   the server as tickets.
//! - [`udp_fallback`]: a plain UDP socket for QUIC where Winsock refuses quinn's options.
//! - `service` (Windows only): the Windows service and its install/start/stop/uninstall.
//! - [`watchdog`]: CPU and memory budgets for collectors and
//!   diagnostics, which run in a worker process the agent stops when one
//!   goes over.
//! - [`jobs`]: the job ledger and outbox (pure), and the executor that
//!   verifies, fetches, runs and checks a job.
//! - [`desktop`]: remote desktop's RFB (VNC) protocol core, pure; not
//!   yet wired to a screen or the session.
//! - `fuzzing` (feature `fuzzing`, for `agent/fuzz` only): the inventory
//!   parsers on arbitrary bytes, each checked against what it promises.
//!
//! Architecture invariants: only [`link`] and the job executor's content
//! transfer (over the session's connection) talk to the network; collectors
//! never touch the network; a collector's failure is a warning, never the
//! loss of the rest of the inventory.

pub mod cli;
pub mod config;
pub mod desktop;
pub mod diag;
pub mod facts;
pub mod help;
pub mod inventory;
pub mod jobs;
pub mod link;
pub mod remote;
pub mod report;
#[cfg(windows)]
pub mod service;
pub mod state;
pub mod tls;
pub mod udp_fallback;
pub mod watchdog;

/// The parsers for the fuzz targets (`agent/fuzz`); not part of the agent.
#[cfg(feature = "fuzzing")]
pub use inventory::fuzzing;

#[cfg(test)]
mod testkit;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
