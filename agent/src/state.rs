//! The agent's durable state: its identity, written once at enrollment.
//!
//! The state directory holds `agent.key` (the private key, mode 0600),
//! `agent.pem` (the client certificate the server issued), `ca.pem` (the
//! server CA the agent pinned) and `agent.toml` (agent id, server address,
//! pinned CA fingerprint, trusted publisher keys). Files are written to a
//! temporary name and renamed, and `agent.toml` last, so an interrupted
//! enrollment leaves no half identity behind.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use deskhand_net::files::{write_file_atomic, write_secret_file};
use serde::{Deserialize, Serialize};

const IDENTITY_FILE: &str = "agent.toml";
const KEY_FILE: &str = "agent.key";
const CERT_FILE: &str = "agent.pem";
const CA_FILE: &str = "ca.pem";

/// The agent's state directory when none is configured.
pub fn default_state_dir() -> PathBuf {
    if cfg!(windows) {
        let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
        PathBuf::from(base).join("deskhand")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/deskhand")
    } else {
        PathBuf::from("/var/lib/deskhand-agent")
    }
}

/// What the agent knows about itself and its server, from `agent.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The id the server assigned at enrollment.
    pub agent_id: String,
    /// The server's agent endpoint, `HOST:PORT`.
    pub server: String,
    /// The pinned CA fingerprint, lower-case hex SHA-256.
    pub ca_fingerprint: String,
    /// Publisher keys whose signed packages and scripts this agent runs.
    #[serde(default)]
    pub trusted_publishers: Vec<String>,
}

/// An enrolled agent's identity with its key material.
#[derive(Debug, Clone)]
pub struct AgentState {
    /// Where the state lives.
    pub dir: PathBuf,
    /// Ids and addresses.
    pub identity: Identity,
    /// The private key, PEM.
    pub key_pem: String,
    /// The client certificate, PEM.
    pub cert_pem: String,
    /// The server CA, PEM.
    pub ca_pem: String,
}

impl AgentState {
    /// Loads the state from `dir`; `Ok(None)` if the agent is not enrolled.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let id_path = dir.join(IDENTITY_FILE);
        let text = match std::fs::read_to_string(&id_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", id_path.display())),
        };
        let identity: Identity =
            toml::from_str(&text).with_context(|| format!("parsing {}", id_path.display()))?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).with_context(|| {
                format!(
                    "reading {}: the agent's state is incomplete; enroll again with --force",
                    p.display()
                )
            })
        };
        Ok(Some(Self {
            dir: dir.to_path_buf(),
            key_pem: read(KEY_FILE)?,
            cert_pem: read(CERT_FILE)?,
            ca_pem: read(CA_FILE)?,
            identity,
        }))
    }

    /// Writes the state to its directory, identity file last.
    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        restrict_dir(&self.dir)?;
        write_secret_file(&self.dir.join(KEY_FILE), self.key_pem.as_bytes())?;
        write_file_atomic(&self.dir.join(CERT_FILE), self.cert_pem.as_bytes(), false)?;
        write_file_atomic(&self.dir.join(CA_FILE), self.ca_pem.as_bytes(), false)?;
        let text = toml::to_string(&self.identity).context("encoding agent.toml")?;
        write_file_atomic(&self.dir.join(IDENTITY_FILE), text.as_bytes(), false)
    }
}

fn restrict_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> AgentState {
        AgentState {
            dir: dir.to_path_buf(),
            identity: Identity {
                agent_id: "a-1".into(),
                server: "127.0.0.1:4433".into(),
                ca_fingerprint: "ab".repeat(32),
                trusted_publishers: vec!["key1".into()],
            },
            key_pem: "KEY".into(),
            cert_pem: "CERT".into(),
            ca_pem: "CA".into(),
        }
    }

    #[test]
    fn state_round_trips_and_keeps_the_key_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("state");
        assert!(AgentState::load(&dir).expect("load").is_none());
        let s = sample(&dir);
        s.save().expect("save");
        let back = AgentState::load(&dir).expect("load").expect("present");
        assert_eq!(back.identity, s.identity);
        assert_eq!(back.key_pem, "KEY");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_missing_key_is_a_clear_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        sample(tmp.path()).save().expect("save");
        std::fs::remove_file(tmp.path().join(KEY_FILE)).expect("rm");
        let err = AgentState::load(tmp.path()).expect_err("incomplete");
        assert!(format!("{err:#}").contains("enroll again"), "{err:#}");
    }

    #[test]
    fn an_unknown_key_in_agent_toml_is_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        sample(tmp.path()).save().expect("save");
        let p = tmp.path().join(IDENTITY_FILE);
        let text = std::fs::read_to_string(&p).expect("read") + "colour = \"blue\"\n";
        std::fs::write(&p, text).expect("write");
        let err = AgentState::load(tmp.path()).expect_err("unknown key");
        assert!(format!("{err:#}").contains("colour"), "{err:#}");
    }
}
