//! Slow and greedy clients against a real server: QUIC clients that open
//! streams and never finish them, one that sends a frame a byte a
//! second, HTTP clients that send their headers a byte at a time or hold
//! connections idle. The attackers come from 127.0.0.2; a real agent and
//! an operator, from 127.0.0.1, are served meanwhile, and their latency
//! is measured during each attack. The attackers are cut off within the
//! configured deadlines, the per-address caps refuse the excess, and the
//! server logs each kind of refusal as one line per burst.
//!
//! Each attack prints a `reliability |` line for the README's table.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deskhand_agent::tls::{ClientIdentity, client_config};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::proto::{
    AgentMessage, Hello, PROTOCOL_VERSION, SERVER_NAME, ServerMessage, close_code,
};
use deskhand_tests::{Agent, Server, block_on, on_postgres, wait_for};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The deadlines and caps the server runs with here: short, so the
/// attacks are cut off within seconds.
const CONFIG: &str = "hello_timeout_secs = 3
frame_timeout_secs = 3
max_unverified_per_address = 16
api_header_timeout_secs = 3
api_max_connections_per_address = 32
";
const DEADLINE: Duration = Duration::from_secs(3);
/// What a cut-off may take beyond its deadline on this loaded machine.
const SLACK: Duration = Duration::from_secs(3);
/// The attackers' address; the agent and the operator use 127.0.0.1.
const ATTACKER: &str = "127.0.0.2";
/// The most a served request may take during an attack.
const SERVED_WITHIN: Duration = Duration::from_secs(3);

