//! A mount namespace of the agent's own, for the tests that show it a
//! package database other than the machine's (root only).

use std::process::Command;

use crate::Proc;

/// The wrapper that starts an agent in a private mount namespace.
pub const PRIVATE: &[&str] = &["unshare", "--mount", "--propagation", "private", "--"];

/// Runs `mount ARGS` (or `umount`) in the agent's mount namespace.
pub fn mount_in(agent: &Proc, args: &[&str]) {
    let out = Command::new("nsenter")
        .args(["-t", &agent.pid().to_string(), "-m", "--"])
        .args(args)
        .output()
        .expect("nsenter runs");
    assert!(
        out.status.success(),
        "{args:?} in the agent's namespace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
