//! Length-prefixed postcard frames; large bodies travel LZ4-compressed.
//!
//! A frame is a 4-byte big-endian header followed by the body. The header's
//! low 31 bits are the body's length on the wire; its top bit says whether
//! the body is compressed. An uncompressed body is one postcard-encoded
//! message. A compressed body is the message's length once decompressed (4
//! bytes, big-endian) followed by one LZ4 block of it.
//!
//! [`encode_frame`] compresses a message of more than [`COMPRESS_MIN`] bytes
//! when that makes it smaller (a full inventory to a third or less);
//! heartbeats, acknowledgements and small deltas go out as they are, byte
//! for byte what an older release sends. A decoder reads both, and hands
//! out the message's own bytes either way.
//!
//! Both lengths are checked against the cap before anything is allocated
//! for them: the wire length before the body is buffered, the declared
//! length before decompressing, and a compressed body must decompress to
//! exactly the length it declares. A body that decodes to a message with
//! bytes left over is an error: one frame, one message, nothing else.

use serde::{Serialize, de::DeserializeOwned};

/// Largest frame body either side accepts, in bytes, on the wire and once
/// decompressed.
///
/// Sized for a full inventory of a machine with several thousand packages;
/// anything larger is refused before it is read.
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// Bytes of the length prefix.
pub const HEADER_LEN: usize = 4;

/// Message bodies longer than this many bytes are sent compressed, if that
/// makes them smaller.
///
/// Below it a frame is a few QUIC packets at most, and compressing would
/// save too little to be worth the peer's time.
pub const COMPRESS_MIN: usize = 4 * 1024;

/// The header bit that marks a compressed body.
const COMPRESSED: u32 = 1 << 31;

/// Bytes of a compressed body's declared length.
const DECLARED_LEN: usize = 4;

// The flag must never be mistaken for a length under the cap.
const _: () = assert!(MAX_FRAME_LEN < COMPRESSED as usize);

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
    /// A compressed body declares a decompressed length above the cap.
    #[error("compressed frame would decompress to {len} bytes, over the limit of {max} bytes")]
    DecompressedTooLarge {
        /// Declared decompressed length.
        len: usize,
        /// The cap in force.
        max: usize,
    },
    /// A compressed body is not a valid LZ4 block.
    #[error("malformed compressed frame: {0}")]
    BadCompression(String),
    /// A compressed body decompresses to another length than it declares.
    #[error(
        "malformed compressed frame: it does not decompress to the {declared} bytes it declares"
    )]
    LengthMismatch {
        /// Declared decompressed length.
        declared: usize,
    },
    /// The body is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The body holds a message followed by extra bytes.
    #[error("malformed frame: {0} trailing bytes after the message")]
    TrailingBytes(usize),
}

/// Encodes `msg` as one frame: length prefix plus postcard body, the body
/// compressed if it is longer than [`COMPRESS_MIN`] and that makes it
/// smaller.
///
/// Fails only if the encoded body would exceed [`MAX_FRAME_LEN`].
pub fn encode_frame<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    encode(msg, true)
}

/// Encodes `msg` as one frame without trying to compress it: for streams
/// whose bytes are mostly small (keystrokes) or already compressed (a
/// tunnel's TLS, a file), where LZ4 over each chunk would cost time on
/// every hop and save nothing. Read by the same [`FrameDecoder`].
pub fn encode_frame_uncompressed<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    encode(msg, false)
}

fn encode<T: Serialize>(msg: &T, compress: bool) -> Result<Vec<u8>, FrameError> {
    let mut out = vec![0u8; HEADER_LEN];
    out = postcard::to_extend(msg, out).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = out.len() - HEADER_LEN;
    let too_large = FrameError::TooLarge {
        len,
        max: MAX_FRAME_LEN,
    };
    if len > MAX_FRAME_LEN {
        return Err(too_large);
    }
    if compress
        && len > COMPRESS_MIN
        && let Some(frame) = compressed_frame(&out[HEADER_LEN..])
    {
        return Ok(frame);
    }
    let prefix = u32::try_from(len).map_err(|_| too_large)?.to_be_bytes();
    out[..HEADER_LEN].copy_from_slice(&prefix);
    Ok(out)
}

