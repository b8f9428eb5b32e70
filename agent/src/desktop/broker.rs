//! The agent service's side of remote desktop: it never captures a
//! screen. Each logged-in user's helper (`deskhand-agent user`) registers
//! here over the local help channel; a desktop session the server asks
//! for goes to the newest idle helper, which shows the user a prompt. The
//! user's answer comes back on the help channel (from the prompt's
//! buttons or `deskhand-agent desktop allow|deny`), only from the
//! helper's own account; on "allow" the helper is told to start and opens
//! a stream of its own, presenting a one-time token, and that stream is
//! the session's: RFB bytes, relayed by the service to the server.
//!
//! [`Broker`] holds the registrations and the sessions in flight; the
//! help channel (`crate::help::desktop`) and the remote session
//! (`crate::remote::desktop`) drive it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use deskhand_shared::remote::PROMPT_SECS;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

/// What a helper asks on the help channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DesktopAsk {
    /// The user's helper: this connection stays open, and [`HelperCall`]s
    /// come on it.
    Register {
        /// The display it captures (`:0`), for the log.
        display: String,
    },
    /// The user's answer to the prompt: of `session`, or of the only one
    /// waiting.
    Answer {
        /// The session asked about.
        session: Option<i64>,
        /// Allow or deny.
        allow: bool,
    },
    /// The user ends the live session (the banner's "End session").
    End {
        /// The session, or the only live one.
        session: Option<i64>,
    },
    /// After [`HelperCall::Start`]: this connection carries the session's
    /// RFB bytes from now on.
    Stream {
        /// The session.
        session: i64,
        /// The token `Start` gave.
        token: String,
    },
}

/// What the service tells a registered helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperCall {
    /// Ask the user.
    Prompt {
        /// The server's session id.
        session: i64,
        /// The technician.
        operator: String,
        /// The ticket the session is for.
        ticket: Option<i64>,
        /// Keyboard and pointer too.
        control: bool,
    },
    /// The user allowed: open the session's stream with this token.
    Start {
        /// The session.
        session: i64,
        /// One-time token for [`DesktopAsk::Stream`].
        token: String,
        /// Whether to inject the operator's input.
        control: bool,
    },
    /// The session is over (or the prompt went unanswered): close its
    /// prompt, banner and stream.
    Stop {
        /// The session.
        session: i64,
        /// Why, for the user.
        reason: String,
    },
}

/// A session's byte stream to the helper.
pub trait HelperStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> HelperStream for T {}

/// How long the helper has to open the stream after the user allowed.
const STREAM_WAIT: Duration = Duration::from_secs(10);

/// The reason given when the user clicks "End session".
pub const USER_ENDED: &str = "the user ended the screen session";

/// Registrations and sessions in flight, shared by the help channel and
/// the remote sessions.
#[derive(Clone, Default)]
pub struct Broker {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    next_helper: u64,
    helpers: Vec<Helper>,
    sessions: HashMap<i64, Pending>,
}

struct Helper {
    id: u64,
    account: String,
    user: String,
    calls: mpsc::Sender<HelperCall>,
}

struct Pending {
    helper: u64,
    account: String,
    stage: Stage,
}

enum Stage {
    Asking(oneshot::Sender<bool>),
    Starting {
        token: String,
        stream: oneshot::Sender<Box<dyn HelperStream>>,
    },
    Live {
        end: Option<oneshot::Sender<String>>,
    },
}

/// A helper's place in the broker; dropping it unregisters.
pub struct Registration {
    broker: Broker,
    id: u64,
    /// What the service tells this helper.
    pub calls: mpsc::Receiver<HelperCall>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.broker.state().helpers.retain(|h| h.id != self.id);
    }
}

/// An accepted session: the helper's stream and the user's "End session".
pub struct Opened {
    /// RFB bytes to and from the helper.
    pub stream: Box<dyn HelperStream>,
    /// Fires with the reason when the user ends the session.
    pub ended: oneshot::Receiver<String>,
    /// The user whose screen it is.
    pub user: String,
    /// Removes the session and tells the helper to stop, when dropped.
    pub guard: SessionGuard,
}

