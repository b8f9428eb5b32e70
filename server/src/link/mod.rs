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
//! new connections are refused before their handshake. Slow and greedy
//! clients are bounded by [`LinkLimits`]: a deadline for the handshake,
//! and then for the control stream and the first frame; a cap per
//! address on connections not yet past their hello (handshaking,
//! enrolling, or silent), so one address cannot take the whole
//! connection cap; a deadline for every later frame once its first byte
//! arrived (`deskhand_net::stream::FrameDeadline`), so an agent cannot
//! hold a large-message slot by trickling a frame; and at most 2.5 MB of
//! unread data per connection, all its streams together. Refusals are
//! logged one line per burst ([`crate::limits::Bursts`]).
//!
//! Another server node sharing the database connects here too, with ALPN
//! [`NODE_ALPN`] and a node's certificate: [`crate::relay::admit`] decides
//! from the ALPN and the certificate, and such a connection is served by
//! [`crate::relay::serve`]; an agent's certificate never opens it, and a
//! node's never opens an agent session.
//!
//! - `enroll`: an enrollment request gets a certificate or a refusal.
//! - `session`: the session driver, which owns the control stream, the
//!   store and the clock; `session::state` decides, without I/O.
//! - `ingest`: an inventory report planned, stored and answered.
//! - `fetch`: content transfers on streams the agent opens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use deskhand_net::stream::{FrameClock, FrameDeadline, send};
use deskhand_shared::fingerprint::sha256_hex;
use deskhand_shared::frame::{FrameDecoder, decode_body};
use deskhand_shared::proto::close_code;
use deskhand_shared::proto::{
    ALPN, AgentMessage, NODE_ALPN, Refusal, RefusalReason, ServerMessage, check_version,
    peek_protocol_version,
};
use futures_util::FutureExt;
use quinn::{Connection, Endpoint, Incoming, RecvStream, SendStream};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use crate::limits::{AddressSlot, AddressSlots, RefusalLog};
use crate::pki::CertificateAuthority;
use crate::presence::Presence;
use crate::store::Store;

mod enroll;
mod fetch;
mod ingest;
pub mod server_cert;
mod session;

pub use server_cert::AgentCertResolver;
#[cfg(test)]
mod tests;

/// How long a stream an agent opens has to send its request.
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
    /// Poked when an agent's job finishes (rollouts wait on it).
    pub job_finished: Arc<tokio::sync::Notify>,
    /// This server's name among the nodes sharing its database.
    pub node_name: String,
    /// The address requesters' browsers reach the server at: the base of
    /// the portal links minted for agents.
    pub public_url: String,
    /// Deadlines and caps for slow and greedy connections.
    pub limits: LinkLimits,
    /// This node's live remote sessions, which another node may ask it
    /// to kill.
    pub remote: Arc<crate::remote::Remote>,
}

/// Limits on slow and greedy agent connections (`hello_timeout_secs`,
/// `frame_timeout_secs`, `max_unverified_per_address`).
#[derive(Debug, Clone)]
pub struct LinkLimits {
    /// How long a new connection has for its handshake, and then for its
    /// control stream and its first frame (each).
    pub hello_timeout: Duration,
    /// How long a later frame may take once its first byte arrived.
    pub frame: FrameDeadline,
    /// Most connections from one address not yet past their hello.
    pub unverified_per_address: usize,
    /// Where refusals are counted and logged, one line per burst.
    pub refusals: Arc<RefusalLog>,
}

/// The defaults of [`LinkLimits`]' settings.
pub mod defaults {
    /// `hello_timeout_secs`.
    pub const HELLO_TIMEOUT_SECS: u64 = 10;
    /// `frame_timeout_secs`.
    pub const FRAME_TIMEOUT_SECS: u64 = 20;
    /// `max_unverified_per_address`: high enough for a site's agents
    /// behind one NAT address reconnecting together after a restart.
    pub const MAX_UNVERIFIED_PER_ADDRESS: usize = 1024;
}

