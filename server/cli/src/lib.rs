//! The operator CLI: every `deskhand NOUN VERB` except `server` and
//! `backup` is a client of the server's HTTP API, printing a table, JSON or
//! CSV.
//!
//! [`Command`] holds the client's commands (the `deskhand` binary
//! flattens it next to its own `server` and `backup`) and [`run`] runs one
//! of them with the [`GlobalArgs`] through a [`Client`]. Each noun has its
//! file, with its clap definitions and what its verbs print: [`assets`],
//! [`software`], [`labels`], [`agents`] (and enrollment tokens),
//! [`operators`] (and the audit log, `status`), [`diag`], [`jobs`],
//! [`publish`] (keys, packages, scripts; the key files themselves in
//! [`keys`], which `server --dev` uses too), [`rollouts`] (staged jobs in
//! waves), [`tickets`], [`replies`] (canned replies), [`kb`] (the knowledge base), [`reports`] (and
//! scheduled reports), [`goals`], [`remote`] (`shell`, `files`, `tunnel`,
//! `sessions`: remote access through an agent, over an upgraded request).
//! Output goes through [`render`] ([`Table`], [`print`]); tables more than
//! one noun prints are in `tables`; [`progress`] draws bars on stderr when
//! it is a terminal (uploads, `jobs run --wait`). This crate speaks to the server with
//! `deskhand-api-types` only: it has no database, no QUIC, no agent.

use anyhow::Result;
use clap::Subcommand;

/// `format!` to stdout through [`render::emit`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::render::emit(&format!($($t)*)) };
}

/// `format!` and a newline to stdout through [`render::emit`].
#[macro_export]
macro_rules! outln {
    () => { $crate::render::emit("\n") };
    ($($t:tt)*) => { $crate::render::emit(&(format!($($t)*) + "\n")) };
}

pub mod agents;
pub mod assets;
pub mod client;
pub mod csv_output;
pub mod diag;
pub mod goals;
mod install_commands;
pub mod jobs;
pub mod kb;
pub mod keys;
pub mod labels;
pub mod mail;
mod msi_info;
pub mod nodes;
pub mod operators;
pub mod progress;
pub mod publish;
pub mod remote;
pub mod render;
pub mod replies;
pub mod reports;
pub mod rollouts;
pub mod routing;
pub mod shifts;
pub mod software;
mod stale;
mod tables;
pub mod teams;
pub mod tickets;

pub use client::{Client, ServerTrust};
pub use render::{OutputFormat, Table, emit, print};

/// The options every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// The server's API URL.
    #[arg(
        long,
        global = true,
        env = "DESKHAND_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,
    /// Your operator API token.
    #[arg(long, global = true, env = "DESKHAND_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// For an https:// server: the PEM file of the CA that signed its
    /// certificate (the server's own is ca.pem in its data directory).
    #[arg(long, global = true, env = "DESKHAND_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// For an https:// server: the SHA-256 fingerprint of the server's own
    /// CA, as `deskhand server` and `deskhand tokens create` print it.
    #[arg(
        long,
        global = true,
        env = "DESKHAND_CA_FINGERPRINT",
        value_name = "HEX"
    )]
    pub ca_fingerprint: Option<String>,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// The client's commands: the `deskhand` binary's subcommands other than
