//! A server session [`State`] and an agent session state driven against
//! each other in memory, with a fake clock: no sockets, no processes. The
//! harness carries the frames between them, answers the server's store
//! requests from a small fake, and plays the agent's job runtime with
//! the agent's real (pure) job ledger.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deskhand_agent::jobs::JobEvent;
use deskhand_agent::jobs::ledger::{Decision, Ledger};
use deskhand_agent::link::state as agent;
use deskhand_agent::report::InventoryReporter;
use deskhand_shared::diag::DiagResult;
use deskhand_shared::inventory::{ContentHash, Inventory};
use deskhand_shared::jobs::{
    JobAction, JobOrder, JobProgress, JobResult, JobUpdate, Outcome as JobOutcome,
};
use deskhand_shared::proto::{
    AgentMessage, Hello, HelpAnswer, InventoryReport, PROTOCOL_VERSION, ServerMessage,
};

use super::state::{Effect, Event, Request, Settings, State, Timer};
use crate::jobs::{Pending, TargetState, on_progress};
use crate::link::ingest::Outcome;
use crate::store::Applied;
use crate::testkit;

const INVENTORY_INTERVAL: Duration = Duration::from_secs(3600);

fn inv(pkgs: &[(&str, &str)]) -> Inventory {
    testkit::inv(pkgs.iter().map(|(n, v)| testkit::pkg(n, v)).collect())
}

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

/// What went over the wire, in order, by kind.
fn kind_of_agent(msg: &AgentMessage) -> String {
    match msg {
        AgentMessage::Hello(_) => "hello".into(),
        AgentMessage::Heartbeat => "heartbeat".into(),
        AgentMessage::Inventory(InventoryReport::Full(_)) => "full".into(),
        AgentMessage::Inventory(InventoryReport::Delta(_)) => "delta".into(),
        AgentMessage::InventoryHash(_) => "hash".into(),
        AgentMessage::JobUpdate(u) => format!("update {} {}", u.job_id, progress(&u.progress)),
        AgentMessage::HelpRequest(r) => format!("help {}", r.request_id),
        other => format!("{other:?}"),
    }
}

fn progress(p: &JobProgress) -> String {
    match p {
        JobProgress::Received => "received".into(),
        JobProgress::Running { .. } => "running".into(),
        JobProgress::Output { .. } => "output".into(),
        JobProgress::Finished(r) => r.outcome.as_str().into(),
    }
}

fn kind_of_server(msg: &ServerMessage) -> String {
    match msg {
        ServerMessage::Welcome(_) => "welcome".into(),
        ServerMessage::InventoryAck(_) => "ack".into(),
        ServerMessage::InventoryRequest { full } => format!("request full={full}"),
        ServerMessage::Job(o) => format!("order {}", o.job_id),
        ServerMessage::JobCancel { job_id } => format!("cancel {job_id}"),
        ServerMessage::JobAck { job_id } => format!("job ack {job_id}"),
        ServerMessage::HelpAnswer(a) => format!("help answer {}", a.request_id),
        other => format!("{other:?}"),
    }
}

/// One agent and its server session, wired together in memory.
struct Pair {
    now: Instant,
    /// The fake clock in unix seconds, for the ledger.
    unix: i64,
    server: Option<State>,
    agent: Option<agent::State>,
    /// What the agent's sessions acknowledged, between two of them.
    reporter: Option<InventoryReporter>,
    /// The facts the store holds from the agent's last hello.
    facts: Option<Hello>,
    /// How many times the store was asked to write them.
    facts_written: usize,
    to_server: VecDeque<AgentMessage>,
    to_agent: VecDeque<ServerMessage>,
    server_timers: HashMap<Timer, Instant>,
    agent_timers: HashMap<agent::Timer, Instant>,
    /// Every frame, in the order it was sent: `>` to the server, `<` to the agent.
    wire: Vec<String>,
    // The server's store.
    stored: Option<ContentHash>,
    /// How many of the next ingests fail (a full disk, say).
    failing: usize,
    jobs: Vec<Pending>,
    applied: Vec<(String, TargetState)>,
    /// How many writes of job output the store took.
    output_writes: usize,
    // The agent's machine and jobs.
    inventory: Inventory,
    ledger: Ledger,
    running: Vec<String>,
    help_answers: Vec<(u64, Result<i64, String>)>,
    /// Portal links the agent got.
    portal_answers: Vec<(u64, Result<String, String>)>,
}

