//! `deskhand-agent help --open`: a link that opens the requester portal
//! signed in as the local user on this machine.
//!
//! The command asks the running agent over the help socket
//! ([`HelpAsk::portal`]); the agent names the user from the socket's peer
//! credentials, as for a help request, and asks the server over its
//! authenticated session for a single-use link bound to this machine and
//! that account ([`PortalJob`], forwarded by `crate::link`). The command
//! then opens the link in the user's browser ([`open_in_browser`]) and
//! prints it.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{HelpDesk, HelpInbox, NOT_CONNECTED};

/// How long the agent waits for the server's link.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// A portal link for the session to ask the server for.
#[derive(Debug)]
pub struct PortalJob {
    /// The local account that asked.
    pub user: String,
    /// Where the link (or the reason there is none) goes.
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// What a local user asked the session for.
#[derive(Debug)]
pub enum Asked {
    /// A ticket.
    Help(super::HelpJob),
    /// A portal link.
    Portal(PortalJob),
}

impl HelpInbox {
    /// The next help request or portal link to ask for.
    pub async fn next_asked(&mut self) -> Option<Asked> {
        tokio::select! {
            Some(job) = self.jobs.recv() => Some(Asked::Help(job)),
            Some(job) = self.portal.recv() => Some(Asked::Portal(job)),
            else => None,
        }
    }
}

impl HelpDesk {
    /// Asks the session for a link for `user` and waits for it.
    pub async fn portal_link(&self, user: String) -> Result<String, String> {
        if !self.connected() {
            return Err(NOT_CONNECTED.into());
        }
        let (tx, rx) = oneshot::channel();
        self.portal
            .try_send(PortalJob { user, reply: tx })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    "the agent is busy with other requests; try again in a minute".to_string()
                }
                mpsc::error::TrySendError::Closed(_) => NOT_CONNECTED.to_string(),
            })?;
        match tokio::time::timeout(LINK_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(
                "the connection to the deskhand server was lost before it answered; try again"
                    .into(),
            ),
            Err(_) => Err("the deskhand server did not answer in time; try again".into()),
        }
    }
}

/// The channel's answer to a portal request from `user`.
pub(super) async fn answer(desk: &HelpDesk, user: String) -> super::HelpReply {
    tracing::info!(%user, "portal link asked by a local user");
    match desk.portal_link(user).await {
        Ok(url) => super::HelpReply {
            ticket: None,
            error: None,
            url: Some(url),
            note: None,
        },
        Err(e) => super::HelpReply {
            ticket: None,
            error: Some(e),
            url: None,
            note: None,
        },
    }
}

/// `deskhand-agent help --open`: asks the running agent for a portal link.
pub async fn ask_link(path: &std::path::Path) -> anyhow::Result<String> {
    let reply = super::exchange(
        path,
        super::HelpAsk {
            message: String::new(),
            portal: true,
            remote: None,
            desktop: None,
        },
    )
    .await?;
    match (reply.url, reply.error) {
        (Some(url), _) => Ok(url),
        (None, Some(e)) => Err(anyhow::anyhow!(e)),
        (None, None) => Err(anyhow::anyhow!("the agent answered without a link")),
    }
}

/// The command that opens `url` in the user's browser on this OS.
pub fn browser_command(url: &str) -> (&'static str, Vec<String>) {
    if cfg!(windows) {
        // `start` takes its first quoted argument as the window's title.
        (
            "cmd",
            vec!["/c".into(), "start".into(), String::new(), url.into()],
        )
    } else if cfg!(target_os = "macos") {
        ("open", vec![url.into()])
    } else {
        ("xdg-open", vec![url.into()])
    }
}

/// Opens `url` in the user's browser; the error says what to do instead.
pub fn open_in_browser(url: &str) -> anyhow::Result<()> {
    let (program, args) = browser_command(url);
    let status = std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("could not start {program} ({e}); open the link yourself"))?;
    if !status.success() {
        anyhow::bail!("{program} failed ({status}); open the link yourself");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_gets_the_url_as_one_argument() {
        let (_, args) = browser_command("https://h/portal/enter/ab");
        assert_eq!(
            args.last().map(String::as_str),
            Some("https://h/portal/enter/ab")
        );
    }

    #[tokio::test]
    async fn a_disconnected_agent_mints_no_link() {
        let (desk, _inbox) = super::super::channel();
        let err = desk.portal_link("alice".into()).await.expect_err("offline");
        assert!(err.contains("not connected"), "{err}");
    }

    #[tokio::test]
    async fn the_session_side_gets_the_users_request() {
        let (desk, mut inbox) = super::super::channel();
        let _online = inbox.online();
        let asked = tokio::spawn(async move { desk.portal_link("alice".into()).await });
        let Some(Asked::Portal(job)) = inbox.next_asked().await else {
            panic!("expected a portal job");
        };
        assert_eq!(job.user, "alice");
        job.reply.send(Ok("https://h/portal/enter/x".into())).ok();
        assert_eq!(
            asked.await.expect("join"),
            Ok("https://h/portal/enter/x".to_string())
        );
    }
}
