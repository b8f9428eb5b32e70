//! The upgrade route end to end in one process: the real API router
//! served as in production, an agent's QUIC connection registered in
//! presence whose far side answers as an agent would, and an operator
//! that upgrades with its bearer token, exchanges frames and is killed.

use std::sync::Arc;
use std::time::Duration;

use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::proto::{AgentMessage, ServerMessage};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame, RemoteKind, RemoteReply};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::api::ApiState;
use crate::pki::CertificateAuthority;
use crate::presence::Presence;

#[test]
fn an_upgrade_needs_both_headers() {
    let mut h = HeaderMap::new();
    assert!(!asks_upgrade(&h));
    h.insert(
        header::CONNECTION,
        "keep-alive, Upgrade".parse().expect("value"),
    );
    assert!(!asks_upgrade(&h));
    h.insert(header::UPGRADE, "websocket".parse().expect("value"));
    assert!(!asks_upgrade(&h));
    h.insert(header::UPGRADE, UPGRADE_PROTOCOL.parse().expect("value"));
    assert!(asks_upgrade(&h));
}

const TOKEN: &str = "dh_op_remote-test-token";

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

/// A QUIC connection pair like an agent's session: (server's side,
/// agent's side, the endpoints to keep).
async fn agent_link(
    ca: &Arc<CertificateAuthority>,
) -> (quinn::Connection, quinn::Connection, Vec<quinn::Endpoint>) {
    let certs = Arc::new(
        crate::link::AgentCertResolver::new(ca.clone(), crate::unix_now()).expect("certs"),
    );
    let server = quinn::Endpoint::server(
        crate::link::server_config(ca, certs).expect("config"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .expect("endpoint");
    let to = server.local_addr().expect("addr");
    let (chain, key) = agent_identity(ca);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone()).expect("root");
    let mut tls = rustls::ClientConfig::builder_with_provider(deskhand_net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls 1.3")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client cert");
    tls.alpn_protocols = vec![deskhand_shared::proto::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic tls");
    let client = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client");
    let connecting = client
        .connect_with(
            quinn::ClientConfig::new(Arc::new(crypto)),
            to,
            deskhand_shared::proto::SERVER_NAME,
        )
        .expect("connect");
    let agent = tokio::spawn(async move { connecting.await.expect("handshake") });
    let theirs = server
        .accept()
        .await
        .expect("incoming")
        .await
        .expect("handshake");
    (theirs, agent.await.expect("agent"), vec![server, client])
}

/// The agent's side: accepts one session, then echoes `Data` until the
/// stream ends; returns the request it got.
async fn fake_agent(conn: quinn::Connection) -> ServerMessage {
    let (mut tx, mut rx) = conn.accept_bi().await.expect("a session stream");
    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let request = recv::<ServerMessage>(&mut rx, &mut decoder)
        .await
        .expect("read")
        .expect("a request");
    let accepted = AgentMessage::RemoteReply(RemoteReply::Accepted {
        ticket: None,
        until: Some(4_000_000_000),
    });
    send(&mut tx, &accepted).await.expect("reply");
    for _ in 0..100 {
        match recv::<RemoteFrame>(&mut rx, &mut decoder).await {
            Ok(Some(RemoteFrame::Data(d))) => {
                let echo = RemoteFrame::Data(d.to_ascii_uppercase());
                if send(&mut tx, &echo).await.is_err() {
                    break;
                }
            }
            Ok(Some(RemoteFrame::End { .. })) | Ok(None) | Err(_) => break,
            Ok(Some(_)) => {}
        }
    }
    request
}

/// Reads one frame from the operator's upgraded connection.
async fn next_frame(io: &mut TcpStream, decoder: &mut FrameDecoder) -> Option<RemoteFrame> {
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(f) = decoder.next_message().expect("a frame") {
                return Some(f);
            }
            let n = io.read(&mut buf).await.expect("read");
            if n == 0 {
                return None;
            }
            decoder.push(&buf[..n]).expect("push");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a frame in time")
}

async fn http(addr: std::net::SocketAddr, request: String) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut reply))
        .await
        .expect("an answer")
        .expect("read");
    String::from_utf8_lossy(&reply).into_owned()
}