impl Pair {
    fn new() -> Self {
        Pair {
            now: Instant::now(),
            unix: 1_700_000_000,
            server: None,
            agent: None,
            reporter: None,
            facts: None,
            facts_written: 0,
            to_server: VecDeque::new(),
            to_agent: VecDeque::new(),
            server_timers: HashMap::new(),
            agent_timers: HashMap::new(),
            wire: Vec::new(),
            stored: None,
            failing: 0,
            jobs: Vec::new(),
            applied: Vec::new(),
            output_writes: 0,
            inventory: inv(&[("bash", "5.2")]),
            ledger: Ledger::default(),
            running: Vec::new(),
            help_answers: Vec::new(),
            portal_answers: Vec::new(),
        }
    }

    /// A new connection: the agent says hello, the server welcomes it.
    fn connect(&mut self) {
        let reporter = self.reporter.take().unwrap_or_default();
        let (state, effects) = agent::State::resume(INVENTORY_INTERVAL, hello(), reporter);
        self.agent = Some(state);
        self.run_agent(effects);
        self.pump();
    }

    /// The connection is lost: both sessions end, frames in flight too.
    fn disconnect(&mut self) {
        self.server = None;
        self.reporter = self.agent.take().map(|a| a.end(false));
        self.to_server.clear();
        self.to_agent.clear();
        self.server_timers.clear();
        self.agent_timers.clear();
    }

    /// Carries frames until neither side has anything to say.
    fn pump(&mut self) {
        loop {
            if let Some(msg) = self.to_server.pop_front() {
                self.wire.push(format!("> {}", kind_of_agent(&msg)));
                let effects = match (&mut self.server, msg) {
                    (None, AgentMessage::Hello(hello)) => {
                        let settings = Settings {
                            stored_facts: self.facts.clone(),
                            agent_id: "agent-1".into(),
                            heartbeat_secs: 30,
                            max_jobs: 1,
                        };
                        let (state, effects) = State::start(settings, hello, self.now);
                        self.server = Some(state);
                        effects
                    }
                    (Some(server), msg) => {
                        server.handle(Event::Message { msg, wire_len: 100 }, self.now)
                    }
                    (None, msg) => panic!("{msg:?} before a hello"),
                };
                self.run_server(effects);
            } else if let Some(msg) = self.to_agent.pop_front() {
                self.wire.push(format!("< {}", kind_of_server(&msg)));
                self.agent_event(agent::Event::Message(msg));
            } else {
                return;
            }
        }
    }

