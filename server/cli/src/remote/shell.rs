//! `deskhand shell AGENT`: an interactive shell on the machine, like ssh.
//!
//! On a terminal, stdin goes raw (every key, Ctrl-C as byte 0x03, travels
//! to the remote shell) and is restored on every way out; the window's
//! size goes with the request and again on each SIGWINCH; SIGTERM and
//! SIGHUP close the session after restoring it. Fed by a pipe
//! (scripts, tests), nothing is raw: the size comes from `--cols` and
//! `--rows`, and the end of stdin sends nothing, the session lasting
//! until the remote shell exits. The process exits with the remote
//! shell's code ([`exit_status`]).

use std::io::{IsTerminal, Read, Write};

use anyhow::Result;
use deskhand_shared::remote::{RemoteFrame, RemoteKind};
use tokio::sync::mpsc;

use super::framed::{FrameReader, FrameWriter};
use crate::client::Client;

/// `deskhand shell`.
#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    /// Agent id, id prefix or host name.
    pub agent: String,
    /// The ticket this session is for; it appears in its timeline.
    #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
    pub ticket: Option<i64>,
    /// Run the shell in the logged-in user's session rather than as the
    /// agent's service account.
    #[arg(long)]
    pub as_user: bool,
    /// Columns of the remote terminal (default: this terminal's, or 80).
    #[arg(long)]
    pub cols: Option<u16>,
    /// Rows of the remote terminal (default: this terminal's, or 24).
    #[arg(long)]
    pub rows: Option<u16>,
}

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The remote shell exited: the process's exit code.
    Exit(i32),
    /// The server or agent ended the session, saying why.
    End(String),
    /// The connection closed without a word.
    Closed,
    /// This process was told to stop by this signal.
    Signal(i32),
}

/// What the local terminal asks for while a session runs (Unix only:
/// elsewhere nothing is watched).
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))]
enum Event {
    /// Its window is now this many columns and rows.
    Resize(u16, u16),
    /// A signal (SIGTERM, SIGHUP) tells the CLI to stop.
    Stop(i32),
}

/// The exit code for a remote shell's end: its code, 128 + the signal
/// that killed it (as a local shell says), 1 when neither is known.
pub(crate) fn exit_status(code: Option<i32>, signal: Option<i32>) -> i32 {
    match (code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    }
}

/// The remote terminal's size: the flags, else the measured size of this
/// terminal (ignoring a zero a detached terminal reports), else 80x24.
pub(crate) fn pick_size(
    measured: Option<(u16, u16)>,
    cols: Option<u16>,
    rows: Option<u16>,
) -> (u16, u16) {
    let measured = measured.filter(|(c, r)| *c > 0 && *r > 0);
    (
        cols.or(measured.map(|m| m.0)).unwrap_or(80),
        rows.or(measured.map(|m| m.1)).unwrap_or(24),
    )
}

