//! RFB (RFC 6143, the VNC protocol) as the server sees it: the
//! handshake's server messages and a sans-I/O [`ClientDecoder`] for
//! everything a client sends, fed bytes in any split.
//!
//! Security is type None (1) only, on purpose: the RFB bytes travel
//! inside the agent's remote session, which the server authenticated and
//! the end user consented to before the first byte; VNC's own DES
//! challenge would add nothing but a weak password. Versions 3.3 and 3.7
//! are accepted too (their handshakes differ only in the security step).
//!
//! Invariant: the decoder never panics; it holds only bytes pushed and
//! not yet decoded, and waits for no message longer than [`MAX_CUT_TEXT`]
//! (clipboard text; SetEncodings is at most 256 KiB); bad input is a
//! [`ProtocolError`], after which it yields nothing more.

use thiserror::Error;

mod pixel_format;

pub use pixel_format::PixelFormat;

/// What the server announces: RFB 3.8.
pub const SERVER_VERSION: &[u8; 12] = b"RFB 003.008\n";

/// The one security type offered: None.
pub const SECURITY_NONE: u8 = 1;

/// Longest clipboard text accepted from a client (1 MiB): a larger one
/// is an error, not a buffer the client sizes.
pub const MAX_CUT_TEXT: u32 = 1 << 20;

/// The protocol version a client chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 3.3: the server picks the security type, no result message.
    V3_3,
    /// 3.7: the client picks, no result message for None.
    V3_7,
    /// 3.8 (and later 3.x): the client picks, then a SecurityResult.
    V3_8,
}

/// One thing a client sent, in order, handshake included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The version the client speaks (first 12 bytes).
    Version(Version),
    /// The security type it chose (3.7 and 3.8 only).
    SecurityType(u8),
    /// ClientInit: whether other viewers may stay connected.
    ClientInit {
        /// The shared flag.
        shared: bool,
    },
    /// SetPixelFormat (0).
    SetPixelFormat(PixelFormat),
    /// SetEncodings (2), in the client's order of preference.
    SetEncodings(Vec<i32>),
    /// FramebufferUpdateRequest (3).
    UpdateRequest {
        /// Only changes since the last update are wanted.
        incremental: bool,
        /// Left.
        x: u16,
        /// Top.
        y: u16,
        /// Width.
        w: u16,
        /// Height.
        h: u16,
    },
    /// KeyEvent (4): an X11 keysym pressed or released.
    Key {
        /// Pressed (true) or released.
        down: bool,
        /// The X11 keysym.
        keysym: u32,
    },
    /// PointerEvent (5): position and the button mask (bit 0 = left).
    Pointer {
        /// Buttons held, bit n = button n+1.
        buttons: u8,
        /// Horizontal position.
        x: u16,
        /// Vertical position.
        y: u16,
    },
    /// ClientCutText (6): the client's clipboard, Latin-1 on the wire.
    CutText(String),
}

/// Why a client's bytes were refused; the connection should end.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The first 12 bytes were not an RFB 3.x version.
    #[error("not an RFB 3.x client (version {0:?}); connect with a VNC viewer")]
    BadVersion(String),
    /// The client chose a security type other than None.
    #[error("security type {0} is not offered; only None (1) is")]
    BadSecurity(u8),
    /// A message type the server never enabled.
    #[error("unknown client message type {0}")]
    UnknownMessage(u8),
    /// Clipboard text over [`MAX_CUT_TEXT`].
    #[error("clipboard text of {0} bytes is over the {MAX_CUT_TEXT}-byte limit")]
    CutTextTooLong(u32),
    /// A well-formed request for something this server does not do.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// Input after an error.
    #[error("the connection already failed")]
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Version,
    Security,
    ClientInit,
    Normal,
    Failed,
}

/// Turns a client's bytes, split anywhere, into [`ClientMessage`]s.
#[derive(Debug)]
pub struct ClientDecoder {
    buf: Vec<u8>,
    /// Where the undecoded bytes start: consumed bytes are dropped once
    /// per [`ClientDecoder::push`], not once per message (a read full of
    /// pointer events must not cost a copy of the rest for each).
    start: usize,
    stage: Stage,
}

impl Default for ClientDecoder {
    fn default() -> Self {
        ClientDecoder {
            buf: Vec::new(),
            start: 0,
            stage: Stage::Version,
        }
    }
}

impl ClientDecoder {
    /// A decoder expecting the client's version first.
    pub fn new() -> ClientDecoder {
        ClientDecoder::default()
    }

    /// Appends bytes read from the client.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.stage != Stage::Failed {
            self.buf.drain(..self.start.min(self.buf.len()));
            self.start = 0;
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next complete message, None until more bytes arrive, or the
    /// error that ends the connection (and every later call).
    pub fn next_message(&mut self) -> Result<Option<ClientMessage>, ProtocolError> {
        match self.decode() {
            Ok(Some((msg, used))) => {
                self.start += used;
                self.stage = match (&msg, self.stage) {
                    (ClientMessage::Version(Version::V3_3), _) => Stage::ClientInit,
                    (ClientMessage::Version(_), _) => Stage::Security,
                    (ClientMessage::SecurityType(_), _) => Stage::ClientInit,
                    (_, _) => Stage::Normal,
                };
                Ok(Some(msg))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.stage = Stage::Failed;
                self.buf = Vec::new();
                self.start = 0;
                Err(e)
            }
        }
    }

