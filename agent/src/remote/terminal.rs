//! A remote terminal on Unix: a shell on a real pseudo-terminal
//! (`pty_unix`), its own session and process group, a clean environment.
//! Keystrokes and `Resize` come in; output goes out as `Data` (coalesced
//! up to 16 KiB) and, when the shell exits, `Exit`. Ending for any other
//! reason (the stream gone, consent over) hangs the group up, then kills
//! it after 2 s, and reaps the shell.
//!
//! As the service's account (root) by default; `as_user` runs
//! `runuser -l USER` for the user logged in on this machine.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use deskhand_shared::remote::RemoteFrame;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::Child;

use super::pty_unix;
use super::{FrameReader, FrameWriter, SessionWatch};

/// The most output bytes one `Data` frame carries.
const COALESCE: usize = 16 * 1024;
/// How long a hung-up shell has before it is killed.
const HANGUP_GRACE: Duration = Duration::from_secs(2);

/// One account line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Account {
    name: String,
    home: String,
    shell: String,
}

/// The /etc/passwd line of `uid`. Pure.
pub(super) fn passwd_account(passwd: &str, uid: u32) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| Account {
            name: f[0].to_string(),
            home: f[5].to_string(),
            shell: f[6].to_string(),
        })
    })
}

/// The shell to start: the account's if it is a real one that exists,
/// else /bin/bash, else /bin/sh. Pure but for `exists`.
pub(super) fn pick_shell(account_shell: &str, exists: impl Fn(&Path) -> bool) -> PathBuf {
    let sane = account_shell.starts_with('/')
        && !account_shell.ends_with("nologin")
        && !account_shell.ends_with("false");
    [account_shell, "/bin/bash", "/bin/sh"]
        .into_iter()
        .skip(usize::from(!sane))
        .map(PathBuf::from)
        .find(|p| exists(p))
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// The user logged in on this machine, from `who`'s output: a non-root
/// user, one on a local seat (not a `pts/` line) first. Pure.
pub(super) fn logged_in_user(who: &str) -> Option<String> {
    let users: Vec<(&str, &str)> = who
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next().unwrap_or("")))
        })
        .filter(|(user, _)| *user != "root")
        .collect();
    users
        .iter()
        .find(|(_, line)| !line.starts_with("pts/"))
        .or(users.first())
        .map(|(user, _)| user.to_string())
}

/// How to start the shell.
#[derive(Debug)]
struct ShellSpec {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn base_env() -> Vec<(String, String)> {
    vec![
        ("TERM".into(), "xterm-256color".into()),
        ("PATH".into(), PATH.into()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

/// The service account's own shell, in its home.
fn own_shell() -> ShellSpec {
    let uid = pty_unix::euid();
    let account = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| passwd_account(&p, uid))
        .unwrap_or_else(|| Account {
            name: if uid == 0 {
                "root".into()
            } else {
                format!("uid{uid}")
            },
            home: "/".into(),
            shell: String::new(),
        });
    let mut env = base_env();
    env.push(("HOME".into(), account.home.clone()));
    env.push(("USER".into(), account.name.clone()));
    let cwd = PathBuf::from(&account.home);
    ShellSpec {
        program: pick_shell(&account.shell, Path::exists),
        args: Vec::new(),
        env,
        cwd: if cwd.is_dir() {
            cwd
        } else {
            PathBuf::from("/")
        },
    }
}

/// A login shell of the user logged in here, through `runuser`.
async fn user_shell() -> Result<ShellSpec, String> {
    if pty_unix::euid() != 0 {
        return Err(
            "a terminal as the logged-in user needs the agent to run as root, and it does not"
                .into(),
        );
    }
    let who = tokio::process::Command::new("who")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot tell who is logged in (who: {e})"))?;
    let user = logged_in_user(&String::from_utf8_lossy(&who.stdout))
        .ok_or("no user is logged in on this machine")?;
    Ok(ShellSpec {
        program: PathBuf::from("runuser"),
        args: vec!["-l".into(), user],
        env: base_env(),
        cwd: PathBuf::from("/"),
    })
}

/// A shell running on a pseudo-terminal.
#[derive(Debug)]
pub(super) struct Terminal {
    master: AsyncFd<File>,
    child: Child,
    pgid: u32,
}

/// Starts the shell for a session: refuses with a sentence if it cannot.
pub(super) async fn prepare(cols: u16, rows: u16, as_user: bool) -> Result<Terminal, String> {
    let spec = if as_user {
        user_shell().await?
    } else {
        own_shell()
    };
    spawn(&spec, cols, rows).map_err(|e| {
        format!(
            "cannot start {} on a terminal: {e:#}",
            spec.program.display()
        )
    })
}

fn spawn(spec: &ShellSpec, cols: u16, rows: u16) -> Result<Terminal> {
    let (master, slave) = pty_unix::open(cols, rows).context("opening a pseudo-terminal")?;
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave))
        // Dropped before it ran (the acceptance could not be sent): gone too.
        .kill_on_drop(true);
    pty_unix::controlling_terminal(&mut cmd);
    let child = cmd.spawn()?;
    // The command holds the slave's copies: closed here, so the master
    // sees the end once the shell's side is gone.
    drop(cmd);
    let pgid = child.id().context("the shell ended at once")?;
    Ok(Terminal {
        master: pty_unix::async_master(master)?,
        child,
        pgid,
    })
}

/// Some output, or `Ok(0)` once the terminal's other side is closed
/// (Linux says EIO). Cancel-safe.
async fn read_some(master: &AsyncFd<File>, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        let mut guard = master.readable().await?;
        match guard.try_io(|f| f.get_ref().read(buf)) {
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Ok(0),
            Ok(r) => return r,
            Err(_would_block) => continue,
        }
    }
}

