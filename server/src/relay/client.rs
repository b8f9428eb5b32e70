//! The asking side of the relay: finds the node that holds an agent's
//! session, keeps one connection per peer node (dialled again when it is
//! gone), and sends each request on a stream of its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use deskhand_net::stream::{recv, send};
use deskhand_shared::diag::{DiagDone, DiagEvent, DiagRequest};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::node::{MAX_NODE_REPLY, NodeReply, NodeRequest};
use deskhand_shared::proto::{NODE_ALPN, SERVER_NAME};
use deskhand_shared::remote::{RemoteReply, RemoteRequest};
use quinn::{Connection, RecvStream};
use tokio::sync::mpsc;

use super::{Peer, Route, revoke_peers, route};
use crate::pki::CertificateAuthority;
use crate::presence::Presence;
use crate::remote::{AgentSide, NotOpened};
use crate::store::Store;

/// How long dialling another node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a node has to take a request (start a diagnostic, close a
/// session) and say so.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Keeps an idle connection to another node open.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// A connection whose peer answers nothing for this long is gone (a node
/// that died without a word; its lease runs out at about the same time),
/// and the next request dials again.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a request could not be relayed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// No live node holds a session of the agent.
    #[error("no node holds a session of this agent")]
    Offline,
    /// The node holding the agent could not be reached.
    #[error(
        "node {node} ({addr}), which holds the agent's session, could not be reached: {error}; check that the nodes reach each other's agent port (UDP) and share one CA"
    )]
    Unreachable {
        /// The node.
        node: String,
        /// Its address.
        addr: String,
        /// What failed.
        error: String,
    },
    /// The node took the request and could not serve it.
    #[error("node {node}: {error}")]
    Failed {
        /// The node.
        node: String,
        /// What it said.
        error: String,
    },
}

/// One connection to a peer node, and the address it was dialled at.
struct Link {
    addr: String,
    conn: Connection,
}

/// The relay's asking side: one per server.
pub struct Relay {
    endpoint: quinn::Endpoint,
    ca: Arc<CertificateAuthority>,
    me: String,
    store: Store,
    presence: Arc<Presence>,
    /// Per peer node: its connection, dialled by one request at a time.
    links: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Link>>>>>,
}

impl Relay {
    /// The relay of node `me`, dialling from `endpoint` (the agent
    /// endpoint: its UDP socket serves both directions).
    pub fn new(
        endpoint: quinn::Endpoint,
        ca: Arc<CertificateAuthority>,
        me: String,
        store: Store,
        presence: Arc<Presence>,
    ) -> Self {
        Self {
            endpoint,
            ca,
            me,
            store,
            presence,
            links: Default::default(),
        }
    }

    /// The nodes the store knows, live or not.
    async fn nodes(&self) -> Result<Vec<crate::store::NodeRow>, RelayError> {
        self.store
            .list_nodes(crate::unix_now())
            .await
            .map_err(|e| RelayError::Failed {
                node: self.me.clone(),
                error: format!("reading the nodes failed: {e}"),
            })
    }

    /// Where `agent_id`'s session is now.
    async fn locate(&self, agent_id: &str) -> Result<Route, RelayError> {
        let local = self.presence.connection(agent_id).is_some();
        let holder = self.presence.remote_node(agent_id);
        if local || holder.is_none() {
            return Ok(route(local, None, &[], &self.me));
        }
        let nodes = self.nodes().await?;
        Ok(route(local, holder.as_deref(), &nodes, &self.me))
    }

