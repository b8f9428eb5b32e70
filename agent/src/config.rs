//! Agent settings from flags, environment and an optional TOML file.
//!
//! Precedence: a flag or its environment variable, then the file given by
//! `--config`, then the built-in default. An unknown key in the file is an
//! error that names it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use deskhand_net::files::load_toml;
use serde::Deserialize;

/// The keys `deskhand-agent --config FILE` accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfigFile {
    /// Where the agent keeps its identity.
    pub state_dir: Option<PathBuf>,
    /// Overrides the server address stored at enrollment, `HOST:PORT`.
    pub server: Option<String>,
    /// Log filter, e.g. `info` or `deskhand_agent=debug`.
    pub log: Option<String>,
    /// How often to report the inventory, e.g. `1h`.
    pub inventory_interval: Option<String>,
    /// The local socket `deskhand-agent help` reaches the running agent on
    /// (on Windows a pipe, `\\.\pipe\NAME`).
    pub help_socket: Option<PathBuf>,
    /// Budgets for collectors and diagnostics (`[watchdog]`).
    pub watchdog: Option<crate::watchdog::WatchdogConfigFile>,
}

impl AgentConfigFile {
    /// Reads a config file; `None` gives the empty config.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        load_toml(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, "state-dir = \"/x\"\n").expect("write");
        let err = format!(
            "{:#}",
            AgentConfigFile::load(Some(&p)).expect_err("unknown key")
        );
        assert!(err.contains("state-dir"), "{err}");
        std::fs::write(&p, "server = 5\n").expect("write");
        let err = format!(
            "{:#}",
            AgentConfigFile::load(Some(&p)).expect_err("bad value")
        );
        assert!(err.contains("server"), "{err}");
        std::fs::write(&p, "state_dir = \"/x\"\nserver = \"h:1\"\n").expect("write");
        let ok = AgentConfigFile::load(Some(&p)).expect("valid");
        assert_eq!(ok.server.as_deref(), Some("h:1"));
    }
}
