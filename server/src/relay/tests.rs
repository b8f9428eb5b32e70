//! Unit tests of the relay: the pure decisions, and a node's endpoint on
//! loopback asked by another node, by an agent's certificate on the
//! node ALPN and by a node's certificate on the agent ALPN.

use std::net::SocketAddr;
use std::sync::Arc;

use deskhand_net::stream::recv;
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::close_code;
use deskhand_shared::proto::node::{MAX_NODE_REPLY, NodeReply, NodeRequest};
use quinn::{Connection, ConnectionError, Endpoint};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;
use crate::link::LinkContext;
use crate::pki::CertificateAuthority;
use crate::presence::{Presence, Registration};
use crate::store::NodeBeat;

fn node(name: &str, addr: &str, alive: bool) -> NodeRow {
    NodeRow {
        name: name.into(),
        api: String::new(),
        agents_addr: addr.into(),
        started_at: 0,
        heartbeat_at: 0,
        alive,
        agents: 0,
    }
}

fn peer(name: &str, addr: &str) -> Peer {
    Peer {
        name: name.into(),
        addr: addr.into(),
    }
}

#[test]
fn a_request_goes_here_to_the_live_node_holding_the_agent_or_nowhere() {
    let nodes = [
        node("a", "a:4433", true),
        node("b", "b:4433", true),
        node("c", "c:4433", false),
        node("d", " ", true),
    ];
    assert_eq!(route(true, Some("b"), &nodes, "a"), Route::Local);
    assert_eq!(
        route(false, Some("b"), &nodes, "a"),
        Route::Node(peer("b", "b:4433"))
    );
    // A dead node, one without an address, an unknown one, this node
    // itself (a stale read), or none: offline.
    for holder in [Some("c"), Some("d"), Some("x"), Some("a"), None] {
        assert_eq!(
            route(false, holder, &nodes, "a"),
            Route::Offline,
            "{holder:?}"
        );
    }
}

#[test]
fn a_revocation_is_told_to_every_other_live_node() {
    let nodes = [
        node("a", "a:4433", true),
        node("b", "b:4433", true),
        node("c", "c:4433", false),
        node("d", "", true),
        node("e", "e:4433", true),
    ];
    assert_eq!(
        revoke_peers(&nodes, "a"),
        [peer("b", "b:4433"), peer("e", "e:4433")]
    );
    assert!(revoke_peers(&nodes[..1], "a").is_empty());
}

#[test]
fn the_alpn_and_the_certificate_decide_together() {
    use deskhand_shared::proto::{ALPN, NODE_ALPN};
    assert_eq!(admit(Some(ALPN), None), Admission::Agent);
    assert_eq!(
        admit(Some(NODE_ALPN), Some("b".into())),
        Admission::Node("b".into())
    );
    // An agent's certificate (or none) on the relay, a node's as an agent,
    // anything else: refused.
    assert!(matches!(admit(Some(NODE_ALPN), None), Admission::Refuse(_)));
    assert!(matches!(
        admit(Some(ALPN), Some("b".into())),
        Admission::Refuse(_)
    ));
    assert!(matches!(admit(None, None), Admission::Refuse(_)));
    assert!(matches!(
        admit(Some(b"h3"), Some("b".into())),
        Admission::Refuse(_)
    ));
}

/// A node's agent endpoint on loopback, serving agents and the relay.
struct NodeB {
    _dir: tempfile::TempDir,
    ca: Arc<CertificateAuthority>,
    ctx: Arc<LinkContext>,
    addr: SocketAddr,
}

