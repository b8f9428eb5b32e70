//! The agent's QUIC link to the server: enrollment, sessions, reconnects.
//!
//! A session is one QUIC connection with one bidirectional control stream
//! the agent opens. The agent sends [`AgentMessage::Hello`], the server
//! answers [`ServerMessage::Welcome`] or [`ServerMessage::Refused`], then
//! the agent sends heartbeats until the connection ends. When it ends for
//! any reason but revocation or shutdown, the agent reconnects after a
//! [`Backoff`] delay.
//!
//! - `enroll`: a token and a CSR for a certificate.
//! - `session`: one connection's conversation with the server (the driver).
//! - [`state`]: the session's decisions as a pure state machine.
//! - `request`: diagnostics and remote sessions on streams the server opens.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use deskhand_net::backoff::Backoff;
use deskhand_shared::proto::{Refusal, close_code};
use quinn::{Connection, Endpoint};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::warn;

use crate::help::HelpInbox;
use crate::report::InventoryReporter;
use crate::state::AgentState;
use crate::tls::{ClientIdentity, client_config, server_name};

mod enroll;
mod request;
mod session;
pub mod state;

pub use enroll::enroll;

/// The file in the state directory that keeps the inventory the server
/// last acknowledged (its hash and wire form), so that a restarted agent
/// resumes with the hash alone.
const BASE_FILE: &str = "inventory.base";

/// How long to wait for the server's answer to a hello or an enrollment.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the agent stopped running.
#[derive(Debug, thiserror::Error)]
pub enum StopReason {
    /// The server says this agent is revoked or unknown; it must enroll again.
    #[error("the server refused this agent ({0}); enroll it again")]
    Refused(String),
}

/// What an enrollment needs.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    /// The server's agent endpoint, `HOST:PORT`.
    pub server: String,
    /// The enrollment token.
    pub token: String,
    /// The CA fingerprint to pin, canonical lower-case hex.
    pub ca_fingerprint: String,
    /// Publisher keys to trust.
    pub trusted_publishers: Vec<String>,
}

/// How long one address may take to answer before the next is tried: a
/// server node that died answers nothing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The servers `server` names, in order: `HOST:PORT`, or several joined
/// by commas (the nodes of one deskhand sharing a database). Pure.
pub fn server_list(server: &str) -> Vec<&str> {
    server
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every address of every server `server` names, in order (a name may
/// resolve to several).
async fn resolve(server: &str) -> Result<Vec<(String, SocketAddr)>> {
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for name in server_list(server) {
        match tokio::net::lookup_host(name).await {
            Ok(addrs) => all.extend(addrs.map(|a| (name.to_string(), a))),
            Err(e) => failures.push(format!("resolving {name}: {e}")),
        }
    }
    if all.is_empty() {
        return Err(match failures.is_empty() {
            true => anyhow!("`{server}` names no server address"),
            false => anyhow!("{}", failures.join("; ")),
        });
    }
    Ok(all)
}

/// Connects to the first of `server`'s addresses that answers.
async fn dial(server: &str, config: quinn::ClientConfig) -> Result<(Endpoint, Connection)> {
    let mut failures = Vec::new();
    for (name, addr) in resolve(server).await? {
        match tokio::time::timeout(CONNECT_TIMEOUT, dial_one(&name, addr, config.clone())).await {
            Ok(Ok(dialed)) => return Ok(dialed),
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(_) => failures.push(format!(
                "{name} ({addr}) did not answer in {CONNECT_TIMEOUT:?}"
            )),
        }
    }
    Err(anyhow!("{}", failures.join("; ")))
}

async fn dial_one(
    server: &str,
    addr: SocketAddr,
    config: quinn::ClientConfig,
) -> Result<(Endpoint, Connection)> {
    let bind: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse()?
    } else {
        "0.0.0.0:0".parse()?
    };
    let mut endpoint = match Endpoint::client(bind) {
        Ok(endpoint) => endpoint,
        // Some Winsock stacks (Wine's among them) refuse the socket options
        // quinn sets: fall back to a plain socket (no ECN).
        Err(e) if cfg!(windows) => {
            warn!(error = %e, "quinn's UDP socket is not supported here; using a plain UDP socket");
            crate::udp_fallback::client_endpoint(bind).context("opening a UDP socket")?
        }
        Err(e) => return Err(e).context("opening a UDP socket"),
    };
    endpoint.set_default_client_config(config);
    let conn = endpoint
        .connect(addr, server_name())?
        .await
        .with_context(|| format!("connecting to {server}"))?;
    Ok((endpoint, conn))
}

fn refusal_error(r: &Refusal) -> anyhow::Error {
    anyhow!("the server refused: {}", r.message)
}

fn client_identity(state: &AgentState) -> Result<ClientIdentity> {
    let cert = CertificateDer::from_pem_slice(state.cert_pem.as_bytes())
        .context("reading the agent certificate")?;
    let key =
        PrivateKeyDer::from_pem_slice(state.key_pem.as_bytes()).context("reading the agent key")?;
    Ok((vec![cert], key))
}

/// Tunables of the run loop.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The server address, overriding the one stored at enrollment.
    pub server: Option<String>,
    /// First reconnect delay.
    pub backoff_base: Duration,
    /// Longest reconnect delay.
    pub backoff_cap: Duration,
    /// How often the agent reports its inventory (a delta when it can).
    pub inventory_interval: Duration,
    /// Remote access: the config's policy and the user's consent, shared
    /// with the help channel ([`crate::help::listen`]).
    pub remote: crate::remote::Remote,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            server: None,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            inventory_interval: Duration::from_secs(3600),
            remote: crate::remote::Remote::default(),
        }
    }
}

