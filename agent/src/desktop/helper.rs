//! `deskhand-agent user`: the per-user helper of remote desktop, started
//! at login in the user's graphical session (XDG autostart). It
//! registers with the agent service over the help socket and waits:
//! when IT asks for the screen it shows the user a prompt naming the
//! technician and the ticket; the user's click (or `deskhand-agent
//! desktop allow|deny`) answers through the service. Once allowed, it
//! opens the session's stream, shows a banner with "End session" and
//! serves RFB from its own X11 connection ([`super::session`]): the
//! capture runs in the user's process, never in the service's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow};
use tracing::{info, warn};

use super::broker::{DesktopAsk, HelperCall};
use super::x11::X11Screen;
use super::x11::prompt::{self, PromptText};
use crate::help::desktop::{HelperLink, ask, open_stream};

/// How long the helper waits before registering again after the agent
/// went away (a restart, an upgrade).
const RETRY: Duration = Duration::from_secs(5);
/// How long a session's stream waits for the viewer between reads.
const POLL: Duration = Duration::from_millis(10);

/// The prompt's words for a request.
pub fn prompt_text(operator: &str, ticket: Option<i64>, control: bool) -> PromptText {
    let what = if control {
        "to see and control your screen"
    } else {
        "to see your screen"
    };
    let mut lines = vec![match ticket {
        Some(t) => format!("{operator} from IT asks {what} for ticket {t}."),
        None => format!("{operator} from IT asks {what}."),
    }];
    if control {
        lines.push("They could then use your keyboard and mouse.".into());
    }
    lines.push("A banner stays at the top while they do; click its End session to stop.".into());
    lines.push("Allow only if you expect this.".into());
    PromptText {
        title: "deskhand: remote desktop request".into(),
        lines,
    }
}

