//! A session: from an accepted hello until the connection ends. The
//! driver here owns the control stream, the store and the clock; what to
//! do is decided by the session's [`State`] (`state.rs`), which it feeds
//! events and whose effects it carries out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use deskhand_net::stream::send;
use deskhand_shared::frame::{FrameDecoder, decode_body};
use deskhand_shared::jobs::JobProgress;
use deskhand_shared::proto::{AgentMessage, Hello, RefusalReason, ServerMessage, close_code};
use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::SemaphorePermit;
use tracing::{info, warn};

use super::ingest::ingest;
use super::{LinkContext, next_large_or_small, peer_fingerprint, protocol_error, refusal, refuse};
use crate::presence::Registration;
use crate::unix_now;
use state::{Effect, Event, Request, Settings, State, Timer};

pub(crate) mod state;
#[cfg(test)]
mod tests;

/// Runs the session an accepted hello starts, until its connection ends.
pub(super) async fn session(
    conn: &Connection,
    mut tx: SendStream,
    mut rx: RecvStream,
    mut decoder: FrameDecoder,
    hello: Hello,
    ctx: &LinkContext,
) -> Result<()> {
    let Some(fp) = peer_fingerprint(conn) else {
        return refuse(
            conn,
            &mut tx,
            refusal(
                RefusalReason::NotEnrolled,
                "this connection has no client certificate: enroll the agent first",
            ),
        )
        .await;
    };
    let agent = match ctx.store.agent_by_cert(fp).await? {
        Some(a) => a,
        None => {
            return refuse(
                conn,
                &mut tx,
                refusal(
                    RefusalReason::NotEnrolled,
                    "this server does not know the agent's certificate: enroll it again",
                ),
            )
            .await;
        }
    };
    let revoked = || {
        refusal(
            RefusalReason::Revoked,
            "this agent was revoked by an operator",
        )
    };
    if agent.revoked_at.is_some() {
        return refuse(conn, &mut tx, revoked()).await;
    }
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(8);
    let jobs_changed = Arc::new(tokio::sync::Notify::new());
    let session_id = match ctx.presence.register(
        &agent.id,
        conn.clone(),
        control_tx,
        jobs_changed.clone(),
        unix_now(),
    ) {
        Registration::Live(id) => id,
        Registration::Revoked => return refuse(conn, &mut tx, revoked()).await,
    };
    if ctx.store.is_shared()
        && let Err(e) = ctx
            .store
            .agent_joined(ctx.node_name.clone(), agent.id.clone(), unix_now())
            .await
    {
        warn!(agent_id = %agent.id, error = %e, "this node's hold of the agent was not stored");
    }
    let result = run_session(
        conn,
        Control {
            tx: &mut tx,
            rx: &mut rx,
            decoder: &mut decoder,
            outbox: control_rx,
            jobs_changed,
        },
        (hello, stored_facts(&agent)),
        &agent.id,
        session_id,
        ctx,
    )
    .await;
    ctx.presence.unregister(&agent.id, session_id);
    if ctx.store.is_shared()
        && ctx.presence.status(&agent.id).is_none()
        && let Err(e) = ctx
            .store
            .agent_left(ctx.node_name.clone(), agent.id.clone(), unix_now())
            .await
    {
        warn!(agent_id = %agent.id, error = %e, "this node's release of the agent was not stored");
    }
    info!(agent_id = %agent.id, "agent disconnected");
    result
}

/// The facts the store holds from an agent's last hello, as a hello.
fn stored_facts(agent: &crate::store::AgentRecord) -> Hello {
    Hello {
        protocol_version: 0,
        agent_version: agent.agent_version.clone(),
        hostname: agent.hostname.clone(),
        os_name: agent.os_name.clone(),
        os_version: agent.os_version.clone(),
        kernel_version: agent.kernel_version.clone(),
        arch: agent.arch.clone(),
    }
}

/// The control stream of a session, and the queue of messages for it.
struct Control<'a> {
    tx: &'a mut SendStream,
    rx: &'a mut RecvStream,
    decoder: &'a mut FrameDecoder,
    outbox: tokio::sync::mpsc::Receiver<ServerMessage>,
    jobs_changed: Arc<tokio::sync::Notify>,
}

/// Now, on tokio's clock (which tests may pause).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The timers a [`State`] set, by when each is due.
#[derive(Debug, Default)]
struct Timers {
    due: [Option<Instant>; 3],
}

impl Timers {
    const ALL: [Timer; 3] = [Timer::JobPoll, Timer::OutputFlush, Timer::AskAgain];

    fn slot(timer: Timer) -> usize {
        match timer {
            Timer::JobPoll => 0,
            Timer::OutputFlush => 1,
            Timer::AskAgain => 2,
        }
    }

    fn set(&mut self, timer: Timer, at: Instant) {
        self.due[Self::slot(timer)] = Some(at);
    }