/// How one session ended.
enum SessionEnd {
    /// Reconnect after a delay.
    Lost(anyhow::Error),
    /// The server refused this agent for good.
    Refused(String),
    /// The caller asked to stop.
    Shutdown,
}

/// Runs the agent until `shutdown` resolves or the server refuses it for good.
pub async fn run(
    state: &AgentState,
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_with_help(state, options, None, shutdown).await
}

/// [`run`], also forwarding end users' help requests from `help` to the
/// server while connected.
pub async fn run_with_help(
    state: &AgentState,
    options: RunOptions,
    mut help: Option<HelpInbox>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let server = options
        .server
        .clone()
        .unwrap_or_else(|| state.identity.server.clone());
    let config = client_config(
        &state.identity.ca_fingerprint,
        Some(client_identity(state)?),
    )?;
    let mut backoff = Backoff::new(options.backoff_base, options.backoff_cap);
    let (jobs, mut job_events) =
        crate::jobs::Jobs::open(&state.dir, state.identity.trusted_publishers.clone())?;
    // What the server acknowledged, kept from one session to the next
    // and, in the state directory, from one run to the next.
    let base_file = state.dir.join(BASE_FILE);
    let mut reporter = match std::fs::read(&base_file) {
        Ok(bytes) => InventoryReporter::from_base_file(&bytes),
        Err(_) => InventoryReporter::new(),
    };
    tokio::pin!(shutdown);
    loop {
        match session(
            &server,
            config.clone(),
            &mut backoff,
            session::Reporting {
                interval: options.inventory_interval,
                reporter: &mut reporter,
                base_file: &base_file,
            },
            (&jobs, &mut job_events),
            session::Local {
                help: &mut help,
                remote: &options.remote,
            },
            shutdown.as_mut(),
        )
        .await
        {
            SessionEnd::Shutdown => return Ok(()),
            SessionEnd::Refused(why) => return Err(StopReason::Refused(why).into()),
            SessionEnd::Lost(err) => {
                let delay = backoff.next_delay(deskhand_net::backoff::random());
                warn!(error = %format!("{err:#}"), retry_in = ?delay, "connection to the server lost");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut shutdown => return Ok(()),
                }
            }
        }
    }
}

async fn session(
    server: &str,
    config: quinn::ClientConfig,
    backoff: &mut Backoff,
    reporting: session::Reporting<'_>,
    jobs: session::JobsLink<'_>,
    local: session::Local<'_>,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> SessionEnd {
    let (endpoint, conn) = tokio::select! {
        dialed = dial(server, config) => match dialed {
            Ok(c) => c,
            Err(e) => return SessionEnd::Lost(e),
        },
        () = &mut shutdown => return SessionEnd::Shutdown,
    };
    let end = tokio::select! {
        end = session::converse(&conn, backoff, reporting, jobs.0, jobs.1, local) => end,
        () = &mut shutdown => SessionEnd::Shutdown,
    };
    jobs.0.set_connection(None);
    if matches!(end, SessionEnd::Shutdown) {
        // Tell the server at once, so it shows this agent offline now
        // rather than after the idle timeout.
        conn.close(close_code::NORMAL.into(), b"agent stopping");
    }
    drop(conn);
    // Let the close reach the server, but never hang on it.
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    end
}

#[cfg(test)]
mod server_list_tests {
    use super::server_list;

    #[test]
    fn one_server_or_several_nodes_in_order() {
        assert_eq!(server_list("dh.example.com:4433"), ["dh.example.com:4433"]);
        assert_eq!(
            server_list("node-a:4433, node-b:4433,,"),
            ["node-a:4433", "node-b:4433"]
        );
        assert!(server_list(" , ").is_empty());
    }
}
