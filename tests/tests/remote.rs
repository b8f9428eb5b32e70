//! Remote access end to end: a real server, a real agent and the real
//! `deskhand` CLI over loopback. A terminal in a real pseudo-terminal
//! (`tty`, `stty size` after a resize, Ctrl-C, `exit` and its code, the
//! recording played back), the user's consent (refused without it, works
//! with it, ends when withdrawn and when it expires), 50 MB put and got
//! through a link cut halfway (resumed, hashes equal), a tunnel carrying
//! 1 MB both ways to an echo server, a port outside the policy, a viewer
//! refused, and every session in the audit log.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use deskhand_tests::operators::Operator;
use deskhand_tests::pty::Pty;
use deskhand_tests::tcp_cut::CutProxy;
use deskhand_tests::{Agent, Proc, Server, bin, server_with_agent_config, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A server and one agent run with `config` (the agent's TOML).
struct Site {
    server: Server,
    agent: Agent,
    id: String,
    _run: Proc,
}

fn site(dir: &Path, config: &str) -> Site {
    let (server, agent, id, run) = server_with_agent_config(dir, config);
    Site {
        server,
        agent,
        id,
        _run: run,
    }
}

impl Site {
    /// `deskhand ARGS` as the admin, against `api` (the server's, or a
    /// proxy in front of it).
    fn cli_via(&self, api: &str, args: &[&str]) -> Output {
        Command::new(bin("deskhand"))
            .args(args)
            .env("DESKHAND_SERVER", api)
            .env("DESKHAND_TOKEN", &self.server.admin_token)
            .stdin(Stdio::null())
            .output()
            .expect("running deskhand")
    }

    /// `deskhand-agent ARGS` against the running agent's help socket.
    fn local(&self, args: &[&str]) -> Output {
        Command::new(bin("deskhand-agent"))
            .arg("--help-socket")
            .arg(self.agent.help_socket())
            .args(args)
            .output()
            .expect("running deskhand-agent")
    }

    /// The sessions the server lists, newest first.
    fn sessions(&self) -> Vec<Value> {
        let v = self.server.json(&["sessions", "list"]);
        v.as_array().cloned().unwrap_or_default()
    }

    /// `deskhand shell` as a script runs it: stdin a pipe, so no raw mode.
    fn piped_shell(&self) -> std::process::Child {
        self.piped_shell_as(&self.server.admin_token)
    }

    /// `deskhand shell` with a pipe as stdin, as the operator of `token`.
    fn piped_shell_as(&self, token: &str) -> std::process::Child {
        Command::new(bin("deskhand"))
            .args(["shell", &self.id])
            .env("DESKHAND_SERVER", &self.server.api)
            .env("DESKHAND_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deskhand shell")
    }

    /// `deskhand shell` in a real terminal.
    fn shell(&self, extra: &[&str], cols: u16, rows: u16) -> Pty {
        let mut cmd = Command::new(bin("deskhand"));
        cmd.args(["shell", &self.id])
            .args(extra)
            .env("DESKHAND_SERVER", &self.server.api)
            .env("DESKHAND_TOKEN", &self.server.admin_token)
            .env("TERM", "xterm");
        Pty::spawn(cmd, cols, rows).expect("deskhand shell on a pty")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const OPEN: &str = "remote_access = \"on\"\n";

#[test]
fn a_terminal_runs_in_a_real_pty_resizes_interrupts_exits_and_plays_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), OPEN);
    let mut pty = site.shell(&[], 100, 30);
    // The shell's own prompt varies; a marker the shell computes shows it
    // runs commands.
    pty.type_bytes(b"echo ready-$((40+2))\r");
    pty.expect("ready-42", WAIT).expect("the shell answers");

    let mark = pty.written();
    pty.type_bytes(b"tty\r");
    pty.expect_after(mark, "/dev/pts/", WAIT)
        .expect("the remote shell has a terminal");

    let mark = pty.written();
    pty.type_bytes(b"stty size\r");
    pty.expect_after(mark, "30 100", WAIT)
        .expect("the remote terminal starts at the local size");
    pty.resize(120, 40).expect("resize");
    std::thread::sleep(Duration::from_millis(300));
    let mark = pty.written();
    pty.type_bytes(b"stty size\r");
    pty.expect_after(mark, "40 120", WAIT)
        .expect("the remote terminal follows a resize");

    // Ctrl-C reaches the remote foreground job, as in ssh.
    pty.type_bytes(b"sleep 100; echo slept-through\r");
    std::thread::sleep(Duration::from_millis(700));
    pty.type_bytes(b"\x03");
    let mark = pty.written();
    pty.type_bytes(b"echo after-$((6*7))\r");
    pty.expect_after(mark, "after-42", Duration::from_secs(10))
        .expect("Ctrl-C interrupted sleep 100");
    // The typed line echoes "echo slept-through"; only its output would
    // start a line.
    assert!(
        !pty.screen().contains("\nslept-through"),
        "the rest of the line did not run: {}",
        pty.screen()
    );

    pty.type_bytes(b"exit 3\r");
    let status = pty.wait(WAIT).expect("deskhand shell ends with the shell");
    assert_eq!(
        status.code(),
        Some(3),
        "the shell's exit code: {}",
        pty.screen()
    );

    let sessions = site.sessions();
    let s = sessions
        .iter()
        .find(|s| s["kind"] == "terminal")
        .unwrap_or_else(|| panic!("the terminal session is listed: {sessions:?}"));
    assert_eq!(s["live"], false, "{s}");
    assert_eq!(s["operator"], "admin", "{s}");
    assert_eq!(s["recorded"], true, "{s}");
    assert!(s["bytes_up"].as_i64().unwrap_or(0) > 20, "{s}");
    let sid = s["id"].to_string();
    let played = site.server.ok_as(
        &site.server.admin_token,
        &["sessions", "show", &sid, "--play", "--speed", "0"],
    );
    for seen in ["ready-42", "/dev/pts/", "40 120", "after-42"] {
        assert!(
            played.contains(seen),
            "the recording plays back {seen:?}: {played}"
        );
    }
}

#[test]
fn consent_gates_sessions_and_withdrawing_it_ends_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), "remote_access = \"ticket\"\n");
    let refused = site.cli_via(&site.server.api, &["shell", &site.id]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("--allow-remote"),
        "a refusal says how the user allows access: {}",
        text(&refused)
    );

    let asked = site.local(&["help", "my screen freezes", "--allow-remote", "30m"]);
    assert!(
        asked.status.success(),
        "help --allow-remote: {}",
        text(&asked)
    );
    let ticket = wait_for(WAIT, "the help ticket", || {
        let v = site.server.json(&["tickets", "list"]);
        v.as_array()?.first()?["number"].as_i64()
    });

    // A shell from a script: stdin is a pipe, so no raw mode.
    let mut shell = site.piped_shell();
    let mut stdin = shell.stdin.take().expect("stdin");
    let live = wait_for(WAIT, "a live session", || {
        site.sessions().into_iter().find(|s| s["live"] == true)
    });
    // Typed ahead of the shell's start, a line would be dropped when the
    // shell sets up its terminal (so it would with ssh -tt).
    std::thread::sleep(Duration::from_secs(1));
    stdin
        .write_all(b"echo consent-$((1+1))\nsleep 1000\n")
        .expect("typing");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(live["ticket"].as_i64(), Some(ticket), "{live}");

    let denied = site.local(&["deny-remote"]);
    assert!(denied.status.success(), "deny-remote: {}", text(&denied));
    let out = wait_with_output(shell, WAIT);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("consent-2"),
        "the shell ran before: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("consent"),
        "the session's end says why: {}",
        text(&out)
    );
    let refused = site.cli_via(&site.server.api, &["files", "ls", &site.id, "/"]);
    assert!(!refused.status.success(), "withdrawn consent refuses again");

    // The session is in the ticket's timeline.
    let shown = site.server.ok_as(
        &site.server.admin_token,
        &["tickets", "show", &ticket.to_string()],
    );
    assert!(
        shown.to_lowercase().contains("remote"),
        "the ticket's timeline names the session: {shown}"
    );
}

