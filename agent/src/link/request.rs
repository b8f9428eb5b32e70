//! Requests on streams the server opens: a diagnostic run and its events
//! streamed back until done or cancelled.

use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, ServerMessage, close_code};
use quinn::{RecvStream, SendStream};
use tracing::{info, warn};

use super::ANSWER_TIMEOUT;

/// Largest request the server may send on a request stream.
const MAX_REQUEST_FRAME: usize = 64 * 1024;

/// Serves one request stream the server opened: runs the diagnostic and
/// streams its events back; stops when the server closes the stream.
pub(super) async fn serve_request(mut tx: SendStream, mut rx: RecvStream) {
    let mut decoder = FrameDecoder::new(MAX_REQUEST_FRAME);
    let req =
        match tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder))
            .await
        {
            Ok(Ok(Some(ServerMessage::Diag(req)))) => req,
            other => {
                warn!(?other, "ignoring a request stream without a diagnostic");
                let _ = tx.reset(close_code::PROTOCOL.into());
                return;
            }
        };
    info!(check = %req.check, "running a diagnostic for the server");
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(64);
    let runner = tokio::spawn(crate::diag::run(req, events_tx));
    loop {
        let event = tokio::select! {
            event = events_rx.recv() => event,
            // The server stopped reading: it cancelled.
            _ = tx.stopped() => None,
        };
        let Some(event) = event else { break };
        let done = matches!(event, deskhand_shared::diag::DiagEvent::Done(_));
        if send(&mut tx, &AgentMessage::Diag(event)).await.is_err() {
            // The server cancelled: dropping the receiver stops the check.
            break;
        }
        if done {
            let _ = tx.finish();
            break;
        }
    }
    drop(events_rx);
    let _ = runner.await;
}
