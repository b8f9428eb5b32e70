//! deskhand's wire protocol, shared by the agent and the server. No I/O.
//!
//! - [`proto`] holds the versioned messages: [`proto::AgentMessage`] (agent to
//!   server) and [`proto::ServerMessage`] (server to agent), the
//!   [`proto::PROTOCOL_VERSION`] both sides announce in their hello, and the
//!   ALPN both sides require; [`proto::node`], what server nodes ask each
//!   other over the relay.
//! - [`frame`] turns messages into length-prefixed postcard frames and back,
//!   large bodies LZ4-compressed. [`frame::FrameDecoder`] is a sans-I/O
//!   buffer: the caller feeds it bytes read from a stream and takes whole,
//!   checked, decompressed messages out of it.
//!
//! - [`diag`] holds the live-diagnostic request and its streamed events.
//! - [`inventory`]: the inventory document, its content hash and its diff.
//! - [`jobs`]: signed manifests, job orders, progress, results and content
//!   transfer.
//! - [`params`]: the parameters a manifest declares, and the check of a
//!   job's values against them.
//! - [`remote`]: remote-access sessions (terminal, files, tunnels), the
//!   agent's policy and the pure admission decision.
//! - [`fingerprint`] computes and parses the SHA-256 fingerprints agents use
//!   to pin the server's CA.
//!
//! Architecture invariant: this crate does no I/O and knows no clock; the
//! agent and the server own their sockets and files.

pub mod diag;
pub mod fingerprint;
pub mod frame;
pub mod inventory;
pub mod jobs;
pub mod params;
pub mod proto;
pub mod remote;

#[cfg(test)]
mod testkit;

pub use frame::{FrameDecoder, FrameError, MAX_FRAME_LEN, encode_frame};
pub use proto::{ALPN, AgentMessage, PROTOCOL_VERSION, ServerMessage};
