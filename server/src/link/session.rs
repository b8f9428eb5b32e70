//! A session: from an accepted hello until the connection ends. Registers
//! the agent in presence, answers its reports, relays its job updates and
//! help requests, and sends it the jobs it is to run.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use deskhand_net::stream::send;
use deskhand_shared::frame::{FrameDecoder, decode_body};
use deskhand_shared::jobs::JobProgress;
use deskhand_shared::proto::{
    AgentMessage, Hello, InventoryReport, PROTOCOL_VERSION, RefusalReason, ServerMessage, Welcome,
    close_code,
};
use quinn::{Connection, RecvStream, SendStream};
use tracing::{debug, info, warn};

use super::ingest::{AskAgain, IngestPacer, Outcome, ingest};
use super::{LinkContext, next_large_or_small, peer_fingerprint, protocol_error, refusal, refuse};
use crate::presence::Registration;
use crate::store::Applied;
use crate::unix_now;

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
    let result = run_session(
        conn,
        Control {
            tx: &mut tx,
            rx: &mut rx,
            decoder: &mut decoder,
            outbox: control_rx,
            jobs_changed,
        },
        hello,
        &agent.id,
        session_id,
        ctx,
    )
    .await;
    ctx.presence.unregister(&agent.id, session_id);
    info!(agent_id = %agent.id, "agent disconnected");
    result
}

/// The control stream of a session, and the queue of messages for it.
struct Control<'a> {
    tx: &'a mut SendStream,
    rx: &'a mut RecvStream,
    decoder: &'a mut FrameDecoder,
    outbox: tokio::sync::mpsc::Receiver<ServerMessage>,
    jobs_changed: Arc<tokio::sync::Notify>,
}

/// How often a session stores the job output it has received.
const OUTPUT_FLUSH: Duration = Duration::from_millis(500);
/// How often a session looks for jobs it was not told about.
const JOB_POLL: Duration = Duration::from_secs(60);

