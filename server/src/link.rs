//! The QUIC endpoint agents connect to.
//!
//! Connection lifecycle: the TLS handshake checks an agent's client
//! certificate against the server CA when one is presented (a connection
//! without one may only enroll). The agent opens one control stream; its
//! first frame is read with the protocol version peeked before the body is
//! decoded, so an incompatible peer gets a refusal with a reason. An
//! [`AgentMessage::Enroll`] gets a certificate or a refusal and the
//! connection ends; an [`AgentMessage::Hello`] from a known, unrevoked
//! certificate starts a session that lives until the connection ends.
//! A bad frame closes the connection with [`close_code::PROTOCOL`] and the
//! reason; other connections are untouched.
//!
//! One task per connection, and a cap on how many run at once: past it,
//! new connections are refused before their handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use deskhand_net::stream::send;
use deskhand_shared::fingerprint::sha256_hex;
use deskhand_shared::frame::{FrameDecoder, decode_body};
use deskhand_shared::inventory::{ContentHash, Inventory};
use deskhand_shared::proto::close_code;
use deskhand_shared::proto::{
    ALPN, AgentMessage, EnrollRequest, Enrolled, Hello, InventoryReport, PROTOCOL_VERSION, Refusal,
    RefusalReason, ServerMessage, Welcome, check_version, peek_protocol_version,
};
use quinn::{Connection, Endpoint, Incoming, RecvStream, SendStream};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::inventory::{
    IngestError, IngestPlan, SoftwareRow, SplitDelta, plan_delta, plan_full_canonical, reconstruct,
    unchanged_plan,
};
use crate::pki::CertificateAuthority;
use crate::presence::{Presence, Registration};
use crate::store::Applied;
use crate::store::{NewAgent, Reader, Store, StoreError};
use crate::{secrets, unix_now};
use deskhand_shared::jobs::JobProgress;
use std::collections::HashSet;

/// How long a new connection has to open its stream and send its first frame.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest enrollment request accepted; a CSR is about a kilobyte.
const MAX_ENROLL_FRAME: usize = 16 * 1024;
/// Server-side idle timeout.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the agent endpoint needs from the rest of the server.
pub struct LinkContext {
    /// The database.
    pub store: Store,
    /// The CA that signs agent certificates.
    pub ca: Arc<CertificateAuthority>,
    /// Live sessions.
    pub presence: Arc<Presence>,
    /// Heartbeat interval told to agents.
    pub heartbeat_secs: u32,
    /// Published artifacts agents fetch.
    pub content: Arc<crate::content::ContentStore>,
    /// Most jobs one agent runs at a time.
    pub max_jobs_per_agent: usize,
    /// Orders built for recent jobs: a job's order is the same for every
    /// target, so a fan-out to many agents reads the job once.
    pub orders: OrderCache,
    /// SLA targets for tickets opened by end users' help requests.
    pub tickets: crate::tickets::TicketSettings,
    /// Large messages being decoded and handled, server-wide.
    pub large_messages: LargeMessages,
}

/// Bodies above this size (a full inventory, mostly) count as large.
const LARGE_MESSAGE: usize = 64 * 1024;

/// Bounds the large messages (full inventories, mostly) that are read,
/// decompressed, decoded and handled at once, server-wide. A slot is
/// taken as soon as a frame's header says it is large, before its body is
/// read. Decompressed and decoded, a full inventory takes many times its
/// wire size, and after a server restart every agent sends one as it
/// reconnects: unbounded, 10,000 of them at once would exhaust memory.
/// The others wait, their streams held by QUIC flow control.
pub struct LargeMessages(tokio::sync::Semaphore);

impl LargeMessages {
    /// At most `n` at once.
    pub fn new(n: usize) -> Self {
        Self(tokio::sync::Semaphore::new(n.max(1)))
    }
}

impl Default for LargeMessages {
    /// 64: the ingest benchmark's throughput at 64 reports in flight is
    /// within a fifth of its throughput at 512, at 200 MiB less memory.
    fn default() -> Self {
        Self::new(64)
    }
}

/// Job orders by job id, bounded.
#[derive(Default)]
pub struct OrderCache(
    std::sync::Mutex<std::collections::HashMap<String, Arc<deskhand_shared::jobs::JobOrder>>>,
);

/// Orders kept before the cache starts over.
const MAX_CACHED_ORDERS: usize = 1024;

impl OrderCache {
    fn get(&self, job_id: &str) -> Option<Arc<deskhand_shared::jobs::JobOrder>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(job_id)
            .cloned()
    }

    fn put(&self, order: deskhand_shared::jobs::JobOrder) -> Arc<deskhand_shared::jobs::JobOrder> {
        let order = Arc::new(order);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_CACHED_ORDERS {
            map.clear();
        }
        map.insert(order.job_id.clone(), order.clone());
        order
    }
}

