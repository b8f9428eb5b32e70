//! Progress on the operator's terminal: a bar of bytes while an artifact
//! uploads, a bar of finished targets while `jobs run --wait` waits. Only
//! when stderr is a terminal; otherwise the plain lines scripts and logs
//! have always had. Nothing here writes to stdout.
//!
//! The text is decided by pure functions ([`TargetCounts::label`],
//! [`upload_label`], [`upload_done`]); [`JobBar`] and [`UploadBar`]
//! only draw it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use deskhand_shared::diag::render::human_bytes;
use indicatif::{ProgressBar, ProgressStyle};

/// How often a bar redraws itself while nothing else changes it.
const TICK: Duration = Duration::from_millis(120);

/// Whether progress is drawn: stderr is a terminal (not a pipe, a file or
/// a CI log).
pub(crate) fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// How a job's targets stand, counted from their states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetCounts {
    /// Targets of the job.
    pub total: u64,
    /// Targets in a final state (succeeded, failed, cancelled, expired).
    pub finished: u64,
    /// Finished and succeeded.
    pub succeeded: u64,
    /// Finished without succeeding: failed, cancelled or expired.
    pub failed: u64,
}

/// Whether a target's state is final: it will not change again.
pub fn is_final(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "cancelled" | "expired")
}

impl TargetCounts {
    /// Counts the targets whose states are `states`.
    pub fn of<'a>(states: impl IntoIterator<Item = &'a str>) -> Self {
        let mut c = Self::default();
        for s in states {
            c.total += 1;
            if is_final(s) {
                c.finished += 1;
                if s == "succeeded" {
                    c.succeeded += 1;
                } else {
                    c.failed += 1;
                }
            }
        }
        c
    }

    /// The words beside the bar: "2 succeeded, 1 failed, 4 to go".
    pub fn label(&self) -> String {
        let to_go = self.total.saturating_sub(self.finished);
        let mut text = format!("{} succeeded, {} failed", self.succeeded, self.failed);
        if to_go > 0 {
            text.push_str(&format!(", {to_go} to go"));
        }
        text
    }
}

/// What the spinner says while `name` (`size` bytes) uploads.
pub fn upload_label(name: &str, size: u64) -> String {
    format!("uploading {name} ({})", human_bytes(size))
}

/// What stays on the terminal once `size` bytes of `name` are sent, in
/// `elapsed`: the size, the time and the average rate.
pub fn upload_done(name: &str, size: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    // Under a millisecond there is no rate worth printing.
    let rate = if secs >= 0.001 {
        format!(", {}/s", human_bytes((size as f64 / secs) as u64))
    } else {
        String::new()
    };
    format!(
        "uploaded {name}: {} in {secs:.1} s{rate}",
        human_bytes(size)
    )
}

/// The bar `jobs run --wait` draws on a terminal: targets finished of
/// total, and the succeeded and failed counts. Off a terminal it prints
/// each new summary on its own line, as before bars.
pub(crate) struct JobBar {
    bar: Option<ProgressBar>,
    last: String,
}

impl JobBar {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub(crate) fn new(total: u64) -> Self {
        Self::with(stderr_is_terminal(), total)
    }

    fn with(terminal: bool, total: u64) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(total);
            // The template is a constant: it parses or no bar is drawn.
            if let Ok(style) = ProgressStyle::with_template(
                "  {spinner} [{bar:30}] {pos}/{len} targets  {msg}  {elapsed}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(TICK);
            bar
        });
        Self {
            bar,
            last: String::new(),
        }
    }

    /// Shows `counts`; off a terminal, prints `summary` if it changed.
    pub(crate) fn update(&mut self, counts: &TargetCounts, summary: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(counts.total);
                bar.set_position(counts.finished);
                bar.set_message(counts.label());
            }
            None => {
                if summary != self.last {
                    eprintln!("  {summary}");
                    self.last = summary.to_string();
                }
            }
        }
    }

    /// Leaves the finished bar on the terminal.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish();
        }
    }
}

