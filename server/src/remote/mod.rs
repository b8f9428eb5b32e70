//! Remote access on the server's side: the live sessions of this node
//! (each with its kill switch), reading what an operator asks for into a
//! [`RemoteKind`], asking the agent on a stream of its connection, and
//! the hourly pruning of old recordings.
//!
//! The API's upgrade route (`api::remote`) checks the operator, records
//! the session (`store::remote`), calls [`ask_agent`], and on acceptance
//! hands both ends to [`pipe`], which relays, counts, records and ends
//! the session. Pure parts: [`parse_kind`], [`Ending`], [`summary`],
//! [`recording::Recording`].

pub mod local;
pub mod pipe;
pub mod recording;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use deskhand_api_types::remote::OpenRemote;
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, ServerMessage};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteKind, RemoteReply, RemoteRequest};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use crate::store::Store;

pub use pipe::Ending;

/// How long an agent has to answer a session's request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an agent has to answer a request of `kind`: a desktop's
/// answer waits for the user's click on its prompt.
pub fn reply_timeout(kind: &RemoteKind) -> Duration {
    match kind {
        RemoteKind::Desktop { .. } => {
            REPLY_TIMEOUT + Duration::from_secs(deskhand_shared::remote::PROMPT_SECS)
        }
        _ => REPLY_TIMEOUT,
    }
}
/// How often old recordings are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The `[remote]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteSettings {
    /// Recordings of sessions that ended longer ago than this are deleted.
    pub recording_retention_days: u64,
    /// A recording keeps at most this many bytes.
    pub recording_max_bytes: usize,
}

/// The `[remote]` section of the server's config file.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteConfigFile {
    /// Days a terminal recording is kept after its session ended (90).
    pub recording_retention_days: Option<u64>,
    /// Most bytes of one recording (16 MiB); the rest of a longer
    /// session is not recorded.
    pub recording_max_bytes: Option<u64>,
}

impl RemoteSettings {
    /// The settings from the file's section, defaults for what it lacks;
    /// out of range is a sentence naming the key.
    pub fn resolve(file: Option<RemoteConfigFile>) -> Result<Self, String> {
        let file = file.unwrap_or_default();
        let d = Self::default();
        let days = file
            .recording_retention_days
            .unwrap_or(d.recording_retention_days);
        if !(1..=36_500).contains(&days) {
            return Err(format!(
                "recording_retention_days must be between 1 and 36500, not {days}"
            ));
        }
        let max = file
            .recording_max_bytes
            .unwrap_or(d.recording_max_bytes as u64);
        if !(4096..=1 << 30).contains(&max) {
            return Err(format!(
                "recording_max_bytes must be between 4096 and 1073741824 (1 GiB), not {max}"
            ));
        }
        Ok(Self {
            recording_retention_days: days,
            recording_max_bytes: usize::try_from(max).map_err(|e| e.to_string())?,
        })
    }
}

impl Default for RemoteSettings {
    fn default() -> Self {
        Self {
            recording_retention_days: 90,
            recording_max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// One live session of this node.
struct Live {
    agent_id: String,
    operator: String,
    kill: Option<oneshot::Sender<String>>,
}

/// This node's live sessions and the settings they run by.
#[derive(Default)]
pub struct Remote {
    live: Mutex<HashMap<i64, Live>>,
    /// The `[remote]` settings.
    pub settings: RemoteSettings,
}

/// Keeps a session in the registry while it lives; dropping it removes it.
pub struct Registered<'a> {
    remote: &'a Remote,
    id: i64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.remote.lock().remove(&self.id);
    }
}

impl Remote {
    /// With these settings.
    pub fn new(settings: RemoteSettings) -> Self {
        Self {
            live: Mutex::default(),
            settings,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Live>> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a live session; the receiver gets the killer's name.
    pub fn register(
        &self,
        id: i64,
        agent_id: &str,
        operator: &str,
    ) -> (Registered<'_>, oneshot::Receiver<String>) {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(
            id,
            Live {
                agent_id: agent_id.to_string(),
                operator: operator.to_string(),
                kill: Some(tx),
            },
        );
        (Registered { remote: self, id }, rx)
    }

    /// Whether a session is live on this node.
    pub fn is_live(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }

    /// Kills a live session on behalf of `by`; false when it is not live
    /// here (or already being killed).
    pub fn kill(&self, id: i64, by: &str) -> bool {
        let kill = self.lock().get_mut(&id).and_then(|l| l.kill.take());
        kill.is_some_and(|k| k.send(by.to_string()).is_ok())
    }

    /// The live sessions: (id, agent, operator).
    pub fn live(&self) -> Vec<(i64, String, String)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(id, l)| (*id, l.agent_id.clone(), l.operator.clone()))
            .collect();
        all.sort();
        all
    }
}