#[test]
fn a_session_ends_when_consent_expires() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), "remote_access = \"ticket\"\n");
    let allowed = site.local(&["allow-remote", "1m"]);
    assert!(allowed.status.success(), "allow-remote: {}", text(&allowed));
    let started = std::time::Instant::now();
    let mut shell = site.piped_shell();
    let mut stdin = shell.stdin.take().expect("stdin");
    stdin.write_all(b"sleep 1000\n").expect("typing");
    let out = wait_with_output(shell, Duration::from_secs(90));
    assert!(!out.status.success());
    assert!(
        started.elapsed() > Duration::from_secs(40),
        "it lasted until consent ended"
    );
    assert!(
        text(&out).contains("consent"),
        "the end says consent ended: {}",
        text(&out)
    );
    drop(stdin);
}

#[test]
fn files_of_50_mb_resume_after_the_link_is_cut_and_their_hashes_match() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), OPEN);
    let api: std::net::SocketAddr = site
        .server
        .api
        .trim_start_matches("http://")
        .parse()
        .expect("the API's address");
    let proxy = CutProxy::start(api).expect("proxy");

    let local = tmp.path().join("big.bin");
    let data = pseudo_random(50 * 1024 * 1024);
    std::fs::write(&local, &data).expect("writing 50 MB");
    let remote_dir = tmp.path().join("on-the-pc");
    std::fs::create_dir(&remote_dir).expect("dir");
    let remote = remote_dir.join("big.bin");

    let puts = cut_halfway(&site, &proxy, "put", &local, &remote);
    assert_eq!(std::fs::read(&remote).expect("the put file"), data);
    assert!(
        puts[0]["bytes_up"].as_i64().unwrap_or(i64::MAX) < 40 * 1024 * 1024,
        "the second session sent only the rest: {puts:?}"
    );

    let back = tmp.path().join("back");
    std::fs::create_dir(&back).expect("dir");
    let gets = cut_halfway(&site, &proxy, "get", &remote, &back);
    assert_eq!(
        std::fs::read(back.join("big.bin")).expect("the got file"),
        data
    );
    assert!(
        gets[0]["bytes_down"].as_i64().unwrap_or(i64::MAX) < 40 * 1024 * 1024,
        "the second session got only the rest: {gets:?}"
    );

    let listed = site
        .server
        .json(&["files", "ls", &site.id, remote_dir.to_str().expect("utf-8")]);
    let entries = listed.as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["name"] == "big.bin" && e["size"] == 50 * 1024 * 1024),
        "ls shows the file: {listed}"
    );
    let missing = site.cli_via(
        &site.server.api,
        &["files", "get", &site.id, "/no/such/file", "."],
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("/no/such/file"),
        "{}",
        text(&missing)
    );
}

