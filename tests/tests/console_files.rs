//! A machine's files in the web console, end to end: a real server, real
//! agents on loopback and a temporary directory on this machine. The
//! listing shows a known file and directory; a 3 MB download arrives
//! byte for byte as an attachment; a 2 MB upload lands on disk with the
//! same hash and the listing says it was stored; a file over the limit
//! is refused before it is read; a missing path shows the agent's
//! sentence; an agent whose user has not allowed remote access shows its
//! refusal; a viewer is refused; and every session is in the server's
//! list of remote sessions with its kind.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use deskhand_shared::fingerprint::sha256_hex;
use deskhand_tests::browser::{Browser, enc};
use deskhand_tests::operators::Operator;
use deskhand_tests::{Agent, Proc, Server, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Enrolls and runs an agent with `config` (its TOML) under `dir/name`;
/// its id and process once it is online.
fn agent(server: &Server, token: &str, dir: &Path, name: &str, config: &str) -> (String, Proc) {
    let agent = Agent::new(&dir.join(name));
    let id = agent.enroll_ok(server, token);
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, config).expect("agent config");
    let run = agent
        .run_with_env(&[("DESKHAND_AGENT_CONFIG", file.to_str().expect("utf-8"))])
        .expect("agent runs");
    wait_for(WAIT, "the agent online", || {
        server.is_online(&id).then_some(())
    });
    (id, run)
}

