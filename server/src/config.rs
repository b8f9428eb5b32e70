//! Server settings from flags, environment and an optional TOML file.
//!
//! Precedence: a flag or its environment variable, then the file given by
//! `--config`, then the default (which differs in `--dev`). An unknown key
//! in the file is an error that names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

/// Where a server keeps its data unless told otherwise (not in `--dev`).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/deskhand";

/// The keys `deskhand server --config FILE` accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfigFile {
    /// Where the database, CA and keys live.
    pub data_dir: Option<PathBuf>,
    /// UDP address for agents.
    pub agents_listen: Option<SocketAddr>,
    /// TCP address for the operator API.
    pub api_listen: Option<SocketAddr>,
    /// `HOST:PORT` agents should dial, printed in enrollment commands.
    pub advertise: Option<String>,
    /// Heartbeat interval told to agents, seconds.
    pub heartbeat_secs: Option<u32>,
    /// Most agent connections at once.
    pub max_connections: Option<usize>,
    /// How often liveness is written to the database, seconds.
    pub flush_secs: Option<u64>,
    /// Most jobs one agent runs at a time; the rest wait queued.
    pub max_jobs_per_agent: Option<usize>,
    /// Log filter.
    pub log: Option<String>,
    /// The first penalty, in seconds, for an address that presented ten
    /// wrong API tokens in a minute (doubling at each further one, up to
    /// 15 minutes); `DESKHAND_AUTH_BACKOFF_SECS` overrides it.
    pub auth_backoff_secs: Option<u64>,
    /// `[tickets]`: SLA targets, the warning window, escalation.
    pub tickets: Option<crate::tickets::TicketConfigFile>,
}

impl ServerConfigFile {
    /// Reads a config file; `None` gives the empty config.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        deskhand_net::files::load_toml(path)
    }
}

/// Fully resolved server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Where the database, CA and keys live.
    pub data_dir: PathBuf,
    /// UDP address for agents.
    pub agents_listen: SocketAddr,
    /// TCP address for the operator API.
    pub api_listen: SocketAddr,
    /// `HOST:PORT` agents should dial; derived from `agents_listen` if unset.
    pub advertise: Option<String>,
    /// Heartbeat interval told to agents, seconds.
    pub heartbeat_secs: u32,
    /// Most agent connections at once.
    pub max_connections: usize,
    /// How often liveness is written to the database, seconds.
    pub flush_secs: u64,
    /// Most jobs one agent runs at a time.
    pub max_jobs_per_agent: usize,
    /// Run a local agent and print everything needed to try deskhand.
    pub dev: bool,
    /// Ticket SLA targets and escalation.
    pub tickets: crate::tickets::TicketSettings,
    /// The first penalty for repeated failed API authentications.
    pub auth_backoff: std::time::Duration,
}

/// Settings given on the command line or in the environment.
#[derive(Debug, Default, Clone)]
pub struct ServerFlags {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--agents-listen`.
    pub agents_listen: Option<SocketAddr>,
    /// `--api-listen`.
    pub api_listen: Option<SocketAddr>,
    /// `--advertise`.
    pub advertise: Option<String>,
    /// `--heartbeat-secs`.
    pub heartbeat_secs: Option<u32>,
    /// `--max-connections`.
    pub max_connections: Option<usize>,
    /// `--dev`.
    pub dev: bool,
}

impl ServerSettings {
    /// Merges flags over the file over the defaults.
    pub fn resolve(flags: ServerFlags, file: ServerConfigFile) -> Result<Self> {
        let dev = flags.dev;
        let default_agents: SocketAddr = if dev {
            "127.0.0.1:4433"
        } else {
            "0.0.0.0:4433"
        }
        .parse()?;
        let default_data = PathBuf::from(if dev {
            "deskhand-dev"
        } else {
            DEFAULT_DATA_DIR
        });
        let s = Self {
            data_dir: flags.data_dir.or(file.data_dir).unwrap_or(default_data),
            agents_listen: flags
                .agents_listen
                .or(file.agents_listen)
                .unwrap_or(default_agents),
            api_listen: flags
                .api_listen
                .or(file.api_listen)
                .unwrap_or("127.0.0.1:8080".parse()?),
            advertise: flags.advertise.or(file.advertise),
            heartbeat_secs: flags.heartbeat_secs.or(file.heartbeat_secs).unwrap_or(30),
            max_connections: flags
                .max_connections
                .or(file.max_connections)
                .unwrap_or(20_000),
            flush_secs: file.flush_secs.unwrap_or(5),
            max_jobs_per_agent: file.max_jobs_per_agent.unwrap_or(4),
            dev,
            tickets: crate::tickets::TicketSettings::resolve(file.tickets, |k| {
                std::env::var(k).ok()
            })
            .map_err(|e| anyhow::anyhow!("ticket settings: {e}"))?,
            auth_backoff: std::time::Duration::from_secs(
                match std::env::var("DESKHAND_AUTH_BACKOFF_SECS") {
                    Ok(v) => v.trim().parse().map_err(|_| {
                        anyhow::anyhow!(
                            "DESKHAND_AUTH_BACKOFF_SECS must be a number of seconds, not `{}`",
                            crate::said(&v)
                        )
                    })?,
                    Err(_) => file
                        .auth_backoff_secs
                        .unwrap_or(crate::api::auth_limit::DEFAULT_FIRST_PENALTY.as_secs()),
                },
            ),
        };
        anyhow::ensure!(
            (1..=3600).contains(&s.heartbeat_secs),
            "heartbeat_secs must be between 1 and 3600, not {}",
            s.heartbeat_secs
        );
        anyhow::ensure!(s.max_connections > 0, "max_connections must be at least 1");
        anyhow::ensure!(
            (1..=64).contains(&s.max_jobs_per_agent),
            "max_jobs_per_agent must be between 1 and 64, not {}",
            s.max_jobs_per_agent
        );
        anyhow::ensure!(
            (1..=3600).contains(&s.auth_backoff.as_secs()),
            "auth_backoff_secs must be between 1 and 3600, not {}",
            s.auth_backoff.as_secs()
        );
        anyhow::ensure!(
            (1..=600).contains(&s.flush_secs),
            "flush_secs must be between 1 and 600, not {}",
            s.flush_secs
        );
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<ServerConfigFile> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("server.toml");
        std::fs::write(&p, text)?;
        ServerConfigFile::load(Some(&p))
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let f = file("api_listen = \"127.0.0.1:9000\"\nheartbeat_secs = 10\n").expect("valid");
        let flags = ServerFlags {
            heartbeat_secs: Some(5),
            ..ServerFlags::default()
        };
        let s = ServerSettings::resolve(flags, f).expect("resolve");
        assert_eq!(s.heartbeat_secs, 5);
        assert_eq!(s.api_listen.port(), 9000);
        assert_eq!(s.agents_listen.port(), 4433);
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/deskhand"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = format!("{:#}", file("api-listen = \"x\"\n").expect_err("unknown"));
        assert!(err.contains("api-listen"), "{err}");
        let err = format!(
            "{:#}",
            file("api_listen = \"not an address\"\n").expect_err("bad")
        );
        assert!(err.contains("api_listen"), "{err}");
        let f = file("heartbeat_secs = 0\n").expect("parses");
        let err = ServerSettings::resolve(ServerFlags::default(), f).expect_err("range");
        assert!(err.to_string().contains("heartbeat_secs"), "{err}");
    }
}