/// Builds the QUIC server configuration: TLS 1.3 only, ALPN
/// `deskhand/1`, no 0-RTT, client certificates optional but verified
/// against the CA when presented.
pub fn server_config(ca: &CertificateAuthority) -> Result<quinn::ServerConfig> {
    let provider = deskhand_net::tls::provider();
    let mut roots = RootCertStore::empty();
    roots.add(ca.ca_der().clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let (chain, key) = ca.issue_server_cert()?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("configuring TLS 1.3")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("loading the server certificate")?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| anyhow!("building the QUIC TLS configuration: {e}"))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into()?));
    transport.max_concurrent_bidi_streams(4u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Opens the agent endpoint on `addr`.
///
/// The stateless-reset key is derived from the CA key, so it survives a
/// restart: packets of a connection the previous process held are answered
/// with a reset, and agents reconnect at once rather than after the idle
/// timeout.
pub fn bind(addr: SocketAddr, ca: &CertificateAuthority) -> Result<Endpoint> {
    let socket =
        udp_socket(addr).with_context(|| format!("listening for agents on {addr} (UDP)"))?;
    let secret = ca.reset_secret();
    let reset_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut config = quinn::EndpointConfig::new(Arc::new(reset_key));
    // Connection ids are checked against a keyed hash before a reset is
    // sent; the key must outlive the process too.
    let cid_key = u64::from_le_bytes(secret[..8].try_into().unwrap_or_default());
    // After a restart every agent's next packet earns a reset; the default
    // pacing (one per 20 ms) would leave most of a large fleet to time out.
    config.min_reset_interval(Duration::from_millis(1));
    config.cid_generator(move || {
        Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key))
    });
    Endpoint::new(
        config,
        Some(server_config(ca)?),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .with_context(|| format!("listening for agents on {addr} (UDP)"))
}

/// Socket buffer the agent endpoint asks for: a burst from thousands of
/// agents (a fan-out's results, a reconnect storm) must not overflow the
/// kernel's default of about 200 KiB, or QUIC retransmits with back-off
/// and some agents wait seconds, even time out.
const UDP_BUFFER: usize = 8 * 1024 * 1024;

fn udp_socket(addr: SocketAddr) -> Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    for (what, set, get) in [
        (
            "receive",
            Socket::set_recv_buffer_size as fn(&Socket, usize) -> std::io::Result<()>,
            Socket::recv_buffer_size as fn(&Socket) -> std::io::Result<usize>,
        ),
        (
            "send",
            Socket::set_send_buffer_size,
            Socket::send_buffer_size,
        ),
    ] {
        let _ = set(&socket, UDP_BUFFER);
        let got = get(&socket).unwrap_or(0);
        // Linux reports twice what it grants, and caps the grant at
        // net.core.rmem_max / wmem_max.
        if got < UDP_BUFFER {
            warn!(
                requested = UDP_BUFFER,
                granted = got,
                "the kernel gave the agent endpoint a smaller UDP {what} buffer; large fleets may see retransmissions (raise net.core.rmem_max and wmem_max)"
            );
        }
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Accepts agent connections until the endpoint is closed.
pub async fn accept_loop(endpoint: Endpoint, ctx: Arc<LinkContext>, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    while let Some(incoming) = endpoint.accept().await {
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let remote = incoming.remote_address();
                    if let Err(e) = handle(incoming, &ctx).await {
                        debug!(%remote, error = %format!("{e:#}"), "agent connection ended");
                    }
                    drop(permit);
                });
            }
            Err(_) => {
                warn!(remote = %incoming.remote_address(), max_connections, "connection limit reached, refusing");
                incoming.refuse();
            }
        }
    }
}

/// Closes a connection for a protocol violation, logging why.
fn protocol_error(conn: &Connection, why: &str) -> anyhow::Error {
    warn!(remote = %conn.remote_address(), reason = why, "closing agent connection");
    conn.close(close_code::PROTOCOL.into(), why.as_bytes());
    anyhow!("protocol error: {why}")
}

/// Sends a refusal, lets it reach the agent, and closes the connection.
async fn refuse(conn: &Connection, tx: &mut SendStream, refusal: Refusal) -> Result<()> {
    info!(remote = %conn.remote_address(), reason = ?refusal.reason, message = %refusal.message, "refusing agent");
    let code = if refusal.reason == RefusalReason::Revoked {
        close_code::REVOKED
    } else {
        close_code::REFUSED
    };
    send(tx, &ServerMessage::Refused(refusal.clone())).await?;
    let _ = tx.finish();
    let _ = tokio::time::timeout(Duration::from_secs(2), tx.stopped()).await;
    conn.close(code.into(), refusal.message.as_bytes());
    Ok(())
}

fn refusal(reason: RefusalReason, message: impl Into<String>) -> Refusal {
    Refusal {
        reason,
        message: message.into(),
    }
}

fn peer_fingerprint(conn: &Connection) -> Option<String> {
    let identity = conn.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    certs.first().map(|c| sha256_hex(c))
}

