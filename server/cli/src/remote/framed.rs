//! [`RemoteFrame`]s over the upgraded HTTP connection: the same
//! length-prefixed frames as on the agent's QUIC stream
//! (`deskhand_shared::frame`, capped at [`MAX_REMOTE_FRAME`]), split into
//! a reader and a writer so that a terminal or a tunnel can read and
//! write at once.

use anyhow::{Context, Result, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame_uncompressed};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read from the connection at a time.
const READ_BUF: usize = 64 * 1024;

/// Reads frames from one half of a session's connection.
pub(crate) struct FrameReader<R> {
    io: R,
    decoder: FrameDecoder,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of `io`.
    pub(crate) fn new(io: R) -> Self {
        Self {
            io,
            decoder: FrameDecoder::new(MAX_REMOTE_FRAME),
            buf: vec![0; READ_BUF],
        }
    }

    /// The next frame; `Ok(None)` when the server closed the connection
    /// between frames. Cancel-safe: bytes read stay in the decoder.
    pub(crate) async fn recv(&mut self) -> Result<Option<RemoteFrame>> {
        loop {
            if let Some(frame) = self
                .decoder
                .next_message::<RemoteFrame>()
                .context("a malformed frame from the server")?
            {
                return Ok(Some(frame));
            }
            let n = self
                .io
                .read(&mut self.buf)
                .await
                .context("reading from the server")?;
            if n == 0 {
                if self.decoder.buffered() == 0 {
                    return Ok(None);
                }
                bail!("the connection to the server ended inside a frame");
            }
            self.decoder
                .push(&self.buf[..n])
                .context("a malformed frame from the server")?;
        }
    }
}

/// Writes frames to the other half.
pub(crate) struct FrameWriter<W> {
    io: W,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer of `io`.
    pub(crate) fn new(io: W) -> Self {
        Self { io }
    }

    /// Sends one frame and flushes it: a keystroke must not wait in a
    /// buffer.
    pub(crate) async fn send(&mut self, frame: &RemoteFrame) -> Result<()> {
        let bytes = encode_frame_uncompressed(frame).context("encoding a frame")?;
        self.io
            .write_all(&bytes)
            .await
            .context("sending to the server")?;
        self.io.flush().await.context("sending to the server")
    }

    /// Closes this direction (after the session's last frame).
    pub(crate) async fn close(&mut self) -> Result<()> {
        self.io.shutdown().await.context("closing the connection")
    }
}

/// Splits `io` into a frame reader and a frame writer.
pub(crate) fn split<S: AsyncRead + AsyncWrite>(
    io: S,
) -> (
    FrameReader<tokio::io::ReadHalf<S>>,
    FrameWriter<tokio::io::WriteHalf<S>>,
) {
    let (r, w) = tokio::io::split(io);
    (FrameReader::new(r), FrameWriter::new(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_cross_a_duplex_both_ways_and_end_cleanly() {
        let (a, b) = tokio::io::duplex(1024);
        let (mut ar, mut aw) = split(a);
        let (mut br, mut bw) = split(b);
        let big = RemoteFrame::Data((0..200_000u32).map(|i| (i % 251) as u8).collect());
        let sender = tokio::spawn(async move {
            aw.send(&RemoteFrame::Resize {
                cols: 100,
                rows: 30,
            })
            .await
            .expect("send");
            aw.send(&big).await.expect("send");
            aw.send(&RemoteFrame::Eof).await.expect("send");
            aw.close().await.expect("close");
            big
        });
        assert_eq!(
            br.recv().await.expect("recv"),
            Some(RemoteFrame::Resize {
                cols: 100,
                rows: 30
            })
        );
        let got = br.recv().await.expect("recv");
        let big = sender.await.expect("sender");
        assert_eq!(got, Some(big));
        assert_eq!(br.recv().await.expect("recv"), Some(RemoteFrame::Eof));
        assert_eq!(br.recv().await.expect("recv"), None);
        bw.send(&RemoteFrame::Stored { size: 3 })
            .await
            .expect("send");
        assert_eq!(
            ar.recv().await.expect("recv"),
            Some(RemoteFrame::Stored { size: 3 })
        );
    }

    #[tokio::test]
    async fn a_connection_cut_inside_a_frame_is_an_error() {
        let (a, mut b) = tokio::io::duplex(1024);
        let bytes = encode_frame_uncompressed(&RemoteFrame::Data(vec![7; 100])).expect("encode");
        b.write_all(&bytes[..50]).await.expect("write");
        drop(b);
        let mut r = FrameReader::new(a);
        let err = r.recv().await.expect_err("cut");
        assert!(err.to_string().contains("inside a frame"), "{err}");
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_before_it_is_read() {
        let (a, mut b) = tokio::io::duplex(64);
        let header = u32::try_from(MAX_REMOTE_FRAME + 1)
            .expect("fits")
            .to_be_bytes();
        b.write_all(&header).await.expect("write");
        let mut r = FrameReader::new(a);
        let err = r.recv().await.expect_err("too large");
        assert!(format!("{err:#}").contains("exceeds the limit"), "{err:#}");
    }
}
