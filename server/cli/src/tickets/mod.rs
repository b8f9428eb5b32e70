//! `deskhand tickets ...` and `deskhand reports tickets` (see `cli::reports`);
//! `effort`: `log-time` and `time`; `comment --reply` is `cli::replies`'.

pub mod effort;

use anyhow::{Result, bail};

mod mass;
mod view;

pub use view::{asset_tickets_text, changes_text};
use view::{show, ticket_table};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, print};
use deskhand_api_types::tickets::parse_number;
use deskhand_api_types::tickets::{
    AssignRequest, CreateTicket, EscalateRequest, LinkRequest, RateRequest, StatusRequest,
    TicketCreated, TicketDetail, TicketQuery, TicketView, UpdateTicket,
};

/// `deskhand tickets`.
#[derive(Debug, clap::Subcommand)]
pub enum TicketsCmd {
    /// Open a ticket.
    ///
    /// Example: `deskhand tickets create --title "Outlook crashes" --requester alice@example.com --asset PC-0042 --priority high --category software`.
    Create {
        /// One line on the problem.
        #[arg(long)]
        title: String,
        /// Who asked: e-mail address or user name.
        #[arg(long)]
        requester: String,
        /// An asset it is about: id, host name or serial (repeatable).
        #[arg(long = "asset", value_name = "ASSET")]
        assets: Vec<String>,
        /// urgent, high, normal or low; sets the SLA targets.
        #[arg(long, default_value = "normal")]
        priority: String,
        /// Free category, e.g. software, hardware, network.
        #[arg(long, default_value = "")]
        category: String,
        /// The software it is about, e.g. Outlook (reports count it).
        #[arg(long, default_value = "")]
        software: String,
        /// More detail.
        #[arg(long, default_value = "")]
        description: String,
        /// Assign to this technician at once.
        #[arg(long, value_name = "OPERATOR")]
        assign: Option<String>,
    },
    /// List tickets: active ones (new, open, pending) unless --status says otherwise.
    List {
        /// Only tickets assigned to you.
        #[arg(long)]
        mine: bool,
        /// Only tickets assigned to this technician.
        #[arg(long, value_name = "OPERATOR")]
        assignee: Option<String>,
        /// Statuses, comma-separated (new, open, pending, resolved, closed), or all.
        #[arg(long)]
        status: Option<String>,
        /// Priorities, comma-separated, e.g. urgent,high.
        #[arg(long)]
        priority: Option<String>,
        /// Only tickets about to breach their SLA (a running clock with at
        /// most the warning window left, 1h by default) or breaching it.
        #[arg(long)]
        breaching: bool,
        /// Only tickets linked to this asset.
        #[arg(long)]
        asset: Option<String>,
        /// Only tickets that came by these channels, comma-separated:
        /// technician, agent, portal, email.
        #[arg(long)]
        channel: Option<String>,
        /// Only the children of this ticket (any status unless --status says).
        #[arg(long, value_name = "TICKET")]
        parent: Option<String>,
        /// Only tickets routed to this team (see `deskhand routing`).
        #[arg(long)]
        team: Option<String>,
        /// Only tickets assigned to nobody; with --team, the team's queue.
        #[arg(long)]
        unassigned: bool,
    },
    /// A ticket in full: SLA clocks, timeline with attached results, and each
    /// linked asset's inventory summary, changes in the last 7 days and the
    /// software installed since the ticket opened.
    Show {
        /// Ticket number, e.g. 42 or #42.
        ticket: String,
    },
    /// Add a comment, or a canned reply filled in for the ticket; a public
    /// one is the first response if none was given yet.
    ///
    /// Example: `deskhand tickets comment 42 "Restarted the spooler"`, `deskhand tickets comment 42 --reply printer-queue`.
    Comment(crate::replies::CommentArgs),
    /// Log time worked on a ticket, as yourself: 25m, 1h30m, 90m (1 minute to 24h).
    ///
    /// Example: `deskhand tickets log-time 42 25m --note "remote fix"`.
    LogTime(effort::LogTimeArgs),
    /// The time logged on a ticket, entry by entry; --delete ID removes one.
    ///
    /// Example: `deskhand tickets time 42`, `deskhand tickets time 42 --delete 7`.
    Time(effort::TimeArgs),
    /// Change a ticket's title, description, category, software or priority
    /// (a new priority brings its SLA targets; the clocks keep their time).
    Update {
        /// Ticket number.
        ticket: String,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New category.
        #[arg(long)]
        category: Option<String>,
        /// New software.
        #[arg(long)]
        software: Option<String>,
        /// New priority: urgent, high, normal or low.
        #[arg(long)]
        priority: Option<String>,
    },
    /// Assign to a technician (an operator).
    Assign {
        /// Ticket number.
        ticket: String,
        /// Operator name.
        technician: String,
    },
    /// Take the ticket off its technician.
    Unassign {
        /// Ticket number.
        ticket: String,
    },
    /// Escalate to the next tier, a given tier, or a named technician.
    Escalate {
        /// Ticket number.
        ticket: String,
        /// tier2 (or 2), or an operator's name; the next tier if absent.
        #[arg(long)]
        to: Option<String>,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Put a ticket in a team's queue; whoever was assigned is unassigned.
    ///
    /// Example: `deskhand tickets move 42 --team tier2`.
    Move {
        /// Ticket number.
        ticket: String,
        /// The team (`deskhand teams list`).
        #[arg(long, required_unless_present = "no_team", conflicts_with = "no_team")]
        team: Option<String>,
        /// Take it out of every team's queue.
        #[arg(long)]
        no_team: bool,
    },
    /// Link an asset.
    Link {
        /// Ticket number.
        ticket: String,
        /// Id, host name or serial number.
        asset: String,
    },
    /// Unlink an asset.
    Unlink {
        /// Ticket number.
        ticket: String,
        /// Id, host name or serial number.
        asset: String,
    },
    /// Start work on a new ticket, or resume a pending one.
    Open {
        /// Ticket number.
        ticket: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Wait on the requester: the SLA clocks pause until it is open again.
    Pending {
        /// Ticket number.
        ticket: String,
        /// What you are waiting for.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Mark it fixed.
    Resolve {
        /// Ticket number.
        ticket: String,
        /// What fixed it.
        #[arg(long)]
        note: String,
        /// Then write a knowledge-base article drafted from the ticket
        /// (visible to technicians only; review it with `deskhand kb
        /// edit`), as `deskhand kb add --from-ticket` does.
        #[arg(long)]
        draft_article: bool,
    },
    /// Close a resolved ticket for good.
    Close {
        /// Ticket number.
        ticket: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reopen a resolved ticket; its resolution clock carries on.
    Reopen {
        /// Ticket number.
        ticket: String,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Open a ticket from a raw e-mail, or add it to the ticket it
    /// answers: what an MTA alias pipes each message into.
    ///
    /// Example (/etc/aliases): `helpdesk: "|/usr/bin/deskhand tickets from-email"`.
    /// Exits 0 when handled or ignored, 75 when the server cannot be
    /// reached (the MTA retries), 65 for a message that cannot be parsed.
    FromEmail {
        /// The message file; stdin without it.
        file: Option<std::path::PathBuf>,
    },
    /// Mass incidents: merge, link-child, unlink-child, bulk.
    #[command(flatten)]
    Mass(mass::MassCmd),
    /// Record the requester's satisfaction with a resolved ticket, 1 to 5.
    Rate {
        /// Ticket number.
        ticket: String,
        /// 1 (very unhappy) to 5 (very happy).
        #[arg(allow_negative_numbers = true)]
        score: i64,
        /// Their words.
        #[arg(long, default_value = "")]
        comment: String,
    },
}

fn num(t: &str) -> Result<i64> {
    parse_number(t).map_err(anyhow::Error::msg)
}

fn ticket_path(t: &str) -> Result<String> {
    Ok(format!("/api/v1/tickets/{}", num(t)?))
}

/// Runs one `deskhand tickets` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: TicketsCmd) -> Result<()> {
    match cmd {
        TicketsCmd::Create {
            title,
            requester,
            assets,
            priority,
            category,
            software,
            description,
            assign,
        } => {
            let req = CreateTicket {
                title,
                description,
                requester,
                category,
                software,
                priority: Some(priority),
                assets,
                assignee: assign,
            };
            let t: TicketCreated = c.post("/api/v1/tickets", &req).await?;
            if f == OutputFormat::Table {
                outln!("opened ticket {}: {}", t.number, t.title);
                return Ok(());
            }
            print(f, &t, || {
                let mut tb = Table::new(vec!["NUMBER", "TITLE"]);
                tb.row(vec![t.number.to_string(), t.title.clone()]);
                tb
            })
        }
        TicketsCmd::List {
            mine,
            assignee,
            status,
            priority,
            breaching,
            asset,
            channel,
            parent,
            team,
            unassigned,
        } => {
            let q = TicketQuery {
                parent,
                status,
                priority,
                mine: mine.then_some(true),
                assignee,
                breaching: breaching.then_some(true),
                asset,
                channel,
                team,
                unassigned: unassigned.then_some(true),
            };
            let rows: Vec<TicketView> = c.get_query("/api/v1/tickets", &q).await?;
            print(f, &rows, || ticket_table(&rows))
        }
        TicketsCmd::Show { ticket } => show(c, f, &ticket).await,
        TicketsCmd::Comment(a) => crate::replies::comment(c, f, a).await,
        TicketsCmd::LogTime(a) => effort::log_time(c, f, a).await,
        TicketsCmd::Time(a) => effort::time(c, f, a).await,
        TicketsCmd::Update {
            ticket,
            title,
            description,
            category,
            software,
            priority,
        } => {
            let body = UpdateTicket {
                title,
                description,
                category,
                software,
                priority,
            };
            c.patch::<_, serde_json::Value>(&ticket_path(&ticket)?, &body)
                .await?;
            done(c, f, &ticket, "updated").await
        }
        TicketsCmd::Assign { ticket, technician } => {
            let body = AssignRequest {
                assignee: Some(technician.clone()),
            };
            act(
                c,
                f,
                &ticket,
                "assign",
                &body,
                &format!("assigned to {technician}"),
            )
            .await
        }
        TicketsCmd::Unassign { ticket } => {
            let body = AssignRequest { assignee: None };
            act(c, f, &ticket, "assign", &body, "unassigned").await
        }
        TicketsCmd::Escalate { ticket, to, note } => {
            let what = format!("escalated to {}", to.as_deref().unwrap_or("the next tier"));
            act(
                c,
                f,
                &ticket,
                "escalate",
                &EscalateRequest { to, note },
                &what,
            )
            .await
        }
        TicketsCmd::Move { ticket, team, .. } => {
            let what = match &team {
                Some(t) => format!("moved to team {t}'s queue"),
                None => "taken out of every team's queue".into(),
            };
            let body = deskhand_api_types::teams::MoveTicket { team };
            act(c, f, &ticket, "team", &body, &what).await
        }
        TicketsCmd::Link { ticket, asset } => {
            let what = format!("linked {asset}");
            act(c, f, &ticket, "assets", &LinkRequest { asset }, &what).await
        }
        TicketsCmd::Unlink { ticket, asset } => {
            c.delete(&format!(
                "{}/assets/{}",
                ticket_path(&ticket)?,
                path_segment(&asset)
            ))
            .await?;
            done(c, f, &ticket, &format!("unlinked {asset}")).await
        }
        TicketsCmd::Open { ticket, note } => status(c, f, &ticket, "open", note).await,
        TicketsCmd::Pending { ticket, note } => status(c, f, &ticket, "pending", note).await,
        TicketsCmd::Resolve {
            ticket,
            note,
            draft_article,
        } => {
            status(c, f, &ticket, "resolved", note).await?;
            if draft_article {
                let d = crate::kb::ticket_draft(c, &ticket, false).await?;
                let a: deskhand_api_types::kb::ArticleCreated = c.post("/api/v1/kb", &d).await?;
                if f == OutputFormat::Table {
                    outln!(
                        "drafted article {} from the ticket, for technicians only: review it with `deskhand kb edit {}` (or in the console)",
                        a.id,
                        a.id
                    );
                }
            }
            Ok(())
        }
        TicketsCmd::Close { ticket, note } => status(c, f, &ticket, "closed", note).await,
        TicketsCmd::Reopen { ticket, note } => {
            let t: TicketView = c
                .get(&ticket_path(&ticket)?)
                .await
                .map(|d: TicketDetail| d.ticket)?;
            if t.status != "resolved" {
                bail!(
                    "ticket {} is {}; only a resolved ticket can be reopened{}",
                    t.number,
                    t.status,
                    if t.status == "pending" {
                        " (resume a pending one with `deskhand tickets open`)"
                    } else {
                        ""
                    }
                );
            }
            status(c, f, &ticket, "open", note).await
        }
        TicketsCmd::FromEmail { file } => crate::mail::from_email(c, f, file).await,
        TicketsCmd::Mass(cmd) => mass::run(c, f, cmd).await,
        TicketsCmd::Rate {
            ticket,
            score,
            comment,
        } => {
            let what = format!("rated {score}/5");
            act(
                c,
                f,
                &ticket,
                "rating",
                &RateRequest { score, comment },
                &what,
            )
            .await
        }
    }
}

async fn status(c: &Client, f: OutputFormat, ticket: &str, to: &str, note: String) -> Result<()> {
    let body = StatusRequest {
        status: to.into(),
        note,
    };
    act(c, f, ticket, "status", &body, &format!("now {to}")).await
}

/// POSTs a change, then prints the ticket's new state.
pub(crate) async fn act<B: serde::Serialize>(
    c: &Client,
    f: OutputFormat,
    ticket: &str,
    what: &str,
    body: &B,
    done_text: &str,
) -> Result<()> {
    c.post::<_, serde_json::Value>(&format!("{}/{what}", ticket_path(ticket)?), body)
        .await?;
    done(c, f, ticket, done_text).await
}

async fn done(c: &Client, f: OutputFormat, ticket: &str, text: &str) -> Result<()> {
    let d: TicketDetail = c.get(&ticket_path(ticket)?).await?;
    if f == OutputFormat::Table {
        outln!(
            "ticket {}: {text} (status {}, {})",
            d.ticket.number,
            d.ticket.status,
            d.ticket
                .assignee
                .as_deref()
                .map_or("unassigned".to_string(), |a| format!("assigned to {a}"))
        );
        return Ok(());
    }
    print(f, &d.ticket, || {
        ticket_table(std::slice::from_ref(&d.ticket))
    })
}
