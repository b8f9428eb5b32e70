//! `deskhand replies`: canned replies technicians post on tickets, with
//! placeholders the server fills in for each ticket, and
//! `deskhand tickets comment --reply NAME`, which posts one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use deskhand_api_types::replies::{CreateReply, ReplyView, UpdateReply};
use deskhand_api_types::tickets::CommentRequest;

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, emit, print};

/// `deskhand replies`.
#[derive(Debug, Subcommand)]
pub enum RepliesCmd {
    /// Create a canned reply. Its text may hold {requester} (the part
    /// before @ of their address, or their name), {ticket}, {title},
    /// {asset} (the first linked asset's host name, or "your computer")
    /// and {technician} (you, when you post it); {{ writes a brace.
    ///
    /// Example: `deskhand replies create printer-queue --text "Hello {requester}, I cleared the print queue on {asset}."`.
    Create {
        /// Lower-case letters, digits and dashes, e.g. printer-queue.
        name: String,
        /// Its text.
        #[command(flatten)]
        text: ReplyText,
    },
    /// List canned replies.
    ///
    /// Example: `deskhand replies list`.
    List,
    /// Show a canned reply's text.
    ///
    /// Example: `deskhand replies show printer-queue`.
    Show {
        /// Its name.
        name: String,
    },
    /// Replace a canned reply's text.
    ///
    /// Example: `deskhand replies edit printer-queue --file printer-queue.md`.
    Edit {
        /// Its name.
        name: String,
        /// Its new text.
        #[command(flatten)]
        text: ReplyText,
    },
    /// Delete a canned reply.
    ///
    /// Example: `deskhand replies delete printer-queue`.
    Delete {
        /// Its name.
        name: String,
    },
}

/// A reply's text: given, or read from a file.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct ReplyText {
    /// The text, with placeholders.
    #[arg(long)]
    text: Option<String>,
    /// A file holding the text (UTF-8).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
}

impl ReplyText {
    fn read(self) -> Result<String> {
        match (self.text, self.file) {
            (Some(t), _) => Ok(t),
            (None, Some(p)) => std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "cannot read {} (give a UTF-8 text file, or the text with --text)",
                    p.display()
                )
            }),
            (None, None) => anyhow::bail!("give the reply's text with --text or --file"),
        }
    }
}

/// `deskhand tickets comment TICKET [TEXT] [--reply NAME] [--internal]`.
#[derive(Debug, clap::Args)]
pub struct CommentArgs {
    /// Ticket number.
    pub ticket: String,
    /// Text; leave it out with --reply.
    #[arg(required_unless_present = "reply", conflicts_with = "reply")]
    pub text: Option<String>,
    /// Post this canned reply, its placeholders filled in for the ticket
    /// (see `deskhand replies list`).
    #[arg(long, value_name = "NAME")]
    pub reply: Option<String>,
    /// An internal note, not for the requester.
    #[arg(long)]
    pub internal: bool,
}

/// Runs `deskhand tickets comment`.
pub async fn comment(c: &Client, f: OutputFormat, a: CommentArgs) -> Result<()> {
    let what = match (&a.reply, a.internal) {
        (Some(r), true) => format!("internal note from reply {r}"),
        (Some(r), false) => format!("comment from reply {r}"),
        (None, true) => "internal note".into(),
        (None, false) => "comment".into(),
    };
    let body = CommentRequest {
        body: a.text.unwrap_or_default(),
        internal: a.internal,
        reply: a.reply,
    };
    crate::tickets::act(c, f, &a.ticket, "comments", &body, &what).await
}

fn path(name: &str) -> String {
    format!("/api/v1/replies/{}", path_segment(name))
}

/// Runs one `deskhand replies` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: RepliesCmd) -> Result<()> {
    match cmd {
        RepliesCmd::Create { name, text } => {
            let body = text.read()?;
            let r: ReplyView = c
                .post("/api/v1/replies", &CreateReply { name, body })
                .await?;
            if f == OutputFormat::Table {
                outln!(
                    "created canned reply {}: post it with `deskhand tickets comment T --reply {}`",
                    r.name,
                    r.name
                );
                return Ok(());
            }
            print(f, &r, || replies_table(std::slice::from_ref(&r)))
        }
        RepliesCmd::List => {
            let rows: Vec<ReplyView> = c.get("/api/v1/replies").await?;
            print(f, &rows, || replies_table(&rows))
        }
        RepliesCmd::Show { name } => {
            let r: ReplyView = c.get(&path(&name)).await?;
            if f != OutputFormat::Table {
                return print(f, &r, || replies_table(std::slice::from_ref(&r)));
            }
            outln!(
                "canned reply {} (created by {} at {}, changed by {} at {}):",
                r.name,
                r.created_by,
                r.created_at,
                r.updated_by,
                r.updated_at
            );
            emit(&r.body);
            if !r.body.ends_with('\n') {
                outln!();
            }
            Ok(())
        }
        RepliesCmd::Edit { name, text } => {
            let body = text.read()?;
            c.put::<_, serde_json::Value>(&path(&name), &UpdateReply { body })
                .await?;
            outln!("changed canned reply {name}");
            Ok(())
        }
        RepliesCmd::Delete { name } => {
            c.delete(&path(&name)).await?;
            outln!("deleted canned reply {name}");
            Ok(())
        }
    }
}

/// The first line of a reply's text, cut to `max` characters.
fn first_line(body: &str, max: usize) -> String {
    let line = body.lines().next().unwrap_or("");
    if line.chars().count() > max || body.lines().nth(1).is_some() {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

fn replies_table(rows: &[ReplyView]) -> Table {
    let mut t = Table::new(vec!["NAME", "TEXT", "UPDATED BY", "UPDATED AT"]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            first_line(&r.body, 60),
            r.updated_by.clone(),
            r.updated_at.clone(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn a_list_shows_each_replys_first_line_cut() {
        assert_eq!(first_line("Hello {requester}", 60), "Hello {requester}");
        assert_eq!(first_line("Hello\nmore", 60), "Hello...");
        assert_eq!(first_line("abcdef", 3), "abc...");
    }
}
