//! One session's driver: the hello, then the conversation until the
//! connection ends. It owns the connection, the collectors, the jobs and
//! the clock; what to do is decided by the session's [`State`], which it
//! feeds events and whose effects it carries out.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use deskhand_net::backoff::Backoff;
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, ServerMessage, close_code};
use quinn::{Connection, SendStream};
use tokio::sync::oneshot;
use tracing::warn;

use super::state::{Effect, Ending, Event, JobCommand, State, Timer};
use super::{ANSWER_TIMEOUT, SessionEnd};
use crate::facts;
use crate::help::HelpInbox;
use crate::help::portal::Asked;
use crate::jobs::{JobEvent, Jobs};
use crate::remote::Remote;
use crate::report::InventoryReporter;

/// How long the diagnostic attached to a help request may run.
const HELP_DIAGNOSTIC_LIMIT: Duration = Duration::from_secs(20);

/// Collects the inventory off the async threads.
async fn collect_inventory() -> Result<deskhand_shared::inventory::Inventory> {
    tokio::task::spawn_blocking(crate::inventory::collect)
        .await
        .context("the inventory collection failed")
}

/// The jobs and the events they emit, lent to a session.
pub(super) type JobsLink<'a> = (
    &'a Jobs,
    &'a mut tokio::sync::mpsc::UnboundedReceiver<JobEvent>,
);

/// The next help request or portal link request, or never without a
/// help inbox.
async fn next_help(help: &mut Option<HelpInbox>) -> Option<Asked> {
    match help {
        Some(inbox) => inbox.next_asked().await,
        None => std::future::pending().await,
    }
}

/// Now, on tokio's clock (which tests may pause).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What carries out a session's effects.
struct Io<'a> {
    conn: &'a Connection,
    tx: SendStream,
    backoff: &'a mut Backoff,
    jobs: &'a Jobs,
    /// Where the acknowledged inventory is kept between runs.
    base_file: &'a Path,
    timers: [Option<Instant>; 2],
    /// Where the answer to the help request being forwarded goes.
    reply: Option<oneshot::Sender<Result<i64, String>>>,
    /// Help requests sent, waiting for their answer.
    waiting: HashMap<u64, oneshot::Sender<Result<i64, String>>>,
    /// Where the answer to the portal link request being sent goes.
    portal_reply: Option<oneshot::Sender<Result<String, String>>>,
    /// Portal link requests sent, waiting for their answer.
    portal_waiting: HashMap<u64, oneshot::Sender<Result<String, String>>>,
}

fn slot(timer: Timer) -> usize {
    match timer {
        Timer::Heartbeat => 0,
        Timer::Inventory => 1,
    }
}

