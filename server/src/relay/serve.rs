//! The answering side of the relay: a connection from another node,
//! admitted by the agent endpoint, whose streams each carry one request
//! about an agent whose session this node holds.

use std::sync::Arc;
use std::time::Duration;

use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::node::{MAX_NODE_REQUEST, NodeReply, NodeRequest};
use deskhand_shared::remote::RemoteReply;
use quinn::{Connection, RecvStream, SendStream};
use tracing::{debug, info};

use crate::presence::Presence;
use crate::remote::Remote;

/// How long a new stream has to carry its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one peer node may have open at once (live diagnostics
/// followed by operators, mostly).
const MAX_STREAMS: u32 = 1024;

/// Serves the relay connection of node `peer` until it ends.
pub async fn serve(
    conn: Connection,
    peer: String,
    presence: Arc<Presence>,
    remote: Arc<Remote>,
) -> anyhow::Result<()> {
    info!(node = %peer, remote = %conn.remote_address(), "relay connection from a node");
    conn.set_max_concurrent_bi_streams(MAX_STREAMS.into());
    loop {
        let (tx, rx) = match conn.accept_bi().await {
            Ok(stream) => stream,
            Err(e) => {
                debug!(node = %peer, error = %e, "relay connection ended");
                return Ok(());
            }
        };
        let (presence, remote) = (presence.clone(), remote.clone());
        let peer = peer.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(tx, rx, &presence, &remote).await {
                debug!(node = %peer, error = %format!("{e:#}"), "a relayed request ended early");
            }
        });
    }
}

/// Reads one request from a stream and answers it there.
pub(super) async fn answer(
    mut tx: SendStream,
    mut rx: RecvStream,
    presence: &Presence,
    remote: &Remote,
) -> anyhow::Result<()> {
    let mut decoder = FrameDecoder::new(MAX_NODE_REQUEST);
    let request = match tokio::time::timeout(REQUEST_TIMEOUT, recv(&mut rx, &mut decoder)).await {
        Ok(Ok(Some(request))) => request,
        Ok(Ok(None)) => {
            return finish(
                tx,
                NodeReply::Failed("the stream ended before a request".into()),
            )
            .await;
        }
        Ok(Err(e)) => {
            let _ = rx.stop(0u32.into());
            return finish(
                tx,
                NodeReply::Failed(format!(
                    "the request could not be read ({e:#}); do both nodes run the same release?"
                )),
            )
            .await;
        }
        Err(_) => return finish(tx, NodeReply::Failed("no request in time".into())).await,
    };
    match request {
        NodeRequest::KillRemote { session_id, by } => {
            let live = remote.kill(session_id, &by);
            info!(
                session = session_id,
                by, live, "remote session kill asked by another node"
            );
            finish(tx, NodeReply::Killed { live }).await
        }
        NodeRequest::Revoke { agent_id } => {
            let had_session = presence.revoke(&agent_id);
            info!(
                agent_id,
                had_session, "agent revoked on another node's word"
            );
            finish(tx, NodeReply::Revoked { had_session }).await
        }
        NodeRequest::Remote { agent_id, request } => {
            let Some(conn) = presence.connection(&agent_id) else {
                return finish(tx, NodeReply::NotHere).await;
            };
            if decoder.buffered() > 0 {
                let _ = rx.stop(0u32.into());
                return finish(
                    tx,
                    NodeReply::Failed("frames came before the agent's answer".into()),
                )
                .await;
            }
            let session = request.session_id;
            info!(
                agent_id,
                session, "opening a remote session for another node"
            );
            match crate::remote::ask_agent(&conn, request).await {
                Ok(side) => {
                    let accepted = RemoteReply::Accepted {
                        ticket: side.ticket,
                        until: side.until,
                    };
                    send(&mut tx, &NodeReply::Remote(accepted)).await?;
                    let ending = crate::remote::pipe::forward(tx, rx, side, conn).await;
                    info!(agent_id, session, reason = %ending.reason(), "a relayed remote session ended");
                    Ok(())
                }
                Err(crate::remote::NotOpened::Refused(message)) => {
                    finish(tx, NodeReply::Remote(RemoteReply::Refused { message })).await
                }
                Err(other) => finish(tx, NodeReply::Failed(other.reason())).await,
            }
        }
        NodeRequest::Diag { agent_id, request } => {
            let Some(conn) = presence.connection(&agent_id) else {
                return finish(tx, NodeReply::NotHere).await;
            };
            info!(agent_id, check = %request.check, "running a diagnostic for another node");
            let mut events = match crate::diag::start(&conn, request).await {
                Ok(events) => events,
                Err(e) => return finish(tx, NodeReply::Failed(format!("{e:#}"))).await,
            };
            send(&mut tx, &NodeReply::Started).await?;
            // The asking node stops reading when its requester goes away;
            // dropping `events` then cancels the check on the agent.
            let stopped = tx.stopped();
            tokio::pin!(stopped);
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = &mut stopped => None,
                };
                let Some(event) = event else { break };
                let done = matches!(event, deskhand_shared::diag::DiagEvent::Done(_));
                if send(&mut tx, &NodeReply::Diag(event)).await.is_err() {
                    break;
                }
                if done {
                    let _ = tx.finish();
                    return Ok(());
                }
            }
            // `diag::start` always ends with a `Done`: here the asking
            // node went away first.
            info!(
                agent_id,
                "a relayed diagnostic was stopped by the node that asked; cancelling it on the agent"
            );
            Ok(())
        }
    }
}

/// Sends a last reply and finishes the stream.
async fn finish(mut tx: SendStream, reply: NodeReply) -> anyhow::Result<()> {
    send(&mut tx, &reply).await?;
    let _ = tx.finish();
    Ok(())
}
