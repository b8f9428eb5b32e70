//! The agent's QUIC link to the server: enrollment, sessions, reconnects.
//!
//! A session is one QUIC connection with one bidirectional control stream
//! the agent opens. The agent sends [`AgentMessage::Hello`], the server
//! answers [`ServerMessage::Welcome`] or [`ServerMessage::Refused`], then
//! the agent sends heartbeats until the connection ends. When it ends for
//! any reason but revocation or shutdown, the agent reconnects after a
//! [`Backoff`] delay.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{
    AgentMessage, EnrollRequest, HelpRequest, PROTOCOL_VERSION, Refusal, RefusalReason,
    ServerMessage,
};
use quinn::{Connection, Endpoint, RecvStream, SendStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::{info, warn};

use crate::facts;
use crate::help::{HelpInbox, HelpJob};
use crate::state::{AgentState, Identity};
use crate::tls::{ClientIdentity, client_config, server_name};
use deskhand_net::backoff::Backoff;
use deskhand_net::stream::{recv, send};
use deskhand_shared::proto::close_code;
use std::collections::HashMap;

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

async fn resolve(server: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(server)
        .await
        .with_context(|| format!("resolving {server}"))?
        .next()
        .ok_or_else(|| anyhow!("{server} resolves to no address"))
}

async fn dial(server: &str, config: quinn::ClientConfig) -> Result<(Endpoint, Connection)> {
    let addr = resolve(server).await?;
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

/// Enrolls this machine: generates a key, sends the token and a CSR, and
/// stores the certificate the server returns in `state_dir`.
pub async fn enroll(state_dir: &std::path::Path, opts: EnrollOptions) -> Result<AgentState> {
    let key = rcgen::KeyPair::generate().context("generating the agent key")?;
    let hostname = facts::hostname();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname.clone());
    let csr = params
        .serialize_request(&key)
        .context("creating the certificate signing request")?
        .pem()
        .context("encoding the certificate signing request")?;

    let config = client_config(&opts.ca_fingerprint, None)?;
    let (endpoint, conn) = dial(&opts.server, config).await?;
    let (mut tx, mut rx) = conn
        .open_bi()
        .await
        .context("opening the enrollment stream")?;
    send(
        &mut tx,
        &AgentMessage::Enroll(EnrollRequest {
            protocol_version: PROTOCOL_VERSION,
            token: opts.token.clone(),
            csr_pem: csr,
            hostname,
        }),
    )
    .await?;
    let answer = tokio::time::timeout(
        ANSWER_TIMEOUT,
        recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default()),
    )
    .await
    .context("the server did not answer the enrollment in time")??;
    conn.close(close_code::NORMAL.into(), b"enrolled");
    endpoint.wait_idle().await;
    let enrolled = match answer {
        Some(ServerMessage::Enrolled(e)) => e,
        Some(ServerMessage::Refused(r)) => return Err(refusal_error(&r)),
        Some(other) => bail!("the server answered the enrollment with {other:?}"),
        None => bail!("the server closed the enrollment stream without an answer"),
    };
    let ca_der = CertificateDer::from_pem_slice(enrolled.ca_pem.as_bytes())
        .context("the server sent an unreadable CA certificate")?;
    if deskhand_shared::fingerprint::sha256_hex(&ca_der) != opts.ca_fingerprint {
        bail!("the server sent a CA that does not match the pinned fingerprint");
    }
    let state = AgentState {
        dir: state_dir.to_path_buf(),
        identity: Identity {
            agent_id: enrolled.agent_id,
            server: opts.server,
            ca_fingerprint: opts.ca_fingerprint,
            trusted_publishers: opts.trusted_publishers,
        },
        key_pem: key.serialize_pem(),
        cert_pem: enrolled.cert_pem,
        ca_pem: enrolled.ca_pem,
    };
    state.save()?;
    Ok(state)
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
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            server: None,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            inventory_interval: Duration::from_secs(3600),
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
    tokio::pin!(shutdown);
    loop {
        match session(
            &server,
            config.clone(),
            &mut backoff,
            options.inventory_interval,
            (&jobs, &mut job_events),
            &mut help,
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
    inventory_interval: Duration,
    jobs: JobsLink<'_>,
    help: &mut Option<HelpInbox>,
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
        end = converse(&conn, backoff, inventory_interval, jobs.0, jobs.1, help) => end,
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

/// Collects the inventory off the async threads.
async fn collect_inventory() -> Result<deskhand_shared::inventory::Inventory> {
    tokio::task::spawn_blocking(crate::inventory::collect)
        .await
        .context("the inventory collection failed")
}

/// The jobs and the events they emit, lent to a session.
type JobsLink<'a> = (
    &'a crate::jobs::Jobs,
    &'a mut tokio::sync::mpsc::UnboundedReceiver<crate::jobs::JobEvent>,
);
/// The next help request, or never without a help inbox.
async fn next_help(help: &mut Option<HelpInbox>) -> Option<HelpJob> {
    match help {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// The diagnostic attached to every help request.
const HELP_CHECK: &str = "system-summary";

async fn converse(
    conn: &Connection,
    backoff: &mut Backoff,
    inventory_interval: Duration,
    jobs: &crate::jobs::Jobs,
    job_events: &mut tokio::sync::mpsc::UnboundedReceiver<crate::jobs::JobEvent>,
    help: &mut Option<HelpInbox>,
) -> SessionEnd {
    let result: Result<SessionEnd> = async {
        let (mut tx, mut rx) = conn.open_bi().await?;
        send(&mut tx, &AgentMessage::Hello(facts::hello())).await?;
        let mut decoder = FrameDecoder::default();
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder))
            .await
            .context("the server did not answer the hello in time")??;
        let welcome = match answer {
            Some(ServerMessage::Welcome(w)) => w,
            Some(ServerMessage::Refused(r)) => {
                return Ok(match r.reason {
                    RefusalReason::Revoked | RefusalReason::NotEnrolled => {
                        SessionEnd::Refused(r.message)
                    }
                    _ => SessionEnd::Lost(refusal_error(&r)),
                });
            }
            other => bail!("unexpected answer to the hello: {other:?}"),
        };
        info!(agent_id = %welcome.agent_id, server_version = %welcome.server_version, "connected to the server");
        backoff.reset();
        let mut beat = tokio::time::interval(Duration::from_secs(welcome.heartbeat_secs.max(1).into()));
        beat.tick().await;
        jobs.set_connection(Some(conn.clone()));
        // Results kept while the server was unreachable go first.
        for update in jobs.outbox() {
            send(&mut tx, &AgentMessage::JobUpdate(update)).await?;
        }
        let mut reporter = crate::report::InventoryReporter::new();
        let report = reporter.report(collect_inventory().await?, true);
        send(&mut tx, &AgentMessage::Inventory(report)).await?;
        let mut schedule = tokio::time::interval(inventory_interval.max(Duration::from_secs(1)));
        schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        schedule.tick().await;
        let _online = help.as_ref().map(HelpInbox::online);
        let mut waiting: HashMap<u64, tokio::sync::oneshot::Sender<Result<i64, String>>> =
            HashMap::new();
        let mut next_request = 0u64;
        loop {
            tokio::select! {
                Some(job) = next_help(help) => {
                    // A fresh inventory first: the server stores it before
                    // it reads the request on the same stream.
                    let inv = collect_inventory().await?;
                    let report = reporter.report(inv, false);
                    send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    let diagnostic = crate::diag::collect(
                        deskhand_shared::diag::DiagRequest {
                            check: HELP_CHECK.into(),
                            args: Vec::new(),
                            follow: false,
                        },
                        Duration::from_secs(20),
                    )
                    .await;
                    next_request += 1;
                    info!(request_id = next_request, requester = %job.requester, "forwarding a help request");
                    send(&mut tx, &AgentMessage::HelpRequest(HelpRequest {
                        request_id: next_request,
                        message: job.message,
                        requester: job.requester,
                        inventory_hash: reporter.pending_hash(),
                        diagnostic_check: HELP_CHECK.into(),
                        diagnostic: Some(diagnostic),
                    })).await?;
                    waiting.insert(next_request, job.reply);
                }
                _ = beat.tick() => send(&mut tx, &AgentMessage::Heartbeat).await?,
                _ = schedule.tick() => {
                    let report = reporter.report(collect_inventory().await?, false);
                    send(&mut tx, &AgentMessage::Inventory(report)).await?;
                }
                msg = recv::<ServerMessage>(&mut rx, &mut decoder) => match msg? {
                    Some(ServerMessage::InventoryAck(hash)) => reporter.acknowledged(hash),
                    Some(ServerMessage::HelpAnswer(a)) => {
                        let answer = match (a.ticket, a.error) {
                            (Some(n), _) => Ok(n),
                            (None, e) => Err(e.unwrap_or_else(|| "the server opened no ticket".into())),
                        };
                        if let Some(reply) = waiting.remove(&a.request_id) {
                            let _ = reply.send(answer);
                        }
                    }
                    Some(ServerMessage::InventoryRequest { full }) => {
                        let report = reporter.report(collect_inventory().await?, full);
                        send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    }
                    Some(ServerMessage::Job(order)) => jobs.order(*order),
                    Some(ServerMessage::JobCancel { job_id }) => jobs.cancel(&job_id),
                    Some(ServerMessage::JobAck { job_id }) => jobs.ack(&job_id),
                    Some(other) => warn!(message = ?other, "ignoring an unexpected message from the server"),
                    None => bail!("the server ended the session"),
                },
                Some(event) = job_events.recv() => match event {
                    crate::jobs::JobEvent::Update(update) => {
                        send(&mut tx, &AgentMessage::JobUpdate(update)).await?;
                    }
                    crate::jobs::JobEvent::RefreshInventory => {
                        let report = reporter.report(collect_inventory().await?, false);
                        send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    }
                },
                stream = conn.accept_bi() => {
                    let (stx, srx) = stream?;
                    tokio::spawn(serve_request(stx, srx));
                }
            }
        }
    }
    .await;
    match result {
        Ok(end) => end,
        Err(e) => match conn.close_reason() {
            Some(quinn::ConnectionError::ApplicationClosed(close))
                if close.error_code == close_code::REVOKED.into() =>
            {
                SessionEnd::Refused(String::from_utf8_lossy(&close.reason).into_owned())
            }
            _ => SessionEnd::Lost(e),
        },
    }
}

/// Largest request the server may send on a request stream.
const MAX_REQUEST_FRAME: usize = 64 * 1024;

/// Serves one request stream the server opened: runs the diagnostic and
/// streams its events back; stops when the server closes the stream.
async fn serve_request(mut tx: SendStream, mut rx: RecvStream) {
    let mut decoder = FrameDecoder::new(MAX_REQUEST_FRAME);
    let req =
        match tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder))
            .await
        {
            Ok(Ok(Some(ServerMessage::Diag(req)))) => req,
            other => {
                warn!(?other, "ignoring a request stream without a diagnostic");
                let _ = tx.reset(close_code::PROTOCOL.into());
                return;
            }
        };
    info!(check = %req.check, "running a diagnostic for the server");
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(64);
    let runner = tokio::spawn(crate::diag::run(req, events_tx));
    loop {
        let event = tokio::select! {
            event = events_rx.recv() => event,
            // The server stopped reading: it cancelled.
            _ = tx.stopped() => None,
        };
        let Some(event) = event else { break };
        let done = matches!(event, deskhand_shared::diag::DiagEvent::Done(_));
        if send(&mut tx, &AgentMessage::Diag(event)).await.is_err() {
            // The server cancelled: dropping the receiver stops the check.
            break;
        }
        if done {
            let _ = tx.finish();
            break;
        }
    }
    drop(events_rx);
    let _ = runner.await;
}
