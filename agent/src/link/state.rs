//! A session's decisions without I/O, in the style of quinn-proto: fed
//! [`Event`]s and `now`, a [`State`] says what to send the server, what to
//! collect, what to tell the jobs and which timers to set ([`Effect`]s).
//! The driver (`link::session`) owns the connection, the collectors, the
//! jobs and the clock, carries the effects out and feeds the answers back.
//!
//! It gathers the small types that decide: the inventory reporter (full
//! first, then deltas against what the server acknowledged; handed from
//! one session to the next, so a reconnecting agent whose inventory did
//! not change sends its content hash alone) and the help requests being
//! forwarded. The job ledger and its outbox stay with
//! [`crate::jobs::Jobs`], which outlives sessions; the state asks for the
//! outbox when the server welcomes the agent.

use std::time::{Duration, Instant};

use deskhand_shared::diag::{DiagRequest, DiagResult};
use deskhand_shared::inventory::Inventory;
use deskhand_shared::jobs::{JobOrder, JobUpdate};
use deskhand_shared::proto::{
    AgentMessage, Hello, HelpRequest, RefusalReason, ServerMessage, Welcome,
};
use tracing::{info, warn};

use crate::jobs::JobEvent;
use crate::report::InventoryReporter;

/// The diagnostic attached to every help request.
pub const HELP_CHECK: &str = "system-summary";

/// What happened, fed to [`State::handle`].
#[derive(Debug)]
pub enum Event {
    /// A message from the server on the control stream.
    Message(ServerMessage),
    /// A timer set with [`Effect::SetTimer`] is due.
    Timer(Timer),
    /// The answer to [`Effect::Collect`].
    Collected {
        /// This machine's inventory.
        inventory: Box<Inventory>,
        /// Whether the whole inventory is to be sent.
        full: bool,
    },
    /// The answer to [`JobCommand::Outbox`]: results the server has not
    /// acknowledged.
    Outbox(Vec<JobUpdate>),
    /// The jobs emitted an event.
    Job(JobEvent),
    /// An end user asked for help.
    HelpAsked {
        /// Their words.
        message: String,
        /// The local account that asked.
        requester: String,
    },
    /// The answer to [`Effect::Diagnose`].
    Diagnosed(DiagResult),
    /// An end user asked for a portal link.
    PortalAsked {
        /// The local account that asked.
        user: String,
    },
}

/// The timers a session sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Send a heartbeat.
    Heartbeat,
    /// Report the inventory on schedule.
    Inventory,
}

/// What the driver is to do, in order.
#[derive(Debug)]
pub enum Effect {
    /// Send this to the server on the control stream.
    Send(AgentMessage),
    /// Collect the inventory; answered by [`Event::Collected`].
    Collect {
        /// Whether the whole inventory is to be sent.
        full: bool,
    },
    /// Run a diagnostic; answered by [`Event::Diagnosed`].
    Diagnose(DiagRequest),
    /// Tell the jobs; [`JobCommand::Outbox`] is answered by [`Event::Outbox`].
    Jobs(JobCommand),
    /// The server welcomed the agent: the reconnect backoff starts over,
    /// and the jobs may use the connection.
    Online,
    /// The help request being forwarded went out with this id: its
    /// answer will come back under it.
    HelpSent(u64),
    /// The answer to a help request: a ticket number, or why there is none.
    HelpAnswered {
        /// The request.
        request_id: u64,
        /// Its ticket, or why there is none.
        answer: Result<i64, String>,
    },
    /// The portal link request went out with this id.
    PortalSent(u64),
    /// The answer to a portal link request: the link, or why there is none.
    PortalAnswered {
        /// The request.
        request_id: u64,
        /// The link, or why there is none.
        answer: Result<String, String>,
    },
    /// The server acknowledged a new inventory: keep this
    /// ([`InventoryReporter::base_file`]) in the state directory, so the
    /// agent's next run resumes from it.
    KeepBase(Vec<u8>),
    /// Fire [`Event::Timer`] at this instant (replacing an earlier one).
    SetTimer(Timer, Instant),
    /// The session is over.
    End(Ending),
}

/// What the session tells the jobs.
#[derive(Debug)]
pub enum JobCommand {
    /// Run this order (once; the ledger decides).
    Order(JobOrder),
    /// Cancel this job.
    Cancel(String),
    /// The server committed this job's result.
    Ack(String),
    /// Which results wait for an acknowledgement.
    Outbox,
}

