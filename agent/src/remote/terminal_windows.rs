//! A remote terminal on Windows: `cmd.exe` on a pseudo console
//! (`conpty_windows`), the same frames as on Unix. The console's pipes
//! are blocking handles, so a thread reads the output into a channel and
//! another writes the keystrokes; the session's loop is async around
//! them. The shell's exit is polled (every 100 ms): the output pipe ends
//! only when the console is closed, not when the shell exits.
//!
//! The shell is started as `cmd.exe /c "cmd.exe /q /k <CONIN$ >CONOUT$
//! 2>&1"`: the inner shell opens the console itself. On Windows that is
//! what a shell on a pseudo console has anyway; Wine (8.0) starts the
//! process with no standard handles, and this makes it work there too.
//!
//! Input is what a console expects: Enter is `\r` (a lone `\n`, as a
//! script's pipe sends, becomes `\r`), written a line at a time (Wine
//! drops what follows a `\r` in one write). A resize Windows refuses
//! (Wine: E_NOTIMPL) is logged, not fatal. As the agent's account
//! (LocalSystem for the service); `as_user` is refused.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::Result;
use deskhand_shared::remote::RemoteFrame;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::conpty_windows::ConPty;
use super::{FrameReader, FrameWriter, SessionWatch};

/// The shell's command line (see the module's header).
const SHELL: &str = r#"cmd.exe /c "cmd.exe /q /k <CONIN$ >CONOUT$ 2>&1""#;
/// How often the shell's exit is looked for.
const POLL: Duration = Duration::from_millis(100);
/// How long output the shell wrote last may take to arrive after it exits.
const LAST_OUTPUT: Duration = Duration::from_millis(300);

/// A shell on a pseudo console.
pub(super) struct Terminal {
    pty: ConPty,
    output: mpsc::Receiver<Vec<u8>>,
    input: std::sync::mpsc::Sender<Vec<u8>>,
}

/// Starts the shell for a session: refuses with a sentence if it cannot.
pub(super) async fn prepare(cols: u16, rows: u16, as_user: bool) -> Result<Terminal, String> {
    if as_user {
        return Err("a terminal in the logged-in user's session is not available on Windows yet; open one as the agent's account".into());
    }
    let cwd = std::env::var_os("SystemDrive")
        .map(|d| std::path::PathBuf::from(format!("{}\\", d.to_string_lossy())));
    let mut pty = ConPty::spawn(SHELL, cwd.as_deref(), None, cols, rows)
        .map_err(|e| format!("cannot start cmd.exe on a pseudo console: {e}"))?;
    let (mut out, mut inp) = pty
        .take_io()
        .ok_or("the pseudo console's pipes were already taken")?;
    let (out_tx, output) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        // Ends when the console is closed (its pipe breaks).
        while let Ok(n @ 1..) = out.read(&mut buf) {
            if out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let (input, in_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        for line in in_rx {
            if inp.write_all(&line).and_then(|()| inp.flush()).is_err() {
                break;
            }
        }
    });
    Ok(Terminal { pty, output, input })
}

/// Keystrokes as a console wants them: `\r\n` and `\n` become `\r`, and
/// the bytes are cut after each `\r`, one write each. Pure.
pub(super) fn console_input(keys: &[u8]) -> Vec<Vec<u8>> {
    let mut writes = Vec::new();
    let mut current = Vec::new();
    let mut after_cr = false;
    for &b in keys {
        match b {
            b'\n' if after_cr => {}
            b'\r' | b'\n' => {
                current.push(b'\r');
                writes.push(std::mem::take(&mut current));
            }
            _ => current.push(b),
        }
        after_cr = b == b'\r';
    }
    if !current.is_empty() {
        writes.push(current);
    }
    writes
}

impl Terminal {
    /// Runs the session until the shell exits or the session ends.
    pub(super) async fn run<R, W>(
        mut self,
        reader: &mut FrameReader<R>,
        writer: &mut FrameWriter<W>,
        watch: &mut SessionWatch,
    ) -> Result<String>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let outcome = self.pump(reader, writer, watch).await;
        // Ends the shell's job object (all it started) and the console.
        if let Err(e) = self.pty.kill() {
            debug!(error = %e, "ending the pseudo console");
        }
        match outcome {
            Ok(Some(code)) => Ok(format!("the shell exited ({code})")),
            Ok(None) => Ok("ended".into()),
            Err(e) => Ok(format!("ended: {e:#}")),
        }
    }

    async fn pump<R, W>(
        &mut self,
        reader: &mut FrameReader<R>,
        writer: &mut FrameWriter<W>,
        watch: &mut SessionWatch,
    ) -> Result<Option<u32>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut poll = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                why = watch.ended() => {
                    writer.end(why).await;
                    return Ok(None);
                }
                _ = poll.tick() => {
                    if let Some(code) = self.pty.try_wait()? {
                        let last = tokio::time::Instant::now() + LAST_OUTPUT;
                        while let Ok(Some(out)) = tokio::time::timeout_at(last, self.output.recv()).await {
                            writer.frame(RemoteFrame::Data(out)).await?;
                        }
                        writer.frame(RemoteFrame::Exit {
                            // Exit codes are u32 on Windows; as i32, as std does.
                            code: Some(code as i32),
                            signal: None,
                        }).await?;
                        return Ok(Some(code));
                    }
                }
                Some(out) = self.output.recv() => {
                    writer.frame(RemoteFrame::Data(out)).await?;
                }
                frame = reader.recv() => match frame? {
                    Some(RemoteFrame::Data(keys)) => {
                        for line in console_input(&keys) {
                            if self.input.send(line).is_err() {
                                return Ok(None);
                            }
                        }
                    }
                    Some(RemoteFrame::Resize { cols, rows }) => {
                        if let Err(e) = self.pty.resize(cols, rows) {
                            warn!(error = %e, cols, rows, "the pseudo console was not resized");
                        }
                    }
                    Some(RemoteFrame::End { .. }) | None => return Ok(None),
                    Some(_) => {}
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::console_input;

    #[test]
    fn enter_is_a_carriage_return_and_each_line_is_its_own_write() {
        assert_eq!(
            console_input(b"echo a\r\nver\nexit 3\r"),
            vec![
                b"echo a\r".to_vec(),
                b"ver\r".to_vec(),
                b"exit 3\r".to_vec()
            ]
        );
        assert_eq!(console_input(b"di"), vec![b"di".to_vec()]);
        assert_eq!(console_input(b"\x03"), vec![b"\x03".to_vec()]);
        assert!(console_input(b"").is_empty());
    }
}