#[test]
fn slow_and_greedy_clients_are_cut_off_while_others_are_served() {
    if on_postgres() {
        println!("skipped on PostgreSQL: what is tested here does not touch the store");
        return;
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let config = config.to_string_lossy().into_owned();
    let server = Server::start_env(&tmp.path().join("server"), &[("DESKHAND_CONFIG", &config)])
        .expect("server");
    let token = server.token(2, "1h");
    let good = Agent::new(&tmp.path().join("good"));
    let good_id = good.enroll_ok(&server, &token);
    let _run = good.run().expect("agent runs");
    wait_for(Duration::from_secs(30), "the agent online", || {
        server.is_online(&good_id).then_some(())
    });
    let hostile = Agent::new(&tmp.path().join("hostile"));
    hostile.enroll_ok(&server, &token);
    let probe = Probe {
        api: server
            .api
            .trim_start_matches("http://")
            .parse()
            .expect("api"),
        token: server.admin_token.clone(),
        agent: good_id.clone(),
    };
    // Served before any attack.
    probe.once().expect("served before the attacks");

    // 1. QUIC: connections that open streams and never finish a frame,
    // and some that open no stream at all, past the per-address cap.
    let (quiet, (refused, cut)) = probe.during("QUIC streams never finished", || {
        block_on(streams_never_finished(&server))
    });
    assert!(refused > 0, "the per-address cap refused none");
    assert!(
        cut.iter().all(|t| *t <= DEADLINE + SLACK),
        "held past the hello deadline: {cut:?}"
    );
    println!(
        "reliability | QUIC streams opened and never finished ({} connections) | {} | refused with a message: {} over the per-address cap refused at once, {} cut off after {:.1} s at most (deadline 3 s); {quiet}",
        ATTEMPTS,
        ATTEMPTS,
        refused,
        cut.len(),
        max_secs(&cut),
    );

    // 2. QUIC: a frame a byte a second, before the hello and in a session.
    let identity = identity_of(&hostile);
    let (quiet, (before_hello, in_session)) = probe.during("a frame a byte a second", || {
        block_on(byte_a_second(&server, identity))
    });
    assert!(before_hello <= DEADLINE + SLACK, "{before_hello:?}");
    assert!(in_session <= DEADLINE + SLACK, "{in_session:?}");
    println!(
        "reliability | QUIC frame sent a byte a second | 2 | refused with a message: cut off after {:.1} s before the hello, {:.1} s in a session holding a large-message slot (deadlines 3 s); {quiet}",
        before_hello.as_secs_f64(),
        in_session.as_secs_f64(),
    );

    // 3. HTTP: headers a byte at a time.
    let (quiet, cut) = probe.during("HTTP headers a byte at a time", || {
        slow_headers(probe.api, 16)
    });
    assert!(
        cut.iter().all(|t| *t <= DEADLINE + SLACK),
        "slow headers held past the deadline: {cut:?}"
    );
    println!(
        "reliability | HTTP headers sent a byte every 0.25 s | {} | refused with a message: each connection closed after {:.1} s at most (deadline 3 s); {quiet}",
        cut.len(),
        max_secs(&cut),
    );

    // 4. HTTP: many connections held idle.
    let (quiet, (held, refused, idle_cut)) = probe.during("HTTP connections held idle", || {
        idle_connections(probe.api, 200)
    });
    assert!(held <= 32, "{held} connections held past the cap of 32");
    assert!(refused >= 200 - 32, "only {refused} of 200 refused");
    assert!(
        idle_cut.iter().all(|t| *t <= DEADLINE + SLACK),
        "idle connections held past the deadline: {idle_cut:?}"
    );
    println!(
        "reliability | HTTP connections held idle (200 from one address) | 200 | refused with a message: {refused} over the per-address cap refused at once (429), {held} held and closed after {:.1} s at most (deadline 3 s); {quiet}",
        max_secs(&idle_cut),
    );

    // Each kind of refusal is one line when its burst starts and one
    // summary when it ends (after 5 quiet seconds).
    std::thread::sleep(Duration::from_secs(8));
    let log = server.log();
    let refusal_lines: Vec<&str> = log.lines().filter(|l| l.contains("refused ")).collect();
    for kind in [
        "refused connections from",
        "refused slow connections from",
        "refused API connections from",
        "refused slow API requests from",
    ] {
        let starts = refusal_lines.iter().filter(|l| l.contains(kind)).count();
        assert!(
            (1..=2).contains(&starts),
            "`{kind}`: {starts} lines\n{refusal_lines:#?}"
        );
    }
    assert!(
        refusal_lines.len() <= 16,
        "{} refusal lines for hundreds of refusals:\n{refusal_lines:#?}",
        refusal_lines.len()
    );
    println!(
        "reliability | refusals logged, one line per burst | {} lines | lost nothing: every burst started with one line and ended with one summary",
        refusal_lines.len()
    );
    for line in &refusal_lines {
        println!("  {line}");
    }
    assert!(server.is_online(&good_id), "the agent was disturbed");
    println!("greedy clients: {:.1} s", started.elapsed().as_secs_f64());
}

/// Connections the stream attack makes.
const ATTEMPTS: usize = 40;

fn max_secs(times: &[Duration]) -> f64 {
    times.iter().max().map_or(0.0, Duration::as_secs_f64)
}

/// A QUIC endpoint on the attacker's address.
fn attacker_endpoint(server: &Server, identity: Option<ClientIdentity>) -> quinn::Endpoint {
    let mut endpoint =
        quinn::Endpoint::client(format!("{ATTACKER}:0").parse().expect("addr")).expect("endpoint");
    endpoint.set_default_client_config(
        client_config(&server.ca_fingerprint, identity).expect("client config"),
    );
    endpoint
}

/// `ATTEMPTS` connections without a certificate: most open streams and
/// send half a frame header, some open none. Returns how many were
/// refused at once and how long each accepted one was held.
async fn streams_never_finished(server: &Server) -> (usize, Vec<Duration>) {
    let endpoint = attacker_endpoint(server, None);
    let mut tasks = Vec::new();
    for i in 0..ATTEMPTS {
        let connecting = endpoint
            .connect(server.agents, SERVER_NAME)
            .expect("connect");
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let conn = match connecting.await {
                Ok(c) => c,
                Err(_) => return None,
            };
            let mut streams = Vec::new();
            if i % 4 != 0 {
                for _ in 0..3 {
                    if let Ok((mut tx, rx)) = conn.open_bi().await {
                        let _ = tx.write_all(&[0, 0]).await;
                        streams.push((tx, rx));
                    }
                }
            }
            let reason = tokio::time::timeout(Duration::from_secs(20), conn.closed()).await;
            let held = start.elapsed();
            match reason {
                Ok(quinn::ConnectionError::ApplicationClosed(c)) => {
                    assert_eq!(c.error_code.into_inner(), u64::from(close_code::PROTOCOL));
                    let text = String::from_utf8_lossy(&c.reason).into_owned();
                    assert!(text.contains("in time"), "{text}");
                }
                other => panic!("expected the server to close it, got {other:?}"),
            }
            drop(streams);
            Some(held)
        }));
    }
    let mut refused = 0;
    let mut held = Vec::new();
    for t in tasks {
        match t.await.expect("attacker task") {
            Some(h) => held.push(h),
            None => refused += 1,
        }
    }
    (refused, held)
}