async fn handle(incoming: Incoming, ctx: &LinkContext) -> Result<()> {
    let conn = incoming.await.context("handshake")?;
    let (mut tx, mut rx) = tokio::time::timeout(FIRST_FRAME_TIMEOUT, conn.accept_bi())
        .await
        .map_err(|_| protocol_error(&conn, "no control stream opened in time"))??;
    let mut decoder = FrameDecoder::new(if peer_fingerprint(&conn).is_some() {
        deskhand_shared::MAX_FRAME_LEN
    } else {
        MAX_ENROLL_FRAME
    });
    let body =
        match tokio::time::timeout(FIRST_FRAME_TIMEOUT, next_body(&mut rx, &mut decoder)).await {
            Err(_) => return Err(protocol_error(&conn, "no hello received in time")),
            Ok(Err(e)) => return Err(protocol_error(&conn, &format!("{e:#}"))),
            Ok(Ok(None)) => return Err(protocol_error(&conn, "the stream ended before a hello")),
            Ok(Ok(Some(body))) => body,
        };
    let Some(version) = peek_protocol_version(&body) else {
        return Err(protocol_error(
            &conn,
            "the first message must be a hello or an enrollment request",
        ));
    };
    if let Err(r) = check_version(version) {
        return refuse(&conn, &mut tx, r).await;
    }
    let msg: AgentMessage =
        decode_body(&body).map_err(|e| protocol_error(&conn, &e.to_string()))?;
    match msg {
        AgentMessage::Enroll(req) => enroll(&conn, &mut tx, req, ctx).await,
        AgentMessage::Hello(hello) => session(&conn, tx, rx, decoder, hello, ctx).await,
        AgentMessage::Heartbeat
        | AgentMessage::Diag(_)
        | AgentMessage::Inventory(_)
        | AgentMessage::JobUpdate(_)
        | AgentMessage::Fetch(_)
        | AgentMessage::HelpRequest(_) => Err(protocol_error(
            &conn,
            "the first message must be a hello or an enrollment request",
        )),
    }
}

async fn next_body(rx: &mut RecvStream, decoder: &mut FrameDecoder) -> Result<Option<Vec<u8>>> {
    Ok(next_large_or_small(rx, decoder, None)
        .await?
        .map(|(body, _)| body))
}

/// The next frame body; with `large`, a frame whose body is large once
/// decompressed takes a [`LargeMessages`] slot as soon as its header
/// arrives, before the rest is read and decompressed, and hands the slot
/// out with the body.
async fn next_large_or_small<'a>(
    rx: &mut RecvStream,
    decoder: &mut FrameDecoder,
    large: Option<&'a LargeMessages>,
) -> Result<Option<(Vec<u8>, Option<tokio::sync::SemaphorePermit<'a>>)>> {
    let mut permit = None;
    loop {
        if let Some(large) = large
            && permit.is_none()
            && decoder
                .pending_body_len()
                .is_some_and(|n| n > LARGE_MESSAGE)
        {
            permit = Some(large.0.acquire().await?);
        }
        if let Some(body) = decoder.next_body()? {
            return Ok(Some((body, permit)));
        }
        let want = decoder.wanted().clamp(1, 64 * 1024);
        match rx.read_chunk(want, true).await? {
            Some(chunk) => decoder.push(&chunk.bytes)?,
            None => return Ok(None),
        }
    }
}

async fn enroll(
    conn: &Connection,
    tx: &mut SendStream,
    req: EnrollRequest,
    ctx: &LinkContext,
) -> Result<()> {
    let agent_id = uuid::Uuid::new_v4().to_string();
    let cert = match ctx.ca.issue_agent_cert(&req.csr_pem, &agent_id) {
        Ok(c) => c,
        Err(e) => return refuse(conn, tx, refusal(RefusalReason::BadCsr, e.to_string())).await,
    };
    let hostname: String = req.hostname.chars().take(255).collect();
    let new = NewAgent {
        id: agent_id.clone(),
        hostname: hostname.clone(),
        cert_sha256: cert.fingerprint.clone(),
        cert_not_after: cert.not_after,
    };
    match ctx
        .store
        .enroll_agent(secrets::hash_token(&req.token), new, unix_now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Refused(msg)) => {
            return refuse(conn, tx, refusal(RefusalReason::BadToken, msg)).await;
        }
        Err(e) => {
            warn!(error = %e, "enrollment failed");
            return refuse(
                conn,
                tx,
                refusal(
                    RefusalReason::ServerError,
                    "the server could not store the enrollment; try again",
                ),
            )
            .await;
        }
    }
    info!(%agent_id, %hostname, remote = %conn.remote_address(), "agent enrolled");
    send(
        tx,
        &ServerMessage::Enrolled(Enrolled {
            agent_id,
            cert_pem: cert.pem,
            ca_pem: ctx.ca.ca_pem().to_string(),
        }),
    )
    .await?;
    let _ = tx.finish();
    // The agent closes the connection once it has the certificate.
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
    Ok(())
}

async fn session(
    conn: &Connection,
    mut tx: SendStream,
    mut rx: RecvStream,
    mut decoder: FrameDecoder,
    hello: Hello,
    ctx: &LinkContext,
) -> Result<()> {
    let Some(fp) = peer_fingerprint(conn) else {
        return refuse(
            conn,
            &mut tx,
            refusal(
                RefusalReason::NotEnrolled,
                "this connection has no client certificate: enroll the agent first",
            ),
        )
        .await;
    };
    let agent = match ctx.store.agent_by_cert(fp).await? {
        Some(a) => a,
        None => {
            return refuse(
                conn,
                &mut tx,
                refusal(
                    RefusalReason::NotEnrolled,
                    "this server does not know the agent's certificate: enroll it again",
                ),
            )
            .await;
        }
    };
    let revoked = || {
        refusal(
            RefusalReason::Revoked,
            "this agent was revoked by an operator",
        )
    };
    if agent.revoked_at.is_some() {
        return refuse(conn, &mut tx, revoked()).await;
    }
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(8);
    let jobs_changed = Arc::new(tokio::sync::Notify::new());
    let session_id = match ctx.presence.register(
        &agent.id,
        conn.clone(),
        control_tx,
        jobs_changed.clone(),
        unix_now(),
    ) {
        Registration::Live(id) => id,
        Registration::Revoked => return refuse(conn, &mut tx, revoked()).await,
    };
    let result = run_session(
        conn,
        Control {
            tx: &mut tx,
            rx: &mut rx,
            decoder: &mut decoder,
            outbox: control_rx,
            jobs_changed,
        },
        hello,
        &agent.id,
        session_id,
        ctx,
    )
    .await;
    ctx.presence.unregister(&agent.id, session_id);
    info!(agent_id = %agent.id, "agent disconnected");
    result
}