async fn run_session(
    conn: &Connection,
    mut control: Control<'_>,
    hello: Hello,
    agent_id: &str,
    session_id: u64,
    ctx: &LinkContext,
) -> Result<()> {
    let hostname = hello.hostname.clone();
    if let Err(e) = ctx
        .store
        .update_agent_facts(agent_id.to_string(), hello)
        .await
    {
        // Told again at the next connection; a database that refuses the
        // write (a full disk) must not also cost the agent its session,
        // or the fleet a reconnection each per backoff.
        warn!(%agent_id, error = %e, "the agent's host name, OS and version were not stored");
    }
    send(
        control.tx,
        &ServerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            agent_id: agent_id.to_string(),
            heartbeat_secs: ctx.heartbeat_secs,
        }),
    )
    .await?;
    info!(%agent_id, %hostname, remote = %conn.remote_address(), "agent connected");
    let mut pacer = IngestPacer::default();
    let mut sent_jobs = HashSet::new();
    let mut jobs_waiting = false;
    let mut job_poll = tokio::time::interval(JOB_POLL);
    job_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut output = crate::jobs::OutputBuffer::default();
    // Set by the output chunk that finds the buffer empty and polled only
    // while output is pending, so an idle session has no timer firing:
    // 10,000 sessions would otherwise wake 20,000 times a second to find
    // nothing to store.
    let mut output_flush = std::pin::pin!(tokio::time::sleep(OUTPUT_FLUSH));
    let mut help_pacer = crate::help::HelpPacer::default();
    // Polled only while a report is to be asked for again.
    let mut ask_again = AskAgain::default();
    let mut ask_again_at = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    // Made once and renewed when they fire, not on every message: each
    // new one locks the connection or the notifier to register.
    let jobs_changed = control.jobs_changed;
    let mut jobs_notified = std::pin::pin!(jobs_changed.notified());
    let mut incoming = std::pin::pin!(conn.accept_bi());
    loop {
        let body = tokio::select! {
            body = next_large_or_small(control.rx, control.decoder, Some(&ctx.large_messages)) => body,
            Some(msg) = control.outbox.recv() => {
                send(control.tx, &msg).await?;
                continue;
            }
            // The first tick is immediate: jobs that waited for this agent go now.
            _ = job_poll.tick() => {
                jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                continue;
            }
            () = &mut jobs_notified => {
                jobs_notified.set(jobs_changed.notified());
                jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                continue;
            }
            () = &mut output_flush, if !output.is_empty() => {
                for (job_id, stderr, text) in output.take() {
                    let progress = JobProgress::Output { stderr, text };
                    ctx.store
                        .apply_job_update(agent_id.to_string(), job_id, progress, unix_now())
                        .await?;
                }
                continue;
            }
            () = &mut ask_again_at, if ask_again.pending.is_some() => {
                if let Some(request) = ask_again.take() {
                    debug!(%agent_id, "asking again for the report the server could not store");
                    send(control.tx, &request).await?;
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
        let body = match body {
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
        let (body, mut _permit) = body;
        // The slot is held until the message is handled (the end of
        // this iteration).
        let large = _permit.is_some();
        let msg: AgentMessage =
            decode_body(&body).map_err(|e| protocol_error(conn, &e.to_string()))?;
        ctx.presence.touch(agent_id, session_id, unix_now());
        match msg {
            AgentMessage::Heartbeat => {}
            AgentMessage::Inventory(report) => {
                // An agent that reports too often waits (and QUIC flow
                // control holds its stream); the others are not slowed.
                let full = matches!(report, InventoryReport::Full(_));
                let wait = pacer.delay(tokio::time::Instant::now().into_std(), full);
                if !wait.is_zero() {
                    debug!(%agent_id, ?wait, "pacing an agent that reports too often");
                    // Not holding a large-message slot: an agent that
                    // reports too often must not keep the others waiting.
                    _permit = None;
                    tokio::time::sleep(wait).await;
                    if large {
                        _permit = Some(ctx.large_messages.0.acquire().await?);
                    }
                }
                // What the report cost on the wire: its compressed size.
                let wire_len = control.decoder.last_wire_len();
                // On the heap while it runs: planning a report holds
                // kilobytes across its awaits (a delta is 5 KB before it is
                // planned), which inline would make every session's task
                // that much larger for all of its life, idle or not.
                let reply = match Box::pin(ingest(ctx, agent_id, report, wire_len)).await {
                    Outcome::Stored(hash) => {
                        ask_again.stored();
                        ServerMessage::InventoryAck(hash)
                    }
                    Outcome::SendFull => ServerMessage::InventoryRequest { full: true },
                    Outcome::Refused => continue,
                    Outcome::Failed { full, why } => {
                        let wait = ask_again.failed(full, deskhand_net::backoff::random());
                        ask_again_at
                            .as_mut()
                            .reset(tokio::time::Instant::now() + wait);
                        warn!(%agent_id, error = %why, retry_in = ?wait, "inventory not stored; the server asks for it again later");
                        continue;
                    }
                };
                send(control.tx, &reply).await?;
            }
            AgentMessage::JobUpdate(update) => {
                if let JobProgress::Output { stderr, text } = &update.progress {
                    if output.is_empty() {
                        output_flush
                            .as_mut()
                            .reset(tokio::time::Instant::now() + OUTPUT_FLUSH);
                    }
                    output.push(&update.job_id, *stderr, text);
                    continue;
                }
                let finished = matches!(update.progress, JobProgress::Finished(_));
                if finished {
                    output.forget(&update.job_id);
                }
                let job_id = update.job_id.clone();
                let applied = ctx
                    .store
                    .apply_job_update(
                        agent_id.to_string(),
                        update.job_id,
                        update.progress,
                        unix_now(),
                    )
                    .await?;
                if finished {
                    // Committed: the agent may drop it from its outbox.
                    send(control.tx, &ServerMessage::JobAck { job_id }).await?;
                }
                if jobs_waiting && matches!(applied, Applied::Changed(s) if s.is_terminal()) {
                    // A slot is free and a job waits for one.
                    jobs_waiting = dispatch_jobs(ctx, agent_id, control.tx, &mut sent_jobs).await?;
                }
            }
            AgentMessage::HelpRequest(req) => {
                let answer = if help_pacer.allow(std::time::Instant::now()) {
                    // Boxed like `ingest`: rare, and large for a session to carry.
                    Box::pin(crate::help::open_ticket(
                        &ctx.store,
                        &ctx.tickets,
                        agent_id,
                        req,
                    ))
                    .await
                } else {
                    warn!(%agent_id, "refusing a help request: too many from this session");
                    crate::help::too_many(req.request_id)
                };
                send(control.tx, &ServerMessage::HelpAnswer(answer)).await?;
            }
            AgentMessage::Hello(_)
            | AgentMessage::Enroll(_)
            | AgentMessage::Diag(_)
            | AgentMessage::Fetch(_) => {
                return Err(protocol_error(
                    conn,
                    "unexpected message on the control stream",
                ));
            }
        }
    }
}

/// Sends an agent the orders and cancels its unfinished jobs call for.
async fn dispatch_jobs(
    ctx: &LinkContext,
    agent_id: &str,
    tx: &mut SendStream,
    sent: &mut HashSet<crate::jobs::Send>,
) -> Result<bool> {
    let pending = ctx.store.agent_pending_jobs(agent_id.to_string()).await?;
    // Forget what concerned jobs that have ended, so a long session's set
    // stays as small as its unfinished work.
    sent.retain(|s| {
        let (crate::jobs::Send::Order(id) | crate::jobs::Send::Cancel(id)) = s;
        pending.iter().any(|p| &p.job_id == id)
    });
    for step in crate::jobs::plan_sends(&pending, sent, ctx.max_jobs_per_agent) {
        let msg = match &step {
            crate::jobs::Send::Cancel(job_id) => ServerMessage::JobCancel {
                job_id: job_id.clone(),
            },
            crate::jobs::Send::Order(job_id) => {
                let order = match ctx.orders.get(job_id) {
                    Some(order) => order,
                    None => {
                        let parts = ctx.store.order_parts(job_id.clone()).await?;
                        match crate::jobs::build_order(&parts) {
                            Ok(order) => ctx.orders.put(order),
                            Err(why) => {
                                warn!(%agent_id, %job_id, %why, "cannot build a job's order");
                                continue;
                            }
                        }
                    }
                };
                ServerMessage::Job(Box::new((*order).clone()))
            }
        };
        send(tx, &msg).await?;
        sent.insert(step);
    }
    // Whether some job still waits for a free slot.
    Ok(pending.iter().any(|p| {
        p.state == crate::jobs::TargetState::Queued
            && !p.cancel_requested
            && !sent.contains(&crate::jobs::Send::Order(p.job_id.clone()))
    }))
}
