//! A desktop session's recording as an FBS file (framebuffer stream,
//! version 1.0), the format rfbproxy and vncrec write and noVNC's and
//! TightVNC's players read: the 12-byte signature `FBS 001.000\n`, then
//! one block per piece of the RFB server's stream, each a u32
//! big-endian length, the bytes padded with zeros to a multiple of 4,
//! and a u32 big-endian count of milliseconds since the start. Only the
//! machine's side (handshake, ServerInit, updates) is kept: a player
//! plays the server's part to a viewer.
//!
//! Pure: the pump feeds it what passed and when. It keeps at most `cap`
//! bytes; past that it adds no block, so the file stays whole blocks
//! that a player reads up to the cut.

/// The file's first 12 bytes.
pub const SIGNATURE: &[u8; 12] = b"FBS 001.000\n";

/// An FBS recording being made.
#[derive(Debug)]
pub struct FbsRecording {
    buf: Vec<u8>,
    cap: usize,
    cut: bool,
}

/// How many bytes a block of `len` data bytes takes: its length, the
/// data padded to a multiple of 4, its timestamp.
fn block_size(len: usize) -> usize {
    4 + len.div_ceil(4) * 4 + 4
}

/// `secs` since the start as whole milliseconds, within a u32 (an FBS
/// timestamp; 49 days is past any session).
fn millis(secs: f64) -> u32 {
    let ms = (secs.max(0.0) * 1000.0).round();
    if ms >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        // In range and not negative: checked just above.
        ms as u32
    }
}

impl FbsRecording {
    /// An empty recording (its signature only), kept to `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            buf: SIGNATURE.to_vec(),
            cap,
            cut: false,
        }
    }

    /// The RFB server's `bytes`, `secs` after the start: one block, or
    /// none when empty or past the cap.
    pub fn output(&mut self, secs: f64, bytes: &[u8]) {
        if self.cut || bytes.is_empty() {
            return;
        }
        let Ok(len) = u32::try_from(bytes.len()) else {
            self.cut = true;
            return;
        };
        if self.buf.len() + block_size(bytes.len()) > self.cap {
            self.cut = true;
            return;
        }
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        let pad = bytes.len().div_ceil(4) * 4 - bytes.len();
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self.buf.extend_from_slice(&millis(secs).to_be_bytes());
    }

    /// Whether the cap was reached (later bytes were left out).
    pub fn was_cut(&self) -> bool {
        self.cut
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether it holds nothing (it always holds its signature).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Its bytes so far (a checkpoint of a live session's recording).
    pub fn snapshot(&self) -> Vec<u8> {
        self.buf.clone()
    }

    /// The recording as stored.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The blocks of an FBS file, `(millis, data)`; panics on anything
    /// that is not whole blocks after the signature.
    pub(crate) fn blocks(file: &[u8]) -> Vec<(u32, Vec<u8>)> {
        assert_eq!(&file[..12], SIGNATURE, "the signature");
        let mut rest = &file[12..];
        let mut out = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let padded = len.div_ceil(4) * 4;
            assert!(rest.len() >= 4 + padded + 4, "a whole block");
            let data = rest[4..4 + len].to_vec();
            assert!(
                rest[4 + len..4 + padded].iter().all(|b| *b == 0),
                "zero padding"
            );
            let at = &rest[4 + padded..8 + padded];
            let ms = u32::from_be_bytes(at.try_into().expect("4 bytes"));
            out.push((ms, data));
            rest = &rest[8 + padded..];
        }
        out
    }

    #[test]
    fn blocks_are_length_padded_data_and_milliseconds() {
        let mut r = FbsRecording::new(1 << 20);
        r.output(0.0, b"RFB 003.008\n");
        r.output(0.0105, b"\x01");
        r.output(1.5, b"");
        r.output(2.25, b"abcde");
        let file = r.finish();
        assert_eq!(
            &file[..32],
            b"FBS 001.000\n\x00\x00\x00\x0cRFB 003.008\n\x00\x00\x00\x00"
        );
        assert_eq!(file.len(), 12 + (4 + 12 + 4) + (4 + 4 + 4) + (4 + 8 + 4));
        assert_eq!(
            blocks(&file),
            vec![
                (0, b"RFB 003.008\n".to_vec()),
                (11, vec![1]),
                (2250, b"abcde".to_vec()),
            ]
        );
        // The 1-byte block: length 1, the byte and 3 zeros, 11 ms.
        assert_eq!(&file[32..44], &[0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 11]);
    }

    #[test]
    fn past_the_cap_no_block_is_added_and_the_file_stays_whole_blocks() {
        let cap = 100;
        let mut r = FbsRecording::new(cap);
        for i in 0..10u8 {
            r.output(f64::from(i), &[i; 20]);
        }
        assert!(r.was_cut());
        // 12 + 3 blocks of 28 = 96; a fourth would be 124.
        assert_eq!(r.len(), 96);
        r.output(20.0, b"x");
        assert_eq!(r.len(), 96, "nothing after the cut, even a block that fits");
        let got = blocks(&r.snapshot());
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (2000, vec![2; 20]));
    }

    #[test]
    fn an_empty_recording_is_its_signature_and_times_are_clamped() {
        let r = FbsRecording::new(1 << 10);
        assert!(!r.was_cut() && !r.is_empty());
        assert_eq!(r.finish(), SIGNATURE.to_vec());
        assert_eq!(millis(-3.0), 0);
        assert_eq!(millis(1e12), u32::MAX);
        assert_eq!(millis(0.0004), 0);
        assert_eq!(millis(0.0005), 1);
        // A cap below the signature: the first block does not fit.
        let mut tiny = FbsRecording::new(4);
        tiny.output(0.0, b"a");
        assert!(tiny.was_cut());
        assert_eq!(blocks(&tiny.finish()), vec![]);
    }
}