async fn node_b() -> NodeB {
    let (dir, store) = crate::testkit::store().await;
    let ca = Arc::new(CertificateAuthority::load_or_create(dir.path()).expect("ca"));
    let certs = Arc::new(
        crate::link::AgentCertResolver::new(ca.clone(), crate::unix_now()).expect("certs"),
    );
    let endpoint =
        crate::link::bind("127.0.0.1:0".parse().expect("addr"), &ca, certs).expect("bind");
    let content = crate::content::ContentStore::open(dir.path(), &store).expect("content");
    let ctx = Arc::new(LinkContext {
        store,
        ca: ca.clone(),
        presence: Arc::new(Presence::default()),
        heartbeat_secs: 30,
        content: Arc::new(content),
        max_jobs_per_agent: 4,
        orders: Default::default(),
        tickets: Default::default(),
        large_messages: Default::default(),
        job_finished: Default::default(),
        node_name: "node-b".into(),
        public_url: "https://node-b".into(),
        limits: Default::default(),
        remote: Arc::new(crate::remote::Remote::new(Default::default())),
    });
    tokio::spawn(crate::link::accept_loop(endpoint.clone(), ctx.clone(), 16));
    NodeB {
        _dir: dir,
        addr: endpoint.local_addr().expect("addr"),
        ca,
        ctx,
    }
}

fn client_endpoint() -> Endpoint {
    Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client endpoint")
}

/// A client configuration like the relay's, with any certificate and ALPN.
fn config(
    ca: &CertificateAuthority,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[u8],
) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone()).expect("root");
    let mut tls = rustls::ClientConfig::builder_with_provider(deskhand_net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls 1.3")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client cert");
    tls.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    quinn::ClientConfig::new(Arc::new(crypto))
}

/// An agent's certificate and key, issued from a CSR as enrollment does.
fn agent_identity(
    ca: &CertificateAuthority,
) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    let cert = ca.issue_agent_cert(&csr, "agent-1").expect("agent cert");
    let der = crate::pki::pem_to_der(&cert.pem).expect("der");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (vec![der], key)
}

async fn dial(config: quinn::ClientConfig, to: SocketAddr) -> Connection {
    client_endpoint()
        .connect_with(config, to, deskhand_shared::proto::SERVER_NAME)
        .expect("connect")
        .await
        .expect("handshake")
}

/// How the server closed `conn`: its code and reason.
async fn closed_with(conn: &Connection) -> (u32, String) {
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), conn.closed())
        .await
        .expect("the server closes the connection");
    match closed {
        ConnectionError::ApplicationClosed(c) => (
            u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX),
            String::from_utf8_lossy(&c.reason).into_owned(),
        ),
        other => panic!("closed otherwise: {other}"),
    }
}

/// Sends `bytes` as a whole request stream and reads the first reply.
async fn ask_raw(conn: &Connection, bytes: &[u8]) -> NodeReply {
    let (mut tx, mut rx) = conn.open_bi().await.expect("stream");
    tx.write_all(bytes).await.expect("write");
    tx.finish().expect("finish");
    let mut decoder = FrameDecoder::new(MAX_NODE_REPLY);
    recv(&mut rx, &mut decoder)
        .await
        .expect("a reply frame")
        .expect("a reply")
}

#[tokio::test]
async fn an_agent_certificate_cannot_open_the_relay_nor_a_node_certificate_a_session() {
    let b = node_b().await;
    let (chain, key) = agent_identity(&b.ca);
    let conn = dial(
        config(&b.ca, chain, key, deskhand_shared::proto::NODE_ALPN),
        b.addr,
    )
    .await;
    let (code, reason) = closed_with(&conn).await;
    assert_eq!(code, close_code::REFUSED);
    assert!(
        reason.contains("only a server node's certificate"),
        "{reason}"
    );

    let (chain, key) = b.ca.issue_node_cert("node-a").expect("node cert");
    let conn = dial(
        config(&b.ca, chain, key, deskhand_shared::proto::ALPN),
        b.addr,
    )
    .await;
    let (code, reason) = closed_with(&conn).await;
    assert_eq!(code, close_code::REFUSED);
    assert!(reason.contains("cannot open an agent session"), "{reason}");
}

