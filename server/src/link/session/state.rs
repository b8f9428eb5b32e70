//! A session's decisions without I/O, in the style of quinn-proto: fed
//! [`Event`]s and `now`, a [`State`] says what to send the agent, what to
//! ask of the store and which timers to set ([`Effect`]s). The driver
//! (`session::run`) owns the streams, the store and the clock, carries
//! out the effects and feeds the answers back.
//!
//! The pieces that decide are the small types it gathers: report pacing
//! ([`IngestPacer`]), asking again for a report the server failed to
//! store ([`AskAgain`]), output coalescing ([`OutputBuffer`]), help
//! pacing ([`HelpPacer`]) and job send planning ([`plan_sends`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskhand_shared::inventory::ContentHash;
use deskhand_shared::jobs::{JobOrder, JobProgress, JobUpdate};
use deskhand_shared::proto::{
    AgentMessage, Hello, HelpAnswer, HelpRequest, InventoryReport, PROTOCOL_VERSION, ServerMessage,
    Welcome,
};
use tracing::{debug, warn};

use super::super::ingest::{AskAgain, IngestPacer, Outcome};
use crate::help::HelpPacer;
use crate::jobs::{OutputBuffer, Pending, Send, TargetState, plan_sends};
use crate::store::Applied;

/// How often a session stores the job output it has received.
pub(crate) const OUTPUT_FLUSH: Duration = Duration::from_millis(500);
/// How often a session looks for jobs it was not told about.
pub(crate) const JOB_POLL: Duration = Duration::from_secs(60);

/// What happened, fed to [`State::handle`].
#[derive(Debug)]
pub(crate) enum Event {
    /// A message from the agent on the control stream, and what it cost
    /// on the wire (its compressed size).
    Message {
        /// The message.
        msg: AgentMessage,
        /// Its size on the wire.
        wire_len: usize,
    },
    /// A timer set with [`Effect::SetTimer`] is due.
    Timer(Timer),
    /// This agent's jobs changed (a job was created or cancelled).
    JobsChanged,
    /// The answer to [`Request::PendingJobs`].
    PendingJobs(Vec<Pending>),
    /// The answer to [`Request::Order`]: the order, or why there is none.
    Order {
        /// The job.
        job_id: String,
        /// Its order, or why it cannot be built.
        order: Result<Arc<JobOrder>, String>,
    },
    /// The answer to [`Request::Ingest`], with a random number for the
    /// backoff's jitter.
    Ingested {
        /// What became of the report.
        outcome: Outcome,
        /// Jitter for [`AskAgain`].
        random: u64,
    },
    /// The answer to [`Request::CheckHash`].
    HashChecked {
        /// The hash the agent sent.
        hash: ContentHash,
        /// Whether the asset's stored inventory has it; `Err` when the
        /// store could not say.
        held: Result<bool, String>,
        /// Jitter for [`AskAgain`].
        random: u64,
    },
    /// The answer to [`Request::JobUpdate`].
    JobUpdateApplied {
        /// The job.
        job_id: String,
        /// Whether the update was the job's result.
        finished: bool,
        /// What the store did with it.
        applied: Applied,
    },
    /// The answer to [`Request::OpenTicket`].
    HelpAnswered(HelpAnswer),
    /// The answer to [`Request::PortalLink`]: the link, or why there is none.
    PortalLinkMade {
        /// The agent's request.
        request_id: u64,
        /// The link, or why there is none.
        link: Result<String, String>,
    },
}

/// The timers a session sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Timer {
    /// Look for jobs the session was not told about.
    JobPoll,
    /// Store the job output received so far.
    OutputFlush,
    /// Ask again for a report the server failed to store.
    AskAgain,
}

