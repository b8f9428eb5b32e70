//! Terminal recordings in asciicast v2 (what the server keeps of a shell
//! session): [`parse`] reads one, [`schedule`] says when each piece of
//! output is shown when it is replayed. Both pure; `sessions show --play`
//! only sleeps and writes.
//!
//! The format: a header line (a JSON object with `"version": 2`, `width`,
//! `height`), then one JSON array per line, `[seconds, "o"|"i"|..., "text"]`.

use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The longest pause a replay keeps: idle minutes play as this.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(2);

/// A parsed recording.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cast {
    /// Terminal columns at the start.
    pub(crate) width: u64,
    /// Terminal rows at the start.
    pub(crate) height: u64,
    /// The output events: seconds since the start, and the text.
    pub(crate) output: Vec<(f64, String)>,
}

/// Reads a recording; the error names the line that is wrong.
pub(crate) fn parse(text: &str) -> Result<Cast> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        bail!("the recording is empty");
    };
    let header: serde_json::Value =
        serde_json::from_str(first).context("the recording's header (line 1) is not JSON")?;
    if header.get("version").and_then(serde_json::Value::as_u64) != Some(2) {
        bail!("the recording is not asciicast version 2 (line 1: {first})");
    }
    let dim = |k: &str| header.get(k).and_then(serde_json::Value::as_u64);
    let (Some(width), Some(height)) = (dim("width"), dim("height")) else {
        bail!("the recording's header (line 1) has no width and height");
    };
    let mut output = Vec::new();
    let mut last = 0.0_f64;
    for (i, line) in lines {
        let n = i + 1;
        let (at, code, data): (f64, String, String) =
            serde_json::from_str(line).with_context(|| {
                format!("line {n} of the recording is not an event [time, code, data]")
            })?;
        if !at.is_finite() || at < 0.0 {
            bail!("line {n} of the recording has a bad time: {at}");
        }
        if at < last {
            bail!("line {n} of the recording goes back in time ({at} after {last})");
        }
        last = at;
        if code == "o" {
            output.push((at, data));
        }
    }
    Ok(Cast {
        width,
        height,
        output,
    })
}

/// For each output event, how long to wait after the previous one:
/// the recorded gap divided by `speed`, never more than [`MAX_PAUSE`];
/// a `speed` of 0 (or less) means no waiting at all.
pub(crate) fn schedule(cast: &Cast, speed: f64) -> Vec<(Duration, &str)> {
    let mut prev = 0.0;
    cast.output
        .iter()
        .map(|(at, data)| {
            let gap = (at - prev).max(0.0);
            prev = *at;
            let wait = if speed > 0.0 && speed.is_finite() {
                Duration::from_secs_f64((gap / speed).min(MAX_PAUSE.as_secs_f64()))
            } else {
                Duration::ZERO
            };
            (wait, data.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAST: &str = r#"{"version": 2, "width": 80, "height": 24, "timestamp": 1765000000}
[0.5, "o", "$ "]
[1.0, "i", "l"]
[1.5, "o", "ls\r\n"]
[61.5, "o", "a  b\r\n"]
"#;

    #[test]
    fn output_events_are_kept_and_input_skipped() {
        let cast = parse(CAST).expect("parses");
        assert_eq!((cast.width, cast.height), (80, 24));
        assert_eq!(
            cast.output,
            vec![
                (0.5, "$ ".to_string()),
                (1.5, "ls\r\n".to_string()),
                (61.5, "a  b\r\n".to_string())
            ]
        );
    }

    #[test]
    fn replay_divides_gaps_by_speed_and_caps_long_pauses() {
        let cast = parse(CAST).expect("parses");
        let at_1: Vec<_> = schedule(&cast, 1.0).into_iter().map(|(d, _)| d).collect();
        assert_eq!(
            at_1,
            vec![
                Duration::from_millis(500),
                Duration::from_secs(1),
                MAX_PAUSE
            ]
        );
        let at_2: Vec<_> = schedule(&cast, 2.0).into_iter().map(|(d, _)| d).collect();
        assert_eq!(at_2[1], Duration::from_millis(500));
        let now = schedule(&cast, 0.0);
        assert!(now.iter().all(|(d, _)| d.is_zero()));
        assert_eq!(now[2].1, "a  b\r\n");
    }

    #[test]
    fn broken_recordings_say_what_is_wrong() {
        let e = parse("").expect_err("empty");
        assert!(e.to_string().contains("empty"), "{e}");
        let e = parse(r#"{"version": 1, "width": 80, "height": 24}"#).expect_err("v1");
        assert!(e.to_string().contains("version 2"), "{e}");
        let e = parse("{\"version\": 2, \"width\": 80, \"height\": 24}\n[1.0, \"o\"]\n")
            .expect_err("short event");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse("{\"version\": 2, \"width\": 80, \"height\": 24}\n[2, \"o\", \"a\"]\n[1, \"o\", \"b\"]\n")
            .expect_err("backwards");
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = parse("not json").expect_err("garbage");
        assert!(e.to_string().contains("header"), "{e}");
    }
}
