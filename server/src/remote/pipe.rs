//! The frame pump of one accepted session: the operator's upgraded HTTP
//! connection on one side, the agent's QUIC stream on the other.
//!
//! Each direction reads a frame and awaits its write before reading the
//! next, so a slow side slows the other instead of filling memory. The
//! two directions run side by side with the session's ends: a kill, the
//! agent's connection closing (a revocation closes it) and the end of
//! the user's consent. Whichever comes first is the [`Ending`]; then the
//! side still there is told why, and the session's row is completed
//! (bytes, reason, recording, the ticket's timeline entry, audit).
//!
//! `Data` bytes are counted each way; a terminal's and a desktop's are
//! recorded ([`SessionRecording`], chosen in [`super::recorder`]). A
//! frame that cannot be read ends the session with a sentence, never a
//! panic.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deskhand_shared::frame::{FrameDecoder, encode_frame_uncompressed};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame, RemoteKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

use super::recorder::{Recorder, SessionRecording, for_session};
use super::{AgentSide, Remote};
use crate::store::{RemoteEnd, Store};

/// How long the side still there gets to take the last frame.
const FAREWELL: Duration = Duration::from_secs(2);
/// How often a live session's recording is kept so far, so a server
/// that stops without ending the session loses at most this much of it.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The operator closed the connection.
    OperatorLeft,
    /// The operator sent `End`.
    OperatorEnded(String),
    /// The operator sent bytes that are not a frame.
    BadOperatorFrame(String),
    /// Writing to the operator failed.
    OperatorFailed(String),
    /// The agent finished its stream; the shell's exit, if it sent one.
    AgentFinished(Option<(Option<i32>, Option<i32>)>),
    /// The agent sent `End`.
    AgentEnded(String),
    /// The agent's stream failed (reset, or a write refused).
    AgentFailed(String),
    /// The agent sent bytes that are not a frame.
    BadAgentFrame(String),
    /// Killed by this operator (`sessions kill`, the console, or an admin
    /// withdrawing the operator's remote access).
    Killed(String),
    /// The agent's connection closed (revoked, or gone).
    AgentGone,
    /// The user's consent ended.
    ConsentEnded,
}

impl Ending {
    /// The sentence stored as the session's end reason.
    pub fn reason(&self) -> String {
        match self {
            Ending::OperatorLeft => "the operator closed the session".into(),
            Ending::OperatorEnded(r) => format!("the operator ended it: {r}"),
            Ending::BadOperatorFrame(e) => {
                format!("the operator's client sent something that is not a frame ({e})")
            }
            Ending::OperatorFailed(e) => format!("the operator's connection failed ({e})"),
            Ending::AgentFinished(Some((Some(code), _))) => {
                format!("the shell exited with code {code}")
            }
            Ending::AgentFinished(Some((None, Some(signal)))) => {
                format!("the shell was ended by signal {signal}")
            }
            Ending::AgentFinished(_) => "the machine ended the session".into(),
            Ending::AgentEnded(r) => format!("the machine ended it: {r}"),
            Ending::AgentFailed(e) => format!("the machine's stream failed ({e})"),
            Ending::BadAgentFrame(e) => {
                format!("the agent sent something that is not a frame ({e})")
            }
            Ending::Killed(by) => format!("killed by {by}"),
            Ending::AgentGone => "the agent's connection closed".into(),
            Ending::ConsentEnded => "the user's consent for remote access ended".into(),
        }
    }

    /// What the operator is told in a last `End`, unless they left or
    /// the agent's own `End` was passed on.
    pub fn tell_operator(&self) -> Option<String> {
        match self {
            Ending::OperatorLeft
            | Ending::OperatorEnded(_)
            | Ending::OperatorFailed(_)
            | Ending::AgentEnded(_) => None,
            other => Some(other.reason()),
        }
    }

    /// What the agent is told in a last `End`, unless its stream is
    /// already over (it then stops whatever it runs for the session).
    pub fn tell_agent(&self) -> Option<String> {
        match self {
            Ending::AgentFinished(_)
            | Ending::AgentEnded(_)
            | Ending::AgentFailed(_)
            | Ending::AgentGone
            | Ending::OperatorEnded(_) => None,
            other => Some(other.reason()),
        }
    }
}