/// Bytes no compression or guess would get right (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn files_are_listed_downloaded_and_uploaded_and_refusals_shown() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server starts");
    let token = server.token(2, "1h");
    let (open, mut open_run) = agent(
        &server,
        &token,
        tmp.path(),
        "open",
        "remote_access = \"on\"\n",
    );
    let (shut, mut shut_run) = agent(
        &server,
        &token,
        tmp.path(),
        "shut",
        "remote_access = \"ticket\"\n",
    );

    let files = tmp.path().join("files");
    std::fs::create_dir_all(files.join("subdir")).expect("subdir");
    std::fs::write(files.join("known.txt"), "known\n").expect("known file");
    let big = noise(3 * 1024 * 1024 + 12_345, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(files.join("big.bin"), &big).expect("big file");
    let dir = files.to_str().expect("utf-8").to_string();

    let mut b = Browser::new(&server.api);
    let r = b.login("admin", &server.admin_password());
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = b.cookie.clone().expect("a session");
    let listing =
        |agent: &str, path: &str| format!("/console/assets/{agent}/files?path={}", enc(path));

    // The listing: the known file and directory, each linked.
    let r = b.get(&listing(&open, &dir));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Files on "), "{}", r.body);
    assert!(
        r.body.contains("known.txt") && r.body.contains("subdir/"),
        "{}",
        r.body
    );
    let sub = format!("{dir}/subdir");
    assert!(
        r.body.contains(&enc(&sub)),
        "the directory links to its listing: {}",
        r.body
    );
    assert!(r.body.contains("/files/download?path="), "{}", r.body);
    assert!(r.body.contains("drwx"), "permissions: {}", r.body);
    let parent = files.parent().and_then(Path::to_str).expect("a parent");
    assert!(
        r.body.contains(&enc(parent)),
        "a link to the parent: {}",
        r.body
    );
    let csrf = r.csrf().expect("the upload form's CSRF token");
    // Without a path, the root.
    let r = b.get(&format!("/console/assets/{open}/files"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("value=\"/\""), "{}", r.body);

    // The download: every byte, as an attachment, hashed the same.
    let started = std::time::Instant::now();
    let big_path = format!("{dir}/big.bin");
    let (status, headers, body) = b.get_bytes(&format!(
        "/console/assets/{open}/files/download?path={}",
        enc(&big_path)
    ));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body.len(), big.len());
    assert_eq!(sha256_hex(&body), sha256_hex(&big));
    assert_eq!(header(&headers, "content-length"), big.len().to_string());
    let disposition = header(&headers, "content-disposition");
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename=\"big.bin\""),
        "{disposition}"
    );
    assert_eq!(header(&headers, "content-type"), "application/octet-stream");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    eprintln!("3 MB download in {:?}", started.elapsed());

    // The upload: on disk with the same hash, and the listing says so.
    let up = noise(2 * 1024 * 1024 + 777, 42);
    let started = std::time::Instant::now();
    let r = b.post_multipart(
        &format!("/console/assets/{open}/files/upload"),
        &[("csrf", &csrf), ("dir", &dir), ("name", "")],
        ("file", "upload.bin", &up),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    eprintln!("2 MB upload in {:?}", started.elapsed());
    let to = r
        .header("location")
        .expect("back to the listing")
        .to_string();
    assert!(to.contains("stored=upload.bin"), "{to}");
    let landed = std::fs::read(files.join("upload.bin")).expect("the upload is on disk");
    assert_eq!(sha256_hex(&landed), sha256_hex(&up));
    let r = b.get(&to);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Stored upload.bin (2.0 MiB, SHA-256 "),
        "{}",
        r.body
    );
    // A name that is a path is refused before anything is sent.
    let r = b.post_multipart(
        &format!("/console/assets/{open}/files/upload"),
        &[("csrf", &csrf), ("dir", &dir), ("name", "../escape.bin")],
        ("file", "x.bin", b"x"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(!tmp.path().join("escape.bin").exists());

    // A file over the console's limit is refused before any of it is read.
    let addr = server.api.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "POST /console/assets/{open}/files/upload HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n--x\r\n",
        2u64 << 30
    )
    .expect("send");
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("deskhand files put"), "{reply}");

    // A path that does not exist: the agent's sentence, on the page.
    let missing = format!("{dir}/no-such-dir");
    let r = b.get(&listing(&open, &missing));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("no such"), "{}", r.body);
    assert!(r.body.contains("class=\"error\""), "{}", r.body);
    assert!(
        r.body.contains("name=\"path\""),
        "the path form stays: {}",
        r.body
    );

    let (status, _, body) = b.get_bytes(&format!(
        "/console/assets/{open}/files/download?path={}",
        enc(&format!("{dir}/gone.bin"))
    ));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no such file"), "{body}");

    // The user of this machine has not allowed remote access.
    let r = b.get(&listing(&shut, &dir));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("has not allowed remote access"),
        "{}",
        r.body
    );
    assert!(r.body.contains("name=\"path\""), "{}", r.body);

    // A viewer may not.
    let vic = Operator::add(&server, "vic", "viewer");
    let mut v = vic.console(&server);
    let r = v.get(&listing(&open, &dir));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("needs the technician role"), "{}", r.body);
    let (status, _, _) = v.get_bytes(&format!(
        "/console/assets/{open}/files/download?path={}",
        enc(&big_path)
    ));
    assert_eq!(status, 403);

    // Every session the agents were asked for is listed, with its kind.
    let sessions = wait_for(WAIT, "the sessions ended", || {
        let (code, text) = server.http(
            "GET",
            "/api/v1/remote-sessions",
            "",
            Some(&server.admin_token),
        );
        assert_eq!(code, 200, "{text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        let rows = v.as_array().cloned().unwrap_or_default();
        rows.iter()
            .all(|r| !r["ended_at"].is_null())
            .then_some(rows)
    });
    let has = |kind: &str, agent: &str, detail: &str| {
        sessions
            .iter()
            .any(|r| r["kind"] == kind && r["agent_id"] == agent && r["detail"] == detail)
    };
    assert!(has("ls", &open, &dir), "{sessions:?}");
    assert!(has("ls", &open, &missing), "{sessions:?}");
    assert!(has("get", &open, &big_path), "{sessions:?}");
    assert!(
        has("put", &open, &format!("{dir}/upload.bin")),
        "{sessions:?}"
    );
    assert!(has("ls", &shut, &dir), "the refusal is kept: {sessions:?}");

    open_run.stop();
    shut_run.stop();
    server.stop();
}