/// The control stream of a session, and the queue of messages for it.
struct Control<'a> {
    tx: &'a mut SendStream,
    rx: &'a mut RecvStream,
    decoder: &'a mut FrameDecoder,
    outbox: tokio::sync::mpsc::Receiver<ServerMessage>,
    jobs_changed: Arc<tokio::sync::Notify>,
}

/// How often a session stores the job output it has received.
const OUTPUT_FLUSH: Duration = Duration::from_millis(500);
/// How often a session looks for jobs it was not told about.
const JOB_POLL: Duration = Duration::from_secs(60);
/// Largest request on a stream the agent opens (a fetch request).
const MAX_AGENT_REQUEST: usize = 4 * 1024;

async fn run_session(
    conn: &Connection,
    mut control: Control<'_>,
    hello: Hello,
    agent_id: &str,
    session_id: u64,
    ctx: &LinkContext,
) -> Result<()> {
    let hostname = hello.hostname.clone();
    if let Err(e) = ctx
        .store
        .update_agent_facts(agent_id.to_string(), hello)
        .await
    {
        // Told again at the next connection; a database that refuses the
        // write (a full disk) must not also cost the agent its session,
        // or the fleet a reconnection each per backoff.
        warn!(%agent_id, error = %e, "the agent's host name, OS and version were not stored");
    }
    send(
        control.tx,
        &ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            agent_id: agent_id.to_string(),
            heartbeat_secs: ctx.heartbeat_secs,
        }),
    )
    .await?;
    info!(%agent_id, %hostname, remote = %conn.remote_address(), "agent connected");
    let mut pacer = IngestPacer::default();
    let mut sent_jobs = HashSet::new();
    let mut jobs_waiting = false;
    let mut job_poll = tokio::time::interval(JOB_POLL);
    job_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut output = crate::jobs::OutputBuffer::default();
    // Set by the output chunk that finds the buffer empty and polled only
    // while output is pending, so an idle session has no timer firing:
    // 10,000 sessions would otherwise wake 20,000 times a second to find
    // nothing to store.
    let mut output_flush = std::pin::pin!(tokio::time::sleep(OUTPUT_FLUSH));
    let mut help_pacer = crate::help::HelpPacer::default();
    // Polled only while a report is to be asked for again.
    let mut ask_again = AskAgain::default();
    let mut ask_again_at = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    // Made once and renewed when they fire, not on every message: each
    // new one locks the connection or the notifier to register.
    let jobs_changed = control.jobs_changed;
    let mut jobs_notified = std::pin::pin!(jobs_changed.notified());
    let mut incoming = std::pin::pin!(conn.accept_bi());
    loop {
        let body = tokio::select! {
            body = next_large_or_small(control.rx, control.decoder, Some(&ctx.large_messages)) => body,
            Some(msg) = control.outbox.recv() => {
                send(control.tx, &msg).await?;
                continue;
            }
            // The first tick is immediate: jobs that waited for this agent go now.
            _ = job_poll.tick() => {
                jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                continue;
            }
            () = &mut jobs_notified => {
                jobs_notified.set(jobs_changed.notified());
                jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                continue;
            }
            () = &mut output_flush, if !output.is_empty() => {
                for (job_id, stderr, text) in output.take() {
                    let progress = JobProgress::Output { stderr, text };
                    ctx.store
                        .apply_job_update(agent_id.to_string(), job_id, progress, unix_now())
                        .await?;
                }
                continue;
            }
            () = &mut ask_again_at, if ask_again.pending.is_some() => {
                if let Some(request) = ask_again.take() {
                    debug!(%agent_id, "asking again for the report the server could not store");
                    send(control.tx, &request).await?;
                }
                continue;
            }
            stream = &mut incoming => {
                incoming.set(conn.accept_bi());
                let (tx, rx) = stream?;
                let content = ctx.content.clone();
                let store = ctx.store.clone();
                tokio::spawn(serve_fetch(store, content, tx, rx));
                continue;
            }
        };
        let body = match body {
            Ok(Some(b)) => b,
            Ok(None) => {
                conn.close(close_code::NORMAL.into(), b"session ended");
                return Ok(());
            }
            Err(e) => {
                if let Some(reason) = conn.close_reason() {
                    return Err(anyhow!(reason));
                }
                return Err(protocol_error(conn, &format!("{e:#}")));
            }
        };
        let (body, mut _permit) = body;
        // The slot is held until the message is handled (the end of
        // this iteration).
        let large = _permit.is_some();
        let msg: AgentMessage =
            decode_body(&body).map_err(|e| protocol_error(conn, &e.to_string()))?;
        ctx.presence.touch(agent_id, session_id, unix_now());
        match msg {
            AgentMessage::Heartbeat => {}
            AgentMessage::Inventory(report) => {
                // An agent that reports too often waits (and QUIC flow
                // control holds its stream); the others are not slowed.
                let full = matches!(report, InventoryReport::Full(_));
                let wait = pacer.delay(tokio::time::Instant::now().into_std(), full);
                if !wait.is_zero() {
                    debug!(%agent_id, ?wait, "pacing an agent that reports too often");
                    // Not holding a large-message slot: an agent that
                    // reports too often must not keep the others waiting.
                    _permit = None;
                    tokio::time::sleep(wait).await;
                    if large {
                        _permit = Some(ctx.large_messages.0.acquire().await?);
                    }
                }
                // What the report cost on the wire: its compressed size.
                let wire_len = control.decoder.last_wire_len();
                // On the heap while it runs: planning a report holds
                // kilobytes across its awaits (a delta is 5 KB before it is
                // planned), which inline would make every session's task
                // that much larger for all of its life, idle or not.
                let reply = match Box::pin(ingest(ctx, agent_id, report, wire_len)).await {
                    Outcome::Stored(hash) => {
                        ask_again.stored();
                        ServerMessage::InventoryAck(hash)
                    }
                    Outcome::SendFull => ServerMessage::InventoryRequest { full: true },
                    Outcome::Refused => continue,
                    Outcome::Failed { full, why } => {
                        let wait = ask_again.failed(full, deskhand_net::backoff::random());
                        ask_again_at
                            .as_mut()
                            .reset(tokio::time::Instant::now() + wait);
                        warn!(%agent_id, error = %why, retry_in = ?wait, "inventory not stored; the server asks for it again later");
                        continue;
                    }
                };
                send(control.tx, &reply).await?;
            }
            AgentMessage::JobUpdate(update) => {
                if let JobProgress::Output { stderr, text } = &update.progress {
                    if output.is_empty() {
                        output_flush
                            .as_mut()
                            .reset(tokio::time::Instant::now() + OUTPUT_FLUSH);
                    }
                    output.push(&update.job_id, *stderr, text);
                    continue;
                }
                let finished = matches!(update.progress, JobProgress::Finished(_));
                if finished {
                    output.forget(&update.job_id);
                }
                let job_id = update.job_id.clone();
                let applied = ctx
                    .store
                    .apply_job_update(
                        agent_id.to_string(),
                        update.job_id,
                        update.progress,
                        unix_now(),
                    )
                    .await?;
                if finished {
                    // Committed: the agent may drop it from its outbox.
                    send(control.tx, &ServerMessage::JobAck { job_id }).await?;
                }
                if jobs_waiting && matches!(applied, Applied::Changed(s) if s.is_terminal()) {
                    // A slot is free and a job waits for one.
                    jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                }
            }
            AgentMessage::HelpRequest(req) => {
                let answer = if help_pacer.allow(std::time::Instant::now()) {
                    // Boxed like `ingest`: rare, and large for a session to carry.
                    Box::pin(crate::help::open_ticket(
                        &ctx.store,
                        &ctx.tickets,
                        agent_id,
                        req,
                    ))
                    .await
                } else {
                    warn!(%agent_id, "refusing a help request: too many from this session");
                    crate::help::too_many(req.request_id)
                };
                send(control.tx, &ServerMessage::HelpAnswer(answer)).await?;
            }
            AgentMessage::Hello(_)
            | AgentMessage::Enroll(_)
            | AgentMessage::Diag(_)
            | AgentMessage::Fetch(_) => {
                return Err(protocol_error(
                    conn,
                    "unexpected message on the control stream",
                ));
            }
        }
    }
}

