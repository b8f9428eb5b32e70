//! The `deskhand-agent` binary's command line without a server.

use std::process::Command;

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskhand-agent"))
        .args(args)
        .output()
        .expect("running deskhand-agent")
}

#[test]
fn status_of_an_unenrolled_agent_says_to_enroll() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().to_str().expect("utf-8 path");
    let out = agent(&["--state-dir", state, "status"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not enrolled"), "{err}");
}

#[test]
fn a_malformed_fingerprint_is_refused_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().to_str().expect("utf-8 path");
    let out = agent(&[
        "--state-dir",
        state,
        "enroll",
        "--server",
        "127.0.0.1:9",
        "--token",
        "t",
        "--ca-fingerprint",
        "abc",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a SHA-256 fingerprint"), "{err}");
    assert!(!dir.path().join("agent.toml").exists());
}

#[test]
fn run_without_enrollment_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().to_str().expect("utf-8 path");
    let out = agent(&["--state-dir", state, "run"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deskhand-agent enroll"));
}