impl Default for LinkLimits {
    fn default() -> Self {
        Self {
            hello_timeout: Duration::from_secs(defaults::HELLO_TIMEOUT_SECS),
            frame: FrameDeadline::new(Duration::from_secs(defaults::FRAME_TIMEOUT_SECS)),
            unverified_per_address: defaults::MAX_UNVERIFIED_PER_ADDRESS,
            refusals: Arc::new(RefusalLog::new("agent endpoint")),
        }
    }
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
/// `deskhand/1` (agents) or `deskhand-node/1` (other nodes), no 0-RTT,
/// client certificates optional but verified against the CA when
/// presented.
pub fn server_config(
    ca: &CertificateAuthority,
    certs: Arc<AgentCertResolver>,
) -> Result<quinn::ServerConfig> {
    let provider = deskhand_net::tls::provider();
    let mut roots = RootCertStore::empty();
    roots.add(ca.ca_der().clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("configuring TLS 1.3")?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certs);
    tls.alpn_protocols = vec![ALPN.to_vec(), NODE_ALPN.to_vec()];
    tls.max_early_data_size = 0;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| anyhow!("building the QUIC TLS configuration: {e}"))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into()?));
    // BBR paces by the measured bandwidth instead of halving its window on
    // each loss: at 20% loss the default (Cubic) sent a 20 MiB artifact at
    // a few KiB/s (`tests/lossy_network.rs`).
    transport.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()));
    transport.max_concurrent_bidi_streams(4u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    // Greedy peers: unread data of all of a connection's streams together
    // (a stream alone gets quinn's 1.25 MB), and no datagrams (unused).
    transport.receive_window(quinn::VarInt::from_u32(2_500_000));
    transport.datagram_receive_buffer_size(None);
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Opens the agent endpoint on `addr`.
///
/// The stateless-reset key is derived from the CA key, so it survives a
/// restart: packets of a connection the previous process held are answered
/// with a reset, and agents reconnect at once rather than after the idle
/// timeout.
pub fn bind(
    addr: SocketAddr,
    ca: &CertificateAuthority,
    certs: Arc<AgentCertResolver>,
) -> Result<Endpoint> {
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
        Some(server_config(ca, certs)?),
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

/// Accepts agent connections until the endpoint is closed. Past
/// `max_connections` at once, or past the per-address cap of connections
/// not yet past their hello, a new connection is refused before its
/// handshake.
pub async fn accept_loop(endpoint: Endpoint, ctx: Arc<LinkContext>, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let unverified = AddressSlots::new(ctx.limits.unverified_per_address);
    let refusals = ctx.limits.refusals.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
            _ = tick.tick(), if refusals.any_open() => {
                refusals.log_ended();
                continue;
            }
        };
        let remote = incoming.remote_address();
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refusals.refused("connections", remote.ip(), || {
                format!("the connection cap ({max_connections}, max_connections) is reached")
            });
            incoming.refuse();
            continue;
        };
        let Some(slot) = unverified.take(remote.ip()) else {
            refusals.refused("connections", remote.ip(), || {
                format!(
                    "the address holds {} connections not yet past their hello (max_unverified_per_address)",
                    unverified.cap()
                )
            });
            incoming.refuse();
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(incoming, slot, &ctx).await {
                debug!(%remote, error = %format!("{e:#}"), "agent connection ended");
            }
            drop(permit);
        });
    }
}

/// Why a slow connection is refused, in the log.
const SLOW_HELLO: &str = "no handshake, control stream or first frame within hello_timeout_secs";

/// Closes a connection that was too slow before its hello, counting it
/// as a refusal (one log line per burst from its address).
fn too_slow(conn: &Connection, ctx: &LinkContext, why: &str) -> anyhow::Error {
    ctx.limits
        .refusals
        .refused("slow connections", conn.remote_address().ip(), || {
            SLOW_HELLO.to_string()
        });
    conn.close(close_code::PROTOCOL.into(), why.as_bytes());
    anyhow!("protocol error: {why}")
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

fn peer_certificate(conn: &Connection) -> Option<rustls::pki_types::CertificateDer<'static>> {
    let identity = conn.peer_identity()?;
    let certs = identity
        .downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
        .ok()?;
    certs.first().cloned()
}

fn peer_fingerprint(conn: &Connection) -> Option<String> {
    peer_certificate(conn).map(|c| sha256_hex(&c))
}

/// The ALPN the handshake settled on.
fn negotiated_alpn(conn: &Connection) -> Option<Vec<u8>> {
    conn.handshake_data()?
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?
        .protocol
}

