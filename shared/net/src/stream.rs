//! Messages over QUIC streams: length-prefixed postcard frames
//! (`deskhand_shared::frame`), one at a time.

use anyhow::{Context, Result, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use quinn::{RecvStream, SendStream};

/// Writes one message as a frame.
pub async fn send<T: serde::Serialize>(stream: &mut SendStream, msg: &T) -> Result<()> {
    let frame = encode_frame(msg)?;
    stream
        .write_all(&frame)
        .await
        .context("sending to the peer")?;
    Ok(())
}

/// Reads the next message from a stream; `Ok(None)` when the peer finished it.
pub async fn recv<T: serde::de::DeserializeOwned>(
    stream: &mut RecvStream,
    decoder: &mut FrameDecoder,
) -> Result<Option<T>> {
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(Some(msg));
        }
        let want = decoder.wanted().clamp(1, 64 * 1024);
        match stream.read_chunk(want, true).await? {
            Some(chunk) => decoder.push(&chunk.bytes)?,
            None if decoder.buffered() == 0 => return Ok(None),
            None => bail!("the stream ended inside a frame"),
        }
    }
}
