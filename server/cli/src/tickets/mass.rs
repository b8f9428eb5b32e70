//! `deskhand tickets merge|link-child|unlink-child|bulk`: mass incidents,
//! and the relations section of `deskhand tickets show`.

use anyhow::{Result, bail};

use crate::render::{OutputFormat, Table, print};
use deskhand_api_types::mass::{
    BulkRequest, ChildrenRequest, MassResult, MergeRequest, TicketRelations,
};
use deskhand_api_types::tickets::parse_number;

/// The mass-incident commands, flattened into `deskhand tickets`.
#[derive(Debug, clap::Subcommand)]
pub enum MassCmd {
    /// Merge duplicate tickets into the one that goes on: each is closed
    /// (with a public "Merged into #N" entry), its requester mailed that
    /// their request continues as #N, and made a follower of #N (mailed
    /// its public news, shown it in the portal).
    ///
    /// Example: `deskhand tickets merge 57 58 59 --into 56 --note "same outage"`.
    Merge {
        /// The duplicates.
        #[arg(required = true, value_name = "TICKET")]
        tickets: Vec<String>,
        /// The ticket that goes on.
        #[arg(long, value_name = "TICKET")]
        into: String,
        /// Why, shown on each merged ticket and mailed to its requester.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Link tickets under a parent (one level: a parent is no child, a
    /// child has one parent).
    ///
    /// Example: `deskhand tickets link-child 56 61 62`, then
    /// `deskhand tickets list --parent 56`.
    LinkChild {
        /// The parent.
        parent: String,
        /// The children.
        #[arg(required = true, value_name = "CHILD")]
        children: Vec<String>,
    },
    /// Unlink a child from its parent.
    ///
    /// Example: `deskhand tickets unlink-child 56 61`.
    UnlinkChild {
        /// The parent.
        parent: String,
        /// The child.
        child: String,
    },
    /// Change every ticket a filter selects (at most 500), each through
    /// its own rules, audit and mails; one that refuses is reported.
    ///
    /// The filter: key=value terms joined by `,`, all of which must hold;
    /// keys parent, status (`open|pending`; new, open and pending if
    /// absent), priority, category, assignee (`none`: unassigned),
    /// channel, team, requester.
    ///
    /// Example: `deskhand tickets bulk resolve --where parent=56 --note "mail restored" --dry-run`.
    Bulk {
        /// What to do.
        #[command(subcommand)]
        action: BulkCmd,
    },
}

/// The filter and dry run every bulk action takes.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Which tickets, e.g. `parent=56` or `category=email,status=open`.
    #[arg(long = "where", value_name = "FILTER")]
    filter: String,
    /// Only list what would change.
    #[arg(long)]
    dry_run: bool,
}

/// `deskhand tickets bulk ...`.
#[derive(Debug, clap::Subcommand)]
pub enum BulkCmd {
    /// Resolve them, each requester mailed the note.
    ///
    /// Example: `deskhand tickets bulk resolve --where parent=56 --note "mail restored"`.
    Resolve {
        #[command(flatten)]
        selection: Selection,
        /// What fixed it.
        #[arg(long)]
        note: String,
    },
    /// Comment on them (a public comment is mailed to each requester).
    ///
    /// Example: `deskhand tickets bulk comment --where 'category=email,status=open' --text "we are on it"`.
    Comment {
        #[command(flatten)]
        selection: Selection,
        /// The text.
        #[arg(long)]
        text: String,
        /// An internal note, not for the requesters.
        #[arg(long)]
        internal: bool,
    },
    /// Assign them to a technician (`--to none` unassigns).
    ///
    /// Example: `deskhand tickets bulk assign --where 'category=email,assignee=none' --to bob`.
    Assign {
        #[command(flatten)]
        selection: Selection,
        /// The technician.
        #[arg(long, value_name = "OPERATOR")]
        to: String,
    },
}

fn num(t: &str) -> Result<i64> {
    parse_number(t).map_err(anyhow::Error::msg)
}

