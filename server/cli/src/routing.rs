//! `deskhand routing`: the rules that send a new ticket to a team and
//! pick who gets it.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::routing::{CreateRule, MoveRule, RoutingTestView, RuleView};
use deskhand_api_types::tickets::parse_number;

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, opt, print};

/// `deskhand routing`.
///
/// When a ticket is created by any channel (CLI, API, console, an agent's
/// help request, e-mail, the portal), the first rule in order whose every
/// given criterion holds sends it to its team; the team's assign mode (or
/// the rule's --assign) picks a member on shift: `least-loaded` (fewest
/// new, open and pending tickets, ties by name), `round-robin` (the next
/// after the last one picked, in name order) or `queue` (nobody). Nobody
/// on shift: the ticket waits in the team's queue (`deskhand tickets list
/// --team TEAM --unassigned`). See `deskhand shifts` for who is on shift.
#[derive(Debug, Subcommand)]
pub enum RoutingCmd {
    /// Add a rule, last in order; a criterion left out matches anything.
    ///
    /// Example: `deskhand routing add printers --team desktop --category printing --assign round-robin`.
    Add {
        /// The rule's name: letters, digits, '-', '_' or '.'.
        name: String,
        /// The team a matching ticket goes to.
        #[arg(long)]
        team: String,
        /// The ticket's category (any case).
        #[arg(long)]
        category: Option<String>,
        /// A static label one of the ticket's linked assets carries.
        #[arg(long)]
        label: Option<String>,
        /// Where the ticket came from: technician, agent, portal or email.
        #[arg(long)]
        channel: Option<String>,
        /// The ticket's priority: urgent, high, normal or low.
        #[arg(long)]
        priority: Option<String>,
        /// least-loaded, round-robin or queue; the team's own mode if left out.
        #[arg(long)]
        assign: Option<String>,
    },
    /// List the rules in order: the first matching one wins.
    ///
    /// Example: `deskhand routing list`.
    List,
    /// Remove a rule; the ones after it move up.
    ///
    /// Example: `deskhand routing remove printers`.
    Remove {
        /// The rule's name.
        name: String,
    },
    /// Move a rule to another place in the order.
    ///
    /// Example: `deskhand routing move printers --position 1`.
    Move {
        /// The rule's name.
        name: String,
        /// The new place, from 1; past the end is last.
        #[arg(long)]
        position: i64,
    },
    /// Which rule a ticket matches now and whom it would pick, changing nothing.
    ///
    /// Example: `deskhand routing test 42`.
    Test {
        /// Ticket number, e.g. 42 or #42.
        ticket: String,
    },
}

fn rules_table(rows: &[RuleView]) -> Table {
    let mut t = Table::new(vec![
        "POS", "NAME", "CATEGORY", "LABEL", "CHANNEL", "PRIORITY", "TEAM", "ASSIGN",
    ]);
    for r in rows {
        t.row(vec![
            r.position.to_string(),
            r.name.clone(),
            opt(&r.category),
            opt(&r.label),
            opt(&r.channel),
            opt(&r.priority),
            r.team.clone(),
            r.assign.clone().unwrap_or_else(|| "(team's)".into()),
        ]);
    }
    t
}

/// Runs one `deskhand routing` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: RoutingCmd) -> Result<()> {
    match cmd {
        RoutingCmd::Add {
            name,
            team,
            category,
            label,
            channel,
            priority,
            assign,
        } => {
            let body = CreateRule {
                name,
                team,
                category,
                label,
                channel,
                priority,
                assign,
            };
            let r: RuleView = c.post("/api/v1/routing/rules", &body).await?;
            if f == OutputFormat::Json {
                return print(f, &r, || Table::new(vec![]));
            }
            outln!(
                "added rule {} at position {}: to team {}",
                r.name,
                r.position,
                r.team
            );
            Ok(())
        }
        RoutingCmd::List => {
            let rows: Vec<RuleView> = c.get("/api/v1/routing/rules").await?;
            print(f, &rows, || rules_table(&rows))
        }
        RoutingCmd::Remove { name } => {
            c.delete(&format!("/api/v1/routing/rules/{}", path_segment(&name)))
                .await?;
            outln!("removed rule {name}");
            Ok(())
        }
        RoutingCmd::Move { name, position } => {
            let path = format!("/api/v1/routing/rules/{}/move", path_segment(&name));
            let rows: Vec<RuleView> = c.post(&path, &MoveRule { position }).await?;
            print(f, &rows, || rules_table(&rows))
        }
        RoutingCmd::Test { ticket } => {
            let number = parse_number(&ticket).map_err(anyhow::Error::msg)?;
            let v: RoutingTestView = c.get(&format!("/api/v1/tickets/{number}/routing")).await?;
            print(f, &v, || {
                let mut t = Table::new(vec![
                    "TICKET",
                    "RULE",
                    "TEAM",
                    "ASSIGN",
                    "ON SHIFT",
                    "WOULD PICK",
                ]);
                t.row(vec![
                    format!("#{}", v.number),
                    v.rule.clone().unwrap_or_else(|| "(no rule matches)".into()),
                    opt(&v.team),
                    opt(&v.assign),
                    if v.on_shift.is_empty() {
                        "-".into()
                    } else {
                        v.on_shift.join(",")
                    },
                    match (&v.rule, &v.assignee) {
                        (None, _) => "-".into(),
                        (Some(_), Some(a)) => a.clone(),
                        (Some(_), None) => "(waits in the queue)".into(),
                    },
                ]);
                t
            })
        }
    }
}
