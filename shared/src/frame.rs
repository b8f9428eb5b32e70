//! Length-prefixed postcard frames.
//!
//! A frame is a 4-byte big-endian body length followed by the body, one
//! postcard-encoded message. The length is checked against [`MAX_FRAME_LEN`]
//! before any of the body is buffered, and a body that decodes to a message
//! with bytes left over is an error: one frame, one message, nothing else.

use serde::{Serialize, de::DeserializeOwned};

/// Largest frame body either side accepts, in bytes.
///
/// Sized for a full inventory of a machine with several thousand packages;
/// anything larger is refused before it is read.
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Why a frame could not be encoded or decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The announced body length is above the cap.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The cap in force.
        max: usize,
    },
    /// The body is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The body holds a message followed by extra bytes.
    #[error("malformed frame: {0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// Encodes `msg` as one frame: length prefix plus postcard body.
///
/// Fails only if the encoded body would exceed [`MAX_FRAME_LEN`].
pub fn encode_frame<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; HEADER_LEN];
    out = postcard::to_extend(msg, out).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = out.len() - HEADER_LEN;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let prefix = u32::try_from(len)
        .map_err(|_| FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        })?
        .to_be_bytes();
    out[..HEADER_LEN].copy_from_slice(&prefix);
    Ok(out)
}

/// Decodes one frame body (without its length prefix) into a message.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let (msg, rest) =
        postcard::take_from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Reads the body length from a frame header, checking it against `max`.
pub fn body_len(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Most buffer room a decoder keeps between frames.
const IDLE_CAPACITY: usize = 16 * 1024;

/// A sans-I/O frame reader: feed it bytes as they arrive, take messages out.
///
/// It never buffers more than one header plus one body of at most the cap,
/// so a peer that announces a huge frame is refused before it can make the
/// reader allocate; between frames it keeps at most 16 KiB of room.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that refuses bodies longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends bytes received from the peer.
    ///
    /// Fails at once if the pending frame's announced length is above the
    /// cap, before the body is buffered.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.buf.extend_from_slice(bytes);
        self.check_pending()
    }

    fn check_pending(&self) -> Result<(), FrameError> {
        if let Some(header) = self.buf.first_chunk::<HEADER_LEN>() {
            body_len(*header, self.max)?;
        }
        Ok(())
    }

    /// How many more bytes the decoder needs to finish the pending frame.
    ///
    /// Callers use it to read no more than one frame ahead.
    pub fn wanted(&self) -> usize {
        match self.buf.first_chunk::<HEADER_LEN>() {
            None => HEADER_LEN - self.buf.len(),
            Some(header) => {
                let len = u32::from_be_bytes(*header) as usize;
                (HEADER_LEN + len).saturating_sub(self.buf.len())
            }
        }
    }

    /// Takes the next whole frame body out of the buffer, undecoded.
    ///
    /// For callers that must look at a frame before decoding it, such as
    /// the server reading a peer's protocol version.
    pub fn next_body(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = body_len(*header, self.max)?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = if self.buf.len() == HEADER_LEN + len {
            // The usual case: the buffer holds just this frame. Hand its
            // memory over instead of copying it.
            let mut body = std::mem::take(&mut self.buf);
            body.drain(..HEADER_LEN);
            body
        } else {
            let body = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
            self.buf.drain(..HEADER_LEN + len);
            // A long-lived connection must not keep the room of its
            // largest frame (an inventory) for the rest of its life.
            self.buf.shrink_to(IDLE_CAPACITY);
            body
        };
        self.check_pending()?;
        Ok(Some(body))
    }

    /// Takes the next whole message out of the buffer, if one is complete.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        self.next_body()?.map(|b| decode_body(&b)).transpose()
    }

    /// Bytes buffered but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{AgentMessage, Hello, PROTOCOL_VERSION};

    fn hello() -> AgentMessage {
        AgentMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_version: "0.1.0".into(),
            hostname: "pc-0042".into(),
            os_name: "Debian GNU/Linux".into(),
            os_version: "12".into(),
            kernel_version: "6.1.0".into(),
            arch: "x86_64".into(),
        })
    }

    #[test]
    fn frame_round_trips_in_one_push() {
        let frame = encode_frame(&hello()).expect("encode");
        let mut dec = FrameDecoder::default();
        dec.push(&frame).expect("push");
        assert_eq!(
            dec.next_message::<AgentMessage>().expect("decode"),
            Some(hello())
        );
        assert_eq!(dec.buffered(), 0);
        assert_eq!(dec.next_message::<AgentMessage>().expect("empty"), None);
    }

    #[test]
    fn a_large_frame_leaves_no_large_buffer_behind() {
        let big = AgentMessage::Hello(Hello {
            hostname: "x".repeat(200_000),
            ..match hello() {
                AgentMessage::Hello(h) => h,
                _ => unreachable!("hello() is a Hello"),
            }
        });
        for tail in [
            Vec::new(),
            encode_frame(&AgentMessage::Heartbeat).expect("encode"),
        ] {
            let mut dec = FrameDecoder::default();
            let mut stream = encode_frame(&big).expect("encode");
            stream.extend(&tail);
            dec.push(&stream).expect("push");
            assert_eq!(
                dec.next_message::<AgentMessage>().expect("decode"),
                Some(big.clone())
            );
            assert!(
                dec.buf.capacity() <= IDLE_CAPACITY,
                "{}",
                dec.buf.capacity()
            );
        }
    }

    #[test]
    fn frame_round_trips_byte_by_byte() {
        let mut stream = encode_frame(&hello()).expect("encode");
        stream.extend(encode_frame(&AgentMessage::Heartbeat).expect("encode"));
        let mut dec = FrameDecoder::default();
        let mut got = Vec::new();
        for b in &stream {
            dec.push(std::slice::from_ref(b)).expect("push");
            while let Some(m) = dec.next_message::<AgentMessage>().expect("decode") {
                got.push(m);
            }
        }
        assert_eq!(got, vec![hello(), AgentMessage::Heartbeat]);
    }

    #[test]
    fn oversized_header_is_refused_before_the_body() {
        let mut dec = FrameDecoder::new(1024);
        let err = dec.push(&2048u32.to_be_bytes()).expect_err("must refuse");
        assert_eq!(
            err,
            FrameError::TooLarge {
                len: 2048,
                max: 1024
            }
        );
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut body = postcard::to_stdvec(&AgentMessage::Heartbeat).expect("encode");
        body.push(0);
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend(&body);
        let mut dec = FrameDecoder::default();
        dec.push(&frame).expect("push");
        assert_eq!(
            dec.next_message::<AgentMessage>(),
            Err(FrameError::TrailingBytes(1))
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut frame = 3u32.to_be_bytes().to_vec();
        frame.extend([0xff, 0xff, 0xff]);
        let mut dec = FrameDecoder::default();
        dec.push(&frame).expect("push");
        assert!(matches!(
            dec.next_message::<AgentMessage>(),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn wanted_counts_down_to_a_whole_frame() {
        let frame = encode_frame(&hello()).expect("encode");
        let mut dec = FrameDecoder::default();
        assert_eq!(dec.wanted(), HEADER_LEN);
        dec.push(&frame[..HEADER_LEN]).expect("push");
        assert_eq!(dec.wanted(), frame.len() - HEADER_LEN);
        dec.push(&frame[HEADER_LEN..]).expect("push");
        assert_eq!(dec.wanted(), 0);
    }
}
