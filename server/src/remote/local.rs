//! A session whose operator side is the server itself: the console's
//! terminal (bridged to a WebSocket), its file pages. The same pump runs
//! it as an operator's upgraded connection ([`super::pipe::run`]: bytes
//! counted, terminals recorded, kills and consent's end obeyed, the row
//! completed), over an in-memory pipe whose other end is a [`Local`].

use std::sync::Arc;

use deskhand_shared::frame::{FrameDecoder, encode_frame_uncompressed};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame};
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};

use super::Remote;
use super::pipe::{Gone, SessionInfo, Side};
use crate::remote::AgentSide;
use crate::store::Store;

/// Bytes the in-memory pipe holds each way before a writer waits.
const PIPE_BYTES: usize = 256 * 1024;

/// Starts the pump of an accepted session and hands back its operator
/// side. Dropping both halves is the operator leaving.
pub fn start(
    side: AgentSide,
    gone: Gone,
    info: SessionInfo,
    store: Store,
    remote: Arc<Remote>,
) -> (LocalReader, LocalWriter) {
    let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
    let (read, write) = tokio::io::split(theirs);
    tokio::spawn(super::pipe::run(
        Side::new(read, write),
        side,
        gone,
        info,
        store,
        remote,
    ));
    let (read, write) = tokio::io::split(ours);
    (
        LocalReader {
            io: read,
            decoder: FrameDecoder::new(MAX_REMOTE_FRAME),
        },
        LocalWriter { io: write },
    )
}

/// The frames the pump passes from the machine.
pub struct LocalReader {
    io: ReadHalf<DuplexStream>,
    decoder: FrameDecoder,
}

impl LocalReader {
    /// The next frame; `None` once the pump ended the session (after its
    /// `End`, if it had a reason to give). Cancel-safe.
    pub async fn recv(&mut self) -> Result<Option<RemoteFrame>, String> {
        super::pipe::frames(&mut self.io, &mut self.decoder).await
    }
}

/// The operator's frames to the machine.
pub struct LocalWriter {
    io: WriteHalf<DuplexStream>,
}

impl LocalWriter {
    /// Sends one frame; an error once the session is over.
    pub async fn send(&mut self, frame: &RemoteFrame) -> Result<(), String> {
        let bytes = encode_frame_uncompressed(frame).map_err(|e| e.to_string())?;
        self.io
            .write_all(&bytes)
            .await
            .map_err(|_| "the session has ended".to_string())
    }

    /// Says no more frames come (the operator left).
    pub async fn close(mut self) {
        let _ = self.io.shutdown().await;
    }
}