/// Runs `deskhand shell`. Returns when the remote shell exits 0; any other
/// ending exits the process with its code, the terminal restored first.
pub async fn run(c: &Client, args: ShellArgs) -> Result<()> {
    let tty = std::io::stdin().is_terminal();
    #[cfg(not(unix))]
    if tty {
        anyhow::bail!(
            "an interactive shell needs a Unix terminal; here, pipe the commands in (echo ipconfig | deskhand shell {})",
            args.agent
        );
    }
    let measured = if tty { term::size() } else { None };
    let (cols, rows) = pick_size(measured, args.cols, args.rows);
    let kind = RemoteKind::Terminal {
        cols,
        rows,
        as_user: args.as_user,
    };
    let session = super::open(c, &args.agent, &kind, args.ticket).await?;
    if tty {
        let facts = session.facts.describe();
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({facts})")
        };
        eprintln!(
            "Connected to {}{facts}. Exit the shell to leave.",
            args.agent
        );
    }
    let raw = if tty {
        Some(term::RawMode::enter()?)
    } else {
        None
    };
    let ending = drive(session.reader, session.writer, stdin_bytes(), tty).await;
    // Restored before anything is printed, and before exiting.
    #[cfg_attr(not(unix), allow(clippy::drop_non_drop))]
    drop(raw);
    let code = match ending? {
        Ending::Exit(code) => code,
        Ending::End(reason) => {
            eprintln!("deskhand: session ended: {reason}");
            1
        }
        Ending::Closed => {
            eprintln!("deskhand: session ended: the server closed the connection");
            1
        }
        Ending::Signal(signal) => {
            eprintln!("deskhand: stopped by signal {signal}; the session is closed");
            exit_status(None, Some(signal))
        }
    };
    if code == 0 {
        return Ok(());
    }
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Reads stdin on a thread of its own (a blocking read no task can
/// cancel) and hands its bytes over; the channel closes at its end.
fn stdin_bytes() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Pumps `keys` up and output down until the session ends.
async fn drive<R, W>(
    mut reader: FrameReader<R>,
    mut writer: FrameWriter<W>,
    mut keys: mpsc::Receiver<Vec<u8>>,
    tty: bool,
) -> Result<Ending>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut keys_open = true;
    let mut watch = term::Watch::new(tty)?;
    let mut stdout = std::io::stdout();
    let ending = loop {
        tokio::select! {
            frame = reader.recv() => match frame? {
                Some(RemoteFrame::Data(bytes)) => {
                    // A closed stdout (`| head`) must not end the remote
                    // shell's run: its output is dropped.
                    let _ = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                }
                Some(RemoteFrame::Exit { code, signal }) => break Ending::Exit(exit_status(code, signal)),
                Some(RemoteFrame::End { reason }) => break Ending::End(reason),
                Some(_) => {}
                None => break Ending::Closed,
            },
            key = keys.recv(), if keys_open => match key {
                Some(bytes) => writer.send(&RemoteFrame::Data(bytes)).await?,
                None => keys_open = false,
            },
            event = watch.next() => match event {
                Event::Resize(cols, rows) => writer.send(&RemoteFrame::Resize { cols, rows }).await?,
                Event::Stop(signal) => break Ending::Signal(signal),
            },
        }
    };
    let _ = writer.close().await;
    Ok(ending)
}

/// The local terminal on Unix: raw mode, its size, its size changes.
#[cfg(unix)]
mod term {
    use anyhow::{Context, Result};
    use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};

    /// This terminal's columns and rows.
    pub(super) fn size() -> Option<(u16, u16)> {
        let w = tcgetwinsize(std::io::stdin()).ok()?;
        Some((w.ws_col, w.ws_row))
    }

    /// stdin in raw mode until dropped, which restores it (on an error,
    /// a panic's unwinding and the normal end alike).
    pub(super) struct RawMode {
        saved: Termios,
    }

    impl RawMode {
        /// Puts stdin in raw mode, as cfmakeraw does.
        pub(super) fn enter() -> Result<Self> {
            let stdin = std::io::stdin();
            let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
            let mut raw = saved.clone();
            raw.make_raw();
            tcsetattr(&stdin, OptionalActions::Now, &raw)
                .context("putting the terminal in raw mode")?;
            Ok(Self { saved })
        }
    }

    impl Drop for RawMode {
        fn drop(&mut self) {
            let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
        }
    }

    /// Watches the signals a terminal session answers: SIGWINCH (a new
    /// size), SIGTERM and SIGHUP (stop, restoring the terminal first).
    pub(super) struct Watch {
        signals: Option<[tokio::signal::unix::Signal; 3]>,
    }

    impl Watch {
        /// Watching when `tty`, never firing otherwise (a pipe keeps the
        /// default: a signal ends the process, there is nothing to restore).
        pub(super) fn new(tty: bool) -> Result<Self> {
            use tokio::signal::unix::{SignalKind, signal};
            if !tty {
                return Ok(Self { signals: None });
            }
            let watch = |kind| signal(kind).context("watching the terminal's signals");
            Ok(Self {
                signals: Some([
                    watch(SignalKind::window_change())?,
                    watch(SignalKind::terminate())?,
                    watch(SignalKind::hangup())?,
                ]),
            })
        }

        /// The next event; pending for ever when not watching.
        pub(super) async fn next(&mut self) -> super::Event {
            let Some([winch, term, hup]) = &mut self.signals else {
                return std::future::pending().await;
            };
            loop {
                tokio::select! {
                    Some(()) = winch.recv() => {
                        if let Some((cols, rows)) = size().filter(|(c, r)| *c > 0 && *r > 0) {
                            return super::Event::Resize(cols, rows);
                        }
                    }
                    Some(()) = term.recv() => return super::Event::Stop(15),
                    Some(()) = hup.recv() => return super::Event::Stop(1),
                    else => return std::future::pending().await,
                }
            }
        }
    }
}