/// Sends an agent the orders and cancels its unfinished jobs call for.
async fn dispatch_jobs(
    ctx: &LinkContext,
    agent_id: &str,
    tx: &mut SendStream,
    sent: &mut HashSet<crate::jobs::Send>,
) -> Result<bool> {
    let pending = ctx.store.agent_pending_jobs(agent_id.to_string()).await?;
    // Forget what concerned jobs that have ended, so a long session's set
    // stays as small as its unfinished work.
    sent.retain(|s| {
        let (crate::jobs::Send::Order(id) | crate::jobs::Send::Cancel(id)) = s;
        pending.iter().any(|p| &p.job_id == id)
    });
    for step in crate::jobs::plan_sends(&pending, sent, ctx.max_jobs_per_agent) {
        let msg = match &step {
            crate::jobs::Send::Cancel(job_id) => ServerMessage::JobCancel {
                job_id: job_id.clone(),
            },
            crate::jobs::Send::Order(job_id) => {
                let order = match ctx.orders.get(job_id) {
                    Some(order) => order,
                    None => {
                        let parts = ctx.store.order_parts(job_id.clone()).await?;
                        match crate::jobs::build_order(&parts) {
                            Ok(order) => ctx.orders.put(order),
                            Err(why) => {
                                warn!(%agent_id, %job_id, %why, "cannot build a job's order");
                                continue;
                            }
                        }
                    }
                };
                ServerMessage::Job(Box::new((*order).clone()))
            }
        };
        send(tx, &msg).await?;
        sent.insert(step);
    }
    // Whether some job still waits for a free slot.
    Ok(pending.iter().any(|p| {
        p.state == crate::jobs::TargetState::Queued
            && !p.cancel_requested
            && !sent.contains(&crate::jobs::Send::Order(p.job_id.clone()))
    }))
}