/// The compressed frame of `body` (at most [`MAX_FRAME_LEN`] bytes), or
/// `None` if compressing does not make it smaller.
fn compressed_frame(body: &[u8]) -> Option<Vec<u8>> {
    let start = HEADER_LEN + DECLARED_LEN;
    let mut out = vec![0u8; start + lz4_flex::block::get_maximum_output_size(body.len())];
    let packed = lz4_flex::block::compress_into(body, &mut out[start..]).ok()?;
    let wire_len = DECLARED_LEN + packed;
    if wire_len >= body.len() {
        return None;
    }
    out.truncate(start + packed);
    let header = u32::try_from(wire_len).ok()? | COMPRESSED;
    out[..HEADER_LEN].copy_from_slice(&header.to_be_bytes());
    out[HEADER_LEN..start].copy_from_slice(&u32::try_from(body.len()).ok()?.to_be_bytes());
    Some(out)
}

/// Decodes one frame body (without its length prefix) into a message.
///
/// The body is what [`FrameDecoder::next_body`] returns: already
/// decompressed.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let (msg, rest) =
        postcard::take_from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Reads the body's length on the wire from a frame header, checking it
/// against `max`.
pub fn body_len(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = (u32::from_be_bytes(header) & !COMPRESSED) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Whether a frame header announces a compressed body.
fn is_compressed(header: [u8; HEADER_LEN]) -> bool {
    u32::from_be_bytes(header) & COMPRESSED != 0
}

/// Reads a compressed body's declared length, checking it against `max`.
fn declared_len(prefix: [u8; DECLARED_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(FrameError::DecompressedTooLarge { len, max });
    }
    Ok(len)
}

/// Decompresses a compressed body: its declared length is checked against
/// `max` before the output is allocated, and the LZ4 block must fill
/// exactly that length.
fn decompress(wire: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let Some((prefix, block)) = wire.split_first_chunk::<DECLARED_LEN>() else {
        return Err(short_body(wire.len()));
    };
    let declared = declared_len(*prefix, max)?;
    let mut body = vec![0u8; declared];
    let actual = match lz4_flex::block::decompress_into(block, &mut body) {
        Ok(n) => n,
        // The block writes past the declared length: a lie, maybe a bomb.
        Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) => {
            return Err(FrameError::LengthMismatch { declared });
        }
        Err(e) => return Err(FrameError::BadCompression(e.to_string())),
    };
    if actual != declared {
        return Err(FrameError::LengthMismatch { declared });
    }
    Ok(body)
}

fn short_body(len: usize) -> FrameError {
    FrameError::BadCompression(format!(
        "a body of {len} bytes cannot hold the {DECLARED_LEN}-byte decompressed length"
    ))
}

/// Most buffer room a decoder keeps between frames.
const IDLE_CAPACITY: usize = 16 * 1024;