/// What a test of the route holds: the API's address, the store, the
/// registry, the agent's side of its connection, and what must live as
/// long as the test.
struct Rig {
    addr: std::net::SocketAddr,
    store: Store,
    remote: Arc<crate::remote::Remote>,
    agent: quinn::Connection,
    stop: tokio::sync::watch::Sender<bool>,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    _keep: (tempfile::TempDir, Vec<quinn::Endpoint>),
}

/// The real router served on loopback, with agent `agent-1` (`pc1`)
/// connected and operator `alice` (technician, [`TOKEN`]).
async fn rig() -> Rig {
    let (dir, store) = crate::testkit::store().await;
    crate::testkit::enroll(&store, &[("agent-1", "pc1")]).await;
    store
        .add_operator(
            "alice".into(),
            Role::Technician,
            crate::secrets::hash_token(TOKEN),
            "admin".into(),
            0,
        )
        .await
        .expect("alice");
    let ca = Arc::new(CertificateAuthority::load_or_create(dir.path()).expect("ca"));
    let (server_side, agent_side, endpoints) = agent_link(&ca).await;
    let presence = Arc::new(Presence::default());
    let (control, _control_rx) = tokio::sync::mpsc::channel(1);
    let _ = presence.register(
        "agent-1",
        server_side,
        control,
        Default::default(),
        crate::unix_now(),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let leader = crate::nodes::Leader::new(true);
    let (conductor, _conducting) = crate::conductor::spawn(
        crate::conductor::Parts {
            store: store.clone(),
            presence: presence.clone(),
            job_finished: Default::default(),
            tickets: Default::default(),
            resolve: crate::api::rollouts::resolver(store.clone()),
            leader,
        },
        stop_rx.clone(),
    );
    let certs = Arc::new(
        crate::link::AgentCertResolver::new(ca.clone(), crate::unix_now()).expect("certs"),
    );
    let endpoint =
        crate::link::bind("127.0.0.1:0".parse().expect("addr"), &ca, certs).expect("bind");
    let remote = Arc::new(crate::remote::Remote::new(Default::default()));
    let state = Arc::new(ApiState {
        store: store.clone(),
        presence: presence.clone(),
        ca_fingerprint: ca.fingerprint().to_string(),
        agents_endpoint: "127.0.0.1:4433".into(),
        node_name: "n1".into(),
        content: Arc::new(crate::content::ContentStore::open(dir.path(), &store).expect("content")),
        tickets: Default::default(),
        console_secure_cookies: false,
        conductor,
        auth_limit: std::sync::Mutex::new(crate::api::auth_limit::AuthLimiter::new(
            crate::api::auth_limit::AuthPolicy::with_first_penalty(Duration::from_secs(1)),
        )),
        relay: Arc::new(crate::relay::Relay::new(
            endpoint,
            ca.clone(),
            "n1".into(),
            store.clone(),
            presence.clone(),
        )),
        mail: None,
        remote: remote.clone(),
    });
    let app = crate::api::router(state);
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let mut api_stop = stop_rx.clone();
    let api = tokio::spawn(crate::https::ApiListener::Plain(tcp).serve(
        app,
        crate::https::ApiLimits {
            header_timeout: Duration::from_secs(10),
            per_address: 16,
        },
        async move {
            let _ = api_stop.wait_for(|s| *s).await;
        },
    ));

    Rig {
        addr,
        store,
        remote,
        agent: agent_side,
        stop: stop_tx,
        api,
        _keep: (dir, endpoints),
    }
}

/// Sends the upgrade request for `query` on a new connection: the
/// connection and the response's head, lowercased.
async fn upgrade(addr: std::net::SocketAddr, query: &str) -> (TcpStream, String) {
    let mut op = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /api/v1/agents/pc1/remote?{query} HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {TOKEN}\r\nConnection: Upgrade\r\nUpgrade: {UPGRADE_PROTOCOL}\r\n\r\n"
    );
    op.write_all(request.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        let n = tokio::time::timeout(Duration::from_secs(15), op.read(&mut byte))
            .await
            .expect("headers in time")
            .expect("read");
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    (op, String::from_utf8_lossy(&head).to_lowercase())
}

/// Reads the error body after a refusal's head (its length given).
async fn error_body(op: &mut TcpStream, head: &str) -> String {
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:")?.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    tokio::time::timeout(Duration::from_secs(10), op.read_exact(&mut body))
        .await
        .expect("the body in time")
        .expect("read");
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn an_operator_upgrades_exchanges_frames_and_is_killed() {
    let Rig {
        addr,
        store,
        remote,
        agent: agent_side,
        stop: stop_tx,
        api,
        _keep,
    } = rig().await;
    let agent = tokio::spawn(fake_agent(agent_side));
    // The operator upgrades.
    let (mut op, head) = upgrade(addr, "kind=terminal&cols=100&rows=30").await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("x-deskhand-session: 1\r\n"), "{head}");
    assert!(head.contains("x-deskhand-until: 4000000000\r\n"), "{head}");

    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let frame = encode_frame(&RemoteFrame::Data(b"hi".to_vec())).expect("encode");
    op.write_all(&frame).await.expect("send a frame");
    assert_eq!(
        next_frame(&mut op, &mut decoder).await,
        Some(RemoteFrame::Data(b"HI".to_vec()))
    );
    assert!(remote.is_live(1));
    let live = store.remote_session(1).await.expect("row");
    assert_eq!(live.ended_at, None);

    // Another operator kills it through the API.
    let kill = format!(
        "POST /api/v1/remote-sessions/1/kill HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = http(addr, kill).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("killed by alice"), "{answer}");
    assert_eq!(
        next_frame(&mut op, &mut decoder).await,
        Some(RemoteFrame::End {
            reason: "killed by alice".into()
        })
    );
    assert_eq!(
        next_frame(&mut op, &mut decoder).await,
        None,
        "then the connection closes"
    );
    let request = tokio::time::timeout(Duration::from_secs(10), agent)
        .await
        .expect("the agent's side ends")
        .expect("no panic");
    assert!(
        matches!(
            request,
            ServerMessage::Remote(ref r) if r.session_id == 1 && r.operator == "alice"
                && r.kind == RemoteKind::Terminal { cols: 100, rows: 30, as_user: false }
        ),
        "{request:?}"
    );
    let ended = store.remote_session(1).await.expect("row");
    assert_eq!(ended.bytes_up, 2);
    assert_eq!(ended.bytes_down, 2);
    assert!(ended.recorded);
    let cast = store
        .remote_recording(1)
        .await
        .expect("read")
        .expect("a recording");
    let cast = String::from_utf8(cast).expect("utf-8");
    assert!(
        cast.contains(r#""i","hi""#) && cast.contains(r#""o","HI""#),
        "{cast}"
    );
    assert!(!remote.is_live(1));
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), api).await;
}

#[tokio::test]
async fn the_assets_policy_hides_a_consent_that_ended() {
    let (_dir, store) = crate::testkit::store().await;
    crate::testkit::enroll(&store, &[("agent-1", "pc1")]).await;
    assert_eq!(
        policy_view(&store, "agent-1", 100).await.expect("none"),
        None
    );
    let policy = deskhand_shared::remote::RemotePolicy {
        access: deskhand_shared::remote::Access::Ticket,
        tunnel_ports: vec![5900],
        consent: Some(deskhand_shared::remote::Consent {
            until: 200,
            ticket: Some(3),
        }),
    };
    store
        .set_agent_remote_policy("agent-1".into(), policy, 50)
        .await
        .expect("stored");
    let open = policy_view(&store, "agent-1", 100)
        .await
        .expect("read")
        .expect("a policy");
    assert_eq!(open.access, "ticket");
    assert_eq!(open.tunnel_ports, vec![5900]);
    assert_eq!(
        (open.consent_until, open.consent_ticket),
        (Some(200), Some(3))
    );
    let ended = policy_view(&store, "agent-1", 200)
        .await
        .expect("read")
        .expect("a policy");
    assert_eq!((ended.consent_until, ended.consent_ticket), (None, None));
    assert_eq!(ended.updated_at, 50);
}

/// An agent that answers one session with `reply`, or resets the stream
/// unanswered (an agent older than remote access) when there is none.
async fn answering_agent(conn: quinn::Connection, reply: Option<RemoteReply>) {
    let (mut tx, mut rx) = conn.accept_bi().await.expect("a session stream");
    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let _ = recv::<ServerMessage>(&mut rx, &mut decoder).await;
    match reply {
        Some(r) => {
            send(&mut tx, &AgentMessage::RemoteReply(r))
                .await
                .expect("reply");
            let _ = tx.finish();
        }
        None => {
            let _ = tx.reset(1u32.into());
        }
    }
    // Until the server is done with the stream.
    let _ = tokio::time::timeout(Duration::from_secs(5), rx.read_to_end(1024)).await;
}

#[tokio::test]
async fn the_machines_refusal_and_an_old_agent_are_errors_and_end_the_row() {
    let r = rig().await;
    let refusal = RemoteReply::Refused {
        message: "remote access is off on this machine".into(),
    };
    let agent = tokio::spawn(answering_agent(r.agent.clone(), Some(refusal)));
    let (mut op, head) = upgrade(r.addr, "kind=ls&path=/tmp").await;
    assert!(head.starts_with("http/1.1 403"), "{head}");
    let body = error_body(&mut op, &head).await;
    assert!(
        body.contains("remote access is off on this machine"),
        "{body}"
    );
    let _ = agent.await;
    let row = r.store.remote_session(1).await.expect("row");
    assert_eq!(row.kind, "ls");
    assert_eq!(row.detail, "/tmp");
    assert_eq!(
        row.end_reason.as_deref(),
        Some("refused by the machine: remote access is off on this machine")
    );

    let agent = tokio::spawn(answering_agent(r.agent.clone(), None));
    let (mut op, head) = upgrade(r.addr, "kind=terminal").await;
    assert!(head.starts_with("http/1.1 409"), "{head}");
    let body = error_body(&mut op, &head).await;
    assert!(body.contains("too old for remote access"), "{body}");
    let _ = agent.await;
    let row = r.store.remote_session(2).await.expect("row");
    assert!(row.ended_at.is_some());
    assert!(!r.remote.is_live(2));
    let _ = r.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), r.api).await;
}

