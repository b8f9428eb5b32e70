//! Remote access served by this agent: a terminal, file get/put/ls and
//! TCP tunnels, each one session on a stream the server opens
//! ([`deskhand_shared::remote`] has the frames and the admission).
//!
//! [`Remote`] is the running agent's policy (the config's
//! `remote_access`, `tunnel_ports`, `max_file_bytes`) and the end user's
//! consent ([`consent::ConsentBook`]), held in memory only: restarting
//! the agent closes the consent. The help channel opens and closes it
//! (`deskhand-agent allow-remote`, `deny-remote`); the session with the
//! server sends the policy after each welcome and on every change
//! ([`Remote::subscribe`]).
//!
//! [`serve`] answers one request: [`deskhand_shared::remote::decide`],
//! then the kind's own checks (a missing file, a closed port...) so that
//! a refusal is a sentence, then the frames: `terminal` (Unix PTYs;
//! `pty_unix` holds the only `unsafe`; on Windows `terminal_windows`,
//! cmd.exe on a pseudo console, `conpty_windows` its only `unsafe`), `files` (get, put with resume,
//! ls), `tunnel`, `desktop` (relayed to the user's helper once they
//! allowed it; the service itself never captures). Every session ends when its consent lapses or is
//! withdrawn ([`SessionWatch`]), and closes what it started when its
//! stream goes away.

#[cfg(windows)]
pub mod conpty_windows;
pub mod consent;
mod desktop;
mod files;
mod frames;
#[cfg(unix)]
mod pty_unix;
#[cfg(unix)]
mod terminal;
#[cfg(windows)]
#[path = "terminal_windows.rs"]
mod terminal;
mod tunnel;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deskhand_shared::proto::AgentMessage;
use deskhand_shared::remote::{
    Access, Consent, RemoteKind, RemotePolicy, RemoteReply, RemoteRequest, decide,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::info;

pub use frames::{FrameReader, FrameWriter};

use consent::ConsentBook;

/// The config's remote-access keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSettings {
    /// `remote_access`.
    pub access: Access,
    /// `tunnel_ports`.
    pub tunnel_ports: Vec<u16>,
    /// `max_file_bytes`.
    pub max_file_bytes: u64,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        Self {
            access: Access::Ticket,
            tunnel_ports: vec![5900, 3389],
            max_file_bytes: 4 << 30,
        }
    }
}

/// The running agent's remote-access policy and consent, shared by the
/// help channel, the session and the remote sessions.
#[derive(Debug, Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: RemoteSettings,
    book: Mutex<ConsentBook>,
    /// Bumped whenever consent opens or closes.
    changes: watch::Sender<u64>,
    /// The users' desktop helpers and their sessions.
    desktops: crate::desktop::broker::Broker,
}

impl Default for Remote {
    fn default() -> Self {
        Self::new(RemoteSettings::default())
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Remote {
    /// A policy from the config, no consent.
    pub fn new(settings: RemoteSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                book: Mutex::new(ConsentBook::default()),
                changes: watch::channel(0).0,
                desktops: crate::desktop::broker::Broker::default(),
            }),
        }
    }

    /// The config's keys.
    pub fn settings(&self) -> &RemoteSettings {
        &self.inner.settings
    }

    fn book(&self) -> MutexGuard<'_, ConsentBook> {
        self.inner
            .book
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What the server is told at `now`.
    pub fn policy(&self, now: u64) -> RemotePolicy {
        RemotePolicy {
            access: self.inner.settings.access,
            tunnel_ports: self.inner.settings.tunnel_ports.clone(),
            consent: self.book().current(now),
        }
    }

    /// The consent open at `now`.
    pub fn consent(&self, now: u64) -> Option<Consent> {
        self.book().current(now)
    }

    /// Opens the consent for `length` from `now`.
    pub fn allow(&self, now: u64, length: Duration, ticket: Option<i64>) -> Consent {
        let consent = self.book().allow(now, length, ticket);
        info!(until = consent.until, ticket = ?consent.ticket, "the user allowed remote access");
        self.changed();
        consent
    }

    /// Closes the consent at once; whether one was open. Live sessions
    /// admitted by it end.
    pub fn deny(&self, now: u64) -> bool {
        let was_open = self.book().deny(now);
        info!(was_open, "the user withdrew consent to remote access");
        self.changed();
        was_open
    }

    /// A help request from this machine opened `ticket`.
    pub fn help_ticket_opened(&self, ticket: i64) {
        self.book().help_ticket_opened(ticket);
    }

    /// The users' desktop helpers, for the help channel and desktop
    /// sessions.
    pub fn desktops(&self) -> &crate::desktop::broker::Broker {
        &self.inner.desktops
    }

    /// Tells when consent opens or closes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }
}

