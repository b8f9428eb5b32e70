//! Placeholder until the prompt and banner windows land: no window; the
//! user answers with `deskhand-agent desktop allow|deny|end`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the prompt says.
pub struct PromptText {
    /// The window's title.
    pub title: String,
    /// Its lines.
    pub lines: Vec<String>,
}

/// Waits for `cancel`; never answers.
pub fn ask(
    _display: Option<&str>,
    _text: &PromptText,
    cancel: &AtomicBool,
) -> Result<Option<bool>, String> {
    while !cancel.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(None)
}

/// Waits for `stop`; never clicked.
pub fn banner(_display: Option<&str>, _text: &str, stop: &AtomicBool) -> Result<bool, String> {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}
