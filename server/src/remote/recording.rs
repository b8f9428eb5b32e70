//! A terminal session's recording as asciicast v2: a JSON header line,
//! then one JSON array a line, `[seconds, "o"|"i"|"r", text]`. Pure: the
//! pump feeds it what passed and when (seconds since the start), and it
//! keeps at most `cap` bytes, so a session that streams a large log does
//! not fill the database; past the cap a last line says where it was cut.
//!
//! Text is UTF-8, lossily: a character split across two frames is held
//! back until its rest arrives, so it is not replaced by U+FFFD.

use serde_json::json;

/// One direction's bytes not yet written: the start of a UTF-8
/// character whose rest is in the next frame.
#[derive(Debug, Default)]
struct Tail(Vec<u8>);

impl Tail {
    /// `bytes` after what was held, as text; an incomplete character at
    /// the end is held for the next call.
    fn text(&mut self, bytes: &[u8]) -> String {
        let mut all = std::mem::take(&mut self.0);
        all.extend_from_slice(bytes);
        let keep = incomplete_suffix(&all);
        let rest = all.split_off(all.len() - keep);
        self.0 = rest;
        String::from_utf8_lossy(&all).into_owned()
    }
}

/// How many bytes at the end of `b` begin a UTF-8 character that is not
/// whole yet (0 to 3).
fn incomplete_suffix(b: &[u8]) -> usize {
    for back in 1..=3.min(b.len()) {
        let byte = b[b.len() - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back
        }
        let need = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => return 0,
        };
        return if need > back { back } else { 0 };
    }
    0
}

/// An asciicast v2 recording being made.
#[derive(Debug)]
pub struct Recording {
    buf: Vec<u8>,
    cap: usize,
    cut: bool,
    input: Tail,
    output: Tail,
}

impl Recording {
    /// A recording of a `width` x `height` terminal started at
    /// `timestamp` (Unix seconds), titled `title`, kept to `cap` bytes.
    pub fn new(width: u16, height: u16, timestamp: i64, title: &str, cap: usize) -> Self {
        let header = json!({
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": timestamp,
            "title": title,
        });
        let mut buf = header.to_string().into_bytes();
        buf.push(b'\n');
        Self {
            buf,
            cap,
            cut: false,
            input: Tail::default(),
            output: Tail::default(),
        }
    }

    /// The machine's output at `secs`.
    pub fn output(&mut self, secs: f64, bytes: &[u8]) {
        let text = self.output.text(bytes);
        self.line(secs, "o", &text);
    }

    /// The operator's keystrokes at `secs`.
    pub fn input(&mut self, secs: f64, bytes: &[u8]) {
        let text = self.input.text(bytes);
        self.line(secs, "i", &text);
    }

    /// The operator's terminal became `cols` x `rows` at `secs`.
    pub fn resize(&mut self, secs: f64, cols: u16, rows: u16) {
        self.line(secs, "r", &format!("{cols}x{rows}"));
    }

    /// Whether the cap was reached.
    pub fn was_cut(&self) -> bool {
        self.cut
    }

    /// The recording as stored.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Its bytes so far (a checkpoint of a live session's recording).
    pub fn snapshot(&self) -> Vec<u8> {
        self.buf.clone()
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether it holds nothing (it always holds its header).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn line(&mut self, secs: f64, code: &str, text: &str) {
        if self.cut || text.is_empty() {
            return;
        }
        let secs = (secs.max(0.0) * 1000.0).round() / 1000.0;
        let mut line = json!([secs, code, text]).to_string().into_bytes();
        line.push(b'\n');
        if self.buf.len() + line.len() > self.cap {
            self.cut = true;
            let note = format!(
                "\r\n[deskhand: the recording stops here, at its limit of {} bytes \
                 (recording_max_bytes); the session went on]\r\n",
                self.cap
            );
            let mut last = json!([secs, "o", note]).to_string().into_bytes();
            last.push(b'\n');
            self.buf.extend_from_slice(&last);
            return;
        }
        self.buf.extend_from_slice(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(r: Recording) -> Vec<serde_json::Value> {
        let bytes = r.finish();
        let text = String::from_utf8(bytes).expect("utf-8");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    #[test]
    fn a_recording_is_asciicast_v2_with_input_output_and_resizes() {
        let mut r = Recording::new(80, 24, 1_700_000_000, "pc1 by alice", 1 << 20);
        r.output(0.1, b"$ ");
        r.input(0.5, b"ls\r");
        r.resize(1.0, 120, 40);
        r.output(1.25, b"a.txt\r\n");
        let l = lines(r);
        assert_eq!(l[0]["version"], 2);
        assert_eq!(l[0]["width"], 80);
        assert_eq!(l[0]["height"], 24);
        assert_eq!(l[0]["timestamp"], 1_700_000_000);
        assert_eq!(l[0]["title"], "pc1 by alice");
        assert_eq!(l[1], json!([0.1, "o", "$ "]));
        assert_eq!(l[2], json!([0.5, "i", "ls\r"]));
        assert_eq!(l[3], json!([1.0, "r", "120x40"]));
        assert_eq!(l[4], json!([1.25, "o", "a.txt\r\n"]));
        assert_eq!(l.len(), 5);
    }

    #[test]
    fn a_character_split_across_frames_is_kept_whole_and_garbage_is_replaced() {
        let mut r = Recording::new(80, 24, 0, "t", 1 << 20);
        let e = "é".as_bytes();
        r.output(0.0, &[b'a', e[0]]);
        r.output(0.1, &[e[1], b'b']);
        r.output(0.2, &[0xFF, b'c']);
        let l = lines(r);
        assert_eq!(l[1], json!([0.0, "o", "a"]));
        assert_eq!(l[2], json!([0.1, "o", "éb"]));
        assert_eq!(l[3], json!([0.2, "o", "\u{FFFD}c"]));
        assert_eq!(incomplete_suffix("€".as_bytes()), 0);
        assert_eq!(incomplete_suffix(&"€".as_bytes()[..2]), 2);
        assert_eq!(incomplete_suffix(b"plain"), 0);
    }

    #[test]
    fn the_cap_keeps_the_recording_small_and_says_where_it_was_cut() {
        let cap = 400;
        let mut r = Recording::new(80, 24, 0, "t", cap);
        for i in 0..100 {
            r.output(f64::from(i), b"0123456789012345678901234567890123456789");
        }
        assert!(r.was_cut());
        let bytes = r.finish();
        // The cap, plus the one line that notes the cut.
        assert!(bytes.len() <= cap + 300, "{}", bytes.len());
        let text = String::from_utf8(bytes).expect("utf-8");
        let last = text.lines().last().expect("a line");
        assert!(last.contains("recording stops here"), "{last}");
        assert!(last.contains("400 bytes"), "{last}");
        assert_eq!(text.matches("recording stops here").count(), 1);
    }
}