#[test]
fn a_tunnel_carries_a_megabyte_both_ways_only_to_listed_ports() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let echo = TcpListener::bind("127.0.0.1:0").expect("echo server");
    let port = echo.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in echo.incoming().take(2).flatten() {
            std::thread::spawn(move || {
                let mut write = conn.try_clone().expect("clone");
                let mut read = conn;
                let _ = std::io::copy(&mut read, &mut write);
            });
        }
    });
    let site = site(
        tmp.path(),
        &format!("remote_access = \"on\"\ntunnel_ports = [{port}]\n"),
    );
    let local = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let local_addr = local.local_addr().expect("addr");
    drop(local);
    let mut tunnel = Command::new(bin("deskhand"))
        .args([
            "tunnel",
            &site.id,
            &port.to_string(),
            "--local",
            &local_addr.to_string(),
            "--once",
        ])
        .env("DESKHAND_SERVER", &site.server.api)
        .env("DESKHAND_TOKEN", &site.server.admin_token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deskhand tunnel");
    let mut conn = wait_for(WAIT, "the tunnel listening", || {
        TcpStream::connect(local_addr).ok()
    });
    let sent = pseudo_random(1024 * 1024);
    let writer = {
        let mut w = conn.try_clone().expect("clone");
        let sent = sent.clone();
        std::thread::spawn(move || {
            w.write_all(&sent).expect("writing through the tunnel");
            w.shutdown(std::net::Shutdown::Write).expect("half-close");
        })
    };
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut got = Vec::new();
    conn.read_to_end(&mut got).expect("reading the echo");
    writer.join().expect("writer");
    assert_eq!(got.len(), sent.len(), "a megabyte came back");
    assert!(got == sent, "the same megabyte came back");
    let status = wait_exit(&mut tunnel, WAIT);
    assert!(status.is_some_and(|s| s.success()), "tunnel --once ends");

    let refused = site.cli_via(
        &site.server.api,
        &["tunnel", &site.id, "22", "--local", "127.0.0.1:0", "--once"],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(&port.to_string()) && text(&refused).contains("22"),
        "a port outside the policy is refused, naming the allowed ones: {}",
        text(&refused)
    );
}