/// What the driver is to do, in order.
#[derive(Debug)]
pub(crate) enum Effect {
    /// Send this to the agent on the control stream.
    Send(ServerMessage),
    /// Ask the store; some requests are answered with an [`Event`].
    Store(Request),
    /// Fire [`Event::Timer`] at this instant (replacing an earlier one).
    SetTimer(Timer, Instant),
    /// The agent broke the protocol: close the connection with this reason.
    Close(&'static str),
}

/// What a session asks of the store.
#[derive(Debug)]
pub(crate) enum Request {
    /// Store the agent's host name, OS and version; a failure is logged
    /// and the session goes on. No answer.
    UpdateFacts(Hello),
    /// Read the agent's unfinished jobs; answered by [`Event::PendingJobs`].
    PendingJobs,
    /// The order of a job; answered by [`Event::Order`].
    Order(String),
    /// Store an inventory report after `wait` (pacing: the stream is not
    /// read meanwhile); answered by [`Event::Ingested`].
    Ingest {
        /// The report.
        report: InventoryReport,
        /// Its size on the wire.
        wire_len: usize,
        /// How long to hold it first.
        wait: Duration,
    },
    /// Compare an agent's inventory hash with the asset's stored one
    /// after `wait` (paced as a delta); answered by [`Event::HashChecked`].
    CheckHash {
        /// The agent's hash.
        hash: ContentHash,
        /// How long to hold it first.
        wait: Duration,
    },
    /// Apply a job's progress; answered by [`Event::JobUpdateApplied`]
    /// unless it is output.
    JobUpdate(JobUpdate),
    /// Open a ticket for a help request; answered by [`Event::HelpAnswered`].
    OpenTicket(HelpRequest),
    /// Mint a portal link for a user of the agent's machine; answered by
    /// [`Event::PortalLinkMade`].
    PortalLink {
        /// The agent's request.
        request_id: u64,
        /// The OS account it vouches for.
        user: String,
    },
    /// Store the agent's remote-access policy (shown on its asset); a
    /// failure is logged. No answer.
    RemotePolicy(deskhand_shared::remote::RemotePolicy),
}

/// What a session needs to decide, besides its events.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The agent's id.
    pub(crate) agent_id: String,
    /// The facts the store holds from the agent's last hello (its
    /// protocol version is not stored), if known.
    pub(crate) stored_facts: Option<Hello>,
    /// Heartbeat interval told to the agent.
    pub(crate) heartbeat_secs: u32,
    /// Most jobs the agent runs at a time.
    pub(crate) max_jobs: usize,
}

/// One session's state: everything it decides with, nothing it does I/O with.
#[derive(Debug)]
pub(crate) struct State {
    settings: Settings,
    pacer: IngestPacer,
    ask_again: AskAgain,
    output: OutputBuffer,
    help: HelpPacer,
    /// Paces portal links like help requests.
    portal: HelpPacer,
    /// Orders and cancels sent this session.
    sent: HashSet<Send>,
    /// The queued, uncancelled jobs of the last look at the agent's jobs.
    queued: Vec<String>,
}