    /// When the next timer is due.
    fn next(&self) -> Option<Instant> {
        self.due.iter().flatten().min().copied()
    }

    /// The timers due at `now`, unset.
    fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        Self::ALL
            .into_iter()
            .filter(|t| {
                let slot = &mut self.due[Self::slot(*t)];
                let due = slot.is_some_and(|at| at <= now);
                if due {
                    *slot = None;
                }
                due
            })
            .collect()
    }
}

/// What carries out a session's effects: its stream, the store, the clock.
struct Io<'a> {
    conn: &'a Connection,
    tx: &'a mut SendStream,
    ctx: &'a LinkContext,
    agent_id: &'a str,
    timers: Timers,
}

impl<'a> Io<'a> {
    /// Carries out `effects` in order; an answer from the store is fed to
    /// `state` and its effects carried out before the rest. `permit` is the
    /// large-message slot of the message being handled, if it holds one.
    async fn carry_out(
        &mut self,
        state: &mut State,
        effects: Vec<Effect>,
        permit: &mut Option<SemaphorePermit<'a>>,
        large: bool,
    ) -> Result<()> {
        let mut queue = VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let answer = match effect {
                Effect::Send(msg) => {
                    send(self.tx, &msg).await?;
                    None
                }
                Effect::SetTimer(timer, at) => {
                    self.timers.set(timer, at);
                    None
                }
                Effect::Close(why) => return Err(protocol_error(self.conn, why)),
                Effect::Store(request) => self.ask(request, permit, large).await?,
            };
            if let Some(event) = answer {
                for effect in state.handle(event, now()).into_iter().rev() {
                    queue.push_front(effect);
                }
            }
        }
        Ok(())
    }

    /// Asks the store; its answer, if the request has one.
    async fn ask(
        &mut self,
        request: Request,
        permit: &mut Option<SemaphorePermit<'a>>,
        large: bool,
    ) -> Result<Option<Event>> {
        let (ctx, agent_id) = (self.ctx, self.agent_id);
        Ok(match request {
            Request::UpdateFacts(hello) => {
                if let Err(e) = ctx
                    .store
                    .update_agent_facts(agent_id.to_string(), hello, crate::unix_now())
                    .await
                {
                    // Told again at the next connection; a database that
                    // refuses the write (a full disk) must not also cost
                    // the agent its session, or the fleet a reconnection
                    // each per backoff.
                    warn!(%agent_id, error = %e, "the agent's host name, OS and version were not stored");
                }
                None
            }
            Request::PendingJobs => Some(Event::PendingJobs(
                ctx.store.agent_pending_jobs(agent_id.to_string()).await?,
            )),
            Request::Order(job_id) => {
                let order = match ctx.orders.get(&job_id) {
                    Some(order) => Ok(order),
                    None => {
                        let parts = ctx.store.order_parts(job_id.clone()).await?;
                        crate::jobs::build_order(&parts).map(|order| ctx.orders.put(order))
                    }
                };
                Some(Event::Order { job_id, order })
            }
            Request::Ingest {
                report,
                wire_len,
                wait,
            } => {
                if !wait.is_zero() {
                    // Not holding a large-message slot: an agent that
                    // reports too often must not keep the others waiting.
                    *permit = None;
                    tokio::time::sleep(wait).await;
                    if large {
                        *permit = Some(ctx.large_messages.0.acquire().await?);
                    }
                }
                // On the heap while it runs: planning a report holds
                // kilobytes across its awaits (a delta is 5 KB before it is
                // planned), which inline would make every session's task
                // that much larger for all of its life, idle or not.
                let outcome = Box::pin(ingest(ctx, agent_id, report, wire_len)).await;
                Some(Event::Ingested {
                    outcome,
                    random: deskhand_net::backoff::random(),
                })
            }
            Request::CheckHash { hash, wait } => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let id = agent_id.to_string();
                let held = ctx
                    .store
                    .read(move |r| r.inventory_hash(&id))
                    .await
                    .map(|stored| stored.is_some_and(|s| s == hash.to_hex()))
                    .map_err(|e| format!("store: {e}"));
                Some(Event::HashChecked {
                    hash,
                    held,
                    random: deskhand_net::backoff::random(),
                })
            }
            Request::JobUpdate(update) => {
                let finished = matches!(update.progress, JobProgress::Finished(_));
                let applied = ctx
                    .store
                    .apply_job_update(
                        agent_id.to_string(),
                        update.job_id.clone(),
                        update.progress,
                        unix_now(),
                    )
                    .await?;
                if finished && matches!(applied, crate::store::Applied::Changed(_)) {
                    ctx.job_finished.notify_one();
                }
                Some(Event::JobUpdateApplied {
                    job_id: update.job_id,
                    finished,
                    applied,
                })
            }
            Request::OpenTicket(req) => {
                // Boxed like `ingest`: rare, and large for a session to carry.
                let answer = Box::pin(crate::help::open_ticket(
                    &ctx.store,
                    &ctx.tickets,
                    agent_id,
                    req,
                ))
                .await;
                Some(Event::HelpAnswered(answer))
            }
            Request::RemotePolicy(policy) => {
                let stored = ctx
                    .store
                    .set_agent_remote_policy(agent_id.to_string(), policy, unix_now())
                    .await;
                if let Err(e) = stored {
                    // Told again when consent opens or closes, and at the
                    // next connection.
                    warn!(%agent_id, error = %e, "the agent's remote-access policy was not stored");
                }
                None
            }
            Request::PortalLink { request_id, user } => {
                let link = crate::portal::mint_link(
                    &ctx.store,
                    &ctx.public_url,
                    agent_id,
                    &user,
                    unix_now(),
                )
                .await;
                Some(Event::PortalLinkMade { request_id, link })
            }
        })
    }
}