/// What both directions add to as they go.
struct Tally {
    up: u64,
    down: u64,
    recording: Option<SessionRecording>,
    exit: Option<(Option<i32>, Option<i32>)>,
    started: Instant,
}

impl Tally {
    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

fn lock(t: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &RemoteFrame) -> Result<(), String> {
    let bytes = encode_frame_uncompressed(frame).map_err(|e| e.to_string())?;
    w.write_all(&bytes).await.map_err(|e| e.to_string())?;
    w.flush().await.map_err(|e| e.to_string())
}

/// Reads frames from `r` (continuing `decoder`) and hands each to `each`,
/// which answers `Some(ending)` to stop; `None` from the end of `r`.
pub(super) async fn frames<R: AsyncRead + Unpin>(
    r: &mut R,
    decoder: &mut FrameDecoder,
) -> Result<Option<RemoteFrame>, String> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = decoder
            .next_message::<RemoteFrame>()
            .map_err(|e| e.to_string())?
        {
            return Ok(Some(frame));
        }
        let want = decoder.wanted().clamp(1, buf.len());
        let n = r
            .read(&mut buf[..want])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            if decoder.buffered() > 0 {
                return Err("the connection ended inside a frame".into());
            }
            return Ok(None);
        }
        decoder.push(&buf[..n]).map_err(|e| e.to_string())?;
    }
}

/// The operator to the agent, until one of them ends it.
async fn upstream<R, W>(
    op: &mut R,
    decoder: &mut FrameDecoder,
    agent: &mut W,
    tally: &Mutex<Tally>,
) -> Ending
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let frame = match frames(op, decoder).await {
            Ok(Some(f)) => f,
            Ok(None) => return Ending::OperatorLeft,
            Err(e) if e.starts_with("read:") => return Ending::OperatorLeft,
            Err(e) => return Ending::BadOperatorFrame(e),
        };
        {
            let mut t = lock(tally);
            let secs = t.secs();
            match &frame {
                RemoteFrame::Data(d) => {
                    t.up += d.len() as u64;
                    if let Some(r) = &mut t.recording {
                        r.input(secs, d);
                    }
                }
                RemoteFrame::Resize { cols, rows } => {
                    if let Some(r) = &mut t.recording {
                        r.resize(secs, *cols, *rows);
                    }
                }
                _ => {}
            }
        }
        if let Err(e) = write_frame(agent, &frame).await {
            return Ending::AgentFailed(e);
        }
        if let RemoteFrame::End { reason } = frame {
            return Ending::OperatorEnded(reason);
        }
    }
}

/// The agent to the operator, until one of them ends it.
async fn downstream<R, W>(
    agent: &mut R,
    decoder: &mut FrameDecoder,
    op: &mut W,
    tally: &Mutex<Tally>,
) -> Ending
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let frame = match frames(agent, decoder).await {
            Ok(Some(f)) => f,
            Ok(None) => return Ending::AgentFinished(lock(tally).exit),
            Err(e) if e.starts_with("read:") => return Ending::AgentFailed(e),
            Err(e) => return Ending::BadAgentFrame(e),
        };
        {
            let mut t = lock(tally);
            let secs = t.secs();
            match &frame {
                RemoteFrame::Data(d) => {
                    t.down += d.len() as u64;
                    if let Some(r) = &mut t.recording {
                        r.output(secs, d);
                    }
                }
                RemoteFrame::Exit { code, signal } => t.exit = Some((*code, *signal)),
                _ => {}
            }
        }
        if let Err(e) = write_frame(op, &frame).await {
            return Ending::OperatorFailed(e);
        }
        if let RemoteFrame::End { reason } = frame {
            return Ending::AgentEnded(reason);
        }
    }
}

/// Ready when the agent's connection closes.
pub type Gone = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Who and what a session is, for its row and recording.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The session's id.
    pub id: i64,
    /// The agent.
    pub agent_id: String,
    /// The machine's host name.
    pub hostname: String,
    /// The operator.
    pub operator: String,
    /// What was asked.
    pub kind: RemoteKind,
    /// The ticket the operator named.
    pub ticket: Option<i64>,
    /// When it started, Unix seconds.
    pub started_at: i64,
}

