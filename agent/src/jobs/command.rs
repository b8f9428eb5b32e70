//! Running one command: exactly the environment it is given, its output
//! streamed and kept (capped), a timeout and a cancel that kill the
//! whole process tree.
//!
//! The tree: on Unix the command leads a process group of its own; on
//! Windows it runs in a job object that kills every process in it when
//! the agent closes the job (and `taskkill /T` as a fallback where no job
//! object could be made). Output is decoded by [`super::output`]: UTF-8,
//! or UTF-16 as `cmd /U` and some Windows tools write it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use super::output::OutputDecoder;

/// Most output kept per stream in a result.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// How a command ended.
#[derive(Debug)]
pub struct CommandOutcome {
    /// Exit code, if it exited by itself.
    pub exit_code: Option<i32>,
    /// Killed because the time ran out.
    pub timed_out: bool,
    /// Killed because the job was cancelled.
    pub cancelled: bool,
    /// Standard output, capped.
    pub stdout: String,
    /// Standard error, capped.
    pub stderr: String,
}

/// Runs `argv` with exactly the environment `env` (nothing inherited), a
/// timeout and a cancel switch; tells `on_start` the pid of the command
/// (its process group's id on Unix) and whether its tree ends when the
/// agent does (a Windows job object), streams its output to `on_output`
/// and keeps up to [`OUTPUT_CAP`] of each stream.
pub async fn run_command(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
    on_start: impl FnOnce(u32, bool),
    on_output: impl Fn(bool, String) + Send + Sync,
) -> Result<CommandOutcome> {
    let Some((program, args)) = argv.split_first() else {
        bail!("the command is empty");
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    // Suspended until it is in its job object, so that nothing it starts
    // can be outside it.
    #[cfg(windows)]
    cmd.creation_flags(super::win32::CREATE_SUSPENDED);
    let mut child = cmd.spawn().with_context(|| format!("starting {program}"))?;
    let tree = Tree::of(&child);
    #[cfg(windows)]
    if let Err(e) = child.raw_handle().map_or(Ok(()), super::win32::resume) {
        let _ = child.start_kill();
        bail!("starting {program}: it could not be resumed after its creation: {e}");
    }
    if let Some(pid) = tree.pid {
        on_start(pid, tree.ends_with_agent());
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
    let readers = [
        tokio::spawn(pump(stdout, false, out_tx.clone())),
        tokio::spawn(pump(stderr, true, out_tx)),
    ];
    let mut kept = [String::new(), String::new()];
    let mut keep = |stderr: bool, text: String| {
        let buf = &mut kept[usize::from(stderr)];
        if buf.len() < OUTPUT_CAP {
            let room = OUTPUT_CAP - buf.len();
            let mut cut = text.len().min(room);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            buf.push_str(&text[..cut]);
            if cut < text.len() {
                buf.push_str("\n[output truncated]\n");
            }
        }
        on_output(stderr, text);
    };
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    let (mut timed_out, mut cancelled) = (false, false);
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.ok(),
            Some((stderr, text)) = out_rx.recv() => keep(stderr, text),
            () = &mut sleep, if !timed_out && !cancelled => {
                timed_out = true;
                tree.kill();
            }
            Ok(()) = cancel.changed(), if !timed_out && !cancelled => {
                if *cancel.borrow() {
                    cancelled = true;
                    tree.kill();
                }
            }
        }
    };
    if !timed_out && !cancelled {
        // As on Unix, what the command left running in the background
        // (an installer's "launch now", say) outlives it.
        tree.release();
    }
    // Drain what the readers still hold; a grandchild that escaped the
    // group could keep a pipe open, so do not wait for it forever.
    let drain = async {
        while let Some((stderr, text)) = out_rx.recv().await {
            keep(stderr, text);
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    for r in readers {
        r.abort();
    }
    let [stdout, stderr] = kept;
    Ok(CommandOutcome {
        exit_code: if timed_out || cancelled {
            None
        } else {
            status.and_then(|s| s.code())
        },
        timed_out,
        cancelled,
        stdout,
        stderr,
    })
}

async fn pump(
    stream: Option<impl AsyncRead + Unpin>,
    stderr: bool,
    tx: tokio::sync::mpsc::UnboundedSender<(bool, String)>,
) {
    let Some(mut stream) = stream else { return };
    let mut decoder = OutputDecoder::for_this_platform();
    let mut buf = vec![0u8; 8192];
    loop {
        let text = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let rest = decoder.finish();
                if !rest.is_empty() {
                    let _ = tx.send((stderr, rest));
                }
                return;
            }
            Ok(n) => decoder.push(&buf[..n]),
        };
        if !text.is_empty() && tx.send((stderr, text)).is_err() {
            return;
        }
    }
}

/// A running command and everything it starts: on Unix its process
/// group (the command leads it), on Windows a job object it was put in
/// as it started, whose processes' children join it.
struct Tree {
    pid: Option<u32>,
    #[cfg(windows)]
    job: Option<super::win32::Job>,
}

impl Tree {
    fn of(child: &tokio::process::Child) -> Self {
        Self {
            pid: child.id(),
            #[cfg(windows)]
            job: child.raw_handle().and_then(|h| match super::win32::Job::holding(h) {
                Ok(job) => Some(job),
                Err(e) => {
                    // Wine's taskkill has no /T: there, only the command dies.
                    tracing::warn!(error = %e, "no job object for the command; a timeout or cancel falls back to taskkill /T");
                    None
                }
            }),
        }
    }

