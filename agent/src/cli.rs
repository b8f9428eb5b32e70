//! The `deskhand-agent` command line: its clap definitions, which the
//! binary parses and `deskhand-agent-docs` (not shipped) turns into shell
//! completions and man pages for the packages, so the agent itself carries
//! no generator.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The deskhand agent: reports this machine to a deskhand server and runs
/// the jobs it sends.
#[derive(Debug, Parser)]
#[command(
    name = "deskhand-agent",
    version,
    about,
    long_about = None,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// TOML file with settings (keys: state_dir, server, log, inventory_interval, help_socket, remote_access, tunnel_ports, max_file_bytes; a [watchdog] table).
    #[arg(
        long,
        global = true,
        env = "DESKHAND_AGENT_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    /// Where the agent keeps its identity [default: /var/lib/deskhand-agent].
    #[arg(
        long,
        global = true,
        env = "DESKHAND_AGENT_STATE_DIR",
        value_name = "DIR"
    )]
    pub state_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `debug`.
    #[arg(long, global = true, env = "DESKHAND_AGENT_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The local socket `help` reaches the running agent on [default: /run/deskhand-agent/help.sock; on Windows a pipe, \\.\pipe\deskhand-agent-help].
    #[arg(
        long,
        global = true,
        env = "DESKHAND_AGENT_HELP_SOCKET",
        value_name = "PATH"
    )]
    pub help_socket: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `deskhand-agent` is asked to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enroll this machine with a server, using a token from `deskhand tokens create`.
    Enroll {
        /// The server's agent endpoint, HOST:PORT; several nodes of one server
        /// as HOST:PORT,HOST:PORT (tried in order, on every reconnect).
        #[arg(long, env = "DESKHAND_AGENT_SERVER", value_name = "HOST:PORT")]
        server: String,
        /// The enrollment token.
        #[arg(long, env = "DESKHAND_ENROLL_TOKEN")]
        token: String,
        /// The server CA's SHA-256 fingerprint, as `deskhand tokens create` prints it.
        #[arg(long, value_name = "SHA256")]
        ca_fingerprint: String,
        /// A publisher public key (`ed25519:HEX`, from `deskhand keys generate`) whose signed
        /// packages and scripts this agent runs (repeatable). Without one, the agent runs
        /// diagnostics and inventory jobs but refuses every install and script.
        #[arg(long, value_name = "KEY")]
        trust_publisher: Vec<String>,
        /// Replace an existing enrollment.
        #[arg(long)]
        force: bool,
    },
    /// Run the agent: stay connected to the server (the service's entry point).
    Run {
        /// Override the server address stored at enrollment.
        #[arg(long, env = "DESKHAND_AGENT_SERVER", value_name = "HOST:PORT")]
        server: Option<String>,
        /// How often to report the inventory, e.g. 1h or 15m [default: 1h].
        #[arg(long, env = "DESKHAND_AGENT_INVENTORY_INTERVAL", value_parser = humantime::parse_duration)]
        inventory_interval: Option<std::time::Duration>,
    },
    /// Collect and print this machine's inventory (no server needed).
    Inventory {
        /// Print the full document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a diagnostic on this machine and print it (no server needed).
    ///
    /// Example: `deskhand-agent diag tcp-connect --host mail.example.com --port 443`.
    /// `deskhand-agent diag list` lists the checks and their arguments.
    Diag {
        /// The check, or `list`.
        check: String,
        /// The check's arguments.
        #[command(flatten)]
        args: deskhand_shared::diag::catalog::DiagFlags,
        /// Keep printing new output (logs) until interrupted.
        #[arg(long)]
        follow: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask IT for help: opens a ticket for this machine, with a fresh
    /// inventory and a system summary attached, and prints its number.
    ///
    /// Example: `deskhand-agent help "Outlook crashes when I open the calendar"`.
    /// Any local user may run it; the running agent service forwards it.
    ///
    /// `deskhand-agent help --open` opens the help portal in your browser
    /// instead, signed in as you on this machine: follow your tickets,
    /// reply, rate.
    Help {
        /// What is wrong, in your words.
        #[arg(required_unless_present = "open")]
        message: Option<String>,
        /// Open the help portal in your browser (a link valid once, for 5 minutes).
        #[arg(long, conflicts_with = "message")]
        open: bool,
        /// With --open: print the link only, do not start a browser.
        #[arg(long, requires = "open")]
        print: bool,
        /// Also let IT reach this machine remotely (terminal, files, tunnels) for this
        /// long, e.g. 30m or 2h (1 minute to 8 hours), for the ticket this request opens.
        #[arg(long, value_name = "DURATION", conflicts_with = "open", value_parser = consent_duration)]
        allow_remote: Option<std::time::Duration>,
    },
    /// Let IT reach this machine remotely (a terminal, files, tunnels) for a while.
    ///
    /// Example: `deskhand-agent allow-remote 30m`. Bound to the ticket named, else to the
    /// last ticket `help` opened from this machine. The agent keeps it in memory: it ends
    /// at its time, with `deskhand-agent deny-remote`, or when the agent restarts.
    AllowRemote {
        /// How long, e.g. 30m or 2h (1 minute to 8 hours).
        #[arg(value_parser = consent_duration)]
        duration: std::time::Duration,
        /// The ticket IT works on.
        #[arg(long, value_name = "N")]
        ticket: Option<i64>,
    },
    /// Withdraw remote access at once: sessions open now end.
    DenyRemote,
    /// Run this user's remote desktop helper: when IT asks to see the screen, it asks you
    /// first (Allow / Deny), then shares it with a banner to end the session.
    ///
    /// Started at login in your graphical session (XDG autostart); needs an X11 session
    /// (Wayland is not supported yet). Runs until you log out.
    User {
        /// The X display to share [default: $DISPLAY].
        #[arg(long, value_name = "DISPLAY")]
        display: Option<String>,
    },
    /// Answer IT's request to see your screen, or end the session: what the prompt's and
    /// the banner's buttons do.
    #[command(subcommand)]
    Desktop(DesktopAction),
    /// Show this agent's identity and enrollment.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Internal: the watchdog's worker, which the agent starts to run its
    /// collectors or a diagnostic check under CPU and memory budgets.
    #[command(hide = true)]
    Worker {
        /// What to run.
        #[arg(value_enum)]
        job: crate::watchdog::worker::WorkerJob,
        /// A collector not to run (repeatable).
        #[arg(long, value_name = "NAME")]
        skip: Vec<String>,
        /// The worker's CPU rlimit, seconds.
        #[arg(long, value_name = "SECONDS")]
        cpu_limit: Option<u64>,
        /// The worker's address-space rlimit, bytes.
        #[arg(long, value_name = "BYTES")]
        memory_limit: Option<u64>,
        /// The agent that started it: the worker ends if it is gone.
        #[arg(long, value_name = "PID")]
        agent_pid: Option<u32>,
    },
    /// Manage the Windows service: install, start, stop, uninstall.
    #[cfg(windows)]
    Service {
        /// What to do with the service.
        #[command(subcommand)]
        command: crate::service::ServiceCommand,
    },
}

/// `deskhand-agent desktop`.
#[derive(Debug, Subcommand)]
pub enum DesktopAction {
    /// Let IT see (or control, if they asked) your screen.
    Allow {
        /// The request, when several wait.
        #[arg(long, value_name = "N")]
        session: Option<i64>,
    },
    /// Refuse IT's request.
    Deny {
        /// The request, when several wait.
        #[arg(long, value_name = "N")]
        session: Option<i64>,
    },
    /// End the screen session now.
    End {
        /// The session, when several are live.
        #[arg(long, value_name = "N")]
        session: Option<i64>,
    },
}

/// Reads a consent's length for clap.
fn consent_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::remote::consent::parse_consent_duration(text)
}
