//! E-mail from the command line: `deskhand tickets from-email [FILE]`
//! (what an MTA alias pipes each message into, as RT's `rt-mailgate`)
//! and `deskhand mail queue` (mails not sent yet).
//!
//! `from-email` exits as MTAs expect: 0 when the message was handled or
//! deliberately ignored, 75 (EX_TEMPFAIL) when the server cannot be
//! reached or failed, so the MTA tries again later, 65 (EX_DATAERR) for a
//! message the server cannot parse, 77 (EX_NOPERM) for a token that may
//! not post mail.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::client::Client;
use crate::render::{OutputFormat, Table, emit, opt, print};
use deskhand_api_types::limits::{EMAIL_BODY_LIMIT, EMAIL_PATH};
use deskhand_api_types::mail::{EmailOutcome, OutboxView};

/// Temporary failure: the MTA keeps the message and tries again.
pub const EX_TEMPFAIL: u8 = 75;
/// The message is not one the server can read.
pub const EX_DATAERR: u8 = 65;
/// The token may not post mail.
pub const EX_NOPERM: u8 = 77;

/// A `from-email` failure with the exit code an MTA understands.
#[derive(Debug)]
pub struct MailExit {
    /// The process's exit code.
    pub code: u8,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for MailExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MailExit {}

fn fail(code: u8, message: impl Into<String>) -> anyhow::Error {
    MailExit {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code for an answer's HTTP status.
pub fn exit_for_status(status: u16) -> u8 {
    match status {
        400 | 413 | 415 | 422 => EX_DATAERR,
        401 | 403 => EX_NOPERM,
        _ => EX_TEMPFAIL,
    }
}

/// One line on what the server did.
pub fn said(o: &EmailOutcome) -> String {
    let n = o.ticket.map(|n| n.to_string()).unwrap_or_default();
    let files = match o.attachments {
        0 => String::new(),
        1 => " (1 attachment)".into(),
        k => format!(" ({k} attachments)"),
    };
    match o.outcome.as_str() {
        "opened" if !o.detail.is_empty() => format!("opened ticket {n}{files}: {}", o.detail),
        "opened" => format!("opened ticket {n}{files}"),
        "added" => format!("added to ticket {n}{files}"),
        "commented" => format!("commented on ticket {n}{files}"),
        "ignored" => format!("ignored: {}", o.detail),
        "refused" => format!("refused: {}", o.detail),
        other => format!("{other}: {}", o.detail),
    }
}

/// `deskhand tickets from-email [FILE]`: posts the raw message (stdin
/// without a file) and says what happened.
pub async fn from_email(c: &Client, f: OutputFormat, file: Option<PathBuf>) -> Result<()> {
    let mut raw = Vec::new();
    match &file {
        Some(p) => {
            raw = std::fs::read(p)
                .with_context(|| format!("reading the message {}", p.display()))
                .map_err(|e| fail(EX_DATAERR, format!("{e:#}")))?;
        }
        None => {
            std::io::stdin()
                .take(EMAIL_BODY_LIMIT as u64 + 1)
                .read_to_end(&mut raw)
                .map_err(|e| fail(EX_TEMPFAIL, format!("reading the message from stdin: {e}")))?;
        }
    }
    if raw.is_empty() {
        return Err(fail(
            EX_DATAERR,
            "the message is empty: pipe a whole raw e-mail into this command",
        ));
    }
    if raw.len() > EMAIL_BODY_LIMIT {
        return Err(fail(
            EX_DATAERR,
            format!(
                "the message is over {} MiB, the most the server takes",
                EMAIL_BODY_LIMIT >> 20
            ),
        ));
    }
    let answer = c
        .post_bytes_answer::<EmailOutcome>(EMAIL_PATH, "message/rfc822", raw)
        .await
        .map_err(|e| fail(EX_TEMPFAIL, format!("{e:#}")))?;
    let o = answer
        .map_err(|(status, msg)| fail(exit_for_status(status), format!("{msg} (HTTP {status})")))?;
    match f {
        OutputFormat::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&o)?)),
        _ => emit(&format!("{}\n", said(&o))),
    }
    Ok(())
}

/// `deskhand mail`.
#[derive(Debug, clap::Subcommand)]
pub enum MailCmd {
    /// Mails not sent yet: waiting for their next attempt (with the last
    /// error) or given up.
    Queue,
}

/// Runs one `deskhand mail` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: MailCmd) -> Result<()> {
    match cmd {
        MailCmd::Queue => {
            let rows: Vec<OutboxView> = c.get("/api/v1/mail/queue").await?;
            print(f, &rows, || {
                let mut t = Table::new(vec![
                    "ID", "KIND", "TICKET", "TO", "STATE", "ATTEMPTS", "NEXT", "ERROR",
                ]);
                for m in &rows {
                    t.row(vec![
                        m.id.to_string(),
                        m.kind.clone(),
                        m.ticket.map_or_else(|| "-".into(), |n| n.to_string()),
                        m.recipient.clone(),
                        m.state.clone(),
                        m.attempts.to_string(),
                        opt(&m.due_at),
                        opt(&m.last_error),
                    ]);
                }
                t
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_exit_codes_mtas_know() {
        assert_eq!(exit_for_status(400), EX_DATAERR);
        assert_eq!(exit_for_status(413), EX_DATAERR);
        assert_eq!(exit_for_status(403), EX_NOPERM);
        assert_eq!(exit_for_status(500), EX_TEMPFAIL);
        assert_eq!(exit_for_status(503), EX_TEMPFAIL);
        let e = fail(EX_TEMPFAIL, "down");
        assert_eq!(crate::exit_code(&e), EX_TEMPFAIL);
    }

    #[test]
    fn outcomes_read_as_one_line() {
        let o = |outcome: &str, ticket, detail: &str| EmailOutcome {
            outcome: outcome.into(),
            ticket,
            attachments: 0,
            detail: detail.into(),
        };
        assert_eq!(said(&o("opened", Some(42), "")), "opened ticket 42");
        assert_eq!(said(&o("added", Some(42), "")), "added to ticket 42");
        assert_eq!(
            said(&o("ignored", None, "automatic reply (x)")),
            "ignored: automatic reply (x)"
        );
        assert!(said(&o("refused", None, "unknown")).starts_with("refused: "));
    }
}