impl Io<'_> {
    /// Carries out `effects` in order; an answer is fed to `state` and its
    /// effects carried out before the rest. `Some` when the session ends.
    async fn carry_out(
        &mut self,
        state: &mut State,
        effects: Vec<Effect>,
    ) -> Result<Option<SessionEnd>> {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let answer = match effect {
                Effect::Send(msg) => {
                    send(&mut self.tx, &msg).await?;
                    None
                }
                Effect::Collect { full } => Some(Event::Collected {
                    inventory: Box::new(collect_inventory().await?),
                    full,
                }),
                Effect::Diagnose(req) => Some(Event::Diagnosed(
                    crate::diag::collect(req, HELP_DIAGNOSTIC_LIMIT).await,
                )),
                Effect::Jobs(JobCommand::Order(order)) => {
                    self.jobs.order(order);
                    None
                }
                Effect::Jobs(JobCommand::Cancel(job_id)) => {
                    self.jobs.cancel(&job_id);
                    None
                }
                Effect::Jobs(JobCommand::Ack(job_id)) => {
                    self.jobs.ack(&job_id);
                    None
                }
                Effect::Jobs(JobCommand::Outbox) => Some(Event::Outbox(self.jobs.outbox())),
                Effect::KeepBase(bytes) => {
                    // Lost, the next run starts with a whole report: say
                    // so, and go on.
                    if let Err(e) =
                        deskhand_net::files::write_file_atomic(self.base_file, &bytes, true)
                    {
                        warn!(path = %self.base_file.display(), error = %format!("{e:#}"), "cannot keep the acknowledged inventory; the next run reports it whole");
                    }
                    None
                }
                Effect::Online => {
                    self.backoff.reset();
                    self.jobs.set_connection(Some(self.conn.clone()));
                    None
                }
                Effect::HelpSent(request_id) => {
                    if let Some(reply) = self.reply.take() {
                        self.waiting.insert(request_id, reply);
                    }
                    None
                }
                Effect::HelpAnswered { request_id, answer } => {
                    if let Some(reply) = self.waiting.remove(&request_id) {
                        let _ = reply.send(answer);
                    }
                    None
                }
                Effect::PortalSent(request_id) => {
                    if let Some(reply) = self.portal_reply.take() {
                        self.portal_waiting.insert(request_id, reply);
                    }
                    None
                }
                Effect::PortalAnswered { request_id, answer } => {
                    if let Some(reply) = self.portal_waiting.remove(&request_id) {
                        let _ = reply.send(answer);
                    }
                    None
                }
                Effect::SetTimer(timer, at) => {
                    self.timers[slot(timer)] = Some(at);
                    None
                }
                Effect::End(Ending::Refused(why)) => return Ok(Some(SessionEnd::Refused(why))),
                Effect::End(Ending::Lost(why)) => return Ok(Some(SessionEnd::Lost(anyhow!(why)))),
            };
            if let Some(event) = answer {
                for effect in state.handle(event, now()).into_iter().rev() {
                    queue.push_front(effect);
                }
            }
        }
        Ok(None)
    }

    /// The timers due at `now`, unset.
    fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        [Timer::Heartbeat, Timer::Inventory]
            .into_iter()
            .filter(|t| {
                let due = self.timers[slot(*t)].is_some_and(|at| at <= now);
                if due {
                    self.timers[slot(*t)] = None;
                }
                due
            })
            .collect()
    }
}

/// How a session reports its inventory, lent by the run loop.
pub(super) struct Reporting<'a> {
    /// How often, on schedule.
    pub(super) interval: Duration,
    /// What the sessions before had acknowledged; it holds this
    /// session's at the end.
    pub(super) reporter: &'a mut InventoryReporter,
    /// Where a new acknowledged base is also written.
    pub(super) base_file: &'a Path,
}

/// Tells the server this agent's remote-access policy and consent; when
/// that consent lapses, if one is open.
async fn send_policy(tx: &mut SendStream, remote: &Remote) -> Result<Option<Instant>> {
    let now = crate::remote::unix_now();
    let policy = remote.policy(now);
    let lapse = policy
        .consent
        .map(|c| self::now() + Duration::from_secs(c.until.saturating_sub(now)));
    send(tx, &AgentMessage::RemotePolicy(policy)).await?;
    Ok(lapse)
}

/// What the machine's own users reach a session through: help requests
/// and the consent to remote access.
pub(super) struct Local<'a> {
    /// Help requests, if the help channel listens.
    pub(super) help: &'a mut Option<HelpInbox>,
    /// The remote-access policy and consent.
    pub(super) remote: &'a Remote,
}