/// What an operator asks for, read from the upgrade's query; a sentence
/// saying what is missing or wrong otherwise.
pub fn parse_kind(q: &OpenRemote) -> Result<RemoteKind, String> {
    let path = |word: &str| -> Result<String, String> {
        let Some(p) = q.path.as_deref().filter(|p| !p.is_empty()) else {
            return Err(format!("`{word}` needs a path (path=...)"));
        };
        if !is_absolute(p) {
            return Err(format!(
                "the path `{p}` is not absolute: give the whole path, as `/etc/hosts` or `C:\\Windows\\win.ini`"
            ));
        }
        Ok(p.to_string())
    };
    match q.kind.as_str() {
        "terminal" => {
            let cols = q.cols.unwrap_or(80);
            let rows = q.rows.unwrap_or(24);
            if cols == 0 || rows == 0 {
                return Err("a terminal needs at least one column and one row".into());
            }
            Ok(RemoteKind::Terminal {
                cols,
                rows,
                as_user: q.as_user,
            })
        }
        "get" => Ok(RemoteKind::FileGet {
            path: path("get")?,
            offset: q.offset.unwrap_or(0),
        }),
        "put" => {
            let path = path("put")?;
            let size = q.size.ok_or("`put` needs the file's size (size=...)")?;
            let sha256 = q
                .sha256
                .as_deref()
                .ok_or("`put` needs the file's SHA-256 (sha256=...)")?
                .to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("sha256 must be 64 hex digits".into());
            }
            Ok(RemoteKind::FilePut { path, size, sha256 })
        }
        "ls" => Ok(RemoteKind::FileList { path: path("ls")? }),
        "tunnel" => match q.port {
            Some(0) => Err("port 0 is not a port".into()),
            Some(port) => Ok(RemoteKind::Tunnel { port }),
            None => Err("`tunnel` needs a port (port=...)".into()),
        },
        "desktop" => Ok(RemoteKind::Desktop { control: q.control }),
        "" => Err("say what to open: kind=terminal, get, put, ls, tunnel or desktop".into()),
        other => Err(format!(
            "unknown kind `{other}`: use terminal, get, put, ls, tunnel or desktop"
        )),
    }
}

/// An absolute path on Unix (`/...`) or Windows (`C:\...`, `\\server\...`).
fn is_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || p.starts_with("\\\\")
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

/// The ticket timeline's line for an ended session, e.g. "Remote
/// terminal session #12 by alice, 3 min, 14 KB".
pub fn summary(kind: &str, id: i64, operator: &str, secs: i64, bytes: i64, reason: &str) -> String {
    let what = match kind {
        "terminal" => "Remote terminal session",
        "get" => "Remote file download",
        "put" => "Remote file upload",
        "ls" => "Remote directory listing",
        "tunnel" => "Remote tunnel",
        "desktop" => "Remote desktop session",
        _ => "Remote session",
    };
    format!(
        "{what} #{id} by {operator}, {}, {}; {reason}",
        duration_text(secs),
        bytes_text(bytes)
    )
}

fn duration_text(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", (s + 30) / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn bytes_text(b: i64) -> String {
    match b.max(0) {
        b if b < 1000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{} KB", (b + 500) / 1000),
        b => format!("{:.1} MB", b as f64 / 1e6),
    }
}

/// Why an agent did not take a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotOpened {
    /// It refused, with its sentence for the operator.
    Refused(String),
    /// It reset the stream or ended it unanswered: it predates remote
    /// access.
    TooOld,
    /// The link failed or it did not answer in time.
    Failed(String),
}

