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
    /// Remote access (terminal, files, tunnels): `"off"`, `"ticket"` (only
    /// while the end user's consent is open: `deskhand-agent allow-remote`;
    /// the default) or `"on"` (always: a machine IT owns).
    pub remote_access: Option<String>,
    /// The ports on this machine a remote tunnel may reach
    /// [default: 5900, 3389 (VNC, RDP)].
    pub tunnel_ports: Option<Vec<u16>>,
    /// The largest file a remote put may write, bytes [default: 4 GiB].
    pub max_file_bytes: Option<u64>,
}

impl AgentConfigFile {
    /// Reads a config file; `None` gives the empty config.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        load_toml(path)
    }

    /// The remote-access keys, checked, with their defaults; an error
    /// names the key.
    pub fn remote(&self) -> Result<crate::remote::RemoteSettings> {
        let defaults = crate::remote::RemoteSettings::default();
        let access = match self.remote_access.as_deref() {
            None => defaults.access,
            Some(s) => deskhand_shared::remote::Access::parse(s).ok_or_else(|| {
                anyhow::anyhow!(
                    "in the config file: remote_access must be \"off\", \"ticket\" or \"on\", not {s:?}"
                )
            })?,
        };
        let tunnel_ports = self.tunnel_ports.clone().unwrap_or(defaults.tunnel_ports);
        if tunnel_ports.contains(&0) {
            anyhow::bail!(
                "in the config file: tunnel_ports lists port 0, which no service listens on"
            );
        }
        let max_file_bytes = self.max_file_bytes.unwrap_or(defaults.max_file_bytes);
        if max_file_bytes == 0 {
            anyhow::bail!("in the config file: max_file_bytes must be more than 0");
        }
        Ok(crate::remote::RemoteSettings {
            access,
            tunnel_ports,
            max_file_bytes,
        })
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

    #[test]
    fn remote_keys_default_and_bad_values_are_named() {
        let none = AgentConfigFile::default().remote().expect("defaults");
        assert_eq!(none.access, deskhand_shared::remote::Access::Ticket);
        assert_eq!(none.tunnel_ports, vec![5900, 3389]);
        assert_eq!(none.max_file_bytes, 4 << 30);
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("agent.toml");
        std::fs::write(&p, "remote_access = \"yes\"\n").expect("write");
        let file = AgentConfigFile::load(Some(&p)).expect("parses");
        let err = format!("{:#}", file.remote().expect_err("bad access"));
        assert!(err.contains("remote_access"), "{err}");
        std::fs::write(&p, "tunnel_ports = [70000]\n").expect("write");
        let err = format!(
            "{:#}",
            AgentConfigFile::load(Some(&p)).expect_err("bad port")
        );
        assert!(err.contains("tunnel_ports"), "{err}");
        std::fs::write(
            &p,
            "remote_access = \"on\"\ntunnel_ports = [22]\nmax_file_bytes = 10\n",
        )
        .expect("write");
        let ok = AgentConfigFile::load(Some(&p))
            .expect("valid")
            .remote()
            .expect("valid");
        assert_eq!(
            (ok.access, ok.tunnel_ports, ok.max_file_bytes),
            (deskhand_shared::remote::Access::On, vec![22], 10)
        );
    }
}
