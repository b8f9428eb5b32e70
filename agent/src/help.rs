//! End users asking for help: `deskhand-agent help "MESSAGE"`.
//!
//! The agent service runs as root and holds the connection to the server;
//! the user runs `deskhand-agent help` unprivileged and cannot read the
//! agent's key. So the running agent listens on a local Unix socket
//! ([`DEFAULT_SOCKET`], mode 0666 so every local user can connect); the
//! `help` command connects ([`ask`]) and sends its message. The agent
//! identifies the requester from the socket's peer credentials (uid, then
//! the name from `/etc/passwd` or `id -nu`), never from anything the
//! client says, and hands a [`HelpJob`] to the session ([`crate::link`]),
//! which reports a fresh inventory, runs the `system-summary` diagnostic,
//! sends both to the server and relays the ticket number back.
//!
//! On the socket, each side sends one length-prefixed postcard frame:
//! [`HelpAsk`], then [`HelpReply`]. Windows has no socket yet: `help`
//! says so.
//!
//! Any local user can connect, so the socket is bounded ([`admission`]):
//! a few connections per user and a few dozen in all are served at once,
//! the rest are answered "too many requests" and closed at once; a caller
//! has [`admission::REQUEST_DEADLINE`] to send its request; refusals are
//! logged as one summary line per 10 s.
//!
//! `deskhand-agent help --open` asks the same socket for a requester
//! portal link instead ([`portal`]).

pub mod admission;
pub mod portal;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// Where the agent listens unless configured otherwise.
pub const DEFAULT_SOCKET: &str = if cfg!(target_os = "macos") {
    "/var/run/deskhand-agent/help.sock"
} else {
    "/run/deskhand-agent/help.sock"
};

/// Longest message accepted.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// How long a user waits between two requests.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
/// How long `help` waits for the ticket number.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(90);

/// What `deskhand-agent help` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpAsk {
    /// The user's words.
    pub message: String,
    /// Asks for a portal link ([`portal`]) instead of a ticket.
    pub portal: bool,
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpReply {
    /// The ticket number.
    pub ticket: Option<i64>,
    /// Why there is none.
    pub error: Option<String>,
    /// The portal link asked for.
    pub url: Option<String>,
}

/// A help request for the session to forward.
#[derive(Debug)]
pub struct HelpJob {
    /// The user's words, checked.
    pub message: String,
    /// The local account that asked.
    pub requester: String,
    /// Where the ticket number (or the reason there is none) goes.
    pub reply: oneshot::Sender<Result<i64, String>>,
}

/// The socket side's handle: hands jobs to the session.
#[derive(Debug, Clone)]
pub struct HelpDesk {
    jobs: mpsc::Sender<HelpJob>,
    portal: mpsc::Sender<portal::PortalJob>,
    connected: Arc<AtomicBool>,
}

/// The session side: takes jobs, says whether the server is reachable.
#[derive(Debug)]
pub struct HelpInbox {
    jobs: mpsc::Receiver<HelpJob>,
    portal: mpsc::Receiver<portal::PortalJob>,
    connected: Arc<AtomicBool>,
}

/// A connected pair.
pub fn channel() -> (HelpDesk, HelpInbox) {
    let (tx, rx) = mpsc::channel(4);
    let (portal_tx, portal_rx) = mpsc::channel(4);
    let connected = Arc::new(AtomicBool::new(false));
    (
        HelpDesk {
            jobs: tx,
            portal: portal_tx,
            connected: connected.clone(),
        },
        HelpInbox {
            jobs: rx,
            portal: portal_rx,
            connected,
        },
    )
}

impl HelpInbox {
    /// The next job.
    pub async fn next(&mut self) -> Option<HelpJob> {
        self.jobs.recv().await
    }

    /// Marks the session connected (or not) for as long as the guard lives.
    pub fn online(&self) -> OnlineGuard {
        self.connected.store(true, Ordering::SeqCst);
        OnlineGuard(self.connected.clone())
    }
}

/// Marks the session disconnected when dropped.
#[derive(Debug)]
pub struct OnlineGuard(Arc<AtomicBool>);

impl Drop for OnlineGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What a user hears when the agent cannot reach the server.
const NOT_CONNECTED: &str = "the agent is not connected to the deskhand server right now (it keeps retrying); try again in a few minutes, or call your help desk";