async fn run_session(
    conn: &Connection,
    control: Control<'_>,
    (hello, stored_facts): (Hello, Hello),
    agent_id: &str,
    session_id: u64,
    ctx: &LinkContext,
) -> Result<()> {
    let hostname = hello.hostname.clone();
    let settings = Settings {
        stored_facts: Some(stored_facts),
        agent_id: agent_id.to_string(),
        heartbeat_secs: ctx.heartbeat_secs,
        max_jobs: ctx.max_jobs_per_agent,
    };
    let (mut state, effects) = State::start(settings, hello, now());
    let Control {
        tx,
        rx,
        decoder,
        mut outbox,
        jobs_changed,
    } = control;
    let mut io = Io {
        conn,
        tx,
        ctx,
        agent_id,
        timers: Timers::default(),
    };
    io.carry_out(&mut state, effects, &mut None, false).await?;
    info!(%agent_id, %hostname, remote = %conn.remote_address(), "agent connected");
    // Made once and renewed when they fire, not on every message: each
    // new one locks the connection, the notifier or the timer wheel to
    // register.
    let mut jobs_notified = std::pin::pin!(jobs_changed.notified());
    let mut incoming = std::pin::pin!(conn.accept_bi());
    let mut alarm = std::pin::pin!(tokio::time::sleep(std::time::Duration::ZERO));
    let mut alarm_at = None;
    // The frame being read: a frame that trickles in is cut off.
    let mut frame_clock = deskhand_net::stream::FrameClock::default();
    loop {
        // Armed only while a timer is set: an idle session has none firing.
        let next = io.timers.next();
        if next != alarm_at {
            if let Some(at) = next {
                alarm.as_mut().reset(tokio::time::Instant::from_std(at));
            }
            alarm_at = next;
        }
        let body = tokio::select! {
            body = next_large_or_small(
                rx,
                decoder,
                Some(&ctx.large_messages),
                Some((&ctx.limits.frame, &mut frame_clock)),
            ) => body,
            Some(msg) = outbox.recv() => {
                send(io.tx, &msg).await?;
                continue;
            }
            () = &mut jobs_notified => {
                jobs_notified.set(jobs_changed.notified());
                let effects = state.handle(Event::JobsChanged, now());
                io.carry_out(&mut state, effects, &mut None, false).await?;
                continue;
            }
            () = &mut alarm, if alarm_at.is_some() => {
                alarm_at = None;
                let now = now();
                for timer in io.timers.take_due(now) {
                    let effects = state.handle(Event::Timer(timer), now);
                    io.carry_out(&mut state, effects, &mut None, false).await?;
                }
                continue;
            }
            stream = &mut incoming => {
                incoming.set(conn.accept_bi());
                let (tx, rx) = stream?;
                let content = ctx.content.clone();
                let store = ctx.store.clone();
                tokio::spawn(super::fetch::serve_fetch(store, content, tx, rx));
                continue;
            }
        };
        let (body, mut permit) = match body {
            Ok(Some(b)) => b,
            Ok(None) => {
                conn.close(close_code::NORMAL.into(), b"session ended");
                return Ok(());
            }
            Err(e) => {
                if let Some(reason) = conn.close_reason() {
                    return Err(anyhow!(reason));
                }
                return Err(protocol_error(conn, &format!("{e:#}")));
            }
        };
        // The slot is held until the message is handled (the end of
        // this iteration).
        let large = permit.is_some();
        let msg: AgentMessage =
            decode_body(&body).map_err(|e| protocol_error(conn, &e.to_string()))?;
        drop(body);
        ctx.presence.touch(agent_id, session_id, unix_now());
        // What a report cost on the wire: its compressed size.
        let wire_len = decoder.last_wire_len();
        let effects = state.handle(Event::Message { msg, wire_len }, now());
        io.carry_out(&mut state, effects, &mut permit, large)
            .await?;
    }
}
