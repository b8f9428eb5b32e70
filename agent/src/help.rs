//! End users asking for help: `deskhand-agent help "MESSAGE"`.
//!
//! The agent service runs as root (LocalSystem on Windows) and holds the
//! connection to the server; the user runs `deskhand-agent help`
//! unprivileged and cannot read the agent's key. So the running agent
//! listens on a local channel ([`DEFAULT_SOCKET`]): a Unix socket, mode
//! 0666 (`socket_unix.rs`), or on Windows a named pipe every interactive
//! user may open but none may create (`pipe_windows.rs`). The `help`
//! command connects ([`ask`]) and sends its message. The agent identifies
//! the requester from the operating system (the socket's peer credentials;
//! the pipe client's token), never from anything the client says, and
//! hands a [`HelpJob`] to the session ([`crate::link`]), which reports a
//! fresh inventory, runs the `system-summary` diagnostic, sends both to
//! the server and relays the ticket number back.
//!
//! On the channel, each side sends one length-prefixed postcard frame:
//! [`HelpAsk`], then [`HelpReply`]. This file holds what both platforms
//! share: the frames, the checks, the pacing, and [`Reception`], which
//! admits, serves and reports connections for either listener.
//!
//! Any local user can connect, so the channel is bounded ([`admission`]):
//! a few connections per user and a few dozen in all are served at once,
//! the rest are answered "too many requests" and closed at once; a caller
//! has [`admission::REQUEST_DEADLINE`] to send its request; refusals are
//! logged as one summary line per 10 s.
//!
//! `deskhand-agent help --open` asks the same channel for a requester
//! portal link instead ([`portal`]). `help "MSG" --allow-remote 30m`,
//! `allow-remote` and `deny-remote` open and close the user's consent to
//! remote access ([`consent`]), held by the running agent in memory.
//! Users' remote desktop helpers register on it, and users answer their
//! prompts on it ([`desktop`]).

pub mod account;
pub mod admission;
pub mod consent;
pub mod desktop;
#[cfg(windows)]
mod pipe_windows;
pub mod portal;
#[cfg(unix)]
mod socket_unix;
#[cfg(windows)]
mod win32;

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

pub use account::user_name;
use admission::{
    ANSWER_DEADLINE, Admission, AdmissionReport, HelpAdmission, HelpCaps, REPORT_EVERY,
    REQUEST_DEADLINE,
};
#[cfg(windows)]
use pipe_windows::exchange;
#[cfg(windows)]
pub use pipe_windows::serve;
#[cfg(unix)]
use socket_unix::exchange;
#[cfg(unix)]
pub use socket_unix::serve;

/// The Windows agent's help pipe unless configured otherwise.
pub const DEFAULT_PIPE: &str = r"\\.\pipe\deskhand-agent-help";

/// Where the agent listens unless configured otherwise: a socket's path,
/// or on Windows a pipe's name.
pub const DEFAULT_SOCKET: &str = if cfg!(windows) {
    DEFAULT_PIPE
} else if cfg!(target_os = "macos") {
    "/var/run/deskhand-agent/help.sock"
} else {
    "/run/deskhand-agent/help.sock"
};

/// Largest frame on the help channel.
const MAX_FRAME: usize = 32 * 1024;
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
    /// Opens or closes the user's consent to remote access ([`consent`]):
    /// with a message, once its ticket is open; without, on its own.
    pub remote: Option<consent::ConsentAsk>,
    /// Remote desktop: a user's helper and the user's answers
    /// ([`desktop`]).
    pub desktop: Option<crate::desktop::broker::DesktopAsk>,
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
    /// A sentence for the user (what remote access they allowed).
    pub note: Option<String>,
}

/// A help request for the session to forward.
#[derive(Debug)]
pub struct HelpJob {
    /// The user's words, checked.
    pub message: String,
    /// The local account that asked.
    pub requester: String,
    /// Where the ticket number (or the reason there is none) goes.
    pub reply: oneshot::Sender<std::result::Result<i64, String>>,
}

/// The socket side's handle: hands jobs to the session.
#[derive(Debug, Clone)]
pub struct HelpDesk {
    jobs: mpsc::Sender<HelpJob>,
    portal: mpsc::Sender<portal::PortalJob>,
    connected: Arc<AtomicBool>,
    /// The consent the user opens and closes here.
    remote: crate::remote::Remote,
}

/// The session side: takes jobs, says whether the server is reachable.
#[derive(Debug)]
pub struct HelpInbox {
    jobs: mpsc::Receiver<HelpJob>,
    portal: mpsc::Receiver<portal::PortalJob>,
    connected: Arc<AtomicBool>,
}

/// A connected pair, with a remote-access policy of its own (the
/// defaults).
pub fn channel() -> (HelpDesk, HelpInbox) {
    channel_for(crate::remote::Remote::default())
}