impl HelpDesk {
    /// Whether the session with the server is up.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Forwards a request and waits for the ticket number.
    pub async fn submit(&self, message: String, requester: String) -> Result<i64, String> {
        if !self.connected() {
            return Err(NOT_CONNECTED.into());
        }
        let (tx, rx) = oneshot::channel();
        self.jobs
            .try_send(HelpJob {
                message,
                requester,
                reply: tx,
            })
            .map_err(|_| {
                "the agent is busy with other help requests; try again in a minute".to_string()
            })?;
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(
                "the connection to the deskhand server was lost before it answered; try again, or call your help desk"
                    .into(),
            ),
            Err(_) => Err("the deskhand server did not answer in time; try again, or call your help desk".into()),
        }
    }
}

/// Checks a message: trimmed, not empty, not too long, no control
/// characters but line breaks and tabs.
pub fn check_message(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(
            "say what is wrong, e.g. deskhand-agent help \"the printer does not print\"".into(),
        );
    }
    if t.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!(
            "the message is longer than {MAX_MESSAGE_CHARS} characters; shorten it"
        ));
    }
    Ok(t.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect())
}

/// The account name of `uid` in a passwd file's text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id: u32 = f.next()?.trim().parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}

/// Lets each user ask at most once per [`MIN_INTERVAL`]; pure, time is an
/// argument.
#[derive(Debug, Default)]
pub struct HelpThrottle {
    last: HashMap<u32, Instant>,
}

impl HelpThrottle {
    /// Whether `uid` may ask at `now` (and books it), or how long to wait.
    pub fn allow(&mut self, uid: u32, now: Instant) -> Result<(), Duration> {
        if let Some(last) = self.last.get(&uid) {
            let next = *last + MIN_INTERVAL;
            if now < next {
                return Err(next - now);
            }
        }
        self.last.insert(uid, now);
        Ok(())
    }
}