/// What a session ended with.
#[derive(Debug)]
pub struct Outcome {
    /// How.
    pub ending: Ending,
    /// Operator to machine `Data` bytes.
    pub up: u64,
    /// Machine to operator `Data` bytes.
    pub down: u64,
    /// The recording (a terminal's asciicast, a desktop's FBS).
    pub recording: Option<Vec<u8>>,
}

/// The session's ends besides the two streams.
pub struct Ends<'a> {
    /// Fires with the killer's name.
    pub kill: tokio::sync::oneshot::Receiver<String>,
    /// Ready when the agent's connection closes.
    pub gone: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>,
    /// When the consent ends.
    pub until: Option<Duration>,
}

/// One side's byte streams and the decoder of what it sends (holding
/// anything already read past an earlier message).
pub struct Side<R, W> {
    /// What it sends.
    pub read: R,
    /// What it is sent.
    pub write: W,
    /// Frames read from `read`.
    pub decoder: FrameDecoder,
}

impl<R, W> Side<R, W> {
    /// A side with nothing read yet.
    pub fn new(read: R, write: W) -> Self {
        Self {
            read,
            write,
            decoder: FrameDecoder::new(MAX_REMOTE_FRAME),
        }
    }
}

/// Relays frames between the operator's side and the agent's until the
/// session ends; tells the side still there why. Generic over both
/// sides' byte streams: the operator's is an upgraded HTTP connection
/// or, on a node relaying for another, that node's stream; tests pipe it
/// in memory.
pub async fn relay<OR, OW, AR, AW>(
    op: &mut Side<OR, OW>,
    agent: &mut Side<AR, AW>,
    recorder: Option<Recorder>,
    ends: Ends<'_>,
) -> Outcome
where
    OR: AsyncRead + Unpin + Send,
    OW: AsyncWrite + Unpin + Send,
    AR: AsyncRead + Unpin + Send,
    AW: AsyncWrite + Unpin + Send,
{
    let (recording, checkpoint) = match recorder {
        Some(r) => (Some(r.recording), r.checkpoint),
        None => (None, None),
    };
    let tally = Mutex::new(Tally {
        up: 0,
        down: 0,
        recording,
        exit: None,
        started: Instant::now(),
    });
    let Ends { kill, gone, until } = ends;
    let consent = async {
        match until {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let checkpoints = async {
        match checkpoint {
            Some(save) => {
                let mut saved = 0;
                loop {
                    tokio::time::sleep(CHECKPOINT_EVERY).await;
                    let grown = lock(&tally)
                        .recording
                        .as_ref()
                        .filter(|r| r.len() > saved)
                        .map(SessionRecording::snapshot);
                    if let Some(bytes) = grown {
                        saved = bytes.len();
                        save(bytes).await;
                    }
                }
            }
            None => std::future::pending::<Ending>().await,
        }
    };
    let ending = tokio::select! {
        e = upstream(&mut op.read, &mut op.decoder, &mut agent.write, &tally) => e,
        e = downstream(&mut agent.read, &mut agent.decoder, &mut op.write, &tally) => e,
        by = kill => Ending::Killed(by.unwrap_or_else(|_| "the server".into())),
        () = gone => Ending::AgentGone,
        () = consent => Ending::ConsentEnded,
        e = checkpoints => e,
    };
    if let Some(reason) = ending.tell_operator() {
        let end = RemoteFrame::End { reason };
        let _ = tokio::time::timeout(FAREWELL, write_frame(&mut op.write, &end)).await;
    }
    let _ = tokio::time::timeout(FAREWELL, op.write.shutdown()).await;
    if let Some(reason) = ending.tell_agent() {
        let end = RemoteFrame::End { reason };
        let _ = tokio::time::timeout(FAREWELL, write_frame(&mut agent.write, &end)).await;
    }
    let t = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    Outcome {
        ending,
        up: t.up,
        down: t.down,
        recording: t.recording.map(SessionRecording::finish),
    }
}

/// Runs an accepted session to its end between the operator's side
/// (`op`) and the agent's (`agent`: its stream, or the stream of the
/// node holding its session), until `gone` (the agent's connection
/// closing) at the latest; records how it ended.
pub async fn run<OR, OW>(
    mut op: Side<OR, OW>,
    agent: AgentSide,
    gone: Gone,
    info: SessionInfo,
    store: Store,
    remote: Arc<Remote>,
) where
    OR: AsyncRead + Unpin + Send,
    OW: AsyncWrite + Unpin + Send,
{
    let AgentSide {
        send,
        recv,
        decoder,
        ticket,
        until,
    } = agent;
    let (registered, kill) = remote.register(info.id, &info.agent_id, &info.operator);
    let recorder = for_session(&info, remote.settings.recording_max_bytes, &store);
    let now = crate::unix_now();
    let until_in = until.map(|u| {
        let left = i64::try_from(u).unwrap_or(i64::MAX).saturating_sub(now);
        Duration::from_secs(u64::try_from(left).unwrap_or(0))
    });
    let ends = Ends {
        kill,
        gone,
        until: until_in,
    };
    let mut agent = Side {
        read: recv,
        write: send,
        decoder,
    };
    let out = relay(&mut op, &mut agent, recorder, ends).await;
    drop(registered);
    // The agent stops the session's work when its stream ends either way.
    let _ = agent.write.finish();
    let _ = agent.read.stop(0u32.into());
    let reason = match (&out.ending, &info.kind) {
        (Ending::AgentFinished(None), kind) => finished(kind).to_string(),
        (ending, _) => ending.reason(),
    };
    let ended = crate::unix_now();
    let ticket = ticket.or(info.ticket);
    let end = RemoteEnd {
        summary: super::summary(
            info.kind.word(),
            info.id,
            &info.operator,
            ended - info.started_at,
            i64::try_from(out.up + out.down).unwrap_or(i64::MAX),
            &reason,
        ),
        reason: reason.clone(),
        bytes_up: i64::try_from(out.up).unwrap_or(i64::MAX),
        bytes_down: i64::try_from(out.down).unwrap_or(i64::MAX),
        recording: out.recording,
        ticket,
    };
    info!(session = info.id, agent = %info.agent_id, operator = %info.operator, %reason, "remote session ended");
    if let Err(e) = store.end_remote_session(info.id, end, ended).await {
        warn!(session = info.id, error = %e, "the remote session's end was not stored");
    }
}

/// How a session the machine finished without a shell's exit ended: a
/// file's or a listing's end is its work done, not a cut.
pub fn finished(kind: &RemoteKind) -> &'static str {
    match kind {
        RemoteKind::Terminal { .. } => "the machine ended the session",
        RemoteKind::FileGet { .. } => "the file was sent",
        RemoteKind::FilePut { .. } => "the file was stored",
        RemoteKind::FileList { .. } => "the listing was sent",
        RemoteKind::Tunnel { .. } => "the machine closed the tunnel",
        RemoteKind::Desktop { .. } => "the user's screen session ended",
    }
}

/// On the node holding an agent's session, for the node an operator
/// reached: frames between that node's stream and the agent's until
/// either ends. That node counts, records, kills and ends the session;
/// this one only passes frames (and tells that node when the agent's
/// connection closes).
pub async fn forward(
    node_send: quinn::SendStream,
    node_recv: quinn::RecvStream,
    agent: AgentSide,
    conn: quinn::Connection,
) -> Ending {
    // Never fired: kills are the other node's.
    let (_kill_switch, kill) = tokio::sync::oneshot::channel();
    let mut node = Side::new(node_recv, node_send);
    let mut agent_side = Side {
        read: agent.recv,
        write: agent.send,
        decoder: agent.decoder,
    };
    let ends = Ends {
        kill,
        gone: Box::pin(async move {
            conn.closed().await;
        }),
        until: None,
    };
    let out = relay(&mut node, &mut agent_side, None, ends).await;
    let _ = agent_side.write.finish();
    let _ = agent_side.read.stop(0u32.into());
    let _ = node.read.stop(0u32.into());
    out.ending
}

#[cfg(test)]
mod tests;