/// A connected pair whose consent commands change `remote`.
pub fn channel_for(remote: crate::remote::Remote) -> (HelpDesk, HelpInbox) {
    let (tx, rx) = mpsc::channel(4);
    let (portal_tx, portal_rx) = mpsc::channel(4);
    let connected = Arc::new(AtomicBool::new(false));
    (
        HelpDesk {
            jobs: tx,
            portal: portal_tx,
            connected: connected.clone(),
            remote,
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
    pub async fn submit(
        &self,
        message: String,
        requester: String,
    ) -> std::result::Result<i64, String> {
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
pub fn check_message(text: &str) -> std::result::Result<String, String> {
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

/// Lets each account (`K`: a uid, or a SID on Windows) ask at most once
/// per [`MIN_INTERVAL`]; pure, time is an argument.
#[derive(Debug)]
pub struct HelpThrottle<K = u32> {
    last: HashMap<K, Instant>,
}

impl<K: Eq + Hash> Default for HelpThrottle<K> {
    fn default() -> Self {
        Self {
            last: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash> HelpThrottle<K> {
    /// Whether `account` may ask at `now` (and books it), or how long to
    /// wait.
    pub fn allow(&mut self, account: K, now: Instant) -> std::result::Result<(), Duration> {
        if let Some(last) = self.last.get(&account) {
            let next = *last + MIN_INTERVAL;
            if now < next {
                return Err(next - now);
            }
        }
        self.last.insert(account, now);
        Ok(())
    }
}

/// Starts listening for help requests on `path` (a pipe's name on
/// Windows) and returns the session's side. Without the channel the agent
/// still runs: the reason is logged and this returns `None`.
/// `remote` is the consent `allow-remote` and `deny-remote` change.
pub async fn listen(path: &std::path::Path, remote: crate::remote::Remote) -> Option<HelpInbox> {
    #[cfg(any(unix, windows))]
    {
        let (desk, inbox) = channel_for(remote);
        match serve(path.to_path_buf(), desk).await {
            Ok(()) => Some(inbox),
            Err(e) => {
                warn!(error = %format!("{e:#}"), "help requests are off");
                None
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (path, remote);
        None
    }
}

async fn write_frame<S, T>(s: &mut S, msg: &T) -> Result<()>
where
    S: AsyncWrite + Unpin,
    T: Serialize,
{
    s.write_all(&encode_frame(msg)?).await?;
    s.flush().await?;
    Ok(())
}

async fn read_frame<S, T>(s: &mut S) -> Result<T>
where
    S: AsyncRead + Unpin,
    T: serde::de::DeserializeOwned,
{
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = [0u8; 4096];
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(msg);
        }
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("the other side closed the connection");
        }
        decoder.push(&buf[..n])?;
    }
}

/// The answer the `help` command turns into its result.
/// `deskhand-agent help`: sends the message to the running agent over
/// the local channel (socket, or pipe on Windows) and returns the ticket
/// number.
pub async fn ask(path: &std::path::Path, message: &str) -> Result<i64> {
    let message = check_message(message).map_err(anyhow::Error::msg)?;
    let ask = HelpAsk {
        message,
        portal: false,
        remote: None,
        desktop: None,
    };
    reply_result(exchange(path, ask).await?)
}

fn reply_result(reply: HelpReply) -> Result<i64> {
    match (reply.ticket, reply.error) {
        (Some(n), _) => Ok(n),
        (None, Some(e)) => Err(anyhow!(e)),
        (None, None) => Err(anyhow!("the agent answered without a ticket number")),
    }
}

/// A listener's admission table, pacing and hand-off, whatever the
/// channel: the Unix socket keys accounts by uid, the Windows pipe by SID.
#[derive(Debug)]
struct Reception<K> {
    desk: HelpDesk,
    throttle: Arc<Mutex<HelpThrottle<K>>>,
    admission: Arc<Mutex<HelpAdmission<K>>>,
    last_error: String,
}

/// The table behind a mutex, even if a task panicked while holding it (it
/// only holds counts and times).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K> Reception<K>
where
    K: Clone + Eq + Hash + Display + Send + 'static,
{
    fn new(desk: HelpDesk) -> Self {
        Self {
            desk,
            throttle: Arc::new(Mutex::new(HelpThrottle::default())),
            admission: Arc::new(Mutex::new(HelpAdmission::new(HelpCaps::default()))),
            last_error: String::new(),
        }
    }

    /// When the pending refusals are due to be logged.
    fn next_report(&self) -> Option<Instant> {
        lock(&self.admission).next_report()
    }

    /// An accept failed: counted, and its error kept for the summary.
    fn accept_failed(&mut self, e: &dyn Display) {
        lock(&self.admission).accept_failed(Instant::now());
        self.last_error = e.to_string();
    }

    /// Logs the window's refusals and failures once it is over; `hint`
    /// says what to do about failed accepts on this platform.
    fn report(&self, hint: &str) {
        let report = lock(&self.admission).report(Instant::now());
        if let Some(r) = report {
            log_report(&r, &self.last_error, hint);
        }
    }

    /// Books a connection of `account`, or gives the encoded "too many
    /// requests" answer to write (without waiting) before closing it.
    fn admit(&self, account: K) -> std::result::Result<Slot<K>, Vec<u8>> {
        let decision = lock(&self.admission).admit(account.clone(), Instant::now());
        if let Some(why) = decision.refusal() {
            return Err(encode_frame(&HelpReply {
                ticket: None,
                error: Some(why.to_string()),
                url: None,
                note: None,
            })
            .unwrap_or_default());
        }
        debug_assert_eq!(decision, Admission::Admit);
        Ok(Slot {
            admission: self.admission.clone(),
            account,
        })
    }

    /// Serves an admitted connection in its own task: reads the request
    /// within the deadline, names the requester with `who` (run on a
    /// blocking thread: it may ask a directory service), forwards, answers.
    fn serve<S, W>(&self, stream: S, slot: Slot<K>, who: W)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        W: FnOnce() -> String + Send + 'static,
    {
        let (desk, throttle) = (self.desk.clone(), self.throttle.clone());
        tokio::spawn(async move {
            let account = slot.account.clone();
            if let Err(e) = handle(stream, account.clone(), who, desk, throttle).await {
                debug!(error = %format!("{e:#}"), %account, "help request failed");
            }
            drop(slot);
        });
    }
}

/// One summary line for a window of refusals and failed accepts.
fn log_report(r: &AdmissionReport, last_error: &str, hint: &str) {
    let secs = REPORT_EVERY.as_secs();
    if r.refused > 0 {
        warn!(
            "refused {} help connections in the last {secs} s (per-user cap {}, total {})",
            r.refused, r.caps.per_user, r.caps.total
        );
    }
    if r.accept_failures > 0 {
        warn!(
            "could not accept {} help connections in the last {secs} s ({last_error}); {hint}",
            r.accept_failures
        );
    }
}

/// An admitted connection's place in the table, given back when dropped.
#[derive(Debug)]
struct Slot<K: Eq + Hash> {
    admission: Arc<Mutex<HelpAdmission<K>>>,
    account: K,
}

impl<K: Eq + Hash> Drop for Slot<K> {
    fn drop(&mut self) {
        lock(&self.admission).release(&self.account);
    }
}

async fn handle<S, K, W>(
    mut stream: S,
    account: K,
    who: W,
    desk: HelpDesk,
    throttle: Arc<Mutex<HelpThrottle<K>>>,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    K: Eq + Hash + Display + Clone,
    W: FnOnce() -> String + Send + 'static,
{
    let ask: HelpAsk = tokio::time::timeout(REQUEST_DEADLINE, desktop::read_one(&mut stream))
        .await
        .map_err(|_| anyhow!("the caller sent no request in time"))??;
    if let Some(d) = ask.desktop {
        let user = tokio::task::spawn_blocking(who)
            .await
            .unwrap_or_else(|_| account.to_string());
        let broker = desk.remote.desktops().clone();
        return desktop::serve(stream, account.to_string(), user, &broker, d).await;
    }
    if let Some(change) = ask
        .remote
        .as_ref()
        .filter(|_| ask.message.trim().is_empty())
    {
        let user = tokio::task::spawn_blocking(who)
            .await
            .unwrap_or_else(|_| account.to_string());
        let reply = consent::answer(&desk.remote, change, &user, None);
        return tokio::time::timeout(ANSWER_DEADLINE, write_frame(&mut stream, &reply))
            .await
            .map_err(|_| anyhow!("the caller did not take the answer"))?;
    }
    if ask.portal {
        let user = tokio::task::spawn_blocking(who)
            .await
            .unwrap_or_else(|_| account.to_string());
        let reply = portal::answer(&desk, user).await;
        return tokio::time::timeout(ANSWER_DEADLINE, write_frame(&mut stream, &reply))
            .await
            .map_err(|_| anyhow!("the caller did not take the answer"))?;
    }
    // Only a request that can go out counts against the user's pace.
    let checked = check_message(&ask.message).and_then(|m| {
        if !desk.connected() {
            return Err(NOT_CONNECTED.to_string());
        }
        let allowed = lock(&throttle).allow(account.clone(), Instant::now());
        allowed.map(|()| m).map_err(|wait| {
            format!(
                "you asked a moment ago; wait {} s before asking again",
                wait.as_secs().max(1)
            )
        })
    });
    let mut requester = account.to_string();
    let answer = match checked {
        Err(e) => Err(e),
        Ok(message) => {
            requester = tokio::task::spawn_blocking(who)
                .await
                .unwrap_or_else(|_| account.to_string());
            info!(%requester, %account, "help request from a local user");
            desk.submit(message, requester.clone()).await
        }
    };
    let reply = match answer {
        Ok(n) => {
            desk.remote.help_ticket_opened(n);
            // Consent given with the request is bound to its ticket.
            let note = ask.remote.as_ref().map(|change| {
                let r = consent::answer(&desk.remote, change, &requester, Some(n));
                r.note.or(r.error).unwrap_or_default()
            });
            HelpReply {
                ticket: Some(n),
                error: None,
                url: None,
                note,
            }
        }
        Err(e) => HelpReply {
            ticket: None,
            error: Some(e),
            url: None,
            note: None,
        },
    };
    tokio::time::timeout(ANSWER_DEADLINE, write_frame(&mut stream, &reply))
        .await
        .map_err(|_| anyhow!("the caller did not take the answer"))?
}

#[cfg(test)]
mod tests {
    use super::*;

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