    /// Starts a diagnostic on `agent_id` wherever its session is: here,
    /// or on the node that holds it. Like [`crate::diag::start`], the
    /// channel ends with a `Done`, and dropping the receiver cancels the
    /// check on the agent (through the other node when relayed).
    pub async fn diag(
        &self,
        agent_id: &str,
        request: DiagRequest,
    ) -> Result<mpsc::Receiver<DiagEvent>, RelayError> {
        let peer = match self.locate(agent_id).await? {
            Route::Offline => return Err(RelayError::Offline),
            Route::Node(peer) => peer,
            Route::Local => {
                let conn = self
                    .presence
                    .connection(agent_id)
                    .ok_or(RelayError::Offline)?;
                return crate::diag::start(&conn, request)
                    .await
                    .map_err(|e| RelayError::Failed {
                        node: self.me.clone(),
                        error: format!("{e:#}"),
                    });
            }
        };
        let ask = NodeRequest::Diag {
            agent_id: agent_id.to_string(),
            request,
        };
        let (mut rx, mut decoder, first) = self.ask(&peer, &ask).await?;
        match first {
            NodeReply::Started => {}
            NodeReply::NotHere => return Err(RelayError::Offline),
            NodeReply::Failed(error) => {
                return Err(RelayError::Failed {
                    node: peer.name,
                    error,
                });
            }
            other => {
                return Err(RelayError::Failed {
                    node: peer.name,
                    error: format!("it answered a diagnostic with {other:?}"),
                });
            }
        }
        let (events_tx, events_rx) = mpsc::channel(64);
        let node = peer.name;
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    got = recv::<NodeReply>(&mut rx, &mut decoder) => got,
                    () = events_tx.closed() => {
                        // The requester went away: the other node drops
                        // its end, which cancels the check on the agent.
                        let _ = rx.stop(0u32.into());
                        return;
                    }
                };
                let event = match got {
                    Ok(Some(NodeReply::Diag(e))) => e,
                    Ok(Some(other)) => {
                        failed(format!("node {node} sent {other:?} inside a diagnostic"))
                    }
                    Ok(None) => {
                        failed(format!("node {node} ended the diagnostic without a result"))
                    }
                    Err(e) => failed(format!("the relay from node {node} failed: {e:#}")),
                };
                let done = matches!(event, DiagEvent::Done(_));
                if events_tx.send(event).await.is_err() || done {
                    let _ = rx.stop(0u32.into());
                    return;
                }
            }
        });
        Ok(events_rx)
    }

    /// Opens a remote session on `agent_id` through the node holding its
    /// session: the agent's answer, and on acceptance that node's stream,
    /// which then carries the session's frames both ways.
    pub async fn open_remote(
        &self,
        agent_id: &str,
        request: RemoteRequest,
    ) -> Result<AgentSide, NotOpened> {
        let failed = |e: String| NotOpened::Failed(e);
        let peer = match self
            .locate(agent_id)
            .await
            .map_err(|e| failed(e.to_string()))?
        {
            Route::Node(peer) => peer,
            Route::Local => {
                return Err(failed(
                    "the agent's session moved to this node meanwhile; try again".into(),
                ));
            }
            Route::Offline => return Err(failed(RelayError::Offline.to_string())),
        };
        // The node asks the agent, which has its own time to answer.
        let wait = ANSWER_TIMEOUT + crate::remote::reply_timeout(&request.kind);
        let ask = NodeRequest::Remote {
            agent_id: agent_id.to_string(),
            request,
        };
        let conn = self
            .connection(&peer)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let (send_half, recv_half, decoder, first) =
            match tokio::time::timeout(wait, open_exchange(&conn, &ask)).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
                    return Err(failed(format!(
                        "the relay to node {} failed: {e:#}",
                        peer.name
                    )));
                }
                Err(_) => {
                    return Err(failed(format!(
                        "node {} did not answer within {} s",
                        peer.name,
                        wait.as_secs()
                    )));
                }
            };
        match first {
            NodeReply::Remote(RemoteReply::Accepted { ticket, until }) => Ok(AgentSide {
                send: send_half,
                recv: recv_half,
                decoder,
                ticket,
                until,
            }),
            NodeReply::Remote(RemoteReply::Refused { message }) => Err(NotOpened::Refused(message)),
            NodeReply::NotHere => Err(failed(RelayError::Offline.to_string())),
            NodeReply::Failed(error) => Err(failed(error)),
            other => Err(failed(format!(
                "node {} answered a remote session with {other:?}",
                peer.name
            ))),
        }
    }

    /// Tells every other live node that `agent_id` is revoked, so the one
    /// holding its session closes it. Returns how many had a session;
    /// a node that cannot be told is logged (the agent is refused at its
    /// next connect anyway: revocation is in the database).
    pub async fn revoke(&self, agent_id: &str) -> usize {
        if !self.store.is_shared() {
            return 0;
        }
        let nodes = match self.store.list_nodes(crate::unix_now()).await {
            Ok(nodes) => nodes,
            Err(e) => {
                tracing::warn!(agent_id, error = %e, "reading the nodes to tell of a revocation failed");
                return 0;
            }
        };
        let ask = NodeRequest::Revoke {
            agent_id: agent_id.to_string(),
        };
        let peers = revoke_peers(&nodes, &self.me);
        let told = futures_util::future::join_all(peers.iter().map(|p| self.ask(p, &ask))).await;
        let mut closed = 0;
        for (peer, answer) in peers.iter().zip(told) {
            match answer {
                Ok((_, _, NodeReply::Revoked { had_session })) => {
                    closed += usize::from(had_session)
                }
                Ok((_, _, other)) => {
                    tracing::warn!(agent_id, node = %peer.name, answer = ?other, "a node did not take a revocation")
                }
                Err(e) => {
                    tracing::warn!(agent_id, node = %peer.name, error = %e, "a node could not be told of a revocation")
                }
            }
        }
        closed
    }

    /// Asks node `node`, which pumps remote session `session_id` (its
    /// operator reached it), to kill it; whether it was live there.
    pub async fn kill_remote(
        &self,
        node: &str,
        session_id: i64,
        by: &str,
    ) -> Result<bool, RelayError> {
        let nodes = self.nodes().await?;
        let Some(peer) = revoke_peers(&nodes, &self.me)
            .into_iter()
            .find(|p| p.name == node)
        else {
            return Err(RelayError::Failed {
                node: node.to_string(),
                error: "that node is not live; the session ended with it".into(),
            });
        };
        let ask = NodeRequest::KillRemote {
            session_id,
            by: by.to_string(),
        };
        match self.ask(&peer, &ask).await? {
            (_, _, NodeReply::Killed { live }) => Ok(live),
            (_, _, NodeReply::Failed(error)) => Err(RelayError::Failed {
                node: peer.name,
                error,
            }),
            (_, _, other) => Err(RelayError::Failed {
                node: peer.name,
                error: format!("answered {other:?} to a kill; do both nodes run the same release?"),
            }),
        }
    }

    /// Sends `request` to `peer` on a new stream and reads the first
    /// reply; dials again once if the connection it had is gone.
    async fn ask(
        &self,
        peer: &Peer,
        request: &NodeRequest,
    ) -> Result<(RecvStream, FrameDecoder, NodeReply), RelayError> {
        let unreachable = |error: String| RelayError::Unreachable {
            node: peer.name.clone(),
            addr: peer.addr.clone(),
            error,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let conn = self.connection(peer).await?;
            match tokio::time::timeout(ANSWER_TIMEOUT, exchange(&conn, request)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(_)) if tries == 1 && conn.close_reason().is_some() => continue,
                Ok(Err(e)) => return Err(unreachable(format!("{e:#}"))),
                Err(_) => {
                    // The connection is left to its keep-alive: other
                    // requests may be live on it, and a peer that died
                    // without a word is noticed by its idle timeout.
                    return Err(unreachable(format!(
                        "no answer within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    )));
                }
            }
        }
    }

    /// The connection to `peer`, dialled if there is none, it is closed,
    /// or the peer moved to another address.
    async fn connection(&self, peer: &Peer) -> Result<Connection, RelayError> {
        let slot = self
            .links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(peer.name.clone())
            .or_default()
            .clone();
        let mut link = slot.lock().await;
        if let Some(l) = link.as_ref()
            && l.addr == peer.addr
            && l.conn.close_reason().is_none()
        {
            return Ok(l.conn.clone());
        }
        *link = None;
        let conn = self
            .dial(&peer.addr)
            .await
            .map_err(|e| RelayError::Unreachable {
                node: peer.name.clone(),
                addr: peer.addr.clone(),
                error: format!("{e:#}"),
            })?;
        tracing::info!(node = %peer.name, addr = %peer.addr, "relay connection to a node open");
        *link = Some(Link {
            addr: peer.addr.clone(),
            conn: conn.clone(),
        });
        Ok(conn)
    }

    async fn dial(&self, addr: &str) -> anyhow::Result<Connection> {
        let to = resolve(addr, self.endpoint.local_addr().ok()).await?;
        let config = client_config(&self.ca, &self.me)?;
        let connecting = self
            .endpoint
            .connect_with(config, to, SERVER_NAME)
            .with_context(|| format!("connecting to {to}"))?;
        tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| anyhow!("no handshake within {} s", CONNECT_TIMEOUT.as_secs()))?
            .with_context(|| format!("the handshake with {to} failed"))
    }
}