/// Runs one mass-incident command.
pub(super) async fn run(c: &crate::client::Client, f: OutputFormat, cmd: MassCmd) -> Result<()> {
    let (path, result) = match cmd {
        MassCmd::Merge {
            tickets,
            into,
            note,
        } => {
            let req = MergeRequest {
                tickets: tickets.iter().map(|t| num(t)).collect::<Result<_>>()?,
                note,
            };
            let path = format!("/api/v1/tickets/{}/merge", num(&into)?);
            let r: MassResult = c.post(&path, &req).await?;
            (path, r)
        }
        MassCmd::LinkChild { parent, children } => {
            let req = ChildrenRequest {
                children: children.iter().map(|t| num(t)).collect::<Result<_>>()?,
            };
            let path = format!("/api/v1/tickets/{}/children", num(&parent)?);
            let r: MassResult = c.post(&path, &req).await?;
            (path, r)
        }
        MassCmd::UnlinkChild { parent, child } => {
            let (p, ch) = (num(&parent)?, num(&child)?);
            c.delete(&format!("/api/v1/tickets/{p}/children/{ch}"))
                .await?;
            if f == OutputFormat::Table {
                outln!("ticket {ch}: no longer a child of #{p}");
                return Ok(());
            }
            let r = serde_json::json!({ "parent": p, "child": ch, "unlinked": true });
            return print(f, &r, || Table::new(vec!["UNLINKED"]));
        }
        MassCmd::Bulk { action } => {
            let (selection, req) = match action {
                BulkCmd::Resolve { selection, note } => (
                    selection,
                    BulkRequest {
                        action: "resolve".into(),
                        note,
                        ..Default::default()
                    },
                ),
                BulkCmd::Comment {
                    selection,
                    text,
                    internal,
                } => (
                    selection,
                    BulkRequest {
                        action: "comment".into(),
                        text,
                        internal,
                        ..Default::default()
                    },
                ),
                BulkCmd::Assign { selection, to } => (
                    selection,
                    BulkRequest {
                        action: "assign".into(),
                        to: Some(to),
                        ..Default::default()
                    },
                ),
            };
            let req = BulkRequest {
                filter: selection.filter,
                dry_run: selection.dry_run,
                ..req
            };
            let path = "/api/v1/tickets/bulk".to_string();
            let r: MassResult = c.post(&path, &req).await?;
            (path, r)
        }
    };
    show_result(f, &path, &result)
}

/// Prints the per-ticket outcomes; fails, with the reasons, when every
/// ticket refused.
fn show_result(f: OutputFormat, path: &str, r: &MassResult) -> Result<()> {
    let refused: Vec<String> = r
        .results
        .iter()
        .filter(|o| o.outcome == "refused")
        .map(|o| o.message.clone())
        .collect();
    let all_refused = !refused.is_empty() && refused.len() == r.results.len();
    if !(all_refused && f == OutputFormat::Table) {
        print(f, r, || {
            let mut t = Table::new(vec!["#", "RESULT", "DETAIL"]);
            for o in &r.results {
                t.row(vec![
                    o.number.to_string(),
                    o.outcome.clone(),
                    o.message.clone(),
                ]);
            }
            t
        })?;
    }
    if f == OutputFormat::Table && r.results.is_empty() {
        outln!("no ticket matches the filter; see `deskhand tickets list --status all`");
    }
    if all_refused {
        bail!(
            "nothing changed ({path}), every ticket refused: {}",
            refused.join("; ")
        );
    }
    Ok(())
}

/// The relations section of `deskhand tickets show`: merged into, the
/// parent or the children, merged tickets and followers.
pub(super) fn relations_text(r: &TicketRelations) -> String {
    let mut out = String::new();
    if let Some(into) = r.merged_into {
        out.push_str(&format!("\nmerged into #{into}\n"));
    }
    if let Some(p) = &r.parent {
        out.push_str(&format!(
            "\nparent: #{} {} ({})\n",
            p.number, p.title, p.status
        ));
    }
    for (head, list) in [("children", &r.children), ("merged tickets", &r.merged)] {
        if list.is_empty() {
            continue;
        }
        let mut t = Table::new(vec!["#", "STATUS", "REQUESTER", "TITLE"]);
        for x in list {
            t.row(vec![
                x.number.to_string(),
                x.status.clone(),
                x.requester.clone(),
                x.title.clone(),
            ]);
        }
        out.push_str(&format!("\n{head}:\n{}", t.to_text()));
    }
    if !r.followers.is_empty() {
        let mut t = Table::new(vec!["FOLLOWER", "ACCOUNT", "FROM", "SINCE"]);
        for x in &r.followers {
            let who = if x.requester.contains('@') {
                x.requester.clone()
            } else {
                format!("{} (no address: not mailed)", x.requester)
            };
            t.row(vec![
                who,
                x.account.clone().unwrap_or_else(|| "-".into()),
                format!("#{}", x.from_ticket),
                x.added_at.clone(),
            ]);
        }
        out.push_str(&format!("\nfollowers:\n{}", t.to_text()));
    }
    out
}