/// How a session ended, as far as the state can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server refused this agent for good (revoked or unknown).
    Refused(String),
    /// Reconnect after a delay.
    Lost(String),
}

/// One session's state: everything it decides with, nothing it does I/O with.
#[derive(Debug)]
pub struct State {
    inventory_interval: Duration,
    /// Set by the welcome.
    heartbeat: Option<Duration>,
    reporter: InventoryReporter,
    /// Whether the session's first report went out.
    reported: bool,
    /// A hash-only report went out and is not answered yet.
    hash_unanswered: bool,
    /// Whether the scheduled reports are set going.
    scheduled: bool,
    /// The help request being forwarded: its words and requester, while
    /// its diagnostic runs.
    asking: Option<(String, String)>,
    next_request: u64,
}

impl State {
    /// A session that reports its inventory every `inventory_interval`
    /// (a delta when it can); its first effect is the hello.
    pub fn start(inventory_interval: Duration, hello: Hello) -> (Self, Vec<Effect>) {
        Self::resume(inventory_interval, hello, InventoryReporter::new())
    }

    /// [`State::start`] with the reporter an earlier session handed back
    /// ([`State::end`]): what the server acknowledged then is the base
    /// of this session's first report.
    pub fn resume(
        inventory_interval: Duration,
        hello: Hello,
        reporter: InventoryReporter,
    ) -> (Self, Vec<Effect>) {
        let state = State {
            inventory_interval: inventory_interval.max(Duration::from_secs(1)),
            heartbeat: None,
            reporter,
            reported: false,
            hash_unanswered: false,
            scheduled: false,
            asking: None,
            next_request: 0,
        };
        (state, vec![Effect::Send(AgentMessage::Hello(hello))])
    }

    /// Whether the server welcomed the agent.
    pub fn is_open(&self) -> bool {
        self.heartbeat.is_some()
    }

    /// The session is over: its reporter, for the next one.
    /// `protocol_close` says the server closed the connection as a
    /// protocol error: if a hash-only report was waiting for its answer,
    /// the server does not know that message, and the next sessions
    /// resume with deltas.
    pub fn end(self, protocol_close: bool) -> InventoryReporter {
        let mut reporter = self.reporter;
        if protocol_close && self.hash_unanswered {
            warn!(
                "the server does not take an inventory hash (an older release); reporting deltas after reconnecting"
            );
            reporter.hash_refused();
        }
        reporter
    }