/// What is readable now without waiting, up to `buf`'s room.
fn read_ready(master: &AsyncFd<File>, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while buf.len() < COALESCE {
        let room = (COALESCE - buf.len()).min(chunk.len());
        match master.get_ref().read(&mut chunk[..room]) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

async fn write_all(master: &AsyncFd<File>, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let mut guard = master.writable().await?;
        match guard.try_io(|f| f.get_ref().write(bytes)) {
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
    Ok(())
}

fn exit_frame(status: std::process::ExitStatus) -> RemoteFrame {
    use std::os::unix::process::ExitStatusExt;
    RemoteFrame::Exit {
        code: status.code(),
        signal: status.signal(),
    }
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
        if let Ok(Some(status)) = &outcome {
            // What the shell left running goes with it.
            pty_unix::signal_group(self.pgid, libc::SIGHUP);
            return Ok(format!("the shell exited ({status})"));
        }
        self.stop().await;
        match outcome {
            Ok(_) => Ok("ended".into()),
            Err(e) => Ok(format!("ended: {e:#}")),
        }
    }

    /// The session's loop: `Some(status)` when the shell exited (and
    /// `Exit` went out), `None` when the session ended otherwise.
    async fn pump<R, W>(
        &mut self,
        reader: &mut FrameReader<R>,
        writer: &mut FrameWriter<W>,
        watch: &mut SessionWatch,
    ) -> Result<Option<std::process::ExitStatus>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buf = vec![0u8; COALESCE];
        let mut output_open = true;
        loop {
            tokio::select! {
                why = watch.ended() => {
                    writer.end(why).await;
                    return Ok(None);
                }
                status = self.child.wait() => {
                    let status = status?;
                    let mut rest = Vec::new();
                    // What the shell wrote last, bounded.
                    for _ in 0..64 {
                        rest.clear();
                        read_ready(&self.master, &mut rest);
                        if rest.is_empty() {
                            break;
                        }
                        writer.frame(RemoteFrame::Data(rest.clone())).await?;
                    }
                    writer.frame(exit_frame(status)).await?;
                    return Ok(Some(status));
                }
                n = read_some(&self.master, &mut buf), if output_open => {
                    let n = n?;
                    if n == 0 {
                        // The shell closed the terminal; its exit follows.
                        output_open = false;
                        continue;
                    }
                    let mut out = buf[..n].to_vec();
                    read_ready(&self.master, &mut out);
                    writer.frame(RemoteFrame::Data(out)).await?;
                }
                frame = reader.recv() => match frame? {
                    Some(RemoteFrame::Data(keys)) => write_all(&self.master, &keys).await?,
                    Some(RemoteFrame::Resize { cols, rows }) => {
                        pty_unix::resize(self.master.get_ref(), cols, rows)?;
                    }
                    Some(RemoteFrame::End { .. }) | None => return Ok(None),
                    Some(_) => {}
                },
            }
        }
    }

    /// Hangs the shell's group up, kills it after [`HANGUP_GRACE`], reaps it.
    async fn stop(mut self) {
        pty_unix::signal_group(self.pgid, libc::SIGHUP);
        drop(self.master);
        if tokio::time::timeout(HANGUP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            pty_unix::signal_group(self.pgid, libc::SIGKILL);
            let _ = self.child.kill().await;
        }
    }
}

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;
