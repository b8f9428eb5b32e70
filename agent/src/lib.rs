//! The deskhand agent, as a library the `deskhand-agent` binary and the
//! server's `--dev` mode both run.
//!
//! - [`state`]: the enrolled identity on disk (key, certificate, pinned CA).
//! - [`tls`]: CA pinning and the QUIC client configuration.
//! - [`link`]: enrollment, the session with the server, reconnects.
//! - [`backoff`]: reconnect delays, pure logic.
//! - [`config`]: settings from the optional TOML file.
//! - [`diag`]: the read-only diagnostic catalog and its runner.
//! - [`facts`]: what the agent says about its machine in its hello.
//!
//! Architecture invariant: only [`link`] talks to the network.

pub mod backoff;
pub mod config;
pub mod diag;
pub mod facts;
pub mod link;
pub mod state;
pub mod tls;