/// Serves a stream an agent opened: a content transfer.
async fn serve_fetch(
    store: Store,
    content: Arc<crate::content::ContentStore>,
    mut tx: SendStream,
    mut rx: RecvStream,
) {
    let mut decoder = FrameDecoder::new(MAX_AGENT_REQUEST);
    let req =
        match tokio::time::timeout(FIRST_FRAME_TIMEOUT, next_body(&mut rx, &mut decoder)).await {
            Ok(Ok(Some(body))) => match decode_body::<AgentMessage>(&body) {
                Ok(AgentMessage::Fetch(req)) => req,
                _ => {
                    let _ = tx.reset(close_code::PROTOCOL.into());
                    return;
                }
            },
            _ => {
                let _ = tx.reset(close_code::PROTOCOL.into());
                return;
            }
        };
    let result = async {
        // Agents get only what a published manifest names.
        if !crate::content::is_sha256(&req.sha256)
            || !store.content_is_published(req.sha256.clone()).await?
        {
            send(
                &mut tx,
                &ServerMessage::Fetch(deskhand_shared::jobs::FetchReply::Missing(format!(
                    "no published content {}",
                    req.sha256
                ))),
            )
            .await?;
            return Ok(());
        }
        content.serve(&req.sha256, req.offset, &mut tx).await
    }
    .await;
    match result {
        Ok(()) => {
            let _ = tx.finish();
        }
        Err(e) => debug!(error = %format!("{e:#}"), "content transfer ended early"),
    }
}

/// Shortest interval between two full inventory reports of one session.
const MIN_FULL_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest interval between two delta reports of one session.
const MIN_DELTA_INTERVAL: Duration = Duration::from_millis(50);

/// How long an agent's next report must wait so that one agent cannot
/// keep the database writer busy: at most one full inventory per
/// [`MIN_FULL_INTERVAL`] and one delta per [`MIN_DELTA_INTERVAL`]. Pure:
/// time is an argument.
#[derive(Debug, Default)]
pub(crate) struct IngestPacer {
    next_full: Option<std::time::Instant>,
    next_delta: Option<std::time::Instant>,
}

impl IngestPacer {
    /// The wait before a report received at `now`; books the next slot.
    pub(crate) fn delay(&mut self, now: std::time::Instant, full: bool) -> Duration {
        let (slot, interval) = if full {
            (&mut self.next_full, MIN_FULL_INTERVAL)
        } else {
            (&mut self.next_delta, MIN_DELTA_INTERVAL)
        };
        let start = slot.map_or(now, |t| t.max(now));
        *slot = Some(start + interval);
        start - now
    }
}

/// What a session does about an inventory report once it is handled.
#[derive(Debug)]
enum Outcome {
    /// Stored: acknowledge it by its hash.
    Stored(ContentHash),
    /// Not usable as sent (a delta against a base the server does not
    /// hold, or one that is malformed): ask for the whole inventory now.
    SendFull,
    /// A whole inventory past the bounds or malformed: asking again would
    /// bring the same report back, so nothing is asked; the agent's next
    /// scheduled report is the next try.
    Refused,
    /// The server's own failure (the database refused the write, a stored
    /// form could not be read): asked for again after a backoff
    /// ([`AskAgain`]), so that a failing server is not also flooded with
    /// reports it cannot store.
    Failed { full: bool, why: String },
}

/// Stores an inventory report; says what to answer. Nothing of a report
/// that is not stored is kept.
async fn ingest(
    ctx: &LinkContext,
    agent_id: &str,
    report: InventoryReport,
    bytes: usize,
) -> Outcome {
    let full = matches!(report, InventoryReport::Full(_));
    let (expected, plan) = match plan_report(ctx, agent_id, report).await {
        Ok(planned) => planned,
        Err(IngestError::UnknownBase) => {
            debug!(%agent_id, "delta against an unknown base; asking for a full inventory");
            return Outcome::SendFull;
        }
        Err(IngestError::Invalid(why)) if full => {
            warn!(%agent_id, %why, "refusing an inventory report; nothing of it is stored, and the agent's next scheduled report is the next try");
            return Outcome::Refused;
        }
        Err(IngestError::Invalid(why)) => {
            warn!(%agent_id, %why, "refusing an inventory delta; nothing of it is stored; asking for a full inventory");
            return Outcome::SendFull;
        }
        Err(IngestError::Unavailable(why)) => return Outcome::Failed { full, why },
    };
    let hash = plan.hash;
    let changes = plan.events.len();
    let adopts = plan.adopt_from.is_some();
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    match ctx
        .store
        .ingest_inventory(agent_id.to_string(), expected, plan, bytes, unix_now())
        .await
    {
        Ok(()) => {
            debug!(%agent_id, bytes, changes, "inventory stored");
            if adopts {
                // Jobs queued for the machine's old asset are this agent's now.
                ctx.presence.poke_jobs(agent_id);
            }
            Outcome::Stored(hash)
        }
        // The stored inventory is not the one the report was planned
        // against (a delta's base, or a full report's prior that moved
        // meanwhile): part of the protocol, asked for again at once.
        Err(e @ crate::store::StoreError::NotFound(_)) => {
            debug!(%agent_id, error = %e, "inventory not stored; asking for a full one");
            Outcome::SendFull
        }
        Err(e) => Outcome::Failed {
            full,
            why: e.to_string(),
        },
    }
}

/// When a session asks again for a report the server failed to store:
/// after a capped exponential backoff with jitter (the agent's own
/// reconnect schedule), which a stored report resets. A disk that fills up
/// under 10,000 agents then costs each a report every few minutes rather
/// than its whole inventory again as fast as pacing allows.
#[derive(Debug)]
struct AskAgain {
    backoff: deskhand_net::backoff::Backoff,
    /// Whether the report to ask for is a full one; `None`: nothing to ask.
    pending: Option<bool>,
}

