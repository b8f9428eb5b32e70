//! `deskhand desktop AGENT`: the logged-in user's screen for any VNC
//! viewer on the technician's machine. Each local connection asks the
//! user anew (their helper's prompt) and is a desktop session of its own,
//! its RFB bytes carried as `Data` frames like a tunnel's
//! ([`super::tunnel::serve_local`]); only loopback is listened on.

use anyhow::Result;
use deskhand_shared::remote::RemoteKind;

use super::tunnel::{Listen, listen_addr, serve_local};
use crate::client::Client;

/// VNC's own port: the default local port is 5900 + 10000.
const VNC_PORT: u16 = 5900;

/// `deskhand desktop`.
#[derive(Debug, clap::Args)]
pub struct DesktopArgs {
    /// Agent id, id prefix or host name.
    pub agent: String,
    /// Where the VNC viewer connects: a loopback address and port, e.g.
    /// 127.0.0.1:5901 (default 127.0.0.1:15900; a bare number is a port on
    /// 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub local: Option<String>,
    /// Ask for the keyboard and mouse too, not only to see the screen.
    #[arg(long)]
    pub control: bool,
    /// The ticket the session is for; the user's prompt names it and it
    /// appears in its timeline.
    #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
    pub ticket: Option<i64>,
    /// Serve one viewer, then exit with its outcome (for scripts).
    #[arg(long)]
    pub once: bool,
}

/// Runs `deskhand desktop` until Ctrl-C (or, with `--once`, one viewer's
/// end).
pub async fn run(c: &Client, args: DesktopArgs) -> Result<()> {
    let addr = listen_addr(VNC_PORT, args.local.as_deref())?;
    let mode = if args.control { "control" } else { "view only" };
    eprintln!(
        "deskhand: point a VNC viewer at the address below; the user is asked to allow each connection ({mode})"
    );
    let listen = Listen {
        addr,
        agent: &args.agent,
        what: format!("the screen of {} ({mode})", args.agent),
        kind: RemoteKind::Desktop {
            control: args.control,
        },
        ticket: args.ticket,
        once: args.once,
    };
    serve_local(c, listen).await
}
