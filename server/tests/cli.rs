//! The `deskhand` binary's command line: help, bad arguments, no server.

use std::process::Command;

fn deskhand(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskhand"))
        .args(args)
        .env_remove("DESKHAND_SERVER")
        .env_remove("DESKHAND_TOKEN")
        .output()
        .expect("running deskhand")
}

#[test]
fn help_lists_the_nouns() {
    let out = deskhand(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for noun in [
        "server",
        "tokens",
        "operators",
        "agents",
        "jobs",
        "rollouts",
    ] {
        assert!(
            text.contains(noun),
            "--help does not mention {noun}:\n{text}"
        );
    }
}

#[test]
fn a_bad_listen_address_is_named() {
    let out = deskhand(&["server", "--agents-listen", "not-an-address"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--agents-listen"), "{err}");
}

#[test]
fn an_unknown_config_key_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("server.toml");
    std::fs::write(&cfg, "agent_listen = \"127.0.0.1:1\"\n").expect("write");
    let out = deskhand(&["server", "--config", cfg.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("agent_listen"), "{err}");
}

#[test]
fn operator_commands_without_a_token_say_how_to_get_one() {
    let out = deskhand(&["agents", "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DESKHAND_TOKEN"), "{err}");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    // Port 9 on loopback: nothing listens there.
    let out = deskhand(&[
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "x",
        "agents",
        "list",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn a_rollout_files_unknown_key_is_named_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rollout.toml");
    std::fs::write(&file, "install = \"firefox@128.0\"\nwave = \"5%,100%\"\n").expect("write");
    // Port 9 on loopback: nothing listens there, so an error naming the
    // key was found before any request.
    let out = deskhand(&[
        "--server",
        "http://127.0.0.1:9",
        "--token",
        "x",
        "rollouts",
        "create",
        "--file",
        file.to_str().expect("utf-8 path"),
        "--target",
        "PC-1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`wave`"), "{err}");
    assert!(!err.contains("cannot reach"), "{err}");
}

#[test]
fn completions_cover_the_server_and_the_client_commands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = deskhand(&["completions", shell]);
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = String::from_utf8_lossy(&out.stdout);
        // The binary's own commands and the flattened client's, and an
        // option of a nested one (`jobs run --wait`; fish spells it `-l wait`).
        let wait = if shell == "fish" { "-l wait" } else { "--wait" };
        for word in ["server", "backup", "rollouts", "jobs", wait] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let out = deskhand(&["completions", "tcsh"]);
    assert!(!out.status.success(), "an unknown shell is refused");
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let man = dir.path().join("man");
    let out = deskhand(&["man", "--out", man.to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "deskhand.1",
        "deskhand-server.1",
        "deskhand-backup.1",
        "deskhand-jobs.1",
        "deskhand-jobs-run.1",
        "deskhand-rollouts.1",
    ] {
        let text = std::fs::read_to_string(man.join(page))
            .unwrap_or_else(|e| panic!("{page} was not written: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page:\n{text}");
    }
    let run = std::fs::read_to_string(man.join("deskhand-jobs-run.1")).expect("jobs run");
    assert!(run.contains("wait"), "{run}");
}