/// Opens a stream, sends the request, and reads the first reply.
async fn exchange(
    conn: &Connection,
    request: &NodeRequest,
) -> anyhow::Result<(RecvStream, FrameDecoder, NodeReply)> {
    let (mut tx, mut rx) = conn.open_bi().await.context("opening a relay stream")?;
    send(&mut tx, request).await?;
    let _ = tx.finish();
    let mut decoder = FrameDecoder::new(MAX_NODE_REPLY);
    let first = recv::<NodeReply>(&mut rx, &mut decoder)
        .await?
        .context("the node ended the stream without an answer")?;
    Ok((rx, decoder, first))
}

/// Like [`exchange`], keeping the asking side open: a remote session's
/// frames follow the answer on the same stream.
async fn open_exchange(
    conn: &Connection,
    request: &NodeRequest,
) -> anyhow::Result<(quinn::SendStream, RecvStream, FrameDecoder, NodeReply)> {
    let (mut tx, mut rx) = conn.open_bi().await.context("opening a relay stream")?;
    send(&mut tx, request).await?;
    let mut decoder = FrameDecoder::new(MAX_NODE_REPLY);
    let first = recv::<NodeReply>(&mut rx, &mut decoder)
        .await?
        .context("the node ended the stream without an answer")?;
    Ok((tx, rx, decoder, first))
}