/// A frame a byte a second: first as the first frame of a connection
/// without a certificate, then inside an enrolled agent's session.
/// Returns how long each was let go on.
async fn byte_a_second(server: &Server, identity: ClientIdentity) -> (Duration, Duration) {
    let endpoint = attacker_endpoint(server, None);
    let conn = endpoint
        .connect(server.agents, SERVER_NAME)
        .expect("connect")
        .await
        .expect("handshake");
    let before_hello = trickle(&conn, None, 200).await;

    let endpoint = attacker_endpoint(server, Some(identity));
    let conn = endpoint
        .connect(server.agents, SERVER_NAME)
        .expect("connect")
        .await
        .expect("handshake");
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "greedy".into(),
        hostname: "greedy".into(),
        os_name: String::new(),
        os_version: String::new(),
        kernel_version: String::new(),
        arch: String::new(),
    });
    // Large (over 64 KiB): it takes one of the server's slots for large
    // messages as soon as its header arrives.
    let in_session = trickle(&conn, Some(encode_frame(&hello).expect("frame")), 100_000).await;
    (before_hello, in_session)
}

/// Opens a stream, sends `first` if given (and reads the welcome), then
/// the header of a frame of `len` bytes and its body one byte a second;
/// returns how long from the header until the server closed the
/// connection, checking why.
async fn trickle(conn: &quinn::Connection, first: Option<Vec<u8>>, len: u32) -> Duration {
    let (mut tx, mut rx) = conn.open_bi().await.expect("stream");
    if let Some(first) = first {
        tx.write_all(&first).await.expect("hello");
        let welcome =
            deskhand_net::stream::recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default())
                .await;
        assert!(
            matches!(welcome, Ok(Some(ServerMessage::Welcome(_)))),
            "{welcome:?}"
        );
    }
    tx.write_all(&len.to_be_bytes()).await.expect("header");
    let start = Instant::now();
    let sending = async {
        for byte in std::iter::repeat_n(0u8, len as usize) {
            if tx.write_all(&[byte]).await.is_err() {
                // Cut off: the connection's close (the other branch)
                // says why; finishing here would race it.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let reason = tokio::select! {
        reason = conn.closed() => reason,
        () = sending => panic!("the whole frame went through"),
        () = tokio::time::sleep(Duration::from_secs(30)) => panic!("never cut off"),
    };
    let took = start.elapsed();
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), u64::from(close_code::PROTOCOL));
            let text = String::from_utf8_lossy(&c.reason).into_owned();
            assert!(
                text.contains("in time") || text.contains("too long"),
                "{text}"
            );
        }
        other => panic!("expected the server to close it, got {other:?}"),
    }
    took
}

/// A TCP connection to `api` from the attacker's address.
fn attacker_tcp(api: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let from: SocketAddr = format!("{ATTACKER}:0").parse().expect("addr");
    socket.bind(&from.into())?;
    socket.connect(&api.into())?;
    Ok(socket.into())
}

/// Reads until the server closes `s` (or `limit` passes): what it sent.
fn read_to_close(s: &mut TcpStream, limit: Duration) -> Option<String> {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(String::from_utf8_lossy(&got).into_owned()),
        }
    }
}

/// `n` connections sending a request's headers a byte every 0.25 s;
/// returns how long each was let go on.
fn slow_headers(api: SocketAddr, n: usize) -> Vec<Duration> {
    let request = format!(
        "GET /api/v1/agents HTTP/1.1\r\nHost: {api}\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(64)
    );
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let request = request.clone();
            std::thread::spawn(move || {
                let mut s = attacker_tcp(api).expect("connect");
                let start = Instant::now();
                for b in request.bytes() {
                    if s.write_all(&[b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                    if start.elapsed() > Duration::from_secs(20) {
                        panic!("slow headers never cut off");
                    }
                }
                // The request went through only if the server never closed.
                let answer = read_to_close(&mut s, Duration::from_secs(20));
                let took = start.elapsed();
                assert!(
                    answer.as_deref().is_some_and(|a| !a.contains("200 OK")),
                    "slow headers were answered: {answer:?}"
                );
                took
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("slow client"))
        .collect()
}

/// `n` idle connections at once: how many the server held, how many it
/// refused at once, and how long it held each (and an idle keep-alive
/// connection after its request).
fn idle_connections(api: SocketAddr, n: usize) -> (usize, usize, Vec<Duration>) {
    // Each connection in a thread of its own, timed from its connect: a
    // refused one is closed at once, a held one stays open until the
    // header deadline.
    let threads: Vec<_> = (0..n)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = attacker_tcp(api).ok()?;
                let start = Instant::now();
                let text = read_to_close(&mut s, Duration::from_secs(20));
                Some((text, start.elapsed()))
            })
        })
        .collect();
    let mut refused = 0;
    let mut said_why = false;
    let mut held = Vec::new();
    for t in threads {
        match t.join().expect("idle client").expect("connected") {
            (Some(text), took) if took < DEADLINE / 2 => {
                refused += 1;
                said_why |= text.contains("429") && text.contains("too many connections");
            }
            (Some(_), took) => held.push(took),
            (None, _) => panic!("an idle connection was held past 20 s"),
        }
    }
    assert!(said_why, "no refused connection was told why");
    let held_count = held.len();
    // A keep-alive connection idle after its request is closed too.
    let mut s = TcpStream::connect(api).expect("connect");
    write!(
        s,
        "GET /api/v1/openapi.json HTTP/1.1\r\nHost: {api}\r\n\r\n"
    )
    .expect("send");
    let start = Instant::now();
    let answer = read_to_close(&mut s, Duration::from_secs(20)).expect("closed when idle");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    held.push(start.elapsed());
    (held_count, refused, held)
}

