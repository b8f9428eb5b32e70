//! `rollouts watch`: follows a rollout until it is done or stops. What it
//! draws and when it stops are decided by pure functions over a
//! [`RolloutView`]; [`watch`] polls and prints.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use deskhand_api_types::rollouts::RolloutView;

use super::view::{BAR_WIDTH, bar, counts_text, finished, phase_text};
use crate::client::Client;
use crate::render::{OutputFormat, emit};

/// Exit code of `watch` when the rollout paused.
pub const EXIT_PAUSED: u8 = 3;
/// Exit code of `watch` when the rollout was aborted.
pub const EXIT_ABORTED: u8 = 4;
/// Exit code of `watch` when the next wave waits for an operator's approval.
pub const EXIT_AWAITING_APPROVAL: u8 = 5;

/// A watch ended on a rollout that stopped short of done: why, and the
/// exit code that tells a script which way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutStopped {
    /// [`EXIT_PAUSED`], [`EXIT_ABORTED`] or [`EXIT_AWAITING_APPROVAL`].
    pub code: u8,
    /// Why, and what to do.
    pub message: String,
}

impl std::fmt::Display for RolloutStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RolloutStopped {}

/// What a watch does after seeing `v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still going: look again.
    Continue,
    /// Every wave is finished.
    Done,
    /// Paused, aborted or waiting for approval.
    Stopped(RolloutStopped),
}

/// Whether a watch goes on after `v`. An aborting rollout is followed
/// until its cancellations and rollback are through.
pub fn outcome(v: &RolloutView) -> Outcome {
    let stop = |code, message| Outcome::Stopped(RolloutStopped { code, message });
    match v.phase.as_str() {
        "done" => Outcome::Done,
        "paused" => stop(EXIT_PAUSED, format!("rollout {} {}", v.id, phase_text(v))),
        "aborted" => stop(
            EXIT_ABORTED,
            format!(
                "rollout {} was aborted; `deskhand rollouts show {}` says what ran",
                v.id, v.id
            ),
        ),
        "awaiting_approval" => stop(
            EXIT_AWAITING_APPROVAL,
            format!(
                "rollout {} is awaiting approval of its next wave: `deskhand rollouts approve {}`, then watch again",
                v.id, v.id
            ),
        ),
        _ => Outcome::Continue,
    }
}

/// What a terminal shows: a line on the rollout, then each wave with its
/// bar.
pub fn terminal_lines(v: &RolloutView) -> Vec<String> {
    // The phase in a word (the reason for a stop follows on stderr):
    // a line wider than the terminal would wrap and spoil the redraw.
    let phase = match (v.phase.as_str(), &v.soak_until) {
        ("soaking", Some(until)) => format!("soaking until {until}"),
        (p, _) => p.replace('_', " "),
    };
    let mut lines = vec![format!(
        "rollout {}: {} {}, {phase}",
        v.id, v.action, v.item
    )];
    let width = v.waves.iter().map(|w| w.name.len()).max().unwrap_or(0);
    for w in &v.waves {
        let c = &w.counts;
        let state = if !w.started {
            "not started".to_string()
        } else if c.failed > 0 {
            format!("{}/{}, {} failed", finished(c), c.total, c.failed)
        } else {
            format!("{}/{}", finished(c), c.total)
        };
        lines.push(format!("  {:width$} {} {state}", w.name, bar(c, BAR_WIDTH)));
    }
    lines
}

/// One line on where the rollout stands, for a log: its phase and each
/// started wave's counts.
pub fn plain_line(v: &RolloutView) -> String {
    let waves: Vec<String> = v
        .waves
        .iter()
        .filter(|w| w.started)
        .map(|w| format!("{} {}", w.name, counts_text(&w.counts)))
        .collect();
    let mut line = format!("rollout {} {}", v.id, v.phase.replace('_', " "));
    if !waves.is_empty() {
        line.push_str(" | ");
        line.push_str(&waves.join(" | "));
    }
    line
}

/// The text that replaces the `drawn` lines last written with `lines`:
/// up to the first of them, then each line cleared and rewritten.
pub fn redraw(drawn: usize, lines: &[String]) -> String {
    let mut text = String::new();
    if drawn > 0 {
        text.push_str(&format!("\x1b[{drawn}A"));
    }
    for line in lines {
        text.push_str("\r\x1b[2K");
        text.push_str(line);
        text.push('\n');
    }
    // A shorter drawing leaves the old bottom lines: clear them.
    text.push_str("\x1b[J");
    text
}

/// Polls rollout `id` every `interval` and prints it: bars redrawn on a
/// terminal, a line per change otherwise, a JSON document per change with
/// `--output json`. Returns when the rollout is done, and on Ctrl-C; a
/// [`RolloutStopped`] error when it paused, was aborted or awaits approval.
pub async fn watch(c: &Client, f: OutputFormat, id: i64, interval: Duration) -> Result<()> {
    let tty = f == OutputFormat::Table && std::io::stdout().is_terminal();
    let path = format!("/api/v1/rollouts/{id}");
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut drawn = 0;
    let mut last = String::new();
    loop {
        let v: RolloutView = tokio::select! {
            v = c.get(&path) => v?,
            _ = &mut ctrl_c => return interrupted(id),
        };
        if tty {
            let lines = terminal_lines(&v);
            let text = lines.join("\n");
            if text != last {
                emit(&redraw(drawn, &lines));
                drawn = lines.len();
                last = text;
            }
        } else {
            let line = match f {
                OutputFormat::Json => serde_json::to_string(&v)?,
                _ => plain_line(&v),
            };
            if line != last {
                emit(&format!("{line}\n"));
                last = line;
            }
        }
        match outcome(&v) {
            Outcome::Continue => {}
            Outcome::Done => return Ok(()),
            Outcome::Stopped(stopped) => return Err(stopped.into()),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut ctrl_c => return interrupted(id),
        }
    }
}

/// Says, on Ctrl-C, that only the watching stopped.
fn interrupted(id: i64) -> Result<()> {
    eprintln!(
        "\nstopped watching; rollout {id} carries on (`deskhand rollouts pause {id}` pauses it)"
    );
    Ok(())
}