/// A sans-I/O frame reader: feed it bytes as they arrive, take messages out.
///
/// It never buffers more than one header plus one body of at most the cap,
/// so a peer that announces a huge frame is refused before it can make the
/// reader allocate; between frames it keeps at most 16 KiB of room. A
/// compressed body is refused as soon as its declared length is over the
/// cap, and decompressed when it is complete: the decoder hands out the
/// message's bytes and keeps neither form.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
    last_wire_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that refuses bodies longer than `max` bytes, on the wire
    /// or once decompressed.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
            last_wire_len: 0,
        }
    }

    /// Appends bytes received from the peer.
    ///
    /// Fails at once if the pending frame's announced length, or the
    /// decompressed length its body declares, is above the cap, before the
    /// body is buffered.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        self.buf.extend_from_slice(bytes);
        self.check_pending()
    }

    fn check_pending(&self) -> Result<(), FrameError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(());
        };
        let len = body_len(*header, self.max)?;
        if is_compressed(*header) {
            if len < DECLARED_LEN {
                return Err(short_body(len));
            }
            if let Some(prefix) = self.buf[HEADER_LEN..].first_chunk::<DECLARED_LEN>() {
                declared_len(*prefix, self.max)?;
            }
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
                let len = (u32::from_be_bytes(*header) & !COMPRESSED) as usize;
                (HEADER_LEN + len).saturating_sub(self.buf.len())
            }
        }
    }

    /// Takes the next whole frame body out of the buffer, decompressed but
    /// not decoded.
    ///
    /// For callers that must look at a frame before decoding it, such as
    /// the server reading a peer's protocol version.
    pub fn next_body(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = body_len(*header, self.max)?;
        let compressed = is_compressed(*header);
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let wire = if self.buf.len() == HEADER_LEN + len {
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
        self.last_wire_len = len;
        let body = if compressed {
            decompress(&wire, self.max)?
        } else {
            wire
        };
        self.check_pending()?;
        Ok(Some(body))
    }

    /// Takes the next whole message out of the buffer, if one is complete.
    pub fn next_message<T: DeserializeOwned>(&mut self) -> Result<Option<T>, FrameError> {
        self.next_body()?.map(|b| decode_body(&b)).transpose()
    }

    /// Bytes the last body handed out took on the wire, its length prefix
    /// excluded: for a compressed frame, less than the body itself.
    pub fn last_wire_len(&self) -> usize {
        self.last_wire_len
    }

    /// The pending frame's body length once decompressed, as soon as its
    /// header (and, for a compressed body, its declared length) has
    /// arrived: a reader can make room for a large message before reading
    /// the rest of it.
    pub fn pending_body_len(&self) -> Option<usize> {
        let header = self.buf.first_chunk::<HEADER_LEN>()?;
        let len = (u32::from_be_bytes(*header) & !COMPRESSED) as usize;
        if !is_compressed(*header) {
            return Some(len);
        }
        let prefix = self.buf[HEADER_LEN..].first_chunk::<DECLARED_LEN>()?;
        Some(u32::from_be_bytes(*prefix) as usize)
    }

    /// Bytes buffered but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::FetchReply;
    use crate::proto::{AgentMessage, Hello, InventoryReport, PROTOCOL_VERSION, ServerMessage};

    /// A reader learns a pending frame's decompressed size from its first
    /// bytes, before the body arrives.
    #[test]
    fn the_pending_size_is_known_from_the_first_bytes() {
        let big = encode_frame(&full_inventory(9, 1500)).expect("encode");
        let mut dec = FrameDecoder::default();
        dec.push(&big[..HEADER_LEN]).expect("header");
        assert_eq!(
            dec.pending_body_len(),
            None,
            "the declared length is not here yet"
        );
        dec.push(&big[HEADER_LEN..HEADER_LEN + DECLARED_LEN])
            .expect("declared");
        let declared = dec.pending_body_len().expect("known");
        assert!(
            declared > big.len(),
            "{declared} decompressed vs {} on the wire",
            big.len()
        );
        dec.push(&big[HEADER_LEN + DECLARED_LEN..]).expect("rest");
        assert_eq!(
            dec.next_body().expect("body").map(|b| b.len()),
            Some(declared)
        );
        assert_eq!(dec.pending_body_len(), None);
        let small = encode_frame(&AgentMessage::Heartbeat).expect("encode");
        dec.push(&small[..HEADER_LEN]).expect("header");
        assert_eq!(dec.pending_body_len(), Some(small.len() - HEADER_LEN));
    }

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
    /// A full inventory of `n` packages, as the fleet simulator sends.
    fn full_inventory(agent: usize, n: usize) -> AgentMessage {
        AgentMessage::Inventory(InventoryReport::Full(Box::new(
            crate::inventory::synthetic(agent, n),
        )))
    }

    /// `len` bytes that LZ4 cannot shrink (xorshift).
    fn noise(len: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[0]
            })
            .collect()
    }

    /// A frame the way every release before compression wrote it.
    fn plain_frame(body: &[u8]) -> Vec<u8> {
        let mut frame = u32::try_from(body.len())
            .expect("small")
            .to_be_bytes()
            .to_vec();
        frame.extend(body);
        frame
    }

    /// A compressed frame put together by hand: `declared` as the
    /// decompressed length, `block` as the LZ4 block.
    fn compressed_by_hand(declared: u32, block: &[u8]) -> Vec<u8> {
        let wire = u32::try_from(DECLARED_LEN + block.len()).expect("small");
        let mut frame = (wire | COMPRESSED).to_be_bytes().to_vec();
        frame.extend(declared.to_be_bytes());
        frame.extend(block);
        frame
    }

    fn decode_one(frame: &[u8], max: usize) -> Result<Option<AgentMessage>, FrameError> {
        let mut dec = FrameDecoder::new(max);
        dec.push(frame)?;
        dec.next_message::<AgentMessage>()
    }

    #[test]
    fn a_full_inventory_travels_compressed_and_decodes_equal() {
        let msg = full_inventory(7, 1500);
        let raw = postcard::to_stdvec(&msg).expect("encode").len();
        let frame = encode_frame(&msg).expect("encode");
        assert!(is_compressed(*frame.first_chunk().expect("header")));
        assert!(
            frame.len() * 3 < raw,
            "{} bytes on the wire for a body of {raw}",
            frame.len()
        );
        // Whole, and a byte at a time followed by a small frame.
        let mut dec = FrameDecoder::default();
        dec.push(&frame).expect("push");
        assert_eq!(dec.next_message::<AgentMessage>(), Ok(Some(msg.clone())));
        assert_eq!(dec.last_wire_len(), frame.len() - HEADER_LEN);
        let mut stream = frame.clone();
        stream.extend(encode_frame(&AgentMessage::Heartbeat).expect("encode"));
        let mut dec = FrameDecoder::default();
        let mut got = Vec::new();
        for b in &stream {
            dec.push(std::slice::from_ref(b)).expect("push");
            while let Some(m) = dec.next_message::<AgentMessage>().expect("decode") {
                got.push(m);
            }
        }
        assert_eq!(got, vec![msg, AgentMessage::Heartbeat]);
        assert_eq!(dec.last_wire_len(), 1);
    }

    #[test]
    fn small_and_incompressible_frames_are_unchanged_byte_for_byte() {
        let at_threshold = ServerMessage::Fetch(FetchReply::Chunk(vec![b'a'; COMPRESS_MIN - 4]));
        assert_eq!(
            postcard::to_stdvec(&at_threshold).expect("encode").len(),
            COMPRESS_MIN
        );
        let random = ServerMessage::Fetch(FetchReply::Chunk(noise(256 * 1024)));
        for msg in [
            ServerMessage::Fetch(FetchReply::Start { size: 12 }),
            at_threshold,
            random,
        ] {
            let body = postcard::to_stdvec(&msg).expect("encode");
            assert_eq!(encode_frame(&msg).expect("encode"), plain_frame(&body));
        }
        let body = postcard::to_stdvec(&hello()).expect("encode");
        assert_eq!(encode_frame(&hello()).expect("encode"), plain_frame(&body));
        assert_eq!(
            encode_frame(&AgentMessage::Heartbeat).expect("encode"),
            plain_frame(&[2])
        );
    }

    #[test]
    fn uncompressed_frames_from_older_peers_still_decode() {
        let msg = full_inventory(1, 200);
        let body = postcard::to_stdvec(&msg).expect("encode");
        assert!(body.len() > COMPRESS_MIN);
        let mut dec = FrameDecoder::default();
        dec.push(&plain_frame(&body)).expect("push");
        assert_eq!(dec.next_message::<AgentMessage>(), Ok(Some(msg)));
        assert_eq!(dec.last_wire_len(), body.len());
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_the_body() {
        // Refused with the header and the declared length only: nothing
        // else was buffered, nothing decompressed.
        let mut dec = FrameDecoder::new(1024);
        let mut start = (100 | COMPRESSED).to_be_bytes().to_vec();
        start.extend(2048u32.to_be_bytes());
        assert_eq!(
            dec.push(&start),
            Err(FrameError::DecompressedTooLarge {
                len: 2048,
                max: 1024
            })
        );
        let mut dec = FrameDecoder::default();
        assert_eq!(
            dec.push(&[0x80, 0, 0, 16, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::DecompressedTooLarge {
                len: u32::MAX as usize,
                max: MAX_FRAME_LEN
            })
        );
        // A real bomb: 64 MiB of zeros in a block of a quarter MiB.
        let block = lz4_flex::block::compress(&vec![0u8; 64 << 20]);
        assert!(block.len() < MAX_FRAME_LEN / 16, "{}", block.len());
        let frame = compressed_by_hand(64 << 20, &block);
        assert_eq!(
            decode_one(&frame, MAX_FRAME_LEN),
            Err(FrameError::DecompressedTooLarge {
                len: 64 << 20,
                max: MAX_FRAME_LEN
            })
        );
        // The same bomb, declaring a length under the cap.
        let frame = compressed_by_hand(1024, &block);
        assert_eq!(
            decode_one(&frame, MAX_FRAME_LEN),
            Err(FrameError::LengthMismatch { declared: 1024 })
        );
    }

    #[test]
    fn a_compressed_frame_must_decompress_to_its_declared_length() {
        let body = postcard::to_stdvec(&full_inventory(3, 100)).expect("encode");
        let block = lz4_flex::block::compress(&body);
        let len = u32::try_from(body.len()).expect("small");
        assert!(decode_one(&compressed_by_hand(len, &block), MAX_FRAME_LEN).is_ok());
        for declared in [len - 1, len + 1, 0] {
            assert_eq!(
                decode_one(&compressed_by_hand(declared, &block), MAX_FRAME_LEN),
                Err(FrameError::LengthMismatch {
                    declared: declared as usize
                })
            );
        }
    }

    #[test]
    fn garbage_and_truncated_compressed_bodies_are_errors_not_panics() {
        let malformed = |r: Result<Option<AgentMessage>, FrameError>| match r {
            Err(e @ (FrameError::BadCompression(_) | FrameError::LengthMismatch { .. })) => {
                assert!(
                    e.to_string().starts_with("malformed compressed frame: "),
                    "{e}"
                );
            }
            other => panic!("expected a malformed compressed frame, got {other:?}"),
        };
        malformed(decode_one(&compressed_by_hand(100, &[0xff; 32]), 1024));
        malformed(decode_one(&compressed_by_hand(100, &noise(64)), 1024));
        malformed(decode_one(&compressed_by_hand(100, &[]), 1024));
        let frame = encode_frame(&full_inventory(5, 300)).expect("encode");
        let declared = u32::from_be_bytes(*frame[HEADER_LEN..].first_chunk().expect("len"));
        let block = &frame[HEADER_LEN + DECLARED_LEN..];
        for cut in [1, block.len() / 2, block.len() - 1] {
            malformed(decode_one(
                &compressed_by_hand(declared, &block[..cut]),
                MAX_FRAME_LEN,
            ));
        }
        // A compressed body too short to hold its declared length.
        let mut dec = FrameDecoder::default();
        assert!(matches!(
            dec.push(&[0x80, 0, 0, 3, 0, 0, 0]),
            Err(FrameError::BadCompression(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn large_and_small_bodies_round_trip(
            seed in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..64),
            reps in 1..3000usize,
        ) {
            let msg = ServerMessage::Fetch(FetchReply::Chunk(seed.repeat(reps)));
            let frame = encode_frame(&msg).expect("encode");
            let raw = postcard::to_stdvec(&msg).expect("encode").len();
            proptest::prop_assert!(frame.len() <= HEADER_LEN + raw);
            let mut dec = FrameDecoder::default();
            dec.push(&frame).expect("push");
            proptest::prop_assert_eq!(dec.next_message::<ServerMessage>(), Ok(Some(msg)));
        }

        #[test]
        fn arbitrary_compressed_bodies_never_panic(
            declared in 0..4096u32,
            block in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let frame = compressed_by_hand(declared, &block);
            let mut dec = FrameDecoder::new(4096);
            if dec.push(&frame).is_ok()
                && let Ok(Some(body)) = dec.next_body()
            {
                proptest::prop_assert_eq!(body.len(), declared as usize);
            }
        }
    }

    /// The decompression cost of a full report: a 1,500-package inventory
    /// as the fleet simulator builds it. Run with
    /// `cargo test -p deskhand-shared --release -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn full_report_decompression_time() {
        use std::time::{Duration, Instant};
        let msg = full_inventory(42, 1500);
        let body = postcard::to_stdvec(&msg).expect("encode");
        let (raw, plain) = (body.len(), plain_frame(&body));
        let frame = encode_frame(&msg).expect("encode");
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (mut unpack, mut decode, mut encode) = (Vec::new(), Vec::new(), Vec::new());
        let mut unpack_plain = Vec::new();
        for _ in 0..301 {
            let t = Instant::now();
            let mut dec = FrameDecoder::default();
            dec.push(&plain).expect("push");
            let body = dec.next_body().expect("frame").expect("whole");
            unpack_plain.push(t.elapsed());
            assert_eq!(body.len(), raw);
            let t = Instant::now();
            let mut dec = FrameDecoder::default();
            dec.push(&frame).expect("push");
            let body = dec.next_body().expect("frame").expect("whole");
            unpack.push(t.elapsed());
            let t = Instant::now();
            let got: AgentMessage = decode_body(&body).expect("decode");
            decode.push(t.elapsed());
            assert_eq!(got, msg);
            let t = Instant::now();
            let again = encode_frame(&msg).expect("encode");
            encode.push(t.elapsed());
            assert_eq!(again.len(), frame.len());
        }
        println!(
            "full report: {raw} bytes of postcard, {} on the wire ({:.1}%)",
            frame.len(),
            frame.len() as f64 * 100.0 / raw as f64
        );
        println!(
            "median: frame decode uncompressed {:?}, compressed {:?}; postcard decode {:?}; encode incl. compression {:?}",
            median(unpack_plain),
            median(unpack),
            median(decode),
            median(encode)
        );
    }
}