    /// Moves the clock by `d`, firing the timers due on the way.
    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            let next_server = self.server_timers.values().min().copied();
            let next_agent = self.agent_timers.values().min().copied();
            let Some(at) = next_server.into_iter().chain(next_agent).min() else {
                break;
            };
            if at > until {
                break;
            }
            self.tick_to(at);
            let due: Vec<Timer> = self
                .server_timers
                .iter()
                .filter(|(_, t)| **t <= at)
                .map(|(k, _)| *k)
                .collect();
            for timer in due {
                self.server_timers.remove(&timer);
                let now = self.now;
                let effects = self.server_mut().handle(Event::Timer(timer), now);
                self.run_server(effects);
            }
            let due: Vec<agent::Timer> = self
                .agent_timers
                .iter()
                .filter(|(_, t)| **t <= at)
                .map(|(k, _)| *k)
                .collect();
            for timer in due {
                self.agent_timers.remove(&timer);
                self.agent_event(agent::Event::Timer(timer));
            }
            self.pump();
        }
        self.tick_to(until);
    }

    fn tick_to(&mut self, at: Instant) {
        if at > self.now {
            self.unix += i64::try_from((at - self.now).as_secs()).unwrap_or(0);
            self.now = at;
        }
    }

    fn server_mut(&mut self) -> &mut State {
        self.server.as_mut().expect("a server session")
    }

    fn server_event(&mut self, event: Event) {
        let now = self.now;
        let effects = self.server_mut().handle(event, now);
        self.run_server(effects);
    }

    /// The session driver's part: sends, store answers, timers.
    fn run_server(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(msg) => self.to_agent.push_back(msg),
                Effect::SetTimer(timer, at) => {
                    self.server_timers.insert(timer, at);
                }
                Effect::Close(why) => panic!("the server closed the session: {why}"),
                Effect::Store(request) => {
                    if let Some(answer) = self.store(request) {
                        self.server_event(answer);
                    }
                }
            }
        }
    }

    /// The store, faked: one asset's inventory hash and its job targets.
    fn store(&mut self, request: Request) -> Option<Event> {
        match request {
            Request::UpdateFacts(hello) => {
                self.facts = Some(hello);
                self.facts_written += 1;
                None
            }
            Request::PendingJobs => Some(Event::PendingJobs(self.jobs.clone())),
            Request::Order(job_id) => Some(Event::Order {
                order: Ok(Arc::new(JobOrder {
                    job_id: job_id.clone(),
                    action: JobAction::InventoryRefresh,
                    deadline: self.unix + 3600,
                    timeout_secs: 60,
                })),
                job_id,
            }),
            Request::Ingest { report, wait, .. } => {
                // The driver holds the report (and the stream) meanwhile.
                self.tick_to(self.now + wait);
                let full = matches!(report, InventoryReport::Full(_));
                let outcome = if self.failing > 0 {
                    self.failing -= 1;
                    Outcome::Failed {
                        full,
                        why: "disk full".into(),
                    }
                } else {
                    match report {
                        InventoryReport::Full(mut new) => {
                            let hash = new.canonicalize_and_hash();
                            self.stored = Some(hash);
                            Outcome::Stored(hash)
                        }
                        InventoryReport::Delta(d) if self.stored == Some(d.base) => {
                            self.stored = Some(d.target);
                            Outcome::Stored(d.target)
                        }
                        InventoryReport::Delta(_) => Outcome::SendFull,
                    }
                };
                Some(Event::Ingested { outcome, random: 0 })
            }
            Request::CheckHash { hash, wait } => {
                self.tick_to(self.now + wait);
                Some(Event::HashChecked {
                    hash,
                    held: Ok(self.stored == Some(hash)),
                    random: 0,
                })
            }
            Request::JobUpdate(JobUpdate { job_id, progress }) => {
                let finished = matches!(progress, JobProgress::Finished(_));
                if matches!(progress, JobProgress::Output { .. }) {
                    self.output_writes += 1;
                }
                let mut applied = Applied::Unchanged;
                if let Some(at) = self.jobs.iter().position(|p| p.job_id == job_id)
                    && let Some(next) = on_progress(self.jobs[at].state, &progress)
                {
                    applied = Applied::Changed(next);
                    self.applied.push((job_id.clone(), next));
                    if next.is_terminal() {
                        self.jobs.remove(at);
                    } else {
                        self.jobs[at].state = next;
                    }
                }
                Some(Event::JobUpdateApplied {
                    job_id,
                    finished,
                    applied,
                })
            }
            Request::OpenTicket(req) => Some(Event::HelpAnswered(HelpAnswer {
                request_id: req.request_id,
                ticket: Some(41 + i64::try_from(req.request_id).unwrap_or(0)),
                error: None,
            })),
            Request::PortalLink { request_id, user } => Some(Event::PortalLinkMade {
                request_id,
                link: Ok(format!("https://h/portal/enter/for-{user}")),
            }),
            Request::RemotePolicy(_) => None,
        }
    }

    fn agent_event(&mut self, event: agent::Event) {
        let Some(state) = self.agent.as_mut() else {
            return;
        };
        let effects = state.handle(event, self.now);
        self.run_agent(effects);
    }

    /// The agent driver's part: sends, collection, the job runtime.
    fn run_agent(&mut self, effects: Vec<agent::Effect>) {
        use agent::{Effect as E, JobCommand};
        for effect in effects {
            match effect {
                E::Send(msg) => self.to_server.push_back(msg),
                E::Collect { full } => self.agent_event(agent::Event::Collected {
                    inventory: Box::new(self.inventory.clone()),
                    full,
                }),
                E::Diagnose(_) => {
                    self.agent_event(agent::Event::Diagnosed(DiagResult::default()));
                }
                E::Jobs(JobCommand::Order(order)) => {
                    let active = self.running.contains(&order.job_id);
                    match self.ledger.on_order(&order, active, self.unix) {
                        Decision::Run => {
                            self.running.push(order.job_id.clone());
                            self.job_progress(&order.job_id, JobProgress::Received);
                        }
                        Decision::AlreadyRunning => {}
                        Decision::Report(result) => {
                            self.job_progress(&order.job_id, JobProgress::Finished(result));
                        }
                    }
                }
                E::Jobs(JobCommand::Cancel(job_id)) => {
                    if self.running.contains(&job_id) {
                        self.finish_job(&job_id, JobOutcome::Cancelled);
                    } else {
                        let result = self.ledger.on_cancel(&job_id, self.unix);
                        self.job_progress(&job_id, JobProgress::Finished(result));
                    }
                }
                E::Jobs(JobCommand::Ack(job_id)) => self.ledger.ack(&job_id),
                E::Jobs(JobCommand::Outbox) => {
                    let updates = self
                        .ledger
                        .outbox()
                        .into_iter()
                        .map(|(job_id, result)| JobUpdate {
                            job_id,
                            progress: JobProgress::Finished(result),
                        })
                        .collect();
                    self.agent_event(agent::Event::Outbox(updates));
                }
                E::Online | E::HelpSent(_) | E::PortalSent(_) | E::KeepBase(_) => {}
                E::PortalAnswered { request_id, answer } => {
                    self.portal_answers.push((request_id, answer));
                }
                E::HelpAnswered { request_id, answer } => {
                    self.help_answers.push((request_id, answer));
                }
                E::SetTimer(timer, at) => {
                    self.agent_timers.insert(timer, at);
                }
                E::End(end) => panic!("the agent's session ended: {end:?}"),
            }
        }
    }

    /// A job event, as the agent's job runtime emits it while connected.
    fn job_progress(&mut self, job_id: &str, progress: JobProgress) {
        self.agent_event(agent::Event::Job(JobEvent::Update(JobUpdate {
            job_id: job_id.into(),
            progress,
        })));
    }

    /// A running job ends: its result goes to the ledger's outbox, and
    /// to the server if connected.
    fn finish_job(&mut self, job_id: &str, outcome: JobOutcome) {
        self.running.retain(|j| j != job_id);
        let result = JobResult {
            finished_at: self.unix,
            ..JobResult::new(outcome, "done")
        };
        self.ledger.finish(job_id, result.clone());
        self.job_progress(job_id, JobProgress::Finished(result));
    }

    /// Queues a job for this agent, and tells its session.
    fn queue_job(&mut self, job_id: &str) {
        self.jobs.push(Pending {
            job_id: job_id.into(),
            state: TargetState::Queued,
            cancel_requested: false,
        });
        if self.server.is_some() {
            self.server_event(Event::JobsChanged);
            self.pump();
        }
    }

    /// The frames sent since the last call.
    fn frames(&mut self) -> Vec<String> {
        std::mem::take(&mut self.wire)
    }

    /// The frames sent since the last call, but heartbeats.
    fn frames_but_heartbeats(&mut self) -> Vec<String> {
        let mut frames = self.frames();
        frames.retain(|f| f != "> heartbeat");
        frames
    }
}