/// The first delay before asking again is between half of this and this.
const ASK_AGAIN_BASE: Duration = Duration::from_secs(20);
/// The longest delay before asking again.
const ASK_AGAIN_CAP: Duration = Duration::from_secs(10 * 60);

impl Default for AskAgain {
    fn default() -> Self {
        AskAgain {
            backoff: deskhand_net::backoff::Backoff::new(ASK_AGAIN_BASE, ASK_AGAIN_CAP),
            pending: None,
        }
    }
}

impl AskAgain {
    /// A report failed: how long until it is asked for again.
    fn failed(&mut self, full: bool, random: u64) -> Duration {
        // A failed full report is asked for in full; a failed delta as a
        // delta, against the base the agent still holds (nothing moved).
        self.pending = Some(self.pending.unwrap_or(false) || full);
        self.backoff.next_delay(random)
    }

    /// A report was stored: nothing left to ask for, and the next failure
    /// starts the backoff over.
    fn stored(&mut self) {
        self.pending = None;
        self.backoff.reset();
    }

    /// The request to send now, if one is due.
    fn take(&mut self) -> Option<ServerMessage> {
        self.pending
            .take()
            .map(|full| ServerMessage::InventoryRequest { full })
    }
}

/// Most package changes of a delta that is planned on the async thread
/// rather than on the blocking pool.
const INLINE_DELTA_CHANGES: usize = 32;

/// Plans a report: a full one against the reconstructed base, a delta
/// against the stored hash (and the stored form only if it needs it).
async fn plan_report(
    ctx: &LinkContext,
    agent_id: &str,
    report: InventoryReport,
) -> Result<(Option<String>, IngestPlan), IngestError> {
    let store_err = |e: crate::store::StoreError| IngestError::Unavailable(format!("store: {e}"));
    match &report {
        InventoryReport::Full(new) => crate::inventory::check_full(new)?,
        InventoryReport::Delta(d) => crate::inventory::check_delta(d)?,
    }
    match report {
        InventoryReport::Full(new) => {
            // Reads, canonical order, hash and plan in one trip to the
            // blocking pool: each trip wakes a thread.
            let (store, presence, agent_id) = (
                ctx.store.clone(),
                ctx.presence.clone(),
                agent_id.to_string(),
            );
            blocking(move || plan_full_report(&store, &presence, &agent_id, *new)).await
        }
        InventoryReport::Delta(d) => {
            let expected = d.base.to_hex();
            // The writer checks the base against the stored hash in the
            // ingest's own transaction (a mismatch also asks for a full
            // report), so a delta that changes only software reads nothing
            // first.
            let d = SplitDelta::from(*d);
            let rest = if d.needs_stored_form() {
                match ctx
                    .store
                    .read({
                        let id = agent_id.to_string();
                        move |r| r.stored_inventory(&id)
                    })
                    .await
                    .map_err(store_err)?
                {
                    Some((blob, hash)) if hash == expected => Inventory::from_wire(&blob).ok(),
                    _ => return Err(IngestError::UnknownBase),
                }
            } else {
                None
            };
            if d.software_changes() <= INLINE_DELTA_CHANGES && rest.is_none() {
                // A few microseconds of work: cheaper here than a thread hop.
                return plan_delta(None, d).map(|p| (Some(expected), p));
            }
            blocking(move || plan_delta(rest.as_ref(), d).map(|p| (Some(expected), p))).await
        }
    }
}

/// An asset's stored form (wire encoding) and its software.
type Stored = (Vec<u8>, Vec<SoftwareRow>);

/// What the server has for the machine behind a full report.
enum Prior {
    /// This very inventory (an agent that reconnected).
    Unchanged,
    /// The asset's own stored form and software, if it has any.
    Own(Option<Stored>),
    /// A re-imaged machine's old asset, with its stored form and software.
    Reenrolled {
        old: String,
        blob: Vec<u8>,
        rows: Vec<SoftwareRow>,
    },
    /// An asset entered by hand with this machine's serial number.
    Manual(String),
}

/// Plans a full report on a blocking thread. An agent that reconnects
/// (say, after a server restart) sends the inventory the server already
/// has: a hash comparison settles it without touching the catalog.
fn plan_full_report(
    store: &Store,
    presence: &Presence,
    agent_id: &str,
    mut new: Inventory,
) -> Result<(Option<String>, IngestPlan), IngestError> {
    // Canonical in place and hashed once; planning reuses both.
    let hash = new.canonicalize_and_hash();
    let prior = store
        .with_reader(|r| prior_of(r, presence, agent_id, &new, &hash.to_hex()))
        .map_err(|e| IngestError::Unavailable(format!("store: {e}")))?;
    let from_wire = |blob: &[u8], rows: &[SoftwareRow]| {
        Inventory::from_wire(blob).map(|rest| reconstruct(rest, rows))
    };
    Ok(match prior {
        Prior::Unchanged => (Some(hash.to_hex()), unchanged_plan(hash, &new)),
        Prior::Own(stored) => {
            let base = stored.and_then(|(blob, rows)| from_wire(&blob, &rows).ok());
            // What the agent could not collect is what the server has.
            let hash = crate::inventory::carry_forward(base.as_ref(), &mut new, hash);
            (None, plan_full_canonical(base.as_ref(), new, hash))
        }
        Prior::Reenrolled { old, blob, rows } => {
            info!(%agent_id, old_asset = %old, "re-enrolled machine: taking over its asset");
            let base = from_wire(&blob, &rows).map_err(|e| {
                IngestError::Unavailable(format!("the stored form of {old} is unreadable: {e}"))
            })?;
            let plan = crate::inventory::plan_reenrollment(&old, agent_id, &base, &new);
            (None, plan)
        }
        Prior::Manual(manual) => {
            info!(%agent_id, manual_asset = %manual, "an agent reports a machine entered by hand: adopting its asset");
            let plan = crate::inventory::plan_adoption(&manual, agent_id, &new);
            (None, plan)
        }
    })
}

