//! Turning a command's output bytes into text, piece by piece as they
//! arrive.
//!
//! Most programs write UTF-8. Some Windows programs write UTF-16LE to a
//! pipe: `cmd /U`, and tools that follow the console's "Unicode" mode. A
//! stream's encoding is decided once from its first bytes (a byte-order
//! mark, or the zero high bytes of UTF-16LE text), and a character split
//! between two reads is kept until its other half arrives. Bytes that are
//! not valid in the chosen encoding are decoded by the `legacy` decoder
//! when there is one (on Windows the OEM code page cmd.exe writes in),
//! else replaced with U+FFFD. Pure: no I/O.

/// A legacy single-byte decoder for bytes that are not UTF-8.
pub type Legacy = fn(&[u8]) -> String;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not decided yet: fewer than [`SNIFF`] bytes seen.
    Sniffing,
    Utf8,
    Utf16,
}

/// Bytes looked at before the encoding is decided (unless the stream
/// ends first).
const SNIFF: usize = 8;

/// Decodes one output stream.
#[derive(Debug, Clone)]
pub struct OutputDecoder {
    mode: Mode,
    pending: Vec<u8>,
    legacy: Option<Legacy>,
}

impl OutputDecoder {
    /// A decoder; `legacy` decodes bytes that are not UTF-8.
    pub fn new(legacy: Option<Legacy>) -> Self {
        Self {
            mode: Mode::Sniffing,
            pending: Vec::new(),
            legacy,
        }
    }

    /// The decoder for this platform's programs.
    pub fn for_this_platform() -> Self {
        Self::new(platform_legacy())
    }

    /// Decodes `bytes`; text may lag by a few bytes (a split character).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        if self.mode == Mode::Sniffing {
            if self.pending.len() < SNIFF {
                return String::new();
            }
            self.decide();
        }
        self.drain(false)
    }

    /// Decodes whatever is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        if self.mode == Mode::Sniffing {
            self.decide();
        }
        self.drain(true)
    }

    fn decide(&mut self) {
        let p = &self.pending;
        self.mode = if p.starts_with(&[0xFF, 0xFE]) {
            self.pending.drain(..2);
            Mode::Utf16
        } else if p.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.pending.drain(..3);
            Mode::Utf8
        } else if looks_utf16le(p) {
            Mode::Utf16
        } else {
            Mode::Utf8
        };
    }

    fn drain(&mut self, end: bool) -> String {
        match self.mode {
            Mode::Utf16 => self.drain_utf16(end),
            _ => self.drain_utf8(end),
        }
    }

    fn drain_utf8(&mut self, end: bool) -> String {
        let keep = if end {
            0
        } else {
            incomplete_utf8_tail(&self.pending)
        };
        let take = self.pending.len() - keep;
        let bytes: Vec<u8> = self.pending.drain(..take).collect();
        match (std::str::from_utf8(&bytes), self.legacy) {
            (Ok(text), _) => text.to_string(),
            (Err(_), Some(legacy)) => legacy(&bytes),
            (Err(_), None) => String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn drain_utf16(&mut self, end: bool) -> String {
        let mut units: Vec<u16> = self
            .pending
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        let mut consumed = units.len() * 2;
        // A high surrogate at the end waits for its low half.
        if !end && units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
            units.pop();
            consumed -= 2;
        }
        self.pending.drain(..consumed);
        let mut text: String = char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        if end && !self.pending.is_empty() {
            self.pending.clear();
            text.push(char::REPLACEMENT_CHARACTER);
        }
        text
    }
}

/// Whether `bytes` (no byte-order mark) read as UTF-16LE text: most
/// code units have a zero high byte and a non-zero low byte, as ASCII
/// and Latin text in UTF-16LE does, and as UTF-8 never does.
fn looks_utf16le(bytes: &[u8]) -> bool {
    let pairs = bytes.len() / 2;
    if pairs < 2 {
        return false;
    }
    let ascii_like = bytes
        .chunks_exact(2)
        .filter(|b| b[0] != 0 && b[1] == 0)
        .count();
    ascii_like * 4 >= pairs * 3
}

/// How many bytes at the end of `bytes` start a UTF-8 character whose
/// remaining bytes have not arrived.
fn incomplete_utf8_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let len = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if len > back { back } else { 0 };
    }
    0
}

#[cfg(windows)]
fn platform_legacy() -> Option<Legacy> {
    Some(super::win32::oem_text)
}

#[cfg(not(windows))]
fn platform_legacy() -> Option<Legacy> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str, bom: bool) -> Vec<u8> {
        let mut out = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        for u in text.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        out
    }

    /// Feeds `bytes` in pieces of `step` and returns the text.
    fn decode(bytes: &[u8], step: usize, legacy: Option<Legacy>) -> String {
        let mut d = OutputDecoder::new(legacy);
        let mut text: String = bytes.chunks(step).map(|c| d.push(c)).collect();
        text.push_str(&d.finish());
        text
    }

    const SAMPLE: &str = "héllo wörld 😀 from C:\\Windows\r\nline two\r\n";

    #[test]
    fn utf16_with_or_without_a_bom_is_decoded_whatever_the_read_sizes() {
        for bom in [true, false] {
            let bytes = utf16le(SAMPLE, bom);
            for step in [1, 2, 3, 5, 7, 4096] {
                assert_eq!(decode(&bytes, step, None), SAMPLE, "bom {bom}, step {step}");
            }
        }
    }

    #[test]
    fn utf8_split_inside_a_character_is_not_mangled() {
        for step in [1, 2, 3, 5, 4096] {
            assert_eq!(decode(SAMPLE.as_bytes(), step, None), SAMPLE, "step {step}");
        }
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(SAMPLE.as_bytes());
        assert_eq!(decode(&bom, 3, None), SAMPLE);
    }

    #[test]
    fn short_output_and_empty_output() {
        assert_eq!(decode(b"ok\n", 1, None), "ok\n");
        assert_eq!(decode(&utf16le("ok\r\n", true), 1, None), "ok\r\n");
        assert_eq!(decode(b"", 1, None), "");
        // Two characters of UTF-16 without a mark, then the end.
        assert_eq!(decode(&utf16le("ok", false), 1, None), "ok");
    }

    #[test]
    fn bytes_that_are_not_utf8_go_to_the_legacy_decoder_or_are_replaced() {
        // "é" in code page 850 is 0x82; a Latin-1 stand-in for the test.
        fn latin1(b: &[u8]) -> String {
            b.iter().map(|&c| char::from(c)).collect()
        }
        let bytes = b"caf\xe9 ok\n";
        assert_eq!(decode(bytes, 4096, Some(latin1)), "café ok\n");
        assert_eq!(decode(bytes, 4096, None), "caf\u{FFFD} ok\n");
    }

    #[test]
    fn a_torn_end_is_replaced_not_dropped_silently() {
        let mut bytes = utf16le("ab", true);
        bytes.push(0x41);
        assert_eq!(decode(&bytes, 4096, None), "ab\u{FFFD}");
        // A lone high surrogate at the end.
        let mut bytes = utf16le("ab", true);
        bytes.extend_from_slice(&0xD83Du16.to_le_bytes());
        assert_eq!(decode(&bytes, 4096, None), "ab\u{FFFD}");
    }

    #[test]
    fn ordinary_utf8_is_never_taken_for_utf16() {
        for text in ["12345678", "Ärger über Öl", "日本語のテキスト", "a\tb\n"] {
            assert_eq!(decode(text.as_bytes(), 4096, None), text);
        }
    }
}