fn identity_of(agent: &Agent) -> ClientIdentity {
    let cert = std::fs::read(agent.state_dir.join("agent.pem")).expect("cert");
    let key = std::fs::read(agent.state_dir.join("agent.key")).expect("key");
    (
        vec![CertificateDer::from_pem_slice(&cert).expect("cert pem")],
        PrivateKeyDer::from_pem_slice(&key).expect("key pem"),
    )
}

/// The operator's and the agent's requests, timed.
struct Probe {
    api: SocketAddr,
    token: String,
    agent: String,
}

impl Probe {
    /// One HTTP request from 127.0.0.1: its status and how long it took.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, Duration) {
        let start = Instant::now();
        let Ok(mut s) = TcpStream::connect(self.api) else {
            return (0, start.elapsed());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
        let sent = write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            self.token,
            body.len()
        );
        let mut reply = String::new();
        if sent.is_err() || s.read_to_string(&mut reply).is_err() {
            return (0, start.elapsed());
        }
        let status = reply
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, start.elapsed())
    }

    /// An operator's listing and a diagnostic's round trip through the
    /// agent: how long each took, or what failed.
    fn once(&self) -> Result<(Duration, Duration), String> {
        let (status, operator) = self.request("GET", "/api/v1/agents", "");
        if status != 200 {
            return Err(format!("listing agents: status {status}"));
        }
        let (status, agent) = self.request(
            "POST",
            &format!("/api/v1/agents/{}/diag", self.agent),
            r#"{"check":"disk-usage"}"#,
        );
        if status != 200 {
            return Err(format!("a diagnostic: status {status}"));
        }
        Ok((operator, agent))
    }

    /// Runs `attack` while probing; checks every probe was served within
    /// [`SERVED_WITHIN`] and returns a summary of their latencies with
    /// the attack's result.
    fn during<T>(&self, what: &str, attack: impl FnOnce() -> T) -> (String, T) {
        let stop = Arc::new(AtomicBool::new(false));
        let (result, samples) = std::thread::scope(|scope| {
            let probing = scope.spawn(|| {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) && samples.len() < 500 {
                    samples.push(self.once());
                    std::thread::sleep(Duration::from_millis(100));
                }
                samples
            });
            let result = attack();
            stop.store(true, Ordering::Relaxed);
            (result, probing.join().expect("probe"))
        });
        let failed: Vec<_> = samples.iter().filter_map(|s| s.as_ref().err()).collect();
        assert!(failed.is_empty(), "{what}: requests failed: {failed:?}");
        let (mut ops, mut diags): (Vec<_>, Vec<_>) =
            samples.into_iter().filter_map(Result::ok).unzip();
        assert!(ops.len() >= 3, "{what}: only {} probes", ops.len());
        ops.sort();
        diags.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let line = format!(
            "served meanwhile: {} operator requests median {:.0} ms max {:.0} ms, {} diagnostics through the agent median {:.0} ms max {:.0} ms",
            ops.len(),
            ms(ops[ops.len() / 2]),
            ms(ops[ops.len() - 1]),
            diags.len(),
            ms(diags[diags.len() / 2]),
            ms(diags[diags.len() - 1]),
        );
        println!("{what}: {line}");
        assert!(
            ops[ops.len() - 1] < SERVED_WITHIN && diags[diags.len() - 1] < SERVED_WITHIN,
            "{what}: {line}"
        );
        (line, result)
    }
}
