//! Live diagnostics on the wire.
//!
//! The server opens a new bidirectional stream on an agent's connection
//! for each diagnostic and sends one [`crate::ServerMessage::Diag`]; the
//! agent answers on the same stream with [`crate::AgentMessage::Diag`]
//! events — tables and text, as they are produced — and ends with
//! [`DiagEvent::Done`]. Closing the stream from the server's side cancels
//! a diagnostic that is still running (one that follows a log, say).

use serde::{Deserialize, Serialize};

pub mod catalog;
pub mod render;

/// Run one check of the built-in, read-only catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagRequest {
    /// Check name, e.g. `top-processes`.
    pub check: String,
    /// Arguments as name/value pairs, e.g. `("host", "mail.example.com")`.
    pub args: Vec<(String, String)>,
    /// Keep streaming new output (e.g. log lines) until cancelled.
    pub follow: bool,
}

/// One piece of a diagnostic's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiagEvent {
    /// Structured rows.
    Table(DiagTable),
    /// Free text, e.g. log lines.
    Text(String),
    /// The check finished; no events follow.
    Done(DiagDone),
}

/// A titled table of rows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiagTable {
    /// What the rows are, e.g. `processes by CPU`.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<String>>,
}

/// How a diagnostic ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagDone {
    /// Whether the check ran to completion.
    pub ok: bool,
    /// Why not, if it did not.
    pub error: Option<String>,
    /// How long it ran, microseconds.
    pub micros: u64,
}

/// A complete diagnostic result, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiagResult {
    /// Tables, in order.
    pub tables: Vec<DiagTable>,
    /// Text, concatenated.
    pub text: String,
    /// Whether the check ran to completion.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// How long it ran, microseconds.
    pub micros: u64,
}

impl DiagResult {
    /// Folds one event into the result; returns true on [`DiagEvent::Done`].
    pub fn absorb(&mut self, event: DiagEvent) -> bool {
        match event {
            DiagEvent::Table(t) => self.tables.push(t),
            DiagEvent::Text(t) => self.text.push_str(&t),
            DiagEvent::Done(d) => {
                self.ok = d.ok;
                self.error = d.error;
                self.micros = d.micros;
                return true;
            }
        }
        false
    }
}