/// Runs the helper for `display` (or `$DISPLAY`) until killed.
pub async fn run(socket: &Path, display: Option<String>) -> Result<()> {
    // Fails early, with the reason (no display, Wayland only, no access),
    // on a display that cannot be captured.
    X11Screen::open(display.as_deref()).map_err(|e| anyhow!(e))?;
    let name = display
        .clone()
        .or_else(|| std::env::var("DISPLAY").ok())
        .unwrap_or_default();
    loop {
        match HelperLink::register(socket, &name).await {
            Ok(link) => {
                info!(display = %name, "ready: IT may ask to see this screen");
                let mut helper = Helper {
                    socket: socket.to_path_buf(),
                    display: display.clone(),
                    live: HashMap::new(),
                };
                helper.serve(link).await;
                helper.stop_all();
                warn!("the agent closed the helper's link; registering again");
            }
            Err(e) => warn!(error = %format!("{e:#}"), "cannot register with the agent"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

struct Helper {
    socket: PathBuf,
    display: Option<String>,
    /// Each session's stop flag: its prompt, banner and stream end when
    /// it is set.
    live: HashMap<i64, Arc<AtomicBool>>,
}

impl Helper {
    async fn serve(&mut self, mut link: HelperLink) {
        loop {
            match link.next().await {
                Ok(Some(call)) => self.on_call(call),
                Ok(None) => return,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "the agent's link failed");
                    return;
                }
            }
        }
    }

    fn on_call(&mut self, call: HelperCall) {
        match call {
            HelperCall::Prompt {
                session,
                operator,
                ticket,
                control,
            } => {
                let stop = self.flag(session);
                let text = prompt_text(&operator, ticket, control);
                info!(session, %operator, ?ticket, control, "IT asks to see the screen: answer the prompt, or run `deskhand-agent desktop allow|deny`");
                let (socket, display) = (self.socket.clone(), self.display.clone());
                tokio::spawn(async move {
                    let shown = tokio::task::spawn_blocking(move || {
                        prompt::ask(display.as_deref(), &text, &stop)
                    })
                    .await;
                    match shown {
                        Ok(Ok(Some(allow))) => {
                            let answer = DesktopAsk::Answer {
                                session: Some(session),
                                allow,
                            };
                            if let Err(e) = ask(&socket, answer).await {
                                warn!(session, error = %format!("{e:#}"), "the answer did not reach the agent");
                            }
                        }
                        Ok(Ok(None)) => {}
                        Ok(Err(e)) => {
                            warn!(session, error = %e, "the prompt could not be shown; answer with `deskhand-agent desktop allow|deny`")
                        }
                        Err(e) => warn!(session, error = %e, "the prompt failed"),
                    }
                });
            }
            HelperCall::Start {
                session,
                token,
                control,
            } => {
                // The prompt's window closes; a new flag for the session.
                if let Some(old) = self.live.remove(&session) {
                    old.store(true, Ordering::Relaxed);
                }
                let stop = self.flag(session);
                let (socket, display) = (self.socket.clone(), self.display.clone());
                tokio::spawn(start(socket, display, session, token, control, stop));
            }
            HelperCall::Stop { session, reason } => {
                info!(session, %reason, "the remote desktop session is over");
                if let Some(stop) = self.live.remove(&session) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    fn flag(&mut self, session: i64) -> Arc<AtomicBool> {
        self.live
            .entry(session)
            .or_insert_with(|| Arc::new(AtomicBool::new(false)))
            .clone()
    }

    fn stop_all(&mut self) {
        for (_, stop) in self.live.drain() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Opens the session's stream and serves it beside the banner.
async fn start(
    socket: PathBuf,
    display: Option<String>,
    session: i64,
    token: String,
    control: bool,
    stop: Arc<AtomicBool>,
) {
    let stream = match open_stream(&socket, session, token).await {
        Ok(s) => s,
        Err(e) => {
            warn!(session, error = %format!("{e:#}"), "the session's stream was refused");
            return;
        }
    };
    info!(session, control, "sharing the screen");
    let banner_text = if control {
        "IT can see and control your screen"
    } else {
        "IT can see your screen"
    };
    let (banner_display, banner_stop) = (display.clone(), stop.clone());
    let banner_socket = socket.clone();
    tokio::spawn(async move {
        let shown = tokio::task::spawn_blocking(move || {
            prompt::banner(banner_display.as_deref(), banner_text, &banner_stop)
        })
        .await;
        match shown {
            Ok(Ok(true)) => {
                let end = DesktopAsk::End {
                    session: Some(session),
                };
                if let Err(e) = ask(&banner_socket, end).await {
                    warn!(session, error = %format!("{e:#}"), "ending the session failed");
                }
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => warn!(session, error = %e, "the banner could not be shown"),
            Err(e) => warn!(session, error = %e, "the banner failed"),
        }
    });
    let served =
        tokio::task::spawn_blocking(move || serve_blocking(stream, display, control, &stop)).await;
    match served {
        Ok(Ok(t)) => info!(
            session,
            updates = t.updates,
            bytes = t.sent,
            "the session ended"
        ),
        Ok(Err(e)) => warn!(session, error = %e, "the session ended"),
        Err(e) => warn!(session, error = %e, "the session failed"),
    }
}

/// The session on a thread of its own: X11 and the socket, blocking.
fn serve_blocking(
    stream: tokio::net::UnixStream,
    display: Option<String>,
    control: bool,
    stop: &AtomicBool,
) -> Result<super::session::Totals, String> {
    let mut stream = stream.into_std().map_err(|e| e.to_string())?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    let mut screen = X11Screen::open(display.as_deref())?;
    let host = crate::facts::hostname();
    let result = super::session::run(&mut stream, &mut screen, &host, control, stop);
    // The banner and any late prompt close with the session.
    stop.store(true, Ordering::Relaxed);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_names_the_technician_the_ticket_and_what_they_could_do() {
        let p = prompt_text("alice", Some(42), true);
        assert_eq!(
            p.lines[0],
            "alice from IT asks to see and control your screen for ticket 42."
        );
        assert!(p.lines.iter().any(|l| l.contains("keyboard and mouse")));
        let v = prompt_text("bob", None, false);
        assert_eq!(v.lines[0], "bob from IT asks to see your screen.");
        assert!(!v.lines.iter().any(|l| l.contains("keyboard")));
    }
}