/// The first address of `addr` (`HOST:PORT`; of a list, the first) this
/// node's socket can send to: an IPv4 one when it is bound to IPv4.
async fn resolve(addr: &str, local: Option<SocketAddr>) -> anyhow::Result<SocketAddr> {
    let first = addr.split(',').next().unwrap_or(addr).trim();
    let found: Vec<SocketAddr> = tokio::net::lookup_host(first)
        .await
        .with_context(|| format!("resolving {first}"))?
        .collect();
    let v4_only = local.is_some_and(|l| l.is_ipv4());
    found
        .into_iter()
        .find(|a| !v4_only || a.is_ipv4())
        .with_context(|| format!("{first} has no address this node can reach"))
}

/// The QUIC client configuration for dialling another node: TLS 1.3,
/// ALPN [`NODE_ALPN`], no 0-RTT, the peer's certificate checked against
/// the CA for [`SERVER_NAME`], and a fresh node certificate of `me`.
pub(super) fn client_config(
    ca: &CertificateAuthority,
    me: &str,
) -> anyhow::Result<quinn::ClientConfig> {
    let provider = deskhand_net::tls::provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone())?;
    let (chain, key) = ca.issue_node_cert(me)?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("configuring TLS 1.3")?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("loading the node's relay certificate")?;
    tls.alpn_protocols = vec![NODE_ALPN.to_vec()];
    tls.enable_early_data = false;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| anyhow!("building the relay's QUIC TLS configuration: {e}"))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into()?));
    // The other node opens no streams on this connection.
    transport.max_concurrent_bidi_streams(0u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    config.transport_config(Arc::new(transport));
    Ok(config)
}

fn failed(error: String) -> DiagEvent {
    DiagEvent::Done(DiagDone {
        ok: false,
        error: Some(error),
        micros: 0,
    })
}