/// `server` and `backup`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which server and operator the CLI talks to, and whether its
    /// database takes writes (FAILING, with SQLite's reason, for a minute
    /// after it refuses one).
    Status,
    /// Enrollment tokens for new agents.
    #[command(subcommand)]
    Tokens(agents::TokensCmd),
    /// People who use deskhand, and their API tokens.
    #[command(subcommand)]
    Operators(operators::OperatorsCmd),
    /// Enrolled agents.
    #[command(subcommand)]
    Agents(agents::AgentsCmd),
    /// Server nodes sharing one PostgreSQL database.
    #[command(subcommand)]
    Nodes(nodes::NodesCmd),
    /// The audit log of operator actions.
    #[command(subcommand)]
    Audit(operators::AuditCmd),
    /// Live diagnostics on an agent's machine.
    #[command(subcommand)]
    Diag(diag::DiagCmd),
    /// The inventory: machines, their hardware, software and history.
    #[command(subcommand)]
    Assets(assets::AssetsCmd),
    /// Installed software across all assets.
    #[command(subcommand)]
    Software(software::SoftwareCmd),
    /// Labels that group assets, by hand or by a filter; jobs target them.
    #[command(subcommand)]
    Labels(labels::LabelsCmd),
    /// Publisher signing keys (kept by operators, never by the server).
    #[command(subcommand)]
    Keys(publish::KeysCmd),
    /// Signed packages agents install.
    #[command(subcommand)]
    Packages(publish::PackagesCmd),
    /// Signed scripts agents run.
    #[command(subcommand)]
    Scripts(publish::ScriptsCmd),
    /// Installs, uninstalls, scripts and inventory refreshes on assets.
    #[command(subcommand)]
    Jobs(jobs::JobsCmd),
    /// Staged installs, uninstalls and scripts: a canary, then waves, with gates.
    #[command(subcommand)]
    Rollouts(rollouts::RolloutsCmd),
    /// Help-desk tickets linked to assets, with SLA clocks and escalation.
    #[command(subcommand)]
    Tickets(tickets::TicketsCmd),
    /// Help-desk teams: members, the tier each serves, business hours.
    #[command(subcommand)]
    Teams(teams::TeamsCmd),
    /// Business-hours calendars: the working time teams' SLA clocks count.
    #[command(subcommand)]
    Calendars(teams::CalendarsCmd),
    /// The knowledge base: articles, their search, suggestions for a ticket.
    #[command(subcommand)]
    Kb(kb::KbCmd),
    /// Reports for supervisors.
    #[command(subcommand)]
    Reports(reports::ReportsCmd),
    /// Canned replies for ticket comments, with placeholders filled in per ticket.
    #[command(subcommand)]
    Replies(replies::RepliesCmd),
    /// Supervisors' goals for teams and technicians, judged in reports.
    #[command(subcommand)]
    Goals(goals::GoalsCmd),
    /// E-mail the server sends: the queue of mails not sent yet.
    #[command(subcommand)]
    Mail(mail::MailCmd),
    /// Teams' weekly shifts and operators' absences, which routing reads.
    #[command(subcommand)]
    Shifts(shifts::ShiftsCmd),
    /// Rules that send new tickets to a team and pick who gets them.
    #[command(subcommand)]
    Routing(routing::RoutingCmd),
    /// Open a shell on a machine, with the user's consent; exits with the
    /// remote shell's code.
    ///
    /// Example: `deskhand shell PC-0042 --ticket 42`.
    Shell(remote::shell::ShellArgs),
    /// Copy files to and from a machine, and list its directories.
    #[command(subcommand)]
    Files(remote::files::FilesCmd),
    /// Forward a local port to a port on a machine (VNC, RDP, a web UI).
    ///
    /// Example: `deskhand tunnel PC-0042 5900 --local 127.0.0.1:15900`.
    Tunnel(remote::tunnel::TunnelArgs),
    /// See (or control) the logged-in user's screen in a VNC viewer, once
    /// they allow it on the prompt their screen shows.
    ///
    /// Example: `deskhand desktop PC-0042 --ticket 42 --local 127.0.0.1:5901`, then
    /// point any VNC viewer at 127.0.0.1:5901.
    Desktop(remote::desktop::DesktopArgs),
    /// Remote sessions (shells, file copies, tunnels, screens): who, when, and
    /// their recordings.
    #[command(subcommand)]
    Sessions(remote::sessions::SessionsCmd),
}

/// Runs one client command against the server `args` names.
pub async fn run(args: GlobalArgs, command: Command) -> Result<()> {
    if let Command::Keys(cmd) = command {
        return publish::keys(cmd);
    }
    let trust =
        client::ServerTrust::from_args(args.ca_cert.as_deref(), args.ca_fingerprint.as_deref())?;
    let client = Client::with_trust(&args.server, args.token, trust)?;
    let f = args.output;
    let c = &client;
    match command {
        Command::Keys(_) => unreachable!("handled above"),
        Command::Status => operators::status(c, f).await,
        Command::Tokens(cmd) => agents::run_tokens(c, f, cmd).await,
        Command::Operators(cmd) => operators::run(c, f, cmd).await,
        Command::Agents(cmd) => agents::run(c, f, cmd).await,
        Command::Nodes(cmd) => nodes::run(c, f, cmd).await,
        Command::Audit(cmd) => operators::run_audit(c, f, cmd).await,
        Command::Diag(cmd) => diag::run(c, f, cmd).await,
        Command::Assets(cmd) => assets::run(c, f, cmd).await,
        Command::Software(cmd) => software::run(c, f, cmd).await,
        Command::Labels(cmd) => labels::run(c, f, cmd).await,
        Command::Packages(cmd) => publish::packages(c, f, cmd).await,
        Command::Scripts(cmd) => publish::scripts(c, f, cmd).await,
        Command::Jobs(cmd) => jobs::run(c, f, cmd).await,
        Command::Rollouts(cmd) => rollouts::run(c, f, cmd).await,
        Command::Tickets(cmd) => tickets::run(c, f, cmd).await,
        Command::Teams(cmd) => teams::run_teams(c, f, cmd).await,
        Command::Calendars(cmd) => teams::run_calendars(c, f, cmd).await,
        Command::Kb(cmd) => kb::run(c, f, cmd).await,
        Command::Reports(cmd) => reports::run(c, f, cmd).await,
        Command::Replies(cmd) => replies::run(c, f, cmd).await,
        Command::Goals(cmd) => goals::run(c, f, cmd).await,
        Command::Mail(cmd) => mail::run(c, f, cmd).await,
        Command::Shifts(cmd) => shifts::run(c, f, cmd).await,
        Command::Routing(cmd) => routing::run(c, f, cmd).await,
        Command::Shell(args) => remote::shell::run(c, args).await,
        Command::Files(cmd) => remote::files::run(c, f, cmd).await,
        Command::Tunnel(args) => remote::tunnel::run(c, args).await,
        Command::Desktop(args) => remote::desktop::run(c, args).await,
        Command::Sessions(cmd) => remote::sessions::run(c, f, cmd).await,
    }
}

/// The process exit code for a command's error: the distinct code a
/// [`rollouts::RolloutStopped`] carries (`rollouts watch` on a paused,
/// aborted or waiting rollout) or a [`mail::MailExit`] (`tickets
/// from-email`, for the MTA), 1 for any other.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if let Some(m) = err.downcast_ref::<mail::MailExit>() {
        return m.code;
    }
    err.downcast_ref::<rollouts::RolloutStopped>()
        .map_or(1, |s| s.code)
}