/// Whether a session admitted under `access` may go on at `now` with
/// this `consent`: `Ok(until)` (its new end, `None` for never) or why it
/// ends. Pure.
pub fn still_open(
    access: Access,
    consent: Option<Consent>,
    now: u64,
) -> Result<Option<u64>, &'static str> {
    match access {
        Access::On => Ok(None),
        Access::Off => Err("remote access was turned off"),
        Access::Ticket => match consent {
            Some(c) if c.until > now => Ok(Some(c.until)),
            Some(_) => Err(CONSENT_ENDED),
            None => Err(CONSENT_WITHDRAWN),
        },
    }
}

/// The reason of the `End` sent when the consent's time is up.
pub const CONSENT_ENDED: &str = "the user's consent ended";
/// The reason of the `End` sent after `deskhand-agent deny-remote`.
pub const CONSENT_WITHDRAWN: &str = "the user withdrew consent";

/// Watches the consent one session runs under.
#[derive(Debug)]
pub struct SessionWatch {
    remote: Remote,
    changes: watch::Receiver<u64>,
    until: Option<u64>,
}

impl SessionWatch {
    fn new(remote: &Remote, until: Option<u64>) -> Self {
        let mut changes = remote.subscribe();
        changes.mark_unchanged();
        Self {
            remote: remote.clone(),
            changes,
            until,
        }
    }

    /// Resolves with the reason once the session must end; never under
    /// `remote_access = "on"`. Cancel-safe.
    pub async fn ended(&mut self) -> &'static str {
        loop {
            let wait = self
                .until
                .map(|u| Duration::from_secs(u.saturating_sub(unix_now())));
            let changed = tokio::select! {
                () = sleep_or_never(wait) => false,
                r = self.changes.changed() => r.is_ok(),
            };
            let now = unix_now();
            if !changed && self.until.is_some_and(|u| u > now) {
                continue;
            }
            let consent = self.remote.consent(now);
            match still_open(self.remote.settings().access, consent, now) {
                Ok(until) => self.until = until,
                Err(why) if changed => return why,
                Err(_) => return CONSENT_ENDED,
            }
        }
    }
}