#[tokio::test]
async fn a_desktops_recording_is_an_fbs_download_and_a_terminals_asciicast() {
    let r = rig().await;
    let fbs = b"FBS 001.000\n\0\0\0\x01x\0\0\0\0\0\0\x05".to_vec();
    let id = r
        .store
        .open_remote_session(
            NewRemoteSession {
                agent_id: "agent-1".into(),
                operator: "alice".into(),
                node: "n1".into(),
                kind: "desktop".into(),
                detail: "view".into(),
                ticket: None,
            },
            10,
        )
        .await
        .expect("row");
    let end = RemoteEnd {
        reason: "the user's screen session ended".into(),
        recording: Some(fbs.clone()),
        ..RemoteEnd::default()
    };
    r.store
        .end_remote_session(id, end, 20)
        .await
        .expect("ended");
    let reply = http(
        r.addr,
        format!(
            "GET /api/v1/remote-sessions/{id}/recording HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    let (head, body) = reply.split_once("\r\n\r\n").expect("head and body");
    let head = head.to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(
        head.contains(&format!(
            "content-disposition: attachment; filename=\"session-{id}.fbs\""
        )),
        "{head}"
    );
    assert_eq!(body.as_bytes(), &fbs[..]);

    assert_eq!(
        recording_headers("terminal", 3),
        ("application/x-asciicast", None)
    );
    assert!(recorded_kind("desktop") && recorded_kind("terminal") && !recorded_kind("get"));
    let _ = r.stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), r.api).await;
}
