//! The files `packaging/` ships for the agent agree with the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

fn packaging(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging")
        .join(rel)
}

/// The systemd unit's `ExecStart=`, split into words.
fn unit_exec_start() -> Vec<String> {
    let unit = std::fs::read_to_string(packaging("systemd/deskhand-agent.service")).expect("unit");
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn the_units_command_line_and_shipped_config_are_accepted() {
    let words = unit_exec_start();
    assert_eq!(words[0], "/usr/bin/deskhand-agent");
    assert_eq!(words.last().map(String::as_str), Some("run"));
    let dir = tempfile::tempdir().expect("tempdir");
    // The unit's flags, with the shipped config and a temporary state dir,
    // in front of `status`: a bad flag or config fails before "not enrolled".
    let mut args: Vec<String> = Vec::new();
    let mut it = words[1..words.len() - 1].iter();
    while let Some(w) = it.next() {
        let installed = it.next().expect("every unit flag takes a value");
        let value = match w.as_str() {
            "--config" => packaging("deb/agent.toml").display().to_string(),
            "--state-dir" => dir.path().display().to_string(),
            other => panic!("unexpected flag {other} {installed} in the unit"),
        };
        args.extend([w.clone(), value]);
    }
    args.push("status".into());
    let out = Command::new(env!("CARGO_BIN_EXE_deskhand-agent"))
        .args(&args)
        .output()
        .expect("running deskhand-agent");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not enrolled"), "{err}");
}

#[test]
fn the_unit_keeps_a_revoked_agent_down_and_uses_the_default_state_dir() {
    let unit = std::fs::read_to_string(packaging("systemd/deskhand-agent.service")).expect("unit");
    assert!(unit.contains("\nRestartPreventExitStatus=78\n"), "{unit}");
    assert!(unit.contains("\nType=notify\n"), "{unit}");
    assert!(unit.contains("\nStateDirectory=deskhand-agent\n"), "{unit}");
    let words = unit_exec_start();
    let state = words
        .iter()
        .position(|w| w == "--state-dir")
        .map(|i| words[i + 1].as_str());
    assert_eq!(
        state.map(PathBuf::from),
        Some(deskhand_agent::state::default_state_dir())
    );
}
