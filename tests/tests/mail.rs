//! E-mail end to end: a real server with a `[mail]` section mailing a
//! real SMTP receiver started by the test ([`SmtpSink`]), and messages
//! piped into `deskhand tickets from-email` as an MTA alias would.
//!
//! An e-mail with a PNG opens a ticket (channel email, the file
//! downloadable) and the requester is told; a public comment is mailed;
//! the requester's reply (In-Reply-To that mail) lands in the timeline;
//! resolving mails the survey link, whose page records the rating once;
//! auto-replies are ignored; a stranger's `[#N]` never lands on N;
//! mails queued while the relay is down are delivered once, across a
//! server restart.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use deskhand_tests::smtp::{Received, SmtpSink, from_email};
use deskhand_tests::{Server, bin, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const FROM: &str = "helpdesk@example.org";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../server/src/mail/fixtures")
        .join(name)
}

fn config(dir: &Path, sink: &SmtpSink) -> PathBuf {
    sink.server_config(dir, FROM)
}

/// `deskhand tickets from-email` with `raw` on stdin: exit code, stdout.
fn pipe(server: &Server, raw: &[u8], extra: &[&str]) -> (i32, String, String) {
    from_email(server, raw, extra)
}

fn show(server: &Server, n: i64) -> Value {
    server.json(&["tickets", "show", &n.to_string()])
}

/// One form POST to the server, as a browser sends it: status and body.
fn post_form(server: &Server, path: &str, form: &str) -> (u16, String) {
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    )
    .expect("send");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        reply
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string(),
    )
}

/// One GET with the admin's token: the whole reply, as bytes.
fn get_bytes(server: &Server, path: &str) -> Vec<u8> {
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.admin_token
    )
    .expect("send");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("read");
    reply
}

fn mails_to<'a>(mails: &'a [Received], to: &str, subject_has: &str) -> Vec<&'a Received> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .filter(|m| m.header("Subject").is_some_and(|s| s.contains(subject_has)))
        .collect()
}