/// Elsewhere there is no raw mode: [`run`] refuses a terminal, and a
/// pipe needs none of this.
#[cfg(not(unix))]
mod term {
    use anyhow::Result;

    pub(super) fn size() -> Option<(u16, u16)> {
        None
    }

    pub(super) struct RawMode;

    impl RawMode {
        pub(super) fn enter() -> Result<Self> {
            Ok(Self)
        }
    }

    pub(super) struct Watch;

    impl Watch {
        pub(super) fn new(_tty: bool) -> Result<Self> {
            Ok(Self)
        }

        pub(super) async fn next(&mut self) -> super::Event {
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::framed;

    #[test]
    fn exit_codes_follow_the_remote_shell() {
        assert_eq!(exit_status(Some(0), None), 0);
        assert_eq!(exit_status(Some(3), None), 3);
        assert_eq!(exit_status(None, Some(9)), 137);
        assert_eq!(exit_status(None, None), 1);
    }

    #[test]
    fn flags_override_the_measured_size_and_zero_is_ignored() {
        assert_eq!(pick_size(None, None, None), (80, 24));
        assert_eq!(pick_size(Some((200, 50)), None, None), (200, 50));
        assert_eq!(pick_size(Some((200, 50)), Some(100), None), (100, 50));
        assert_eq!(pick_size(Some((0, 0)), None, Some(30)), (80, 30));
    }

    #[tokio::test]
    async fn the_session_ends_with_the_remote_exit_or_its_reason() {
        for (last, want) in [
            (
                RemoteFrame::Exit {
                    code: Some(4),
                    signal: None,
                },
                Ending::Exit(4),
            ),
            (
                RemoteFrame::End {
                    reason: "consent expired".into(),
                },
                Ending::End("consent expired".into()),
            ),
        ] {
            let (ours, theirs) = tokio::io::duplex(4096);
            let (r, w) = framed::split(ours);
            let (mut tr, mut tw) = framed::split(theirs);
            // The keys end at once: that must not end the session.
            let (keys, no_keys) = mpsc::channel(1);
            keys.send(b"exit\r".to_vec()).await.expect("key");
            drop(keys);
            let session = tokio::spawn(drive(r, w, no_keys, false));
            assert_eq!(
                tr.recv().await.expect("recv"),
                Some(RemoteFrame::Data(b"exit\r".to_vec()))
            );
            tw.send(&RemoteFrame::Data(Vec::new())).await.expect("send");
            tw.send(&last).await.expect("send");
            let ending = tokio::time::timeout(std::time::Duration::from_secs(5), session)
                .await
                .expect("in time")
                .expect("joins")
                .expect("ends");
            assert_eq!(ending, want);
        }
        let (ours, theirs) = tokio::io::duplex(64);
        drop(theirs);
        let (r, w) = framed::split(ours);
        let (_keys, no_keys) = mpsc::channel(1);
        assert_eq!(
            drive(r, w, no_keys, false).await.expect("ends"),
            Ending::Closed
        );
    }
}
