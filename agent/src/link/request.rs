//! Requests on streams the server opens: a diagnostic run and its events
//! streamed back until done or cancelled, or a remote-access session
//! ([`crate::remote::serve`]).

use deskhand_net::stream::{recv, send};
use deskhand_shared::diag::DiagRequest;
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{AgentMessage, ServerMessage, close_code};
use deskhand_shared::remote::MAX_REMOTE_FRAME;
use quinn::{RecvStream, SendStream};
use tracing::{info, warn};

use super::ANSWER_TIMEOUT;

/// Largest frame on a request stream: a remote session's, which the
/// decoder also reads after the request.
const MAX_REQUEST_FRAME: usize = MAX_REMOTE_FRAME;

/// Serves one request stream the server opened: a diagnostic, whose
/// events go back until it is done or the server closes the stream, or a
/// remote session under `remote`'s policy and consent.
pub(super) async fn serve_request(
    mut tx: SendStream,
    mut rx: RecvStream,
    remote: crate::remote::Remote,
) {
    let mut decoder = FrameDecoder::new(MAX_REQUEST_FRAME);
    match tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut decoder)).await {
        Ok(Ok(Some(ServerMessage::Diag(req)))) => serve_diag(tx, req).await,
        Ok(Ok(Some(ServerMessage::Remote(req)))) => {
            use crate::remote::{FrameReader, FrameWriter, serve};
            serve(
                &remote,
                req,
                FrameReader::new(rx, decoder),
                FrameWriter::new(tx),
            )
            .await;
        }
        other => {
            warn!(
                ?other,
                "ignoring a request stream without a diagnostic or remote session"
            );
            let _ = tx.reset(close_code::PROTOCOL.into());
        }
    }
}

/// Runs the diagnostic and streams its events back.
async fn serve_diag(mut tx: SendStream, req: DiagRequest) {
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