async fn handle(incoming: Incoming, unverified: AddressSlot, ctx: &LinkContext) -> Result<()> {
    let hello_timeout = ctx.limits.hello_timeout;
    let remote = incoming.remote_address();
    let conn = match tokio::time::timeout(hello_timeout, incoming).await {
        Ok(conn) => conn.context("handshake")?,
        Err(_) => {
            ctx.limits
                .refusals
                .refused("slow connections", remote.ip(), || SLOW_HELLO.to_string());
            return Err(anyhow!("the handshake took too long"));
        }
    };
    let node = peer_certificate(&conn).and_then(|c| crate::pki::node_name_of(&c));
    match crate::relay::admit(negotiated_alpn(&conn).as_deref(), node) {
        crate::relay::Admission::Agent => {}
        crate::relay::Admission::Node(peer) => {
            drop(unverified);
            // Boxed: the relay's future stays out of every agent session's.
            return Box::pin(crate::relay::serve::serve(
                conn,
                peer,
                ctx.presence.clone(),
                ctx.remote.clone(),
            ))
            .await;
        }
        crate::relay::Admission::Refuse(why) => {
            warn!(remote = %conn.remote_address(), reason = why, "refusing connection");
            conn.close(close_code::REFUSED.into(), why.as_bytes());
            return Err(anyhow!("refused: {why}"));
        }
    }
    let (mut tx, mut rx) = tokio::time::timeout(hello_timeout, conn.accept_bi())
        .await
        .map_err(|_| too_slow(&conn, ctx, "no control stream opened in time"))??;
    let mut decoder = FrameDecoder::new(if peer_fingerprint(&conn).is_some() {
        deskhand_shared::MAX_FRAME_LEN
    } else {
        MAX_ENROLL_FRAME
    });
    let body = match tokio::time::timeout(hello_timeout, next_body(&mut rx, &mut decoder)).await {
        Err(_) => return Err(too_slow(&conn, ctx, "no hello received in time")),
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
        AgentMessage::Enroll(req) => enroll::enroll(&conn, &mut tx, req, ctx).await,
        AgentMessage::Hello(hello) => {
            // Past its hello: no longer under the per-address cap.
            drop(unverified);
            session::session(&conn, tx, rx, decoder, hello, ctx).await
        }
        AgentMessage::Heartbeat
        | AgentMessage::Diag(_)
        | AgentMessage::Inventory(_)
        | AgentMessage::JobUpdate(_)
        | AgentMessage::Fetch(_)
        | AgentMessage::HelpRequest(_)
        | AgentMessage::InventoryHash(_)
        | AgentMessage::RemotePolicy(_)
        | AgentMessage::RemoteReply(_)
        | AgentMessage::PortalLinkRequest { .. } => Err(protocol_error(
            &conn,
            "the first message must be a hello or an enrollment request",
        )),
    }
}

async fn next_body(rx: &mut RecvStream, decoder: &mut FrameDecoder) -> Result<Option<Vec<u8>>> {
    Ok(next_large_or_small(rx, decoder, None, None)
        .await?
        .map(|(body, _)| body))
}

/// Now, on tokio's clock (which tests may pause).
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// The next frame body; with `large`, a frame whose body is large once
/// decompressed takes a [`LargeMessages`] slot as soon as its header
/// arrives, before the rest is read and decompressed, and hands the slot
/// out with the body. With `deadline`, a frame that takes longer than it
/// allows once its first byte arrived is an error (the time spent waiting
/// for a slot is not counted); `clock` outlives this future, which a
/// `select!` may drop between reads.
async fn next_large_or_small<'a>(
    rx: &mut RecvStream,
    decoder: &mut FrameDecoder,
    large: Option<&'a LargeMessages>,
    deadline: Option<(&FrameDeadline, &mut FrameClock)>,
) -> Result<Option<(Vec<u8>, Option<tokio::sync::SemaphorePermit<'a>>)>> {
    let mut permit = None;
    let (deadline, mut clock) = match deadline {
        Some((d, c)) => (Some(d), Some(c)),
        None => (None, None),
    };
    loop {
        if let Some(large) = large
            && permit.is_none()
            && decoder
                .pending_body_len()
                .is_some_and(|n| n > LARGE_MESSAGE)
        {
            let asked = now();
            permit = Some(large.0.acquire().await?);
            if let Some(clock) = clock.as_deref_mut() {
                clock.waited(now().saturating_duration_since(asked));
            }
        }
        if let Some(body) = decoder.next_body()? {
            if let Some(clock) = clock.as_deref_mut() {
                clock.finished();
            }
            return Ok(Some((body, permit)));
        }
        let want = decoder.wanted().clamp(1, 64 * 1024);
        let due = deadline.zip(clock.as_deref()).and_then(|(d, c)| c.due(d));
        let chunk = match due {
            None => rx.read_chunk(want, true).await?,
            // Most frames are whole in one read: no timer for those.
            Some(due) => match rx.read_chunk(want, true).now_or_never() {
                Some(chunk) => chunk?,
                None => tokio::time::timeout_at(due.into(), rx.read_chunk(want, true))
                    .await
                    .map_err(|_| {
                        anyhow!(
                            "a frame took too long to arrive ({} of {} bytes; frame_timeout_secs)",
                            clock.as_deref().map_or(0, FrameClock::so_far),
                            decoder.wanted() + decoder.buffered()
                        )
                    })??,
            },
        };
        match chunk {
            Some(chunk) => {
                if let Some(clock) = clock.as_deref_mut() {
                    clock.received(chunk.bytes.len(), now());
                }
                decoder.push(&chunk.bytes)?
            }
            None => return Ok(None),
        }
    }
}