/// Runs one session on `conn`.
pub(super) async fn converse(
    conn: &Connection,
    backoff: &mut Backoff,
    Reporting {
        interval: inventory_interval,
        reporter,
        base_file,
    }: Reporting<'_>,
    jobs: &Jobs,
    job_events: &mut tokio::sync::mpsc::UnboundedReceiver<JobEvent>,
    Local { help, remote }: Local<'_>,
) -> SessionEnd {
    let (mut state, effects) =
        State::resume(inventory_interval, facts::hello(), std::mem::take(reporter));
    let result: Result<SessionEnd> = async {
        let state = &mut state;
        let (tx, mut rx) = conn.open_bi().await?;
        let mut io = Io {
            conn,
            tx,
            backoff,
            jobs,
            base_file,
            timers: [None; 2],
            reply: None,
            waiting: HashMap::new(),
            portal_reply: None,
            portal_waiting: HashMap::new(),
        };
        if let Some(end) = io.carry_out(state, effects).await? {
            return Ok(end);
        }
        let mut decoder = FrameDecoder::default();
        let answer =
            tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder))
                .await
                .context("the server did not answer the hello in time")??;
        let Some(answer) = answer else {
            bail!("unexpected answer to the hello: None");
        };
        // A server that speaks remote access hears the policy now and on
        // every change of consent.
        let speaks_remote = matches!(&answer, ServerMessage::Welcome(w) if w.protocol_version >= 5);
        let effects = state.handle(Event::Message(answer), now());
        // Online from the server's welcome, as the server sees it: a help
        // request made while the first report is collected and sent waits
        // in the inbox for the loop below rather than hear "not connected".
        let _online = help.as_ref().map(HelpInbox::online);
        if let Some(end) = io.carry_out(state, effects).await? {
            return Ok(end);
        }
        let mut policy_changes = remote.subscribe();
        // When the consent the server was last told of lapses: it hears
        // the policy again then.
        let mut lapse = None;
        if speaks_remote && state.is_open() {
            lapse = send_policy(&mut io.tx, remote).await?;
        }
        let mut lapse_alarm =
            std::pin::pin!(tokio::time::sleep_until(lapse.unwrap_or_else(now).into()));
        let mut alarm = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        let mut alarm_at = None;
        loop {
            let next = io.timers.iter().flatten().min().copied();
            if next != alarm_at {
                if let Some(at) = next {
                    alarm.as_mut().reset(tokio::time::Instant::from_std(at));
                }
                alarm_at = next;
            }
            let events = tokio::select! {
                Some(asked) = next_help(help) => match asked {
                    Asked::Help(job) => {
                        io.reply = Some(job.reply);
                        vec![Event::HelpAsked { message: job.message, requester: job.requester }]
                    }
                    Asked::Portal(job) => {
                        io.portal_reply = Some(job.reply);
                        vec![Event::PortalAsked { user: job.user }]
                    }
                },
                () = &mut alarm, if alarm_at.is_some() => {
                    alarm_at = None;
                    io.take_due(now()).into_iter().map(Event::Timer).collect()
                }
                msg = recv::<ServerMessage>(&mut rx, &mut decoder) => match msg? {
                    Some(msg) => vec![Event::Message(msg)],
                    None => bail!("the server ended the session"),
                },
                Some(event) = job_events.recv() => vec![Event::Job(event)],
                stream = conn.accept_bi() => {
                    let (stx, srx) = stream?;
                    tokio::spawn(super::request::serve_request(stx, srx, remote.clone()));
                    continue;
                }
                changed = policy_changes.changed(), if speaks_remote => {
                    if changed.is_ok() {
                        lapse = send_policy(&mut io.tx, remote).await?;
                        if let Some(at) = lapse {
                            lapse_alarm.as_mut().reset(at.into());
                        }
                    }
                    continue;
                }
                () = &mut lapse_alarm, if lapse.is_some() => {
                    lapse = send_policy(&mut io.tx, remote).await?;
                    if let Some(at) = lapse {
                        lapse_alarm.as_mut().reset(at.into());
                    }
                    continue;
                }
            };
            for event in events {
                let effects = state.handle(event, now());
                if let Some(end) = io.carry_out(state, effects).await? {
                    return Ok(end);
                }
            }
        }
    }
    .await;
    let protocol_close = matches!(
        conn.close_reason(),
        Some(quinn::ConnectionError::ApplicationClosed(close))
            if close.error_code == close_code::PROTOCOL.into()
    );
    *reporter = state.end(protocol_close);
    match result {
        Ok(end) => end,
        Err(e) => match conn.close_reason() {
            Some(quinn::ConnectionError::ApplicationClosed(close))
                if close.error_code == close_code::REVOKED.into() =>
            {
                SessionEnd::Refused(String::from_utf8_lossy(&close.reason).into_owned())
            }
            _ => SessionEnd::Lost(e),
        },
    }
}