/// A bar of bytes sent while an artifact uploads; off a terminal, the
/// plain "uploading" line. Clones share one bar: the body stream moves
/// it as it reads the file.
#[derive(Clone)]
pub(crate) struct UploadBar {
    bar: Option<ProgressBar>,
    name: String,
    size: u64,
    started: Instant,
}

impl UploadBar {
    /// Starts showing that `path` (`size` bytes) uploads.
    pub(crate) fn start(path: &std::path::Path, size: u64) -> Self {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bar = if stderr_is_terminal() {
            let bar = ProgressBar::new(size);
            // The template is a constant: it parses or no bar is drawn.
            if let Ok(style) = ProgressStyle::with_template(
                "  {msg} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(upload_label(&name, size));
            bar.enable_steady_tick(TICK);
            Some(bar)
        } else {
            eprintln!("uploading {} ({} bytes)…", path.display(), size);
            None
        };
        Self {
            bar,
            name,
            size,
            started: Instant::now(),
        }
    }

    /// `n` more bytes have been handed to the connection.
    pub(crate) fn sent(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// The upload is done: on a terminal, the bar becomes the summary.
    pub(crate) fn done(self) {
        if let Some(bar) = self.bar {
            bar.set_style(ProgressStyle::default_spinner().tick_chars("  "));
            bar.finish_with_message(upload_done(&self.name, self.size, self.started.elapsed()));
        }
    }

    /// The upload failed: the bar goes, the error says why.
    pub(crate) fn abandon(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_split_finished_targets_into_succeeded_and_failed() {
        let c = TargetCounts::of([
            "succeeded",
            "failed",
            "running",
            "queued",
            "cancelled",
            "expired",
            "succeeded",
        ]);
        assert_eq!(
            c,
            TargetCounts {
                total: 7,
                finished: 5,
                succeeded: 2,
                failed: 3
            }
        );
        assert_eq!(c.label(), "2 succeeded, 3 failed, 2 to go");
    }

    #[test]
    fn a_finished_job_has_nothing_to_go() {
        let c = TargetCounts::of(["succeeded", "succeeded"]);
        assert_eq!(c.label(), "2 succeeded, 0 failed");
        assert_eq!(TargetCounts::of([]).label(), "0 succeeded, 0 failed");
    }

    #[test]
    fn upload_text_gives_size_time_and_rate() {
        assert_eq!(
            upload_label("firefox.deb", 40 * 1024 * 1024),
            "uploading firefox.deb (40.0 MiB)"
        );
        assert_eq!(
            upload_done("firefox.deb", 40 * 1024 * 1024, Duration::from_secs(4)),
            "uploaded firefox.deb: 40.0 MiB in 4.0 s, 10.0 MiB/s"
        );
        // Too quick to time: no rate rather than a division by zero.
        assert_eq!(
            upload_done("a.sh", 12, Duration::ZERO),
            "uploaded a.sh: 12 B in 0.0 s"
        );
    }

    #[test]
    fn off_a_terminal_the_bar_draws_nothing_and_keeps_the_last_line() {
        let mut bar = JobBar::with(false, 3);
        assert!(bar.bar.is_none());
        let c = TargetCounts::of(["running", "queued", "succeeded"]);
        bar.update(&c, "1 succeeded, 2 queued");
        assert_eq!(bar.last, "1 succeeded, 2 queued");
        bar.finish();
    }

    #[test]
    fn on_a_terminal_the_bar_counts_finished_targets() {
        let mut bar = JobBar::with(true, 1);
        let c = TargetCounts::of(["running", "failed", "succeeded", "queued"]);
        bar.update(&c, "ignored on a terminal");
        let drawn = bar.bar.as_ref().expect("a bar");
        assert_eq!(drawn.length(), Some(4));
        assert_eq!(drawn.position(), 2);
        assert_eq!(drawn.message(), "1 succeeded, 1 failed, 2 to go");
        assert!(bar.last.is_empty(), "no plain line on a terminal");
        bar.finish();
    }
}
