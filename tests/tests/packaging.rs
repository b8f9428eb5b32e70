//! The one-line install commands `deskhand tokens create` prints carry
//! exactly what enrollment needs.

use deskhand_tests::{Agent, Server, bin};

#[test]
fn the_install_line_enrolls_an_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let t = server.json(&["tokens", "create", "--uses", "1", "--expires", "10m"]);
    let token = t["token"].as_str().expect("token");
    let linux = t["install_command"].as_str().expect("install_command");
    let windows = t["install_command_windows"]
        .as_str()
        .expect("install_command_windows");
    let expected = format!(
        "--server {} --token {token} --ca-fingerprint {}",
        server.agents, server.ca_fingerprint
    );
    assert_eq!(linux, format!("sudo sh install-agent.sh {expected}"));
    assert!(
        windows.starts_with("powershell -ExecutionPolicy Bypass -File install-agent.ps1 ")
            && windows.ends_with(&format!(
                "-Server {} -Token {token} -CaFingerprint {}",
                server.agents, server.ca_fingerprint
            )),
        "{windows}"
    );
    // install-agent.sh hands its three options to `deskhand-agent enroll`.
    let agent = Agent::new(&tmp.path().join("agent"));
    let args: Vec<&str> = linux
        .strip_prefix("sudo sh install-agent.sh ")
        .expect("prefix")
        .split_whitespace()
        .collect();
    let out = std::process::Command::new(bin("deskhand-agent"))
        .arg("--state-dir")
        .arg(&agent.state_dir)
        .arg("enroll")
        .args(&args)
        .output()
        .expect("running deskhand-agent enroll");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(agent.id().is_some(), "no identity after enrolling");
    // The table output shows both lines too.
    let table = String::from_utf8_lossy(
        &server
            .cli(&["tokens", "create", "--uses", "1", "--expires", "10m"])
            .stdout,
    )
    .into_owned();
    assert!(
        table.contains("sudo sh install-agent.sh --server") && table.contains("install-agent.ps1"),
        "{table}"
    );
}
