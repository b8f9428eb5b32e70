//! `server --dev`'s local agent: the agent library run in-process over
//! real QUIC on loopback, enrolled on first start with a publisher key it
//! trusts, and its help socket. The only place the server uses the agent
//! crate, and only in builds with the `dev-agent` feature (the default):
//! without it, `--dev` runs the server alone and says so.

use std::net::SocketAddr;
use std::path::Path;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::pki::CertificateAuthority;
use crate::store::Store;

/// In `--dev`, the publisher key the local agent trusts.
pub const DEV_PUBLISHER_KEY: &str = "publisher.key";

/// Enrolls (first start) and runs the local agent of `server --dev` until
/// `stop`; prints what it is. `None` if it could not start.
#[cfg(feature = "dev-agent")]
pub async fn start(
    store: &Store,
    ca: &CertificateAuthority,
    dir: &Path,
    agents_addr: SocketAddr,
    stop: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    use deskhand_agent::link::RunOptions;
    use tracing::error;

    let agent_dir = dir.join("agent");
    let agent_server = format!("127.0.0.1:{}", agents_addr.port());
    let state = match enroll(store, ca, &agent_dir, &agent_server).await {
        Ok(state) => state,
        Err(e) => {
            error!(error = %format!("{e:#}"), "could not start the local agent");
            return None;
        }
    };
    println!(
        "  local agent:     {} ({})",
        state.identity.agent_id,
        deskhand_agent::facts::hostname()
    );
    if !state.identity.trusted_publishers.is_empty() {
        println!(
            "  publisher key:   {} (the local agent runs what it signs)",
            dir.join(DEV_PUBLISHER_KEY).display()
        );
    }
    // The developer's own machine: remote access needs no consent.
    let remote = deskhand_agent::remote::Remote::new(deskhand_agent::remote::RemoteSettings {
        access: deskhand_shared::remote::Access::On,
        ..Default::default()
    });
    let help = help_socket(&dir.join("help.sock"), remote.clone()).await;
    let mut agent_stop = stop;
    let options = RunOptions {
        server: Some(agent_server),
        remote,
        ..RunOptions::default()
    };
    Some(tokio::spawn(async move {
        let stop = async move {
            let _ = agent_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = deskhand_agent::link::run_with_help(&state, options, help, stop).await {
            error!(error = %format!("{e:#}"), "the local agent stopped");
        }
    }))
}

/// Without the `dev-agent` feature there is no local agent.
#[cfg(not(feature = "dev-agent"))]
pub async fn start(
    _store: &Store,
    _ca: &CertificateAuthority,
    _dir: &Path,
    _agents_addr: SocketAddr,
    _stop: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    println!("  local agent:     none (this build has no dev-agent feature)");
    None
}

/// The `--dev` local agent's help socket, so `deskhand-agent help` can be
/// tried too; printed with the command that reaches it.
#[cfg(feature = "dev-agent")]
async fn help_socket(
    path: &Path,
    remote: deskhand_agent::remote::Remote,
) -> Option<deskhand_agent::help::HelpInbox> {
    let inbox = deskhand_agent::help::listen(path, remote).await?;
    println!(
        "  help requests:   deskhand-agent --help-socket {} help \"MESSAGE\"",
        path.display()
    );
    Some(inbox)
}

/// Enrolls the `--dev` local agent on first start; reuses it afterwards.
#[cfg(feature = "dev-agent")]
async fn enroll(
    store: &Store,
    ca: &CertificateAuthority,
    agent_dir: &Path,
    server: &str,
) -> anyhow::Result<deskhand_agent::state::AgentState> {
    use crate::{secrets, unix_now};
    use deskhand_agent::state::AgentState;

    if let Some(state) = AgentState::load(agent_dir)? {
        return Ok(state);
    }
    let token = secrets::new_token(secrets::ENROLLMENT_PREFIX)?;
    let now = unix_now();
    store
        .create_enrollment_token(
            secrets::hash_token(&token),
            "server --dev local agent".into(),
            1,
            now + 600,
            "server".into(),
            now,
        )
        .await?;
    // A publisher key for trying jobs: the local agent trusts it.
    let key = agent_dir
        .parent()
        .unwrap_or(agent_dir)
        .join(DEV_PUBLISHER_KEY);
    let public = deskhand_cli::keys::ensure(&key)?;
    let opts = deskhand_agent::link::EnrollOptions {
        server: server.to_string(),
        token,
        ca_fingerprint: ca.fingerprint().to_string(),
        trusted_publishers: vec![public],
    };
    deskhand_agent::link::enroll(agent_dir, opts).await
}