/// Ends a session's bookkeeping when dropped: the helper is told to stop.
pub struct SessionGuard {
    broker: Broker,
    session: i64,
    reason: String,
}

impl SessionGuard {
    /// What the helper is told when the session ends.
    pub fn set_reason(&mut self, reason: &str) {
        self.reason = reason.to_string();
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut state = self.broker.state();
        if let Some(p) = state.sessions.remove(&self.session)
            && let Some(h) = state.helpers.iter().find(|h| h.id == p.helper)
        {
            let _ = h.calls.try_send(HelperCall::Stop {
                session: self.session,
                reason: std::mem::take(&mut self.reason),
            });
        }
    }
}

impl Broker {
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the helper of `account` (the kernel's uid, or a SID)
    /// whose user is named `user`.
    pub fn register(&self, account: &str, user: &str) -> Registration {
        let (tx, rx) = mpsc::channel(8);
        let mut state = self.state();
        state.next_helper += 1;
        let id = state.next_helper;
        state.helpers.push(Helper {
            id,
            account: account.to_string(),
            user: user.to_string(),
            calls: tx,
        });
        Registration {
            broker: self.clone(),
            id,
            calls: rx,
        }
    }

    /// How many helpers are registered.
    pub fn helpers(&self) -> usize {
        self.state().helpers.len()
    }

    /// Asks the newest idle helper's user for `session`, waits for the
    /// answer and the helper's stream; or the sentence the operator reads.
    pub async fn open(
        &self,
        session: i64,
        operator: &str,
        ticket: Option<i64>,
        control: bool,
    ) -> Result<Opened, String> {
        let (answer_tx, answer_rx) = oneshot::channel();
        let (user, calls) = {
            let mut state = self.state();
            let State {
                helpers, sessions, ..
            } = &mut *state;
            let busy = |h: &&Helper| sessions.values().any(|p| p.helper == h.id);
            let Some(h) = helpers.iter().rev().find(|h| !busy(h)) else {
                return Err(if helpers.is_empty() {
                    "nobody is logged in to a desktop on this machine (no `deskhand-agent user` helper is running in a graphical session)".into()
                } else {
                    "the user's screen is already shared in another session".into()
                });
            };
            sessions.insert(
                session,
                Pending {
                    helper: h.id,
                    account: h.account.clone(),
                    stage: Stage::Asking(answer_tx),
                },
            );
            (h.user.clone(), h.calls.clone())
        };
        let mut guard = SessionGuard {
            broker: self.clone(),
            session,
            reason: "the prompt was withdrawn".into(),
        };
        let prompt = HelperCall::Prompt {
            session,
            operator: operator.to_string(),
            ticket,
            control,
        };
        if calls.send(prompt).await.is_err() {
            return Err("the user's desktop helper went away".into());
        }
        let wait = Duration::from_secs(PROMPT_SECS);
        match tokio::time::timeout(wait, answer_rx).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                guard.set_reason("you declined");
                return Err(format!("{user} declined to share their screen"));
            }
            Ok(Err(_)) => return Err("the user's desktop helper went away".into()),
            Err(_) => {
                guard.set_reason("nobody answered in time");
                return Err(format!(
                    "{user} did not answer the prompt within {PROMPT_SECS} s"
                ));
            }
        }
        let token = new_token()?;
        let (stream_tx, stream_rx) = oneshot::channel();
        if let Some(p) = self.state().sessions.get_mut(&session) {
            p.stage = Stage::Starting {
                token: token.clone(),
                stream: stream_tx,
            };
        }
        let start = HelperCall::Start {
            session,
            token,
            control,
        };
        if calls.send(start).await.is_err() {
            return Err("the user's desktop helper went away".into());
        }
        let stream = match tokio::time::timeout(STREAM_WAIT, stream_rx).await {
            Ok(Ok(stream)) => stream,
            _ => return Err("the user's desktop helper could not start the session".into()),
        };
        let (end_tx, end_rx) = oneshot::channel();
        if let Some(p) = self.state().sessions.get_mut(&session) {
            p.stage = Stage::Live { end: Some(end_tx) };
        }
        guard.set_reason("the session ended");
        Ok(Opened {
            stream,
            ended: end_rx,
            user,
            guard,
        })
    }

    /// The user of `account` answers a prompt; a sentence for them.
    pub fn answer(
        &self,
        account: &str,
        session: Option<i64>,
        allow: bool,
    ) -> Result<String, String> {
        let mut state = self.state();
        let id = pick(&state, account, session, |s| matches!(s, Stage::Asking(_)))?;
        let Some(p) = state.sessions.get_mut(&id) else {
            return Err("that request is gone".into());
        };
        let Stage::Asking(_) = &p.stage else {
            return Err(format!("session {id} was already answered"));
        };
        if let Stage::Asking(tx) = std::mem::replace(&mut p.stage, Stage::Live { end: None }) {
            let _ = tx.send(allow);
        }
        Ok(if allow {
            format!("you allowed session {id}: IT now sees your screen until you end it")
        } else {
            format!("you declined session {id}")
        })
    }

    /// The user of `account` ends a live session.
    pub fn end(&self, account: &str, session: Option<i64>) -> Result<String, String> {
        let mut state = self.state();
        let id = pick(&state, account, session, |s| {
            matches!(s, Stage::Live { end: Some(_) })
        })?;
        if let Some(Pending {
            stage: Stage::Live { end },
            ..
        }) = state.sessions.get_mut(&id)
            && let Some(tx) = end.take()
        {
            let _ = tx.send(USER_ENDED.to_string());
        }
        Ok(format!("session {id} ended"))
    }

    /// Whether [`Broker::attach`] would take this stream now.
    pub fn check_attach(&self, account: &str, session: i64, token: &str) -> Result<(), String> {
        starting(&mut self.state(), account, session, token).map(|_| ())
    }

    /// The helper of `account` hands over the stream of `session`.
    pub fn attach(
        &self,
        account: &str,
        session: i64,
        token: &str,
        stream: Box<dyn HelperStream>,
    ) -> Result<(), String> {
        let mut state = self.state();
        let p = starting(&mut state, account, session, token)?;
        if let Stage::Starting { stream: tx, .. } =
            std::mem::replace(&mut p.stage, Stage::Live { end: None })
        {
            tx.send(stream)
                .map_err(|_| format!("session {session} was given up meanwhile"))?;
        }
        Ok(())
    }
}

