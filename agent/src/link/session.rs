//! One session: the hello, then the conversation until the connection
//! ends: heartbeats, inventory reports, job orders and updates, help
//! requests.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use deskhand_net::backoff::Backoff;
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, HelpRequest, RefusalReason, ServerMessage, close_code};
use quinn::Connection;
use tracing::{info, warn};

use super::{ANSWER_TIMEOUT, SessionEnd, refusal_error};
use crate::facts;
use crate::help::{HelpInbox, HelpJob};

/// Collects the inventory off the async threads.
async fn collect_inventory() -> Result<deskhand_shared::inventory::Inventory> {
    tokio::task::spawn_blocking(crate::inventory::collect)
        .await
        .context("the inventory collection failed")
}

/// The jobs and the events they emit, lent to a session.
pub(super) type JobsLink<'a> = (
    &'a crate::jobs::Jobs,
    &'a mut tokio::sync::mpsc::UnboundedReceiver<crate::jobs::JobEvent>,
);
/// The next help request, or never without a help inbox.
async fn next_help(help: &mut Option<HelpInbox>) -> Option<HelpJob> {
    match help {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// The diagnostic attached to every help request.
const HELP_CHECK: &str = "system-summary";

pub(super) async fn converse(
    conn: &Connection,
    backoff: &mut Backoff,
    inventory_interval: Duration,
    jobs: &crate::jobs::Jobs,
    job_events: &mut tokio::sync::mpsc::UnboundedReceiver<crate::jobs::JobEvent>,
    help: &mut Option<HelpInbox>,
) -> SessionEnd {
    let result: Result<SessionEnd> = async {
        let (mut tx, mut rx) = conn.open_bi().await?;
        send(&mut tx, &AgentMessage::Hello(facts::hello())).await?;
        let mut decoder = FrameDecoder::default();
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder))
            .await
            .context("the server did not answer the hello in time")??;
        let welcome = match answer {
            Some(ServerMessage::Welcome(w)) => w,
            Some(ServerMessage::Refused(r)) => {
                return Ok(match r.reason {
                    RefusalReason::Revoked | RefusalReason::NotEnrolled => {
                        SessionEnd::Refused(r.message)
                    }
                    _ => SessionEnd::Lost(refusal_error(&r)),
                });
            }
            other => bail!("unexpected answer to the hello: {other:?}"),
        };
        info!(agent_id = %welcome.agent_id, server_version = %welcome.server_version, "connected to the server");
        backoff.reset();
        let mut beat = tokio::time::interval(Duration::from_secs(welcome.heartbeat_secs.max(1).into()));
        beat.tick().await;
        jobs.set_connection(Some(conn.clone()));
        // Results kept while the server was unreachable go first.
        for update in jobs.outbox() {
            send(&mut tx, &AgentMessage::JobUpdate(update)).await?;
        }
        let mut reporter = crate::report::InventoryReporter::new();
        let report = reporter.report(collect_inventory().await?, true);
        send(&mut tx, &AgentMessage::Inventory(report)).await?;
        let mut schedule = tokio::time::interval(inventory_interval.max(Duration::from_secs(1)));
        schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        schedule.tick().await;
        let _online = help.as_ref().map(HelpInbox::online);
        let mut waiting: HashMap<u64, tokio::sync::oneshot::Sender<Result<i64, String>>> =
            HashMap::new();
        let mut next_request = 0u64;
        loop {
            tokio::select! {
                Some(job) = next_help(help) => {
                    // A fresh inventory first: the server stores it before
                    // it reads the request on the same stream.
                    let inv = collect_inventory().await?;
                    let report = reporter.report(inv, false);
                    send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    let diagnostic = crate::diag::collect(
                        deskhand_shared::diag::DiagRequest {
                            check: HELP_CHECK.into(),
                            args: Vec::new(),
                            follow: false,
                        },
                        Duration::from_secs(20),
                    )
                    .await;
                    next_request += 1;
                    info!(request_id = next_request, requester = %job.requester, "forwarding a help request");
                    send(&mut tx, &AgentMessage::HelpRequest(HelpRequest {
                        request_id: next_request,
                        message: job.message,
                        requester: job.requester,
                        inventory_hash: reporter.pending_hash(),
                        diagnostic_check: HELP_CHECK.into(),
                        diagnostic: Some(diagnostic),
                    })).await?;
                    waiting.insert(next_request, job.reply);
                }
                _ = beat.tick() => send(&mut tx, &AgentMessage::Heartbeat).await?,
                _ = schedule.tick() => {
                    let report = reporter.report(collect_inventory().await?, false);
                    send(&mut tx, &AgentMessage::Inventory(report)).await?;
                }
                msg = recv::<ServerMessage>(&mut rx, &mut decoder) => match msg? {
                    Some(ServerMessage::InventoryAck(hash)) => reporter.acknowledged(hash),
                    Some(ServerMessage::HelpAnswer(a)) => {
                        let answer = match (a.ticket, a.error) {
                            (Some(n), _) => Ok(n),
                            (None, e) => Err(e.unwrap_or_else(|| "the server opened no ticket".into())),
                        };
                        if let Some(reply) = waiting.remove(&a.request_id) {
                            let _ = reply.send(answer);
                        }
                    }
                    Some(ServerMessage::InventoryRequest { full }) => {
                        let report = reporter.report(collect_inventory().await?, full);
                        send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    }
                    Some(ServerMessage::Job(order)) => jobs.order(*order),
                    Some(ServerMessage::JobCancel { job_id }) => jobs.cancel(&job_id),
                    Some(ServerMessage::JobAck { job_id }) => jobs.ack(&job_id),
                    Some(other) => warn!(message = ?other, "ignoring an unexpected message from the server"),
                    None => bail!("the server ended the session"),
                },
                Some(event) = job_events.recv() => match event {
                    crate::jobs::JobEvent::Update(update) => {
                        send(&mut tx, &AgentMessage::JobUpdate(update)).await?;
                    }
                    crate::jobs::JobEvent::RefreshInventory => {
                        let report = reporter.report(collect_inventory().await?, false);
                        send(&mut tx, &AgentMessage::Inventory(report)).await?;
                    }
                },
                stream = conn.accept_bi() => {
                    let (stx, srx) = stream?;
                    tokio::spawn(super::request::serve_request(stx, srx));
                }
            }
        }
    }
    .await;
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