#[test]
fn hello_is_welcomed_and_the_first_report_is_full_and_acknowledged() {
    let mut p = Pair::new();
    p.connect();
    assert_eq!(
        p.frames(),
        ["> hello", "< welcome", "> full", "< ack"],
        "the welcome, then the whole inventory, acknowledged"
    );
    assert!(p.agent.as_ref().is_some_and(agent::State::is_open));
    p.advance(Duration::from_secs(30));
    assert_eq!(p.frames(), ["> heartbeat"], "a heartbeat per interval");
}

#[test]
fn later_reports_are_deltas_against_the_acknowledged_inventory() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.inventory = inv(&[("bash", "5.2"), ("curl", "8.0")]);
    p.advance(INVENTORY_INTERVAL);
    let frames = p.frames_but_heartbeats();
    assert!(
        frames.ends_with(&["> delta".to_string(), "< ack".to_string()]),
        "{frames:?}"
    );
    assert_eq!(p.stored, Some(p.inventory.clone().canonicalize_and_hash()));
}

#[test]
fn a_reconnecting_agent_that_changed_nothing_sends_its_hash_and_goes_on_with_deltas() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.disconnect();
    p.advance(Duration::from_secs(10));
    p.connect();
    assert_eq!(
        p.frames(),
        ["> hello", "< welcome", "> hash", "< ack"],
        "the server has it: a hash, not the whole inventory"
    );
    assert_eq!(p.facts_written, 1, "the same facts are not written again");
    // Deltas go on against what the server has.
    p.inventory = inv(&[("bash", "5.3")]);
    p.advance(INVENTORY_INTERVAL);
    let frames = p.frames_but_heartbeats();
    assert!(
        frames.ends_with(&["> delta".to_string(), "< ack".to_string()]),
        "{frames:?}"
    );
    assert_eq!(p.stored, Some(p.inventory.clone().canonicalize_and_hash()));
}