#[test]
fn withdrawing_an_operators_remote_access_ends_their_session_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), OPEN);
    let tom = Operator::add(&site.server, "tom", "technician");
    let mut shell = site.piped_shell_as(&tom.token);
    let mut stdin = shell.stdin.take().expect("stdin");
    wait_for(WAIT, "tom's live session", || {
        site.sessions()
            .into_iter()
            .find(|s| s["live"] == true && s["operator"] == "tom")
    });
    std::thread::sleep(Duration::from_secs(1));
    stdin.write_all(b"sleep 1000\n").expect("typing");

    let out = site.cli_via(&site.server.api, &["operators", "remote", "tom", "deny"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = wait_with_output(shell, WAIT);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("withdrew tom's remote access"),
        "the session's end says why: {}",
        text(&out)
    );
    let ops = site.server.json(&["operators", "list"]);
    let row = ops
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == "tom"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["remote_allowed"], false, "{ops}");
    let refused = site
        .server
        .cli_as(&tom.token, &["files", "ls", &site.id, "/"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("withdrew remote access"),
        "{}",
        text(&refused)
    );

    let out = site.cli_via(&site.server.api, &["operators", "remote", "tom", "allow"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = site
        .server
        .cli_as(&tom.token, &["files", "ls", &site.id, "/"]);
    assert!(listed.status.success(), "allowed again: {}", text(&listed));
    drop(stdin);
}

#[test]
fn as_user_runs_as_the_logged_in_user_or_says_there_is_none() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), OPEN);
    let who = Command::new("who").output().expect("who");
    let users: Vec<String> = String::from_utf8_lossy(&who.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|u| u != "root")
        .collect();
    let mut shell = Command::new(bin("deskhand"))
        .args(["shell", &site.id, "--as-user"])
        .env("DESKHAND_SERVER", &site.server.api)
        .env("DESKHAND_TOKEN", &site.server.admin_token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("deskhand shell --as-user");
    let mut stdin = shell.stdin.take().expect("stdin");
    let _ = stdin.write_all(b"id -un; exit\n");
    drop(stdin);
    let out = wait_with_output(shell, WAIT);
    if users.is_empty() {
        // Nobody is logged in on this machine (a CI runner): refused,
        // with the reason.
        assert!(!out.status.success());
        assert!(
            text(&out).contains("no user is logged in"),
            "{}",
            text(&out)
        );
    } else {
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            users.iter().any(|u| said.contains(u.as_str())),
            "the shell runs as one of {users:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn a_viewer_is_refused_and_every_session_is_audited() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = site(tmp.path(), OPEN);
    let viewer = Operator::add(&site.server, "vera", "viewer");
    let out = site
        .server
        .cli_as(&viewer.token, &["files", "ls", &site.id, "/"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("technician"), "{}", text(&out));
    let listed = site.cli_via(&site.server.api, &["files", "ls", &site.id, "/"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("etc/"));
    let (code, audit) = site.server.http(
        "GET",
        "/api/v1/audit?limit=1000",
        "",
        Some(&site.server.admin_token),
    );
    assert_eq!(code, 200);
    assert!(
        audit.contains("remote") && audit.contains(&site.id[..8]),
        "the audit log has the session: {audit}"
    );
}

/// `deskhand files VERB AGENT FROM TO` through `proxy`, which cuts the
/// link once halfway; asserts it succeeded all the same and returns that
/// kind's sessions, newest first: the one that resumed, then the cut one.
fn cut_halfway(site: &Site, proxy: &CutProxy, verb: &str, from: &Path, to: &Path) -> Vec<Value> {
    let cuts = proxy.cuts();
    proxy.cut_once_after(25 * 1024 * 1024);
    let via = format!("http://{}", proxy.addr());
    let (from, to) = (from.to_str().expect("utf-8"), to.to_str().expect("utf-8"));
    let out = site.cli_via(&via, &["files", verb, &site.id, from, to]);
    assert!(out.status.success(), "files {verb}: {}", text(&out));
    assert_eq!(proxy.cuts(), cuts + 1, "the link was cut during the {verb}");
    let sessions: Vec<Value> = site
        .sessions()
        .into_iter()
        .filter(|s| s["kind"] == verb)
        .collect();
    assert!(
        sessions.len() >= 2,
        "the {verb} took a second session: {sessions:?}"
    );
    sessions
}

/// Deterministic bytes that do not compress.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn wait_with_output(mut child: std::process::Child, limit: Duration) -> Output {
    let status = wait_exit(&mut child, limit);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    let status = status.unwrap_or_else(|| panic!("the command did not end in {limit:?}"));
    Output {
        status,
        stdout,
        stderr,
    }
}