impl NotOpened {
    /// The sentence stored as the session's end and told the operator.
    pub fn reason(&self) -> String {
        match self {
            NotOpened::Refused(m) => format!("refused by the machine: {m}"),
            NotOpened::TooOld => "the agent is too old for remote access; upgrade it".into(),
            NotOpened::Failed(m) => m.clone(),
        }
    }
}

/// An accepted session's stream to the agent.
pub struct AgentSide {
    /// Frames to the agent.
    pub send: quinn::SendStream,
    /// Frames from it.
    pub recv: quinn::RecvStream,
    /// Its decoder, holding anything read past the reply.
    pub decoder: FrameDecoder,
    /// The ticket the agent admitted it for.
    pub ticket: Option<i64>,
    /// When the consent that admitted it ends, Unix seconds.
    pub until: Option<u64>,
}

/// Asks the agent on a new stream of `conn`; its acceptance, or why not.
pub async fn ask_agent(
    conn: &quinn::Connection,
    request: RemoteRequest,
) -> Result<AgentSide, NotOpened> {
    let (mut tx, mut rx) = conn
        .open_bi()
        .await
        .map_err(|e| NotOpened::Failed(format!("the agent's connection is closing: {e}")))?;
    let wait = reply_timeout(&request.kind);
    send(&mut tx, &ServerMessage::Remote(request))
        .await
        .map_err(|e| NotOpened::Failed(format!("asking the agent failed: {e:#}")))?;
    let mut decoder = FrameDecoder::new(MAX_REMOTE_FRAME);
    let reply = tokio::time::timeout(wait, recv::<AgentMessage>(&mut rx, &mut decoder))
        .await
        .map_err(|_| {
            let _ = tx.reset(0u32.into());
            NotOpened::Failed(format!(
                "the agent did not answer within {} s",
                wait.as_secs()
            ))
        })?;
    match reply {
        Ok(Some(AgentMessage::RemoteReply(RemoteReply::Accepted { ticket, until }))) => {
            Ok(AgentSide {
                send: tx,
                recv: rx,
                decoder,
                ticket,
                until,
            })
        }
        Ok(Some(AgentMessage::RemoteReply(RemoteReply::Refused { message }))) => {
            Err(NotOpened::Refused(message))
        }
        Ok(Some(other)) => {
            let _ = tx.reset(0u32.into());
            Err(NotOpened::Failed(format!(
                "the agent answered a remote session with {}",
                message_name(&other)
            )))
        }
        // A version-4 agent cannot read the request: it resets the
        // stream, or drops it unanswered.
        Ok(None) | Err(_) => Err(NotOpened::TooOld),
    }
}

fn message_name(m: &AgentMessage) -> String {
    let text = format!("{m:?}");
    text.split(['(', ' ', '{'])
        .next()
        .unwrap_or("a message")
        .to_string()
}

/// Ends the sessions this node left open when it last stopped.
pub async fn end_abandoned(store: &Store, node: &str) {
    match store
        .end_abandoned_remote_sessions(node.to_string(), crate::unix_now())
        .await
    {
        Ok(0) => {}
        Ok(n) => info!(
            sessions = n,
            "remote sessions left open by the last run ended"
        ),
        Err(e) => warn!(error = %e, "remote sessions left open by the last run were not ended"),
    }
}

/// Prunes recordings older than the retention, hourly, on the leading
/// node, until `stop`.
pub async fn prune_loop(
    store: Store,
    settings: RemoteSettings,
    leader: crate::nodes::Leader,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !leader.leads() {
            continue;
        }
        let now = crate::unix_now();
        let before = retention_cutoff(now, settings.recording_retention_days);
        match store.prune_remote_recordings(before, now).await {
            Ok(0) => {}
            Ok(n) => info!(recordings = n, "old remote session recordings deleted"),
            Err(e) => warn!(error = %e, "pruning remote session recordings failed"),
        }
    }
}

/// Recordings of sessions ended before this are deleted.
pub fn retention_cutoff(now: i64, days: u64) -> i64 {
    let secs = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    now.saturating_sub(secs)
}

#[cfg(test)]
mod tests;
