//! Remote sessions' refusals through a real server and agent, none of
//! which needs the agent to serve a session: the role, an admin's
//! withdrawal, bad arguments, a request that is not an upgrade, unknown
//! agents and tickets, an offline agent; and that whatever the agent
//! answered, the session's row says so.

use std::io::{Read, Write};
use std::time::Duration;

use deskhand_tests::operators::Operator;
use deskhand_tests::{Server, server_with_agent, wait_for};
use serde_json::Value;

/// An upgrade request for a remote session: status, headers and body.
/// The body is read by its length (the connection stays open after a
/// 101 or an error).
fn open(server: &Server, agent: &str, query: &str, token: &str, upgrade: bool) -> (u16, String) {
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let headers = if upgrade {
        "Connection: Upgrade\r\nUpgrade: deskhand-remote/1\r\n"
    } else {
        "Connection: close\r\n"
    };
    write!(
        s,
        "GET /api/v1/agents/{agent}/remote?{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{headers}\r\n"
    )
    .expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16 * 1024, "headers too long");
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("the body");
    (status, format!("{head}{}", String::from_utf8_lossy(&body)))
}

fn json(text: &str) -> Value {
    let body = text.split_once("\r\n\r\n").map_or(text, |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn remote_sessions_are_refused_with_clear_reasons_and_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, mut run) = server_with_agent(tmp.path());
    let admin = server.admin_token.clone();
    let vera = Operator::add(&server, "vera", "viewer");
    let tom = Operator::add(&server, "tom", "technician");

    let (code, text) = open(&server, &id, "kind=terminal", &vera.token, true);
    assert_eq!(code, 403, "a viewer: {text}");
    assert!(text.contains("technician"), "{text}");

    let (code, text) = open(&server, &id, "kind=vnc", &admin, true);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("unknown kind `vnc`"), "{text}");
    let (code, text) = open(&server, &id, "cols=80", &admin, true);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("kind=terminal"), "{text}");
    let (code, text) = open(&server, &id, "kind=ls&path=etc", &admin, true);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("not absolute"), "{text}");
    let (code, text) = open(&server, &id, "kind=tunnel", &admin, true);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("port"), "{text}");
    let (code, text) = open(&server, &id, "kind=terminal", &admin, false);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("HTTP upgrade"), "{text}");
    let (code, text) = open(&server, "no-such-agent", "kind=terminal", &admin, true);
    assert_eq!(code, 404, "{text}");
    let (code, text) = open(&server, &id, "kind=terminal&ticket=999", &admin, true);
    assert_eq!(code, 404, "{text}");
    assert!(text.contains("no ticket 999"), "{text}");

    // An admin withdraws tom's remote access; he is told so.
    let (code, text) = server.http(
        "PUT",
        "/api/v1/operators/tom/remote",
        r#"{"allowed":false}"#,
        Some(&admin),
    );
    assert_eq!(code, 200, "{text}");
    let (code, text) = open(&server, &id, "kind=terminal", &tom.token, true);
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("withdrew remote access"), "{text}");

    // None of the refusals above reached the agent: no session rows.
    let (code, text) = server.http("GET", "/api/v1/remote-sessions", "", Some(&admin));
    assert_eq!(code, 200, "{text}");
    assert_eq!(json(&text), serde_json::json!([]), "{text}");
    let (code, text) = server.http("GET", "/api/v1/remote-sessions", "", Some(&vera.token));
    assert_eq!(code, 403, "{text}");

    // The agent is asked. Whatever it answers (this build's agent may
    // refuse by its policy, or predate remote access), a refusal is an
    // ordinary error and the session's row ends with its reason.
    let (code, text) = open(&server, &id, "kind=terminal", &admin, true);
    assert!([101, 403, 409].contains(&code), "{code}: {text}");
    eprintln!("the agent answered the session with {code}");
    if code != 101 {
        let reason = json(&text)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (_, list) = server.http("GET", "/api/v1/remote-sessions", "", Some(&admin));
        let list = json(&list);
        assert_eq!(list[0]["kind"], "terminal", "{list}");
        assert_eq!(list[0]["operator"], "admin", "{list}");
        assert_eq!(list[0]["live"], false, "{list}");
        let stored = list[0]["end_reason"].as_str().unwrap_or_default();
        assert!(
            stored.contains(&reason) || reason.contains("too old"),
            "{stored} / {reason}"
        );
        let session = list[0]["id"].as_i64().expect("an id");
        let (code, text) = server.http(
            "POST",
            &format!("/api/v1/remote-sessions/{session}/kill"),
            "",
            Some(&admin),
        );
        assert_eq!(code, 409, "an ended session: {text}");
        let (code, _) = server.http(
            "GET",
            &format!("/api/v1/remote-sessions/{session}/recording"),
            "",
            Some(&admin),
        );
        assert_eq!(code, 404, "nothing was recorded");
    }

    // Offline.
    run.stop();
    wait_for(Duration::from_secs(30), "the agent offline", || {
        (!server.is_online(&id)).then_some(())
    });
    let (code, text) = open(&server, &id, "kind=terminal", &admin, true);
    assert_eq!(code, 409, "{text}");
    assert!(text.contains("offline"), "{text}");
}
