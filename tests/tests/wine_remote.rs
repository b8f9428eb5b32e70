//! The Windows agent's remote access under Wine: a terminal (cmd.exe on a
//! pseudo console) that runs commands and exits with its code, a file put
//! into and got back from `C:`, and a tunnel from the operator's machine
//! to a TCP echo server the agent reaches on its own loopback.
//!
//! Wine 8's pseudo console starts its process without standard handles
//! and cannot resize; the agent's shell opens the console itself, so the
//! terminal works (a resize is only logged: `conpty_windows`' own tests
//! show Wine's E_NOTIMPL).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use deskhand_tests::fleet::WAIT;
use deskhand_tests::wine::{self, Wine, windows_path};
use deskhand_tests::{Server, bin, wait_for};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `deskhand ARGS` as the admin with `input` on its stdin.
fn cli_with_input(server: &Server, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin("deskhand"))
        .args(args)
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running deskhand");
    let mut stdin = child.stdin.take().expect("stdin");
    // A line at a time, as a person types: the console reads each.
    for line in input.split_inclusive(|b| *b == b'\n') {
        stdin.write_all(line).expect("typing");
        std::thread::sleep(Duration::from_millis(400));
    }
    // Bounded: a session that never ends is killed, and the test fails.
    let start = std::time::Instant::now();
    while child.try_wait().ok().flatten().is_none() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    drop(stdin);
    child.wait_with_output().expect("the CLI's output")
}

#[test]
fn the_windows_agent_serves_a_terminal_files_and_a_tunnel_under_wine() {
    let Some(exe) = wine::ready("the Windows remote-access test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let echo = TcpListener::bind("127.0.0.1:0").expect("echo server");
    let port = echo.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        if let Some(Ok(conn)) = echo.incoming().next() {
            let mut write = conn.try_clone().expect("clone");
            let mut read = conn;
            let _ = std::io::copy(&mut read, &mut write);
        }
    });
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!("remote_access = \"on\"\ntunnel_ports = [{port}]\n"),
    )
    .expect("config");
    let wine = Wine::new(&exe);
    wine.enroll(&server, &[]);
    let log = dir.path().join("agent.log");
    let _agent = wine.run_agent_with(&log, &[("DESKHAND_AGENT_CONFIG", &windows_path(&config))]);
    let id = Wine::online_id(&server);
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // The terminal: cmd.exe computes what it prints, and its exit code
    // comes back as the CLI's.
    let shell = cli_with_input(
        &server,
        &["shell", &id, "--cols", "100", "--rows", "30"],
        b"echo os-%OS%\nset /a 6*7\nexit 3\n",
    );
    let shown = text(&shell);
    assert!(
        shown.contains("os-Windows_NT"),
        "cmd.exe ran the echo: {shown}\nagent log:\n{}",
        agent_log()
    );
    assert!(shown.contains("42"), "cmd.exe computed 6*7: {shown}");
    assert_eq!(shell.status.code(), Some(3), "cmd.exe's exit code: {shown}");

    // A file into C: and back, hash-checked by the CLI both ways (into a
    // folder that exists: a put creates no folders).
    std::fs::create_dir_all(wine.drive_c().join("deskhand-remote")).expect("a folder on C:");
    let local = dir.path().join("fix.conf");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &content).expect("local file");
    let put = server.cli(&[
        "files",
        "put",
        &id,
        local.to_str().expect("utf-8"),
        r"C:\deskhand-remote\fix.conf",
    ]);
    assert!(put.status.success(), "files put: {}", text(&put));
    let on_c = wine.drive_c().join("deskhand-remote/fix.conf");
    assert_eq!(std::fs::read(&on_c).expect("the file on C:"), content);
    let back = dir.path().join("back.conf");
    let get = server.cli(&[
        "files",
        "get",
        &id,
        r"C:\deskhand-remote\fix.conf",
        back.to_str().expect("utf-8"),
    ]);
    assert!(get.status.success(), "files get: {}", text(&get));
    assert_eq!(std::fs::read(&back).expect("the got file"), content);

    // A tunnel to the echo server.
    let local_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut tunnel = Command::new(bin("deskhand"))
        .args(["tunnel", &id, &port.to_string(), "--local"])
        .arg(local_port.to_string())
        .arg("--once")
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("deskhand tunnel");
    let mut conn = wait_for(WAIT, "the tunnel listening", || {
        TcpStream::connect(local_port).ok()
    });
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    let sent = b"through the Windows agent".repeat(1000);
    conn.write_all(&sent).expect("writing");
    conn.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut got = Vec::new();
    conn.read_to_end(&mut got).expect("reading the echo");
    assert!(
        got == sent,
        "the echo came back whole ({} bytes)",
        got.len()
    );
    let _ = tunnel.kill();
    let _ = tunnel.wait();
}