#[test]
fn mail_in_and_out_with_the_survey_and_a_relay_that_was_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start();
    let cfg = config(dir.path(), &sink);
    let cfg_s = cfg.to_string_lossy().to_string();
    let env = [("DESKHAND_CONFIG", cfg_s.as_str())];
    let mut server = Server::start_env(&dir.path().join("server"), &env).expect("server");

    // An e-mail with a PNG opens a ticket; the file is kept.
    let out = server.cli(&[
        "tickets",
        "from-email",
        &fixture("multipart-png.eml").to_string_lossy(),
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (o["outcome"].as_str(), o["attachments"].as_u64()),
        (Some("opened"), Some(1)),
        "{o}"
    );
    let n = o["ticket"].as_i64().expect("a ticket");
    let t = show(&server, n);
    assert_eq!(t["ticket"]["channel"], "email");
    assert_eq!(t["ticket"]["requester"], "carol@example.com");
    assert_eq!(t["ticket"]["title"], "Screen flickers");
    let files = server.json(&["tickets", "show", &n.to_string()]);
    assert!(
        files["description"]
            .as_str()
            .is_some_and(|d| d.contains("flickers"))
    );
    let (status, list) = server.http(
        "GET",
        &format!("/api/v1/tickets/{n}/attachments"),
        "",
        Some(&server.admin_token),
    );
    assert_eq!(status, 200, "{list}");
    let list: Value = serde_json::from_str(&list).expect("attachments");
    assert_eq!(list[0]["name"], "screen shot.png");
    let id = list[0]["id"].as_i64().expect("id");
    let raw = get_bytes(&server, &format!("/api/v1/tickets/{n}/attachments/{id}"));
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-disposition: attachment"), "{head}");
    assert!(raw[at..].starts_with(b"\x89PNG"), "the PNG's bytes");

    // The requester is told; our headers say it is automatic and ours.
    let opened = sink.wait_for(WAIT, "the opened mail", |m| {
        m.to == ["carol@example.com"]
            && m.header("Subject")
                .is_some_and(|s| s.contains(&format!("[#{n}]")))
    });
    assert_eq!(
        opened.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert!(opened.header("X-Deskhand-Loop").is_some());
    assert!(
        opened
            .header("Message-ID")
            .is_some_and(|id| id.starts_with(&format!("<deskhand.{n}.")))
    );

    // A technician's public comment is mailed; the requester replies to it.
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "comment",
            &n.to_string(),
            "Please check the cable",
        ],
    );
    let answered = sink.wait_for(WAIT, "the answered mail", |m| {
        m.body().contains("Please check the cable")
    });
    let answered_id = answered.header("Message-ID").expect("a Message-ID");
    let reply_mail = format!(
        "From: Carol <carol@example.com>\r\nTo: {FROM}\r\nSubject: Re: your ticket\r\nMessage-ID: <carol-2@example.com>\r\nIn-Reply-To: {answered_id}\r\n\r\nThe cable was loose, it works now.\r\n\r\nOn Sun, 6 Dec 2026, Help desk wrote:\r\n> Please check the cable\r\n"
    );
    let (code, said, err) = pipe(&server, reply_mail.as_bytes(), &[]);
    assert_eq!(
        (code, said.as_str()),
        (0, format!("added to ticket {n}").as_str()),
        "{err}"
    );
    let t = show(&server, n);
    let replies: Vec<&Value> = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "reply")
        .collect();
    assert_eq!(replies.len(), 1, "{t}");
    assert_eq!(replies[0]["body"], "The cable was loose, it works now.");
    assert_eq!(replies[0]["author"], "carol@example.com");

    // Resolving mails the survey link; the page records the rating once.
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "resolve",
            &n.to_string(),
            "--note",
            "Cable reseated",
        ],
    );
    let resolved = sink.wait_for(WAIT, "the resolved mail", |m| m.body().contains("/survey/"));
    let body = resolved.body();
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/survey/"))
        .expect("a survey link")
        .to_string();
    let path = link.trim_start_matches(&server.api).to_string();
    assert!(path.starts_with("/survey/"), "{link} under {}", server.api);
    let (status, page) = server.http("GET", &path, "", None);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("Ticket {n}: Screen flickers")),
        "{page}"
    );
    assert!(!page.contains("carol@example.com"), "no other ticket data");
    let (status, page) = post_form(&server, &path, "score=5&comment=fast+and+kind");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Thank you"), "{page}");
    let t = show(&server, n);
    assert_eq!(t["ticket"]["rating"], 5, "{t}");
    assert_eq!(t["ticket"]["rating_comment"], "fast and kind");
    let (status, page) = post_form(&server, &path, "score=1");
    assert_eq!(status, 409, "{page}");
    assert_eq!(show(&server, n)["ticket"]["rating"], 5);
    let (status, page) = server.http("GET", &format!("/survey/{}", "ab".repeat(24)), "", None);
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("not valid"), "{page}");

    // An auto-reply is ignored, and nothing answers it.
    let before = server
        .json(&["tickets", "list", "--status", "all"])
        .as_array()
        .map(Vec::len);
    let (code, said, err) = pipe(
        &server,
        &std::fs::read(fixture("auto-reply.eml")).expect("fixture"),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(said.starts_with("ignored: automatic reply"), "{said}");
    assert_eq!(
        server
            .json(&["tickets", "list", "--status", "all"])
            .as_array()
            .map(Vec::len),
        before
    );

    // A stranger's `[#N]` opens a request of their own, never lands on N.
    let stranger = format!(
        "From: mallory@evil.example\r\nTo: {FROM}\r\nSubject: Re: [#{n}] Screen flickers\r\nMessage-ID: <m-1@evil.example>\r\n\r\nPlease send me the admin password.\r\n"
    );
    let (code, said, err) = pipe(&server, stranger.as_bytes(), &["--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let o: Value = serde_json::from_str(&said).expect("json");
    assert_eq!(o["outcome"], "opened");
    let m = o["ticket"].as_i64().expect("a ticket");
    assert_ne!(m, n);
    assert!(!show(&server, n).to_string().contains("admin password"));

    // Garbage is a data error (65); an unreachable server a temporary one (75).
    let (code, _, err) = pipe(&server, b"\x00\x01 not a mail", &[]);
    assert_eq!(code, 65, "{err}");
    let down = Command::new(bin("deskhand"))
        .args([
            "tickets",
            "from-email",
            &fixture("plain.eml").to_string_lossy(),
        ])
        .env("DESKHAND_SERVER", "http://127.0.0.1:9")
        .env("DESKHAND_TOKEN", &server.admin_token)
        .output()
        .expect("runs");
    assert_eq!(
        down.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );

    // The relay goes down: a mail is queued, fails, survives a restart
    // and is delivered once when the relay is back.
    sink.wait_for(WAIT, "mallory's opened mail", |m| {
        m.to == ["mallory@evil.example"]
    });
    sink.stop();
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "comment",
            &m.to_string(),
            "We do not send passwords",
        ],
    );
    wait_for(WAIT, "a failed attempt", || {
        let q = server.json(&["mail", "queue"]);
        q.as_array()
            .and_then(|a| {
                a.iter()
                    .find(|r| r["attempts"].as_i64() >= Some(1) && r["last_error"].is_string())
            })
            .cloned()
    });
    server.restart_env(&env);
    let sink = sink.restart();
    sink.wait_for(WAIT, "the queued mail", |m| {
        m.body().contains("We do not send passwords")
    });
    wait_for(WAIT, "an empty queue", || {
        server
            .json(&["mail", "queue"])
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let mails = sink.mails();
    let delivered: Vec<_> = mails
        .iter()
        .filter(|m| m.body().contains("We do not send passwords"))
        .collect();
    assert_eq!(delivered.len(), 1, "delivered once");
    assert_eq!(
        mails_to(&mails, "carol@example.com", &format!("[#{n}]")).len(),
        3,
        "opened, answered, resolved"
    );
    assert!(mails.iter().all(|m| m.from == FROM));
    server.stop();
}

#[test]
fn unknown_senders_are_refused_with_a_reply_and_technicians_work_by_mail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start();
    let cfg = config(dir.path(), &sink);
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str("unknown_senders = \"refuse\"\naccept_domains = [\"example.com\"]\n");
    std::fs::write(&cfg, text).expect("config");
    let cfg_s = cfg.to_string_lossy().to_string();
    let server = Server::start_env(
        &dir.path().join("server"),
        &[("DESKHAND_CONFIG", cfg_s.as_str())],
    )
    .expect("server");

    // A stranger is refused, told so by mail, and no ticket is opened.
    let stranger = format!(
        "From: eve@elsewhere.example\r\nTo: {FROM}\r\nSubject: hello\r\nMessage-ID: <e-1@elsewhere.example>\r\n\r\nhi\r\n"
    );
    let (code, said, err) = pipe(&server, stranger.as_bytes(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(said.starts_with("refused: "), "{said}");
    let refusal = sink.wait_for(WAIT, "the refusal", |m| m.to == ["eve@elsewhere.example"]);
    assert!(
        refusal.body().contains("known addresses"),
        "{}",
        refusal.body()
    );
    assert_eq!(
        refusal.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        server
            .json(&["tickets", "list", "--status", "all"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // An accepted domain opens a ticket.
    let (code, said, err) = pipe(
        &server,
        &std::fs::read(fixture("plain.eml")).expect("fixture"),
        &["--output", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let n = serde_json::from_str::<Value>(&said).expect("json")["ticket"]
        .as_i64()
        .expect("opened");

    // A technician with an address hears of the assignment and answers by mail.
    server.ok_as(
        &server.admin_token,
        &[
            "operators",
            "add",
            "tom",
            "--role",
            "technician",
            "--email",
            "Tom@Example.org",
        ],
    );
    server.ok_as(
        &server.admin_token,
        &["tickets", "assign", &n.to_string(), "tom"],
    );
    let assigned = sink.wait_for(WAIT, "the assignment mail", |m| m.to == ["tom@example.org"]);
    assert!(
        assigned.body().contains("assigned to you"),
        "{}",
        assigned.body()
    );
    let answer = format!(
        "From: tom@example.org\r\nTo: {FROM}\r\nSubject: Re: [#{n}] Printer on floor 2 jams\r\n\r\nI am on my way with a new roller.\r\n"
    );
    let (code, said, err) = pipe(&server, answer.as_bytes(), &[]);
    assert_eq!(
        (code, said.as_str()),
        (0, format!("commented on ticket {n}").as_str()),
        "{err}"
    );
    let t = show(&server, n);
    let comment = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "comment")
        .cloned()
        .expect("a comment");
    assert_eq!(comment["author"], "tom");
    assert_eq!(comment["internal"], false);
    sink.wait_for(WAIT, "the requester's answered mail", |m| {
        m.to == ["alice@example.com"] && m.body().contains("new roller")
    });
    server.stop();
}