    /// The message at the start of the buffer and its length.
    fn decode(&self) -> Result<Option<(ClientMessage, usize)>, ProtocolError> {
        let b = self.buf.get(self.start..).unwrap_or_default();
        match self.stage {
            Stage::Failed => Err(ProtocolError::Failed),
            Stage::Version => {
                let Some(v) = b.get(..12) else {
                    // Refuse early garbage rather than wait for 12 bytes.
                    return match b.iter().zip(b"RFB 0").all(|(a, e)| a == e) {
                        true => Ok(None),
                        false => Err(ProtocolError::BadVersion(
                            String::from_utf8_lossy(b).into_owned(),
                        )),
                    };
                };
                Ok(Some((ClientMessage::Version(parse_version(v)?), 12)))
            }
            Stage::Security => match b.first() {
                None => Ok(None),
                Some(&SECURITY_NONE) => Ok(Some((ClientMessage::SecurityType(SECURITY_NONE), 1))),
                Some(&t) => Err(ProtocolError::BadSecurity(t)),
            },
            Stage::ClientInit => Ok(b
                .first()
                .map(|&s| (ClientMessage::ClientInit { shared: s != 0 }, 1))),
            Stage::Normal => decode_normal(b),
        }
    }
}

fn parse_version(v: &[u8]) -> Result<Version, ProtocolError> {
    let bad = || ProtocolError::BadVersion(String::from_utf8_lossy(v).into_owned());
    if &v[..4] != b"RFB " || v[7] != b'.' || v[11] != b'\n' {
        return Err(bad());
    }
    let num = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (major, minor) = (
        num(&v[4..7]).ok_or_else(bad)?,
        num(&v[8..11]).ok_or_else(bad)?,
    );
    match (major, minor) {
        (3, 7) => Ok(Version::V3_7),
        // 3.8 and any later 3.x (Apple's 3.889 included) speak 3.8.
        (3, m) if m >= 8 => Ok(Version::V3_8),
        (3, _) => Ok(Version::V3_3),
        _ => Err(bad()),
    }
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// A normal-phase message; every index below is checked against `b.len()`
/// before use.
fn decode_normal(b: &[u8]) -> Result<Option<(ClientMessage, usize)>, ProtocolError> {
    let Some(&kind) = b.first() else {
        return Ok(None);
    };
    let need = |n: usize| b.len() >= n;
    let msg = match kind {
        0 if need(20) => {
            let mut pf = [0u8; 16];
            pf.copy_from_slice(&b[4..20]);
            (
                ClientMessage::SetPixelFormat(PixelFormat::from_bytes(&pf)?),
                20,
            )
        }
        2 if need(4) => {
            let n = usize::from(be16(b, 2));
            let len = 4 + 4 * n;
            if !need(len) {
                return Ok(None);
            }
            let list = (0..n).map(|i| be32(b, 4 + 4 * i) as i32).collect();
            (ClientMessage::SetEncodings(list), len)
        }
        3 if need(10) => (
            ClientMessage::UpdateRequest {
                incremental: b[1] != 0,
                x: be16(b, 2),
                y: be16(b, 4),
                w: be16(b, 6),
                h: be16(b, 8),
            },
            10,
        ),
        4 if need(8) => (
            ClientMessage::Key {
                down: b[1] != 0,
                keysym: be32(b, 4),
            },
            8,
        ),
        5 if need(6) => (
            ClientMessage::Pointer {
                buttons: b[1],
                x: be16(b, 2),
                y: be16(b, 4),
            },
            6,
        ),
        6 if need(8) => {
            let n = be32(b, 4);
            if n > MAX_CUT_TEXT {
                return Err(ProtocolError::CutTextTooLong(n));
            }
            let len = 8 + n as usize;
            if !need(len) {
                return Ok(None);
            }
            // Latin-1: each byte is the code point of the same value.
            let text = b[8..len].iter().map(|&c| char::from(c)).collect();
            (ClientMessage::CutText(text), len)
        }
        0 | 2..=6 => return Ok(None),
        other => return Err(ProtocolError::UnknownMessage(other)),
    };
    Ok(Some(msg))
}

/// The server's security offer for `version` (3.3: the chosen type as a
/// u32; 3.7/3.8: a list holding None).
pub fn security_offer(version: Version) -> Vec<u8> {
    match version {
        Version::V3_3 => u32::from(SECURITY_NONE).to_be_bytes().to_vec(),
        Version::V3_7 | Version::V3_8 => vec![1, SECURITY_NONE],
    }
}

/// SecurityResult OK, which only 3.8 sends for None.
pub fn security_ok(version: Version) -> Vec<u8> {
    match version {
        Version::V3_8 => 0u32.to_be_bytes().to_vec(),
        _ => Vec::new(),
    }
}

/// ServerInit: the screen's size, the server's pixel format and name.
pub fn server_init(width: u16, height: u16, pf: &PixelFormat, name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + name.len());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&pf.to_bytes());
    let name = &name[..name.floor_char_boundary(4096)];
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// ServerCutText (3): text for the client's clipboard, as Latin-1
/// (characters outside it become `?`), at most [`MAX_CUT_TEXT`] of them.
pub fn server_cut_text(text: &str) -> Vec<u8> {
    let bytes: Vec<u8> = text
        .chars()
        .take(MAX_CUT_TEXT as usize)
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    let mut out = vec![3, 0, 0, 0];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

#[cfg(test)]
pub(crate) mod tests;