async fn sleep_or_never(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// One session's request, for the log.
fn describe(req: &RemoteRequest) -> String {
    format!("{} {}", req.kind.word(), req.kind.detail())
        .trim()
        .to_string()
}

/// Serves one remote request on its stream: decides, checks, answers,
/// runs the session; closes everything it started before returning.
pub async fn serve<R, W>(
    remote: &Remote,
    req: RemoteRequest,
    mut reader: FrameReader<R>,
    mut writer: FrameWriter<W>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let what = describe(&req);
    let (session, operator) = (req.session_id, req.operator.clone());
    let admitted = decide(&remote.policy(unix_now()), &req, unix_now());
    let (ticket, until) = match admitted {
        Ok(admitted) => admitted,
        Err(message) => {
            info!(session, %operator, %what, %message, "remote session refused");
            writer.refuse(message).await;
            return;
        }
    };
    let mut watch = SessionWatch::new(remote, until);
    let accepted = AgentMessage::RemoteReply(RemoteReply::Accepted { ticket, until });
    let outcome = match req.kind {
        RemoteKind::Terminal {
            cols,
            rows,
            as_user,
        } => match terminal::prepare(cols, rows, as_user).await {
            Ok(term) => {
                opened(session, &operator, &what);
                accept_then(&mut writer, accepted, async |w| {
                    term.run(&mut reader, w, &mut watch).await
                })
                .await
            }
            Err(message) => Err(message),
        },
        RemoteKind::FileGet { path, offset } => match files::prepare_get(&path, offset).await {
            Ok(plan) => {
                opened(session, &operator, &what);
                accept_then(&mut writer, accepted, async |w| {
                    files::run_get(plan, w, &mut watch).await
                })
                .await
            }
            Err(message) => Err(message),
        },
        RemoteKind::FilePut { path, size, sha256 } => {
            let max = remote.settings().max_file_bytes;
            match files::prepare_put(&path, size, &sha256, max).await {
                Ok(plan) => {
                    opened(session, &operator, &what);
                    accept_then(&mut writer, accepted, async |w| {
                        files::run_put(plan, &mut reader, w, &mut watch).await
                    })
                    .await
                }
                Err(message) => Err(message),
            }
        }
        RemoteKind::FileList { path } => match files::list(&path).await {
            Ok(entries) => {
                opened(session, &operator, &what);
                accept_then(&mut writer, accepted, async |w| {
                    files::run_list(entries, w).await
                })
                .await
            }
            Err(message) => Err(message),
        },
        RemoteKind::Tunnel { port } => match tunnel::connect(port).await {
            Ok(tcp) => {
                opened(session, &operator, &what);
                accept_then(&mut writer, accepted, async |w| {
                    tunnel::run(tcp, &mut reader, w, &mut watch).await
                })
                .await
            }
            Err(message) => Err(message),
        },
        RemoteKind::Desktop { control } => {
            let desktops = remote.desktops();
            match desktops.open(session, &operator, ticket, control).await {
                Ok(opened) => {
                    opened_as(session, &operator, &what, &opened.user);
                    accept_then(&mut writer, accepted, async |w| {
                        desktop::run(opened, &mut reader, w).await
                    })
                    .await
                }
                Err(message) => Err(message),
            }
        }
    };
    match outcome {
        Ok(Ok(how)) => info!(session, %operator, %what, %how, "remote session ended"),
        Ok(Err(e)) => {
            info!(session, %operator, %what, error = %format!("{e:#}"), "remote session ended")
        }
        Err(message) => {
            info!(session, %operator, %what, %message, "remote session refused");
            writer.refuse(message).await;
        }
    }
}

fn opened(session: i64, operator: &str, what: &str) {
    info!(session, %operator, %what, "remote session opened");
}

fn opened_as(session: i64, operator: &str, what: &str, user: &str) {
    info!(session, %operator, %what, %user, "remote session opened; the user allowed it");
}

/// Sends the acceptance, then runs the session; the outer `Ok` says it
/// was accepted, the inner how it ended (a sentence for the log).
async fn accept_then<W, F>(
    writer: &mut FrameWriter<W>,
    accepted: AgentMessage,
    run: F,
) -> Result<anyhow::Result<String>, String>
where
    W: AsyncWrite + Unpin,
    F: AsyncFnOnce(&mut FrameWriter<W>) -> anyhow::Result<String>,
{
    if let Err(e) = writer.send(&accepted).await {
        return Ok(Err(e));
    }
    let result = run(writer).await;
    writer.finish().await;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_follow_the_consent() {
        let open = Some(Consent {
            until: 100,
            ticket: None,
        });
        assert_eq!(still_open(Access::On, None, 5), Ok(None));
        assert_eq!(still_open(Access::Ticket, open, 99), Ok(Some(100)));
        assert_eq!(still_open(Access::Ticket, open, 100), Err(CONSENT_ENDED));
        assert_eq!(still_open(Access::Ticket, None, 5), Err(CONSENT_WITHDRAWN));
    }

    #[tokio::test]
    async fn a_session_ends_when_consent_is_withdrawn_or_runs_out() {
        let remote = Remote::default();
        let c = remote.allow(unix_now(), Duration::from_secs(600), Some(3));
        let mut watch = SessionWatch::new(&remote, Some(c.until));
        let denier = remote.clone();
        tokio::spawn(async move { denier.deny(unix_now()) });
        let why = tokio::time::timeout(Duration::from_secs(5), watch.ended())
            .await
            .expect("ends at once");
        assert_eq!(why, CONSENT_WITHDRAWN);
        let c = remote.allow(unix_now(), Duration::from_secs(600), None);
        assert_eq!(remote.policy(unix_now()).consent, Some(c));
        // Admitted under a consent that has run out since.
        remote.deny(unix_now());
        let mut watch = SessionWatch::new(&remote, Some(unix_now().saturating_sub(1)));
        let why = tokio::time::timeout(Duration::from_secs(5), watch.ended())
            .await
            .expect("ends at once");
        assert_eq!(why, CONSENT_ENDED);
    }
}
