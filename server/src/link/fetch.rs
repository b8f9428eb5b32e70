//! Content transfers: a stream the agent opens to fetch a published
//! artifact by its hash, served from the content store.

use std::sync::Arc;

use deskhand_net::stream::send;
use deskhand_shared::frame::{FrameDecoder, decode_body};
use deskhand_shared::proto::{AgentMessage, ServerMessage, close_code};
use quinn::{RecvStream, SendStream};
use tracing::debug;

use super::{FIRST_FRAME_TIMEOUT, next_body};
use crate::store::Store;

/// Largest request on a stream the agent opens (a fetch request).
const MAX_AGENT_REQUEST: usize = 4 * 1024;

/// Serves a stream an agent opened: a content transfer.
pub(super) async fn serve_fetch(
    store: Store,
    content: Arc<crate::content::ContentStore>,
    mut tx: SendStream,
    mut rx: RecvStream,
) {
    let mut decoder = FrameDecoder::new(MAX_AGENT_REQUEST);
    let req =
        match tokio::time::timeout(FIRST_FRAME_TIMEOUT, next_body(&mut rx, &mut decoder)).await {
            Ok(Ok(Some(body))) => match decode_body::<AgentMessage>(&body) {
                Ok(AgentMessage::Fetch(req)) => req,
                _ => {
                    let _ = tx.reset(close_code::PROTOCOL.into());
                    return;
                }
            },
            _ => {
                let _ = tx.reset(close_code::PROTOCOL.into());
                return;
            }
        };
    let result = async {
        // Agents get only what a published manifest names.
        if !crate::content::is_sha256(&req.sha256)
            || !store.content_is_published(req.sha256.clone()).await?
        {
            send(
                &mut tx,
                &ServerMessage::Fetch(deskhand_shared::jobs::FetchReply::Missing(format!(
                    "no published content {}",
                    req.sha256
                ))),
            )
            .await?;
            return Ok(());
        }
        content.serve(&req.sha256, req.offset, &mut tx).await
    }
    .await;
    match result {
        Ok(()) => {
            let _ = tx.finish();
        }
        Err(e) => debug!(error = %format!("{e:#}"), "content transfer ended early"),
    }
}