    /// Decides what `event`, at `now`, calls for.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        match event {
            Event::Message(msg) if !self.is_open() => self.on_answer(msg, now),
            Event::Message(msg) => self.on_message(msg),
            Event::Timer(Timer::Heartbeat) => {
                let mut effects = vec![Effect::Send(AgentMessage::Heartbeat)];
                if let Some(every) = self.heartbeat {
                    effects.push(Effect::SetTimer(Timer::Heartbeat, now + every));
                }
                effects
            }
            Event::Timer(Timer::Inventory) => vec![
                Effect::Collect { full: false },
                Effect::SetTimer(Timer::Inventory, now + self.inventory_interval),
            ],
            Event::Collected { inventory, full } => {
                let msg = if self.reported || full {
                    AgentMessage::Inventory(self.reporter.report(*inventory, full))
                } else {
                    self.reporter.resume(*inventory)
                };
                self.reported = true;
                self.hash_unanswered = matches!(msg, AgentMessage::InventoryHash(_));
                if self.hash_unanswered {
                    info!(
                        "the inventory is the one the server acknowledged before: sending its hash alone"
                    );
                }
                let mut effects = vec![Effect::Send(msg)];
                if !self.scheduled {
                    // The schedule starts once the first report is out.
                    self.scheduled = true;
                    effects.push(Effect::SetTimer(
                        Timer::Inventory,
                        now + self.inventory_interval,
                    ));
                }
                effects
            }
            Event::Outbox(updates) => updates
                .into_iter()
                .map(|u| Effect::Send(AgentMessage::JobUpdate(u)))
                .collect(),
            Event::Job(JobEvent::Update(update)) => {
                vec![Effect::Send(AgentMessage::JobUpdate(update))]
            }
            Event::Job(JobEvent::RefreshInventory) => vec![Effect::Collect { full: false }],
            Event::HelpAsked { message, requester } => {
                self.asking = Some((message, requester));
                // A fresh inventory first: the server stores it before it
                // reads the request on the same stream.
                vec![
                    Effect::Collect { full: false },
                    Effect::Diagnose(DiagRequest {
                        check: HELP_CHECK.into(),
                        args: Vec::new(),
                        follow: false,
                    }),
                ]
            }
            Event::PortalAsked { user } => {
                self.next_request += 1;
                let request_id = self.next_request;
                info!(request_id, %user, "asking for a portal link");
                vec![
                    Effect::Send(AgentMessage::PortalLinkRequest { request_id, user }),
                    Effect::PortalSent(request_id),
                ]
            }
            Event::Diagnosed(diagnostic) => {
                let Some((message, requester)) = self.asking.take() else {
                    return Vec::new();
                };
                self.next_request += 1;
                let request_id = self.next_request;
                info!(request_id, %requester, "forwarding a help request");
                vec![
                    Effect::Send(AgentMessage::HelpRequest(HelpRequest {
                        request_id,
                        message,
                        requester,
                        inventory_hash: self.reporter.pending_hash(),
                        diagnostic_check: HELP_CHECK.into(),
                        diagnostic: Some(diagnostic),
                    })),
                    Effect::HelpSent(request_id),
                ]
            }
        }
    }

    /// The server's answer to the hello.
    fn on_answer(&mut self, msg: ServerMessage, now: Instant) -> Vec<Effect> {
        match msg {
            ServerMessage::Welcome(Welcome {
                agent_id,
                server_version,
                heartbeat_secs,
                ..
            }) => {
                info!(%agent_id, %server_version, "connected to the server");
                let every = Duration::from_secs(heartbeat_secs.max(1).into());
                self.heartbeat = Some(every);
                vec![
                    Effect::Online,
                    Effect::SetTimer(Timer::Heartbeat, now + every),
                    // Results kept while the server was unreachable go first.
                    Effect::Jobs(JobCommand::Outbox),
                    // With a base from an earlier session, the hash or a
                    // delta ([`InventoryReporter::resume`]).
                    Effect::Collect {
                        full: !self.reporter.has_base(),
                    },
                ]
            }
            ServerMessage::Refused(r) => vec![Effect::End(match r.reason {
                RefusalReason::Revoked | RefusalReason::NotEnrolled => Ending::Refused(r.message),
                _ => Ending::Lost(format!("the server refused: {}", r.message)),
            })],
            other => vec![Effect::End(Ending::Lost(format!(
                "unexpected answer to the hello: {other:?}"
            )))],
        }
    }

    fn on_message(&mut self, msg: ServerMessage) -> Vec<Effect> {
        match msg {
            ServerMessage::InventoryAck(hash) => {
                if std::mem::take(&mut self.hash_unanswered) {
                    info!(%hash, "the server has this inventory");
                }
                let before = self.reporter.base_hash();
                self.reporter.acknowledged(hash);
                match self.reporter.base_hash() {
                    Some(now) if Some(now) != before => self
                        .reporter
                        .base_file()
                        .map(Effect::KeepBase)
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                }
            }
            ServerMessage::HelpAnswer(a) => {
                let answer = match (a.ticket, a.error) {
                    (Some(n), _) => Ok(n),
                    (None, e) => Err(e.unwrap_or_else(|| "the server opened no ticket".into())),
                };
                vec![Effect::HelpAnswered {
                    request_id: a.request_id,
                    answer,
                }]
            }
            ServerMessage::PortalLink {
                request_id,
                url,
                error,
            } => {
                let answer = match (url, error) {
                    (Some(url), _) => Ok(url),
                    (None, e) => Err(e.unwrap_or_else(|| "the server made no link".into())),
                };
                vec![Effect::PortalAnswered { request_id, answer }]
            }
            ServerMessage::InventoryRequest { full } => {
                if std::mem::take(&mut self.hash_unanswered) {
                    info!("the server asks for the whole inventory instead of its hash");
                }
                vec![Effect::Collect { full }]
            }
            ServerMessage::Job(order) => vec![Effect::Jobs(JobCommand::Order(*order))],
            ServerMessage::JobCancel { job_id } => vec![Effect::Jobs(JobCommand::Cancel(job_id))],
            ServerMessage::JobAck { job_id } => vec![Effect::Jobs(JobCommand::Ack(job_id))],
            other => {
                warn!(message = ?other, "ignoring an unexpected message from the server");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskhand_shared::proto::{InventoryReport, PROTOCOL_VERSION, Refusal};

    fn hello() -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_version: "0.0.0".into(),
            hostname: "pc".into(),
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            kernel_version: "6.1".into(),
            arch: "x86_64".into(),
        }
    }

    fn refused(reason: RefusalReason) -> Vec<Effect> {
        let (mut s, _) = State::start(Duration::from_secs(60), hello());
        s.handle(
            Event::Message(ServerMessage::Refused(Refusal {
                reason,
                message: "no".into(),
            })),
            Instant::now(),
        )
    }

    #[test]
    fn a_revoked_or_unknown_agent_stops_and_other_refusals_reconnect() {
        for reason in [RefusalReason::Revoked, RefusalReason::NotEnrolled] {
            assert!(matches!(
                refused(reason).as_slice(),
                [Effect::End(Ending::Refused(m))] if m == "no"
            ));
        }
        assert!(matches!(
            refused(RefusalReason::ServerError).as_slice(),
            [Effect::End(Ending::Lost(m))] if m == "the server refused: no"
        ));
    }

    #[test]
    fn the_welcome_sets_the_heartbeat_and_sends_the_outbox_before_the_whole_inventory() {
        let (mut s, effects) = State::start(Duration::from_secs(60), hello());
        assert!(matches!(
            effects.as_slice(),
            [Effect::Send(AgentMessage::Hello(_))]
        ));
        assert!(!s.is_open());
        let t0 = Instant::now();
        let effects = s.handle(
            Event::Message(ServerMessage::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                server_version: "0.0.0".into(),
                agent_id: "a".into(),
                heartbeat_secs: 0,
            })),
            t0,
        );
        assert!(s.is_open());
        assert!(matches!(
            effects.as_slice(),
            [
                Effect::Online,
                // A heartbeat of 0 s is taken as 1 s.
                Effect::SetTimer(Timer::Heartbeat, at),
                Effect::Jobs(JobCommand::Outbox),
                Effect::Collect { full: true },
            ] if *at == t0 + Duration::from_secs(1)
        ));
    }

    fn welcome() -> Event {
        Event::Message(ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: "0.0.0".into(),
            agent_id: "a".into(),
            heartbeat_secs: 30,
        }))
    }

    /// A session that reported `inv` and had it acknowledged, ended.
    fn acknowledged(inv: &Inventory) -> InventoryReporter {
        let t0 = Instant::now();
        let (mut s, _) = State::start(Duration::from_secs(60), hello());
        s.handle(welcome(), t0);
        s.handle(
            Event::Collected {
                inventory: Box::new(inv.clone()),
                full: true,
            },
            t0,
        );
        let effects = s.handle(
            Event::Message(ServerMessage::InventoryAck(inv.content_hash())),
            t0,
        );
        assert!(
            matches!(effects.as_slice(), [Effect::KeepBase(_)]),
            "a new base is kept for the next run: {effects:?}"
        );
        s.end(false)
    }

    #[test]
    fn a_reconnecting_agent_sends_its_hash_and_an_old_server_gets_deltas() {
        let inv = crate::testkit::inv(&[("bash", "5.2")]);
        let hash = inv.content_hash();
        let t0 = Instant::now();
        let first_report = |reporter| {
            let (mut s, _) = State::resume(Duration::from_secs(60), hello(), reporter);
            let effects = s.handle(welcome(), t0);
            assert!(
                matches!(effects.last(), Some(Effect::Collect { full: false })),
                "{effects:?}"
            );
            let effects = s.handle(
                Event::Collected {
                    inventory: Box::new(inv.clone()),
                    full: false,
                },
                t0,
            );
            let Some(Effect::Send(msg)) = effects.into_iter().next() else {
                panic!("no report");
            };
            (s, msg)
        };
        let (s, msg) = first_report(acknowledged(&inv));
        assert_eq!(msg, AgentMessage::InventoryHash(hash));
        // Closed on a protocol error before an answer: an older server.
        let (_, msg) = first_report(s.end(true));
        assert!(
            matches!(msg, AgentMessage::Inventory(InventoryReport::Delta(_))),
            "{msg:?}"
        );
        // A protocol close once the hash was answered says nothing of it.
        let (mut s, msg) = first_report(acknowledged(&inv));
        assert_eq!(msg, AgentMessage::InventoryHash(hash));
        let effects = s.handle(Event::Message(ServerMessage::InventoryAck(hash)), t0);
        assert!(effects.is_empty(), "the same base: {effects:?}");
        let (_, msg) = first_report(s.end(true));
        assert_eq!(msg, AgentMessage::InventoryHash(hash));
    }
}