#[tokio::test]
async fn a_node_gets_answers_and_garbage_gets_an_error() {
    let b = node_b().await;
    let conn = dial(
        super::client::client_config(&b.ca, "node-a").expect("config"),
        b.addr,
    )
    .await;
    let revoke = deskhand_shared::frame::encode_frame(&NodeRequest::Revoke {
        agent_id: "nobody".into(),
    })
    .expect("encode");
    assert_eq!(
        ask_raw(&conn, &revoke).await,
        NodeReply::Revoked { had_session: false }
    );
    let diag = deskhand_shared::frame::encode_frame(&NodeRequest::Diag {
        agent_id: "nobody".into(),
        request: deskhand_shared::diag::DiagRequest {
            check: "disk-usage".into(),
            args: vec![],
            follow: false,
        },
    })
    .expect("encode");
    assert_eq!(ask_raw(&conn, &diag).await, NodeReply::NotHere);
    // A frame whose body is no request, then one too large to read.
    let garbage = [0u8, 0, 0, 4, 9, 1, 2, 3];
    let NodeReply::Failed(why) = ask_raw(&conn, &garbage).await else {
        panic!("garbage was taken")
    };
    assert!(why.contains("could not be read"), "{why}");
    let huge = (100_000u32).to_be_bytes();
    let NodeReply::Failed(why) = ask_raw(&conn, &huge).await else {
        panic!("an oversized request was taken")
    };
    assert!(why.contains("exceeds the limit"), "{why}");
    // The connection serves on after both.
    assert_eq!(
        ask_raw(&conn, &revoke).await,
        NodeReply::Revoked { had_session: false }
    );
}