/// Starts listening for help requests on `path` and returns the session's
/// side. Without the socket the agent still runs: the reason is logged
/// and this returns `None` (always on Windows, which has no socket yet).
pub async fn listen(path: &std::path::Path) -> Option<HelpInbox> {
    #[cfg(unix)]
    {
        let (desk, inbox) = channel();
        match serve(path.to_path_buf(), desk).await {
            Ok(()) => Some(inbox),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "help requests are off");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(unix)]
pub use unix::{ask, serve};

#[cfg(unix)]
mod unix {
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
    use std::time::Instant;

    use anyhow::{Context, Result, anyhow, bail};
    use deskhand_shared::frame::{FrameDecoder, encode_frame};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{UnixListener, UnixStream};
    use tracing::{debug, info, warn};

    use super::admission::{
        ACCEPT_BACKOFF, ANSWER_DEADLINE, Admission, AdmissionReport, HelpAdmission, HelpCaps,
        REQUEST_DEADLINE,
    };
    use super::{
        ANSWER_TIMEOUT, HelpAsk, HelpDesk, HelpReply, HelpThrottle, check_message, user_name,
    };

    /// Largest frame on the help socket.
    const MAX_FRAME: usize = 32 * 1024;

    async fn write_frame<T: serde::Serialize>(s: &mut UnixStream, msg: &T) -> Result<()> {
        s.write_all(&encode_frame(msg)?).await?;
        s.flush().await?;
        Ok(())
    }

    async fn read_frame<T: serde::de::DeserializeOwned>(s: &mut UnixStream) -> Result<T> {
        let mut decoder = FrameDecoder::new(MAX_FRAME);
        let mut buf = [0u8; 4096];
        loop {
            if let Some(msg) = decoder.next_message()? {
                return Ok(msg);
            }
            let n = s.read(&mut buf).await?;
            if n == 0 {
                bail!("the other side closed the socket");
            }
            decoder.push(&buf[..n])?;
        }
    }

    /// The name of the account with this uid.
    fn account(uid: u32) -> String {
        if let Some(name) = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|p| user_name(&p, uid))
        {
            return name;
        }
        // Directory services (LDAP, macOS) are not in /etc/passwd.
        std::process::Command::new("id")
            .args(["-nu", &uid.to_string()])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("uid {uid}"))
    }

    /// Listens on `path` (replacing a stale socket, never a live one) and
    /// serves help requests until the runtime stops.
    pub async fn serve(path: PathBuf, desk: HelpDesk) -> Result<()> {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        if let Some(dir) = path.parent()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_socket() {
                bail!("{} exists and is not a socket; remove it", path.display());
            }
            if UnixStream::connect(&path).await.is_ok() {
                bail!("another agent already listens on {}", path.display());
            }
            std::fs::remove_file(&path)
                .with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("listening on {}", path.display()))?;
        // Every local user may ask for help; who they are comes from the
        // kernel, not from them.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
            .with_context(|| format!("opening {} to local users", path.display()))?;
        info!(socket = %path.display(), "listening for help requests");
        let throttle = Arc::new(Mutex::new(HelpThrottle::default()));
        let admission = Arc::new(Mutex::new(HelpAdmission::new(HelpCaps::default())));
        tokio::spawn(accept_loop(listener, desk, throttle, admission));
        Ok(())
    }

    /// The admission table, even if a task panicked while holding it (it
    /// only holds counts).
    fn lock(admission: &Mutex<HelpAdmission>) -> MutexGuard<'_, HelpAdmission> {
        admission.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts connections until the runtime stops: admits each or closes
    /// it at once, and logs what was refused once per window.
    async fn accept_loop(
        listener: UnixListener,
        desk: HelpDesk,
        throttle: Arc<Mutex<HelpThrottle>>,
        admission: Arc<Mutex<HelpAdmission>>,
    ) {
        let mut last_error = String::new();
        loop {
            let due = lock(&admission).next_report();
            let accepted = match due {
                Some(at) => tokio::select! {
                    r = listener.accept() => Some(r),
                    () = tokio::time::sleep_until(at.into()) => None,
                },
                None => Some(listener.accept().await),
            };
            match accepted {
                Some(Ok((stream, _))) => admit(stream, &desk, &throttle, &admission),
                Some(Err(e)) => {
                    // Out of file descriptors, most likely: the connection
                    // stays pending, so retrying at once would spin.
                    lock(&admission).accept_failed(Instant::now());
                    last_error = e.to_string();
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                None => {}
            }
            let report = lock(&admission).report(Instant::now());
            if let Some(r) = report {
                log_report(&r, &last_error);
            }
        }
    }

    /// One summary line for a window of refusals and failed accepts.
    fn log_report(r: &AdmissionReport, last_error: &str) {
        let secs = super::admission::REPORT_EVERY.as_secs();
        if r.refused > 0 {
            warn!(
                "refused {} help connections in the last {secs} s (per-user cap {}, total {})",
                r.refused, r.caps.per_user, r.caps.total
            );
        }
        if r.accept_failures > 0 {
            warn!(
                "could not accept {} help connections in the last {secs} s ({last_error}); raise the agent's file limit (LimitNOFILE) if this persists",
                r.accept_failures
            );
        }
    }

    /// Serves `stream` if its user is under the caps, else answers "too
    /// many requests" without waiting and closes it.
    fn admit(
        stream: UnixStream,
        desk: &HelpDesk,
        throttle: &Arc<Mutex<HelpThrottle>>,
        admission: &Arc<Mutex<HelpAdmission>>,
    ) {
        let Ok(uid) = stream.peer_cred().map(|c| c.uid()) else {
            return;
        };
        let decision = lock(admission).admit(uid, Instant::now());
        if let Some(why) = decision.refusal() {
            // The answer fits the socket's empty buffer; if it does not go
            // at once, the caller just sees the socket closed.
            if let Ok(frame) = encode_frame(&HelpReply {
                ticket: None,
                error: Some(why.to_string()),
                url: None,
            }) {
                let _ = stream.try_write(&frame);
            }
            return;
        }
        debug_assert_eq!(decision, Admission::Admit);
        let slot = Slot {
            admission: admission.clone(),
            uid,
        };
        let (desk, throttle) = (desk.clone(), throttle.clone());
        tokio::spawn(async move {
            if let Err(e) = handle(stream, uid, desk, throttle).await {
                debug!(error = %format!("{e:#}"), uid, "help request failed");
            }
            drop(slot);
        });
    }

    /// An admitted connection's place in the table, given back when dropped.
    struct Slot {
        admission: Arc<Mutex<HelpAdmission>>,
        uid: u32,
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            lock(&self.admission).release(self.uid);
        }
    }

    async fn handle(
        mut stream: UnixStream,
        uid: u32,
        desk: HelpDesk,
        throttle: Arc<Mutex<HelpThrottle>>,
    ) -> Result<()> {
        let ask: HelpAsk = tokio::time::timeout(REQUEST_DEADLINE, read_frame(&mut stream))
            .await
            .map_err(|_| anyhow!("the caller sent no request in time"))??;
        if ask.portal {
            let user = tokio::task::spawn_blocking(move || account(uid))
                .await
                .unwrap_or_else(|_| format!("uid {uid}"));
            let reply = super::portal::answer(&desk, user).await;
            return tokio::time::timeout(ANSWER_DEADLINE, write_frame(&mut stream, &reply))
                .await
                .map_err(|_| anyhow!("the caller did not take the answer"))?;
        }
        // Only a request that can go out counts against the user's pace.
        let checked = check_message(&ask.message).and_then(|m| {
            if !desk.connected() {
                return Err(super::NOT_CONNECTED.to_string());
            }
            let allowed = throttle
                .lock()
                .map_err(|_| "the agent's request pacing failed".to_string())?
                .allow(uid, Instant::now());
            allowed.map(|()| m).map_err(|wait| {
                format!(
                    "you asked a moment ago; wait {} s before asking again",
                    wait.as_secs().max(1)
                )
            })
        });
        let answer = match checked {
            Err(e) => Err(e),
            Ok(message) => {
                let requester = tokio::task::spawn_blocking(move || account(uid))
                    .await
                    .unwrap_or_else(|_| format!("uid {uid}"));
                info!(%requester, uid, "help request from a local user");
                desk.submit(message, requester).await
            }
        };
        let reply = match answer {
            Ok(n) => HelpReply {
                ticket: Some(n),
                error: None,
                url: None,
            },
            Err(e) => HelpReply {
                ticket: None,
                error: Some(e),
                url: None,
            },
        };
        tokio::time::timeout(ANSWER_DEADLINE, write_frame(&mut stream, &reply))
            .await
            .map_err(|_| anyhow!("the caller did not take the answer"))?
    }

    /// `deskhand-agent help`: sends the message to the running agent and
    /// returns the ticket number.
    pub async fn ask(path: &Path, message: &str) -> Result<i64> {
        let message = check_message(message).map_err(anyhow::Error::msg)?;
        let reply = exchange(
            path,
            HelpAsk {
                message,
                portal: false,
            },
        )
        .await?;
        match (reply.ticket, reply.error) {
            (Some(n), _) => Ok(n),
            (None, Some(e)) => Err(anyhow!(e)),
            (None, None) => Err(anyhow!("the agent answered without a ticket number")),
        }
    }

    /// Sends one request to the running agent and returns its answer.
    pub(in crate::help) async fn exchange(path: &Path, ask: HelpAsk) -> Result<HelpReply> {
        let mut stream = UnixStream::connect(path).await.map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "the deskhand agent is not running on this machine"
                }
                std::io::ErrorKind::PermissionDenied => "you may not reach the deskhand agent",
                _ => "cannot reach the deskhand agent",
            };
            anyhow!(
                "{why} ({}: {e}); ask IT to start the deskhand-agent service, or call your help desk",
                path.display()
            )
        })?;
        // A busy agent answers "too many requests" and closes without
        // reading: then the write may fail, but its answer is still there.
        let sent = write_frame(&mut stream, &ask).await;
        let reply = tokio::time::timeout(
            ANSWER_TIMEOUT + std::time::Duration::from_secs(5),
            read_frame::<HelpReply>(&mut stream),
        )
        .await
        .map_err(|_| anyhow!("the deskhand agent did not answer in time; call your help desk"));
        match (sent, reply) {
            (_, Ok(Ok(reply))) => Ok(reply),
            (Err(e), _) => Err(e.context(
                "sending the request to the deskhand agent; try again, or call your help desk",
            )),
            (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(Err(e))) => Err(e.context("reading the agent's answer")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_the_passwd_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\nbroken line\nbob:x:notanumber:1:::\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(passwd, 1001), None);
    }

    #[test]
    fn messages_are_checked() {
        assert_eq!(
            check_message("  printer\u{7} broken \n"),
            Ok("printer broken".into())
        );
        assert!(check_message("   ").is_err());
        assert!(check_message(&"x".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
        assert_eq!(check_message("a\nb"), Ok("a\nb".into()));
    }

    #[test]
    fn a_user_waits_between_requests_but_others_do_not() {
        let mut t = HelpThrottle::default();
        let t0 = Instant::now();
        assert!(t.allow(1000, t0).is_ok());
        assert_eq!(
            t.allow(1000, t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert!(t.allow(1001, t0 + Duration::from_secs(4)).is_ok());
        assert!(t.allow(1000, t0 + MIN_INTERVAL).is_ok());
    }

    #[tokio::test]
    async fn a_disconnected_agent_says_so_at_once() {
        let (desk, inbox) = channel();
        let err = desk
            .submit("x".into(), "alice".into())
            .await
            .expect_err("offline");
        assert!(err.contains("not connected"), "{err}");
        let guard = inbox.online();
        drop(inbox);
        let err = desk
            .submit("x".into(), "alice".into())
            .await
            .expect_err("gone");
        assert!(err.contains("busy") || err.contains("lost"), "{err}");
        drop(guard);
    }
}
