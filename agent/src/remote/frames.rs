//! A remote session's stream as frames: reading [`RemoteFrame`]s, writing
//! the reply and frames. Generic over tokio's byte streams, so sessions
//! run the same on a QUIC stream and, in tests, on a `tokio::io::duplex`.

use anyhow::{Context, Result, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame_uncompressed};
use deskhand_shared::proto::AgentMessage;
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame, RemoteReply};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The frames the operator's side sends.
#[derive(Debug)]
pub struct FrameReader<R> {
    rx: R,
    decoder: FrameDecoder,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads `rx`, with what a decoder already holds (the bytes that came
    /// with the request).
    pub fn new(rx: R, decoder: FrameDecoder) -> Self {
        Self { rx, decoder }
    }

    /// Reads `rx` from its start.
    pub fn fresh(rx: R) -> Self {
        Self::new(rx, FrameDecoder::new(MAX_REMOTE_FRAME))
    }

    /// The next message; `None` when the peer finished the stream.
    /// Cancel-safe: what arrived stays in the decoder.
    pub async fn recv_message<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(msg) = self.decoder.next_message()? {
                return Ok(Some(msg));
            }
            let n = self.rx.read(&mut buf).await.context("reading the stream")?;
            if n == 0 {
                if self.decoder.buffered() == 0 {
                    return Ok(None);
                }
                bail!("the stream ended inside a frame");
            }
            self.decoder.push(&buf[..n])?;
        }
    }

    /// The next frame; `None` when the peer finished the stream.
    pub async fn recv(&mut self) -> Result<Option<RemoteFrame>> {
        self.recv_message().await
    }
}

/// The agent's side of the stream.
#[derive(Debug)]
pub struct FrameWriter<W> {
    tx: W,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Writes to `tx`.
    pub fn new(tx: W) -> Self {
        Self { tx }
    }

    /// Sends one message as a frame.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<()> {
        let frame = encode_frame_uncompressed(msg)?;
        self.tx
            .write_all(&frame)
            .await
            .context("the session's stream is gone")?;
        Ok(())
    }

    /// Sends one session frame.
    pub async fn frame(&mut self, frame: RemoteFrame) -> Result<()> {
        self.send(&frame).await
    }

    /// Sends `End` with `reason`, as far as the stream still takes it.
    pub async fn end(&mut self, reason: &str) {
        let _ = self
            .frame(RemoteFrame::End {
                reason: reason.to_string(),
            })
            .await;
    }

    /// Refuses the session with `message` and finishes the stream.
    pub async fn refuse(&mut self, message: String) {
        let _ = self
            .send(&AgentMessage::RemoteReply(RemoteReply::Refused { message }))
            .await;
        self.finish().await;
    }

    /// Finishes the stream (a QUIC stream's FIN): nothing more follows.
    pub async fn finish(&mut self) {
        let _ = self.tx.shutdown().await;
    }
}