    /// Whether the tree dies with the agent: a Windows job object closes
    /// with the agent's handle to it, and kills its processes then.
    fn ends_with_agent(&self) -> bool {
        #[cfg(windows)]
        return self.job.is_some();
        #[cfg(not(windows))]
        false
    }

    /// Lets what the command started outlive the agent, once the command
    /// itself has ended.
    fn release(&self) {
        #[cfg(windows)]
        if let Some(job) = &self.job {
            job.release();
        }
    }

    /// Kills the command and everything it started.
    fn kill(&self) {
        let Some(pid) = self.pid else { return };
        #[cfg(unix)]
        {
            if let Some(group) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        }
        #[cfg(windows)]
        {
            if self.job.as_ref().is_some_and(super::win32::Job::terminate) {
                return;
            }
            let _ = std::process::Command::new("taskkill")
                .args(["/PID", &pid.to_string(), "/T", "/F"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    /// Runs `argv` to its end with no cancel and no callbacks.
    async fn quietly(
        argv: &[String],
        env: &[(String, String)],
        dir: &Path,
        timeout: Duration,
    ) -> CommandOutcome {
        let (_tx, mut rx) = watch::channel(false);
        run_command(argv, env, dir, timeout, &mut rx, |_, _| {}, |_, _| {})
            .await
            .expect("runs")
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survivor");
        // The shell starts a grandchild that would write the marker later.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = std::time::Instant::now();
        let out = quietly(
            &argv(&["sh", "-c", &script]),
            &[],
            dir.path(),
            Duration::from_millis(300),
        )
        .await;
        assert!(out.timed_out);
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!marker.exists(), "the grandchild survived the timeout");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn output_is_captured_capped_and_streamed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_tx, mut rx) = watch::channel(false);
        let streamed = std::sync::Mutex::new(0usize);
        let out = run_command(
            &argv(&[
                "sh",
                "-c",
                "echo hello; echo oops >&2; head -c 200000 /dev/zero | tr '\\0' x; exit 3",
            ]),
            &[("GREETING".into(), "hi".into())],
            dir.path(),
            Duration::from_secs(20),
            &mut rx,
            |_, _| {},
            |_, t| *streamed.lock().expect("lock") += t.len(),
        )
        .await
        .expect("runs");
        assert_eq!(out.exit_code, Some(3));
        assert!(out.stdout.starts_with("hello\n"));
        assert!(out.stdout.ends_with("[output truncated]\n"));
        assert!(out.stdout.len() < OUTPUT_CAP + 100);
        assert_eq!(out.stderr, "oops\n");
        assert!(*streamed.lock().expect("lock") >= 200_000);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_command_gets_exactly_the_environment_it_is_given() {
        // The test process has variables of its own (cargo sets some);
        // none of them may reach the command.
        assert!(std::env::vars().count() > 2);
        let dir = tempfile::tempdir().expect("tempdir");
        let (_tx, mut rx) = watch::channel(false);
        let env = super::super::environment::unix_env(
            &super::super::environment::Account {
                name: "root".into(),
                home: "/root".into(),
            },
            &[("LOG_LEVEL".into(), "debug".into())],
        );
        let started = std::sync::Mutex::new(None);
        let out = run_command(
            &argv(&["env"]),
            &env,
            dir.path(),
            Duration::from_secs(20),
            &mut rx,
            |pid, _| *started.lock().expect("lock") = Some(pid),
            |_, _| {},
        )
        .await
        .expect("runs");
        let mut got: Vec<&str> = out.stdout.lines().collect();
        got.sort_unstable();
        let mut want: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        want.sort_unstable();
        assert_eq!(got, want);
        assert!(started.lock().expect("lock").is_some_and(|p| p > 0));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_cancel_kills_a_running_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tx, mut rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            run_command(
                &argv(&["sleep", "30"]),
                &[],
                dir.path(),
                Duration::from_secs(60),
                &mut rx,
                |_, _| {},
                |_, _| {},
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.send(true).expect("send");
        let out = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("ends")
            .expect("joins")
            .expect("runs");
        assert!(out.cancelled);
        assert_eq!(out.exit_code, None);
    }

    #[cfg(windows)]
    fn windows_env() -> Vec<(String, String)> {
        super::super::environment::for_this_machine(&[])
    }

    #[cfg(windows)]
    #[tokio::test]
    async fn cmd_unicode_output_is_decoded_from_utf16() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = quietly(
            &argv(&["cmd", "/U", "/D", "/C", "echo h\u{e9}llo w\u{f6}rld"]),
            &windows_env(),
            dir.path(),
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(out.exit_code, Some(0), "{out:?}");
        assert_eq!(out.stdout.trim_end(), "h\u{e9}llo w\u{f6}rld", "{out:?}");
    }

    #[cfg(windows)]
    #[tokio::test]
    async fn a_timeout_kills_the_whole_windows_process_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survivor.txt");
        // The command starts a grandchild (`start /b`) that would write
        // the marker three seconds later, then waits thirty.
        let script = format!(
            "start /b cmd /d /c \"ping -n 4 127.0.0.1 >nul & echo alive > {}\" & ping -n 30 127.0.0.1 >nul",
            marker.display()
        );
        let started = std::time::Instant::now();
        let out = quietly(
            &argv(&["cmd", "/d", "/c", &script]),
            &windows_env(),
            dir.path(),
            Duration::from_millis(1500),
        )
        .await;
        assert!(out.timed_out, "{out:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(!marker.exists(), "the grandchild survived the timeout");
    }
}