/// Session `session` of `account`, waiting for the stream `token` opens.
fn starting<'a>(
    state: &'a mut State,
    account: &str,
    session: i64,
    token: &str,
) -> Result<&'a mut Pending, String> {
    let Some(p) = state
        .sessions
        .get_mut(&session)
        .filter(|p| p.account == account)
    else {
        return Err(format!("no session {session} is starting for you"));
    };
    if !matches!(&p.stage, Stage::Starting { token: t, .. } if t == token) {
        return Err(format!("session {session} is not waiting for this stream"));
    }
    Ok(p)
}

/// The session of `account` in a stage `want` picks: the one named, or
/// the only one.
fn pick(
    state: &State,
    account: &str,
    session: Option<i64>,
    want: impl Fn(&Stage) -> bool,
) -> Result<i64, String> {
    let mine: Vec<i64> = state
        .sessions
        .iter()
        .filter(|(id, p)| {
            p.account == account && want(&p.stage) && session.is_none_or(|s| s == **id)
        })
        .map(|(id, _)| *id)
        .collect();
    match mine.as_slice() {
        [one] => Ok(*one),
        [] => Err(match session {
            Some(s) => format!("no such session waiting for you: {s}"),
            None => "no remote desktop request is waiting for you".into(),
        }),
        _ => Err("several sessions wait: name one with --session N".into()),
    }
}

/// A one-time token: 128 random bits, hex.
fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system's random number generator failed".to_string())?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