/// The reads a full report needs. A first report may come from a machine
/// the server knows under another asset: re-imaged (same hardware
/// identity, its old agent gone) or entered by hand (same serial).
fn prior_of(
    r: &Reader<'_>,
    presence: &Presence,
    agent_id: &str,
    new: &Inventory,
    hash: &str,
) -> Result<Prior, StoreError> {
    match r.inventory_hash(agent_id)? {
        Some(stored) if stored == hash => return Ok(Prior::Unchanged),
        Some(_) => return Ok(Prior::Own(stored_with_software(r, agent_id)?)),
        None => {}
    }
    let summary = crate::inventory::summarize(new);
    let macs: Vec<String> = summary
        .macs
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let Some(old) =
        r.asset_with_hardware(agent_id, &summary.system_uuid, &summary.serial, &macs)?
    else {
        return Ok(match r.manual_asset_with_serial(&summary.serial)? {
            Some(manual) => Prior::Manual(manual),
            None => Prior::Own(None),
        });
    };
    if presence.status(&old).is_some() {
        // Both are live: two installs on one machine, not a re-enrollment.
        return Ok(Prior::Own(None));
    }
    Ok(match stored_with_software(r, &old)? {
        Some((blob, rows)) => Prior::Reenrolled { old, blob, rows },
        None => Prior::Own(None),
    })
}

/// An asset's stored form and its software, if it has an inventory.
fn stored_with_software(r: &Reader<'_>, asset_id: &str) -> Result<Option<Stored>, StoreError> {
    Ok(match r.stored_inventory(asset_id)? {
        Some((blob, _)) => Some((blob, r.asset_software(asset_id)?)),
        None => None,
    })
}

/// Runs CPU work (decoding, diffing) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IngestError> + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IngestError::Unavailable(format!("ingest task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A session's task lives as long as its agent is connected: 10,000
    /// of them are held at once. What it needs only while handling a
    /// report is boxed for that time, so the task stays a few kilobytes
    /// (it was 17 KB when a report's planning was inline).
    #[test]
    fn a_session_task_stays_small() {
        fn returned_size<A, B, R>(_: impl FnOnce(A, B) -> R) -> usize {
            std::mem::size_of::<R>()
        }
        let size = returned_size(|i: Incoming, c: &'static LinkContext| handle(i, c));
        println!("a session's future: {size} bytes");
        assert!(size < 12 * 1024, "a session's future is {size} bytes");
    }

    #[test]
    fn a_report_the_server_failed_to_store_is_asked_for_again_later_and_less_often() {
        let mut a = AskAgain::default();
        assert_eq!(a.take(), None, "nothing to ask before a failure");
        assert_eq!(a.failed(false, 0), ASK_AGAIN_BASE / 2);
        assert_eq!(
            a.failed(false, 0),
            ASK_AGAIN_BASE,
            "each failure doubles the delay"
        );
        // A full report failed in between: the whole inventory is asked for.
        a.failed(true, 0);
        assert_eq!(
            a.take(),
            Some(ServerMessage::InventoryRequest { full: true })
        );
        assert_eq!(a.take(), None, "asked once");
        for _ in 0..20 {
            assert!(a.failed(false, u64::MAX) <= ASK_AGAIN_CAP);
        }
        a.stored();
        assert_eq!(a.take(), None, "a stored report leaves nothing to ask for");
        assert_eq!(
            a.failed(false, 0),
            ASK_AGAIN_BASE / 2,
            "and the next failure starts over"
        );
        assert_eq!(
            a.take(),
            Some(ServerMessage::InventoryRequest { full: false }),
            "a failed delta is asked for as a delta: its base did not move"
        );
    }

    #[test]
    fn reports_are_paced_per_kind() {
        let mut p = IngestPacer::default();
        let t0 = Instant::now();
        assert_eq!(
            p.delay(t0, true),
            Duration::ZERO,
            "the first full report goes at once"
        );
        assert_eq!(
            p.delay(t0, false),
            Duration::ZERO,
            "deltas have their own pace"
        );
        assert_eq!(
            p.delay(t0 + Duration::from_secs(1), true),
            Duration::from_secs(4)
        );
        // A third one in the same second waits for the slot after that.
        assert_eq!(
            p.delay(t0 + Duration::from_secs(1), true),
            Duration::from_secs(9)
        );
        assert_eq!(
            p.delay(t0 + Duration::from_millis(10), false),
            Duration::from_millis(40)
        );
        assert_eq!(
            p.delay(t0 + Duration::from_secs(60), true),
            Duration::ZERO,
            "a quiet agent is not held back"
        );
    }
}
