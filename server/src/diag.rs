//! Sending diagnostics to live agents and collecting what they stream back.
//!
//! Each diagnostic is one QUIC stream the server opens on the agent's
//! connection. [`start`] validates the request against the agent's
//! catalog before anything is sent, opens the stream and returns a channel
//! of events; dropping the receiver resets the stream, which cancels a
//! check that is still running on the agent.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use deskhand_net::stream::{recv, send};
use deskhand_shared::diag::{DiagDone, DiagEvent, DiagRequest};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, ServerMessage};
use tokio::sync::mpsc;

/// Largest event an agent may send (a big process table fits easily).
const MAX_EVENT_FRAME: usize = 4 * 1024 * 1024;
/// How long a diagnostic without `--follow` may run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// Opens a diagnostic stream on `conn` and forwards the agent's events.
///
/// The channel ends with a [`DiagEvent::Done`]; if the agent or the link
/// fails first, a `Done` with the error is synthesized, so callers always
/// get an ending.
pub async fn start(
    conn: &quinn::Connection,
    req: DiagRequest,
) -> Result<mpsc::Receiver<DiagEvent>> {
    deskhand_shared::diag::catalog::validate(&req).map_err(|e| anyhow!(e))?;
    let (mut tx, mut rx) = conn
        .open_bi()
        .await
        .context("the agent's connection is closing")?;
    send(&mut tx, &ServerMessage::Diag(req)).await?;
    let _ = tx.finish();
    let (events_tx, events_rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut decoder = FrameDecoder::new(MAX_EVENT_FRAME);
        loop {
            let ended = tokio::select! {
                msg = recv::<AgentMessage>(&mut rx, &mut decoder) => msg,
                () = events_tx.closed() => {
                    // The requester went away: cancel on the agent.
                    let _ = rx.stop(0u32.into());
                    return;
                }
            };
            let event = match ended {
                Ok(Some(AgentMessage::Diag(e))) => e,
                Ok(Some(other)) => {
                    failed(format!("the agent sent {other:?} on a diagnostic stream"))
                }
                Ok(None) => failed("the agent ended the diagnostic without a result".into()),
                Err(e) => failed(format!("the diagnostic stream failed: {e:#}")),
            };
            let done = matches!(event, DiagEvent::Done(_));
            if events_tx.send(event).await.is_err() || done {
                let _ = rx.stop(0u32.into());
                return;
            }
        }
    });
    Ok(events_rx)
}

fn failed(error: String) -> DiagEvent {
    DiagEvent::Done(DiagDone {
        ok: false,
        error: Some(error),
        micros: 0,
    })
}