impl State {
    /// A session for an accepted hello: its first effects are storing
    /// the agent's facts (unless the store has them), the welcome and an
    /// immediate look for jobs that waited for this agent.
    pub(crate) fn start(settings: Settings, hello: Hello, now: Instant) -> (Self, Vec<Effect>) {
        let welcome = ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            agent_id: settings.agent_id.clone(),
            heartbeat_secs: settings.heartbeat_secs,
        });
        let state = State {
            settings,
            pacer: IngestPacer::default(),
            ask_again: AskAgain::default(),
            output: OutputBuffer::default(),
            help: HelpPacer::default(),
            portal: HelpPacer::default(),
            sent: HashSet::new(),
            queued: Vec::new(),
        };
        // An agent that reconnects (10,000 after a server restart) has
        // the facts the store holds: no write for them.
        let same = |s: &Hello| {
            (
                &s.agent_version,
                &s.hostname,
                &s.os_name,
                &s.os_version,
                &s.kernel_version,
                &s.arch,
            ) == (
                &hello.agent_version,
                &hello.hostname,
                &hello.os_name,
                &hello.os_version,
                &hello.kernel_version,
                &hello.arch,
            )
        };
        let mut effects = Vec::with_capacity(3);
        if !state.settings.stored_facts.as_ref().is_some_and(same) {
            effects.push(Effect::Store(Request::UpdateFacts(hello)));
        }
        effects.push(Effect::Send(welcome));
        effects.push(Effect::SetTimer(Timer::JobPoll, now));
        (state, effects)
    }

    /// Decides what `event`, at `now`, calls for.
    pub(crate) fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        let agent_id = &self.settings.agent_id;
        match event {
            Event::Message { msg, wire_len } => self.on_message(msg, wire_len, now),
            Event::Timer(Timer::JobPoll) => vec![
                Effect::Store(Request::PendingJobs),
                Effect::SetTimer(Timer::JobPoll, now + JOB_POLL),
            ],
            Event::JobsChanged => vec![Effect::Store(Request::PendingJobs)],
            Event::Timer(Timer::OutputFlush) => self
                .output
                .take()
                .into_iter()
                .map(|(job_id, stderr, text)| {
                    Effect::Store(Request::JobUpdate(JobUpdate {
                        job_id,
                        progress: JobProgress::Output { stderr, text },
                    }))
                })
                .collect(),
            Event::Timer(Timer::AskAgain) => match self.ask_again.take() {
                Some(request) => {
                    debug!(%agent_id, "asking again for the report the server could not store");
                    vec![Effect::Send(request)]
                }
                None => Vec::new(),
            },
            Event::PendingJobs(pending) => self.plan_jobs(&pending),
            Event::Order { job_id, order } => match order {
                Ok(order) => {
                    self.sent.insert(Send::Order(job_id));
                    vec![Effect::Send(ServerMessage::Job(Box::new((*order).clone())))]
                }
                Err(why) => {
                    warn!(%agent_id, %job_id, %why, "cannot build a job's order");
                    Vec::new()
                }
            },
            Event::Ingested { outcome, random } => match outcome {
                Outcome::Stored(hash) => {
                    self.ask_again.stored();
                    vec![Effect::Send(ServerMessage::InventoryAck(hash))]
                }
                Outcome::SendFull => {
                    vec![Effect::Send(ServerMessage::InventoryRequest { full: true })]
                }
                Outcome::Refused => Vec::new(),
                Outcome::Failed { full, why } => {
                    let wait = self.ask_again.failed(full, random);
                    warn!(%agent_id, error = %why, retry_in = ?wait, "inventory not stored; the server asks for it again later");
                    vec![Effect::SetTimer(Timer::AskAgain, now + wait)]
                }
            },
            Event::HashChecked { hash, held, random } => match held {
                // "Have it": the agent goes on with deltas against it.
                Ok(true) => {
                    self.ask_again.stored();
                    vec![Effect::Send(ServerMessage::InventoryAck(hash))]
                }
                Ok(false) => vec![Effect::Send(ServerMessage::InventoryRequest { full: true })],
                Err(why) => {
                    // Asked for in full later, like a report the server
                    // failed to store: a failing store is not also
                    // flooded with whole inventories.
                    let wait = self.ask_again.failed(true, random);
                    warn!(%agent_id, error = %why, retry_in = ?wait, "cannot check the agent's inventory hash; the server asks for its inventory later");
                    vec![Effect::SetTimer(Timer::AskAgain, now + wait)]
                }
            },
            Event::JobUpdateApplied {
                job_id,
                finished,
                applied,
            } => {
                let mut effects = Vec::new();
                if finished {
                    // Committed: the agent may drop it from its outbox.
                    effects.push(Effect::Send(ServerMessage::JobAck { job_id }));
                }
                if self.jobs_waiting() && matches!(applied, Applied::Changed(s) if s.is_terminal())
                {
                    // A slot is free and a job waits for one.
                    effects.push(Effect::Store(Request::PendingJobs));
                }
                effects
            }
            Event::HelpAnswered(answer) => vec![Effect::Send(ServerMessage::HelpAnswer(answer))],
            Event::PortalLinkMade { request_id, link } => {
                let (url, error) = match link {
                    Ok(url) => (Some(url), None),
                    Err(e) => (None, Some(e)),
                };
                vec![Effect::Send(ServerMessage::PortalLink {
                    request_id,
                    url,
                    error,
                })]
            }
        }
    }

    fn on_message(&mut self, msg: AgentMessage, wire_len: usize, now: Instant) -> Vec<Effect> {
        let agent_id = &self.settings.agent_id;
        match msg {
            AgentMessage::Heartbeat => Vec::new(),
            AgentMessage::Inventory(report) => {
                // An agent that reports too often waits (and QUIC flow
                // control holds its stream); the others are not slowed.
                let full = matches!(report, InventoryReport::Full(_));
                let wait = self.pacer.delay(now, full);
                if !wait.is_zero() {
                    debug!(%agent_id, ?wait, "pacing an agent that reports too often");
                }
                vec![Effect::Store(Request::Ingest {
                    report,
                    wire_len,
                    wait,
                })]
            }
            AgentMessage::InventoryHash(hash) => {
                // One read, paced like a delta.
                let wait = self.pacer.delay(now, false);
                vec![Effect::Store(Request::CheckHash { hash, wait })]
            }
            AgentMessage::JobUpdate(update) => {
                if let JobProgress::Output { stderr, text } = &update.progress {
                    // Set by the chunk that finds the buffer empty, so an
                    // idle session has no timer firing: 10,000 sessions
                    // would otherwise wake 20,000 times a second to find
                    // nothing to store.
                    let mut effects = Vec::new();
                    if self.output.is_empty() {
                        effects.push(Effect::SetTimer(Timer::OutputFlush, now + OUTPUT_FLUSH));
                    }
                    self.output.push(&update.job_id, *stderr, text);
                    return effects;
                }
                if matches!(update.progress, JobProgress::Finished(_)) {
                    self.output.forget(&update.job_id);
                }
                vec![Effect::Store(Request::JobUpdate(update))]
            }
            AgentMessage::HelpRequest(req) => {
                if self.help.allow(now) {
                    vec![Effect::Store(Request::OpenTicket(req))]
                } else {
                    warn!(%agent_id, "refusing a help request: too many from this session");
                    vec![Effect::Send(ServerMessage::HelpAnswer(
                        crate::help::too_many(req.request_id),
                    ))]
                }
            }
            AgentMessage::PortalLinkRequest { request_id, user } => {
                if self.portal.allow(now) {
                    vec![Effect::Store(Request::PortalLink { request_id, user })]
                } else {
                    warn!(%agent_id, "refusing a portal link: too many from this session");
                    vec![Effect::Send(ServerMessage::PortalLink {
                        request_id,
                        url: None,
                        error: Some(
                            "this machine asked for many links in the last minute; wait a minute"
                                .into(),
                        ),
                    })]
                }
            }
            AgentMessage::RemotePolicy(policy) => {
                vec![Effect::Store(Request::RemotePolicy(policy))]
            }
            AgentMessage::Hello(_)
            | AgentMessage::Enroll(_)
            | AgentMessage::Diag(_)
            | AgentMessage::RemoteReply(_)
            | AgentMessage::Fetch(_) => {
                vec![Effect::Close("unexpected message on the control stream")]
            }
        }
    }

    /// The orders and cancels the agent's unfinished jobs call for.
    fn plan_jobs(&mut self, pending: &[Pending]) -> Vec<Effect> {
        // Forget what concerned jobs that have ended, so a long session's
        // set stays as small as its unfinished work.
        self.sent.retain(|s| {
            let (Send::Order(id) | Send::Cancel(id)) = s;
            pending.iter().any(|p| &p.job_id == id)
        });
        self.queued = pending
            .iter()
            .filter(|p| p.state == TargetState::Queued && !p.cancel_requested)
            .map(|p| p.job_id.clone())
            .collect();
        let mut effects = Vec::new();
        for step in plan_sends(pending, &self.sent, self.settings.max_jobs) {
            match step {
                Send::Cancel(job_id) => {
                    effects.push(Effect::Send(ServerMessage::JobCancel {
                        job_id: job_id.clone(),
                    }));
                    self.sent.insert(Send::Cancel(job_id));
                }
                // Sent, and counted as sent, once the order is at hand.
                Send::Order(job_id) => effects.push(Effect::Store(Request::Order(job_id))),
            }
        }
        effects
    }

    /// Whether some job still waits for a free slot.
    fn jobs_waiting(&self) -> bool {
        self.queued
            .iter()
            .any(|id| !self.sent.contains(&Send::Order(id.clone())))
    }
}