#[test]
fn a_reconnecting_agent_whose_hash_the_server_lacks_sends_the_whole_inventory() {
    let mut p = Pair::new();
    p.connect();
    p.disconnect();
    // The server lost what it stored (restored from an older backup).
    p.stored = Some(inv(&[("bash", "5.1")]).content_hash());
    p.connect();
    assert_eq!(
        p.frames(),
        [
            "> hello",
            "< welcome",
            "> full",
            "< ack",
            "> hello",
            "< welcome",
            "> hash",
            "< request full=true",
            "> full",
            "< ack"
        ],
    );
    assert_eq!(p.stored, Some(p.inventory.content_hash()));
}

#[test]
fn a_machine_that_changed_while_disconnected_sends_a_delta_when_it_reconnects() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.disconnect();
    p.inventory = inv(&[("bash", "5.2"), ("curl", "8.0")]);
    p.connect();
    assert_eq!(p.frames(), ["> hello", "< welcome", "> delta", "< ack"]);
    assert_eq!(p.stored, Some(p.inventory.content_hash()));
}

#[test]
fn a_report_the_server_failed_to_store_is_asked_for_again_after_a_backoff() {
    let mut p = Pair::new();
    p.failing = 1;
    p.connect();
    assert_eq!(
        p.frames(),
        ["> hello", "< welcome", "> full"],
        "a report the server failed to store is not answered at once"
    );
    // The first delay is between half the base (20 s) and the base.
    p.advance(Duration::from_secs(9));
    assert_eq!(p.frames(), Vec::<String>::new());
    p.advance(Duration::from_secs(2));
    assert_eq!(p.frames(), ["< request full=true", "> full", "< ack"]);
    assert!(p.stored.is_some());
}

#[test]
fn a_delta_against_a_base_the_server_lacks_is_answered_with_a_request_for_the_whole() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    // The server lost what it stored (say, restored from a backup).
    p.stored = None;
    p.inventory = inv(&[("bash", "5.3")]);
    p.advance(INVENTORY_INTERVAL);
    let frames = p.frames_but_heartbeats();
    assert!(
        frames.ends_with(&[
            "> delta".to_string(),
            "< request full=true".to_string(),
            "> full".to_string(),
            "< ack".to_string()
        ]),
        "{frames:?}"
    );
}

#[test]
fn reports_sent_too_often_are_paced() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    let before = p.now;
    // Asked for at once after the first: the second full report waits its slot.
    p.to_agent
        .push_back(ServerMessage::InventoryRequest { full: true });
    p.pump();
    assert_eq!(p.now - before, Duration::from_secs(5));
}

#[test]
fn a_job_is_ordered_reported_on_and_its_result_acknowledged() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.queue_job("j1");
    assert_eq!(p.frames(), ["< order j1", "> update j1 received"]);
    p.finish_job("j1", JobOutcome::Succeeded);
    p.pump();
    assert_eq!(p.frames(), ["> update j1 succeeded", "< job ack j1"]);
    assert_eq!(
        p.applied,
        [
            ("j1".to_string(), TargetState::Delivered),
            ("j1".to_string(), TargetState::Succeeded)
        ]
    );
    assert!(
        p.ledger.outbox().is_empty(),
        "acknowledged: out of the outbox"
    );
}

#[test]
fn a_queued_job_waits_for_a_free_slot_and_goes_when_one_frees() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.queue_job("j1");
    p.queue_job("j2");
    assert_eq!(
        p.frames(),
        ["< order j1", "> update j1 received"],
        "one job at a time"
    );
    p.finish_job("j1", JobOutcome::Failed);
    p.pump();
    assert_eq!(
        p.frames(),
        [
            "> update j1 failed",
            "< job ack j1",
            "< order j2",
            "> update j2 received"
        ]
    );
}

#[test]
fn results_kept_while_disconnected_are_resent_after_reconnecting() {
    let mut p = Pair::new();
    p.connect();
    p.queue_job("j1");
    p.frames();
    p.disconnect();
    // The job ends while the server is unreachable: its result waits in
    // the ledger's outbox.
    p.running.clear();
    p.ledger.finish(
        "j1",
        JobResult {
            finished_at: p.unix,
            ..JobResult::new(JobOutcome::Succeeded, "done")
        },
    );
    p.advance(Duration::from_secs(10));
    p.connect();
    assert_eq!(
        p.frames(),
        [
            "> hello",
            "< welcome",
            "> update j1 succeeded",
            "> hash",
            "< job ack j1",
            "< ack"
        ],
        "the outbox goes first, before the new session's report: the hash of an unchanged inventory"
    );
    assert!(p.ledger.outbox().is_empty());
    assert!(p.jobs.is_empty(), "the job is finished on the server");
}