/// An agent's session on `b`: a connection to a separate endpoint,
/// registered in `b`'s presence. Returns the agent's side.
async fn agent_session(b: &NodeB, agent_id: &str) -> (Endpoint, Connection) {
    let server = Endpoint::server(
        crate::link::server_config(
            &b.ca,
            Arc::new(
                crate::link::AgentCertResolver::new(b.ca.clone(), crate::unix_now())
                    .expect("certs"),
            ),
        )
        .expect("config"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .expect("endpoint");
    let to = server.local_addr().expect("addr");
    let (chain, key) = agent_identity(&b.ca);
    let agent = tokio::spawn(dial(
        config(&b.ca, chain, key, deskhand_shared::proto::ALPN),
        to,
    ));
    let theirs = server
        .accept()
        .await
        .expect("incoming")
        .await
        .expect("handshake");
    let (control, _) = tokio::sync::mpsc::channel(1);
    let registered = b.ctx.presence.register(
        agent_id,
        theirs,
        control,
        Default::default(),
        crate::unix_now(),
    );
    assert!(matches!(registered, Registration::Live(_)));
    (server, agent.await.expect("agent"))
}

#[tokio::test]
async fn a_revocation_asked_by_another_node_closes_the_session_here() {
    let b = node_b().await;
    let (_server, agent) = agent_session(&b, "agent-x").await;
    let store = b.ctx.store.clone();
    let presence_a = Arc::new(Presence::default());
    let relay = Relay::new(
        client_endpoint(),
        b.ca.clone(),
        "node-a".into(),
        store.clone(),
        presence_a.clone(),
    );
    // Nobody holds an agent this node has not heard of.
    let request = deskhand_shared::diag::DiagRequest {
        check: "disk-usage".into(),
        args: vec![],
        follow: false,
    };
    assert!(matches!(
        relay.diag("agent-x", request.clone()).await,
        Err(RelayError::Offline)
    ));
    if store.is_shared() {
        // PostgreSQL: node B is in the nodes table, and the relay finds it.
        let now = crate::unix_now();
        let beat = NodeBeat {
            name: "node-b".into(),
            api: String::new(),
            agents_addr: b.addr.to_string(),
            started_at: now,
            lease_until: now + 15,
        };
        store
            .node_heartbeat(beat, vec!["agent-x".into()], vec![], now)
            .await
            .expect("beat");
        // Presence read before the agent left B: B says it is not there.
        presence_a.set_remote(vec![("agent-y".into(), "node-b".into())], now);
        assert!(matches!(
            relay.diag("agent-y", request).await,
            Err(RelayError::Offline)
        ));
        assert_eq!(relay.revoke("agent-x").await, 1, "B had the session");
    } else {
        // SQLite is one node: nobody else to tell; asked directly instead.
        assert_eq!(relay.revoke("agent-x").await, 0);
        let conn = dial(
            super::client::client_config(&b.ca, "node-a").expect("config"),
            b.addr,
        )
        .await;
        let revoke = deskhand_shared::frame::encode_frame(&NodeRequest::Revoke {
            agent_id: "agent-x".into(),
        })
        .expect("encode");
        assert_eq!(
            ask_raw(&conn, &revoke).await,
            NodeReply::Revoked { had_session: true }
        );
    }
    let (code, _) = closed_with(&agent).await;
    assert_eq!(code, close_code::REVOKED);
    assert!(b.ctx.presence.connection("agent-x").is_none());
}

/// The agent's side of a remote session: accepts one, echoes `Data` in
/// capitals until the stream ends.
async fn echoing_agent(conn: Connection) {
    use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame, RemoteReply};
    let (mut tx, mut rx) = conn.accept_bi().await.expect("a session stream");
    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let asked = recv::<deskhand_shared::proto::ServerMessage>(&mut rx, &mut decoder)
        .await
        .expect("read");
    assert!(
        matches!(asked, Some(deskhand_shared::proto::ServerMessage::Remote(ref r)) if r.session_id == 7),
        "{asked:?}"
    );
    let accepted = deskhand_shared::proto::AgentMessage::RemoteReply(RemoteReply::Accepted {
        ticket: Some(3),
        until: None,
    });
    deskhand_net::stream::send(&mut tx, &accepted)
        .await
        .expect("reply");
    for _ in 0..100 {
        match recv::<RemoteFrame>(&mut rx, &mut decoder).await {
            Ok(Some(RemoteFrame::Data(d))) => {
                let echo = RemoteFrame::Data(d.to_ascii_uppercase());
                if deskhand_net::stream::send(&mut tx, &echo).await.is_err() {
                    return;
                }
            }
            Ok(Some(RemoteFrame::End { .. })) | Ok(None) | Err(_) => return,
            Ok(Some(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_remote_session_is_passed_through_the_node_holding_the_agent() {
    use deskhand_shared::remote::{
        MAX_REMOTE_FRAME, RemoteFrame, RemoteKind, RemoteReply, RemoteRequest,
    };
    let b = node_b().await;
    let (_server, agent) = agent_session(&b, "agent-r").await;
    let agent = tokio::spawn(echoing_agent(agent));
    let conn = dial(
        super::client::client_config(&b.ca, "node-a").expect("config"),
        b.addr,
    )
    .await;
    let request = |agent_id: &str| NodeRequest::Remote {
        agent_id: agent_id.into(),
        request: RemoteRequest {
            session_id: 7,
            operator: "alice".into(),
            ticket: None,
            kind: RemoteKind::Terminal {
                cols: 80,
                rows: 24,
                as_user: false,
            },
        },
    };
    // An agent B does not hold.
    let elsewhere = deskhand_shared::frame::encode_frame(&request("agent-q")).expect("encode");
    assert_eq!(ask_raw(&conn, &elsewhere).await, NodeReply::NotHere);

    let (mut tx, mut rx) = conn.open_bi().await.expect("stream");
    deskhand_net::stream::send(&mut tx, &request("agent-r"))
        .await
        .expect("ask");
    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let first = recv::<NodeReply>(&mut rx, &mut decoder)
        .await
        .expect("read");
    assert_eq!(
        first,
        Some(NodeReply::Remote(RemoteReply::Accepted {
            ticket: Some(3),
            until: None
        }))
    );
    deskhand_net::stream::send(&mut tx, &RemoteFrame::Data(b"whoami\r".to_vec()))
        .await
        .expect("send");
    let echoed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        recv::<RemoteFrame>(&mut rx, &mut decoder),
    )
    .await
    .expect("in time")
    .expect("read");
    assert_eq!(echoed, Some(RemoteFrame::Data(b"WHOAMI\r".to_vec())));
    // The asking node ends it: B passes the end on and the agent's side
    // sees its stream end.
    deskhand_net::stream::send(
        &mut tx,
        &RemoteFrame::End {
            reason: "done".into(),
        },
    )
    .await
    .expect("end");
    tokio::time::timeout(std::time::Duration::from_secs(10), agent)
        .await
        .expect("the agent's side ends")
        .expect("no panic");
}

#[tokio::test]
async fn the_relay_opens_a_remote_session_through_the_holding_node() {
    use deskhand_shared::remote::{RemoteFrame, RemoteKind, RemoteRequest};
    let b = node_b().await;
    let store = b.ctx.store.clone();
    if !store.is_shared() {
        // SQLite is one node; the stream itself is tested above.
        return;
    }
    let (_server, agent) = agent_session(&b, "agent-s").await;
    let agent = tokio::spawn(echoing_agent(agent));
    let now = crate::unix_now();
    let beat = NodeBeat {
        name: "node-b".into(),
        api: String::new(),
        agents_addr: b.addr.to_string(),
        started_at: now,
        lease_until: now + 15,
    };
    store
        .node_heartbeat(beat, vec!["agent-s".into()], vec![], now)
        .await
        .expect("beat");
    let presence_a = Arc::new(Presence::default());
    presence_a.set_remote(vec![("agent-s".into(), "node-b".into())], now);
    let relay = Relay::new(
        client_endpoint(),
        b.ca.clone(),
        "node-a".into(),
        store,
        presence_a,
    );
    let request = RemoteRequest {
        session_id: 7,
        operator: "alice".into(),
        ticket: None,
        kind: RemoteKind::FileList { path: "/".into() },
    };
    let Ok(mut side) = relay.open_remote("agent-s", request).await else {
        panic!("the session was not opened through node B");
    };
    assert_eq!(side.ticket, Some(3));
    deskhand_net::stream::send(&mut side.send, &RemoteFrame::Data(b"ls".to_vec()))
        .await
        .expect("send");
    let echoed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        recv::<RemoteFrame>(&mut side.recv, &mut side.decoder),
    )
    .await
    .expect("in time")
    .expect("read");
    assert_eq!(echoed, Some(RemoteFrame::Data(b"LS".to_vec())));
    let _ = side.send.finish();
    tokio::time::timeout(std::time::Duration::from_secs(10), agent)
        .await
        .expect("the agent's side ends")
        .expect("no panic");
}

#[tokio::test]
async fn a_node_kills_a_session_it_pumps_when_another_node_asks() {
    let b = node_b().await;
    let (registered, killed) = b.ctx.remote.register(41, "agent-x", "tom");
    let conn = dial(
        super::client::client_config(&b.ca, "node-a").expect("config"),
        b.addr,
    )
    .await;
    let kill = deskhand_shared::frame::encode_frame(&NodeRequest::KillRemote {
        session_id: 41,
        by: "alice".into(),
    })
    .expect("encode");
    assert_eq!(
        ask_raw(&conn, &kill).await,
        NodeReply::Killed { live: true }
    );
    assert_eq!(killed.await.expect("the kill switch fired"), "alice");
    // Once killed, or never there: not live.
    assert_eq!(
        ask_raw(&conn, &kill).await,
        NodeReply::Killed { live: false }
    );
    drop(registered);
    let other = deskhand_shared::frame::encode_frame(&NodeRequest::KillRemote {
        session_id: 999,
        by: "alice".into(),
    })
    .expect("encode");
    assert_eq!(
        ask_raw(&conn, &other).await,
        NodeReply::Killed { live: false }
    );
}