#[test]
fn a_job_cancelled_before_its_order_arrives_never_runs() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.jobs.push(Pending {
        job_id: "j1".into(),
        state: TargetState::Queued,
        cancel_requested: true,
    });
    p.server_event(Event::JobsChanged);
    p.pump();
    assert_eq!(
        p.frames(),
        ["< cancel j1", "> update j1 cancelled", "< job ack j1"]
    );
    // A late order for it is answered from the ledger, not run.
    p.to_agent.push_back(ServerMessage::Job(Box::new(JobOrder {
        job_id: "j1".into(),
        action: JobAction::InventoryRefresh,
        deadline: p.unix + 60,
        timeout_secs: 60,
    })));
    p.pump();
    assert!(p.running.is_empty(), "never run");
    assert_eq!(
        p.frames(),
        ["< order j1", "> update j1 cancelled", "< job ack j1"]
    );
}

#[test]
fn a_help_request_carries_a_fresh_inventory_and_gets_its_ticket() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    p.inventory = inv(&[("bash", "5.2"), ("vim", "9.0")]);
    p.agent_event(agent::Event::HelpAsked {
        message: "the printer is out of paper".into(),
        requester: "ana".into(),
    });
    p.pump();
    assert_eq!(
        p.frames(),
        ["> delta", "> help 1", "< ack", "< help answer 1"],
        "the inventory first, then the request"
    );
    assert_eq!(p.help_answers, [(1, Ok(42))]);
}

#[test]
fn a_portal_link_is_asked_for_the_sockets_user_and_paced() {
    let mut p = Pair::new();
    p.connect();
    p.frames();
    for _ in 0..6 {
        p.agent_event(agent::Event::PortalAsked { user: "ana".into() });
    }
    p.pump();
    let ok = Ok("https://h/portal/enter/for-ana".to_string());
    assert_eq!(p.portal_answers.len(), 6);
    assert!(
        p.portal_answers[..5].iter().all(|(_, a)| *a == ok),
        "{:?}",
        p.portal_answers
    );
    let (id, last) = &p.portal_answers[5];
    assert_eq!(*id, 6);
    assert!(
        last.as_ref().is_err_and(|e| e.contains("many links")),
        "the sixth in a minute is refused: {last:?}"
    );
}

#[test]
fn job_output_is_stored_in_batches() {
    let mut p = Pair::new();
    p.connect();
    p.queue_job("j1");
    p.frames();
    for line in ["a\n", "b\n", "c\n"] {
        p.job_progress(
            "j1",
            JobProgress::Output {
                stderr: false,
                text: line.into(),
            },
        );
    }
    p.pump();
    assert!(p.server_timers.contains_key(&Timer::OutputFlush));
    assert_eq!(p.output_writes, 0, "held for the flush");
    p.advance(Duration::from_secs(1));
    assert_eq!(p.output_writes, 1, "three chunks, one write");
    assert!(
        !p.server_timers.contains_key(&Timer::OutputFlush),
        "no timer while nothing is pending"
    );
}

#[test]
fn an_unexpected_message_on_the_control_stream_closes_the_session() {
    let mut p = Pair::new();
    p.connect();
    let now = p.now;
    let effects = p.server_mut().handle(
        Event::Message {
            msg: AgentMessage::Hello(hello()),
            wire_len: 10,
        },
        now,
    );
    assert!(matches!(effects.as_slice(), [Effect::Close(_)]));
}

#[test]
fn the_agents_remote_policy_is_stored_not_answered() {
    let mut p = Pair::new();
    p.connect();
    let now = p.now;
    let policy = deskhand_shared::remote::RemotePolicy {
        access: deskhand_shared::remote::Access::Ticket,
        tunnel_ports: vec![5900],
        consent: None,
    };
    let effects = p.server_mut().handle(
        Event::Message {
            msg: AgentMessage::RemotePolicy(policy.clone()),
            wire_len: 10,
        },
        now,
    );
    assert!(
        matches!(effects.as_slice(), [Effect::Store(Request::RemotePolicy(p))] if *p == policy),
        "{effects:?}"
    );
}
