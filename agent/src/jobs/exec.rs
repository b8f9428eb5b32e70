//! Running one job: verify, fetch, run, check.
//!
//! Nothing runs unless the manifest verifies against a pinned publisher
//! key and the content matches the manifest's SHA-256. Commands run in
//! their own process group (Unix) so a timeout or a cancel kills the
//! whole tree; output is streamed to the server and kept, capped, for the
//! result. After an install or uninstall the agent collects its software
//! again and says whether the package is present at the expected version.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::jobs::{
    Artifact, FILE_PLACEHOLDER, FetchReply, FetchRequest, ItemKind, JobAction, JobOrder,
    JobProgress, JobResult, Manifest, Outcome,
};
use deskhand_shared::proto::{AgentMessage, ServerMessage};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{JobEvent, Shared};

/// Most output kept per stream in a result.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// Largest frame on a content stream (a chunk plus its envelope).
const MAX_FETCH_FRAME: usize = 1024 * 1024;
/// Attempts to finish a content transfer, each resuming the last.
const FETCH_ATTEMPTS: u32 = 30;

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

/// Runs a job to its result; never panics, never returns early without one.
pub(crate) async fn execute(
    shared: &Arc<Shared>,
    order: JobOrder,
    mut cancel: watch::Receiver<bool>,
) -> JobResult {
    let started = crate::unix_now();
    shared.progress(&order.job_id, JobProgress::Running { at: started });
    let timeout = Duration::from_secs(order.timeout_secs.max(1));
    let mut result = match run_action(shared, &order, timeout, &mut cancel).await {
        Ok(r) => r,
        Err(e) => JobResult::new(
            if *cancel.borrow() {
                Outcome::Cancelled
            } else {
                Outcome::Failed
            },
            format!("{e:#}"),
        ),
    };
    result.started_at = Some(started);
    result.finished_at = crate::unix_now();
    result
}

async fn run_action(
    shared: &Arc<Shared>,
    order: &JobOrder,
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Result<JobResult> {
    let (manifest, values, install) = match &order.action {
        JobAction::InventoryRefresh => {
            shared.emit(JobEvent::RefreshInventory);
            return Ok(outcome(Outcome::Succeeded, "inventory collected and sent"));
        }
        JobAction::Diag(req) => return run_diag(req.clone(), timeout, cancel).await,
        JobAction::Install { manifest, params } => (
            verify(shared, manifest, ItemKind::Package)?,
            params.as_slice(),
            Some(true),
        ),
        JobAction::Uninstall(m) => (verify(shared, m, ItemKind::Package)?, &[][..], Some(false)),
        JobAction::Script { manifest, params } => (
            verify(shared, manifest, ItemKind::Script)?,
            params.as_slice(),
            None,
        ),
    };
    // The values are checked against the declarations this agent just
    // verified, before anything is fetched or run.
    let label = format!("{} {}", manifest.name, manifest.version);
    let resolved = deskhand_shared::params::resolve(&label, &manifest.params, values)
        .map_err(|e| anyhow!("refused, nothing was run: {e}"))?;
    let mut argv = if install == Some(false) {
        manifest.uninstall.clone()
    } else {
        manifest.install.clone()
    };
    if argv.is_empty() {
        bail!("the manifest has no uninstall command");
    }
    argv.extend(resolved.args);
    let file = match &manifest.artifact {
        Some(artifact) => {
            let fetched = tokio::select! {
                r = tokio::time::timeout(timeout, fetch(shared, artifact)) => {
                    r.map_err(|_| anyhow!("the content transfer did not finish within the job's timeout"))?
                }
                _ = cancel.wait_for(|c| *c) => bail!("cancelled while the content was transferred"),
            };
            Some(fetched?)
        }
        None => None,
    };
    let argv = substitute(&argv, file.as_deref());
    let cwd = match &manifest.workdir {
        Some(dir) => PathBuf::from(dir),
        None => shared.cache_dir(),
    };
    let env = super::environment::for_this_machine(&resolved.env);
    info!(job_id = %order.job_id, command = ?argv, "running a job's command");
    let job_id = order.job_id.clone();
    let out = run_command(
        &argv,
        &env,
        &cwd,
        timeout,
        cancel,
        |pid| shared.started_group(&job_id, pid),
        |stderr, text| {
            shared.progress(&job_id, JobProgress::Output { stderr, text });
        },
    )
    .await?;
    let mut result = JobResult {
        exit_code: out.exit_code,
        stdout: out.stdout,
        stderr: out.stderr,
        ..JobResult::new(Outcome::Succeeded, "")
    };
    if out.cancelled {
        result.outcome = Outcome::Cancelled;
        result.message = "cancelled by an operator; the command's process tree was killed".into();
        return Ok(result);
    }
    if out.timed_out {
        result.outcome = Outcome::Failed;
        result.message = format!(
            "timed out after {}; the command's process tree was killed",
            humantime::format_duration(timeout)
        );
        return Ok(result);
    }
    if out.exit_code != Some(0) {
        result.outcome = Outcome::Failed;
        result.message = match out.exit_code {
            Some(code) => format!("the command exited with code {code}"),
            None => "the command was killed by a signal".into(),
        };
    }
    if let (Some(install), Some(check)) = (install, &manifest.check) {
        let inventory = tokio::task::spawn_blocking(crate::inventory::collect)
            .await
            .context("collecting the software inventory after the job")?;
        shared.emit(JobEvent::RefreshInventory);
        let found = inventory
            .software
            .iter()
            .find(|p| p.name == check.package)
            .map(|p| p.version.clone());
        result.installed_version = found.clone();
        let verdict = check_presence(install, &check.package, &check.version, found.as_deref());
        if result.outcome == Outcome::Succeeded {
            if let Err(why) = &verdict {
                result.outcome = Outcome::Failed;
                result.message = why.clone();
            } else if let Ok(msg) = verdict {
                result.message = msg;
            }
        } else {
            result.message = format!("{}; {}", result.message, verdict.unwrap_or_else(|e| e));
        }
    } else if result.outcome == Outcome::Succeeded {
        result.message = "the command exited with code 0".into();
    }
    Ok(result)
}

/// Runs a diagnostic as a job; its rendered tables are the job's output.
async fn run_diag(
    req: deskhand_shared::diag::DiagRequest,
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Result<JobResult> {
    let result = tokio::select! {
        r = crate::diag::collect(req, timeout) => r,
        _ = cancel.wait_for(|c| *c) => {
            return Ok(outcome(Outcome::Cancelled, "cancelled by an operator"));
        }
    };
    let mut text = deskhand_shared::diag::render::render_text(&result);
    if text.len() > OUTPUT_CAP {
        let mut cut = OUTPUT_CAP;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n[output truncated]\n");
    }
    let mut r = outcome(
        if result.ok {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        },
        &match &result.error {
            Some(e) => format!("the diagnostic failed: {e}"),
            None => format!("the diagnostic ran in {} ms", result.micros / 1000),
        },
    );
    r.stdout = text;
    Ok(r)
}

/// Whether the inventory agrees with what the job meant to do.
pub fn check_presence(
    install: bool,
    package: &str,
    expected: &str,
    found: Option<&str>,
) -> Result<String, String> {
    match (install, found) {
        (true, Some(v)) if v == expected => Ok(format!("{package} {v} is installed")),
        (true, Some(v)) => Err(format!(
            "{package} is installed at version {v}, not the expected {expected}"
        )),
        (true, None) => Err(format!(
            "{package} is not in the inventory after the install"
        )),
        (false, None) => Ok(format!("{package} is no longer installed")),
        (false, Some(v)) => Err(format!("{package} {v} is still installed")),
    }
}

fn outcome(outcome: Outcome, message: &str) -> JobResult {
    JobResult::new(outcome, message)
}

fn verify(
    shared: &Shared,
    signed: &deskhand_shared::jobs::SignedManifest,
    kind: ItemKind,
) -> Result<Manifest> {
    let manifest = signed
        .verify(shared.trusted())
        .map_err(|e| anyhow!("refused, nothing was run: {e}"))?;
    if manifest.kind != kind {
        bail!(
            "refused, nothing was run: the manifest describes a {}, not a {}",
            manifest.kind.as_str(),
            kind.as_str()
        );
    }
    Ok(manifest)
}

fn substitute(argv: &[String], file: Option<&Path>) -> Vec<String> {
    let path = file.map(|f| f.to_string_lossy().into_owned());
    argv.iter()
        .map(|a| match &path {
            Some(p) => a.replace(FILE_PLACEHOLDER, p),
            None => a.clone(),
        })
        .collect()
}

/// The verified content of `artifact`, from the cache or fetched from the
/// server in chunks, resuming after a disconnect.
async fn fetch(shared: &Shared, artifact: &Artifact) -> Result<PathBuf> {
    let lock = shared.fetch_lock(&artifact.sha256);
    let _guard = lock.lock().await;
    let dir = shared.cache_dir();
    let done = dir.join(format!(
        "{}.{}",
        artifact.sha256,
        sanitize(&artifact.format)
    ));
    if done.exists() {
        if sha256_file(&done).await? == artifact.sha256 {
            return Ok(done);
        }
        warn!(path = %done.display(), "a cached artifact changed on disk; fetching it again");
        let _ = tokio::fs::remove_file(&done).await;
    }
    let part = dir.join(format!("{}.part", artifact.sha256));
    let mut conn_rx = shared.connection();
    let mut last_error = None;
    for _ in 0..FETCH_ATTEMPTS {
        let have = tokio::fs::metadata(&part)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        if have > artifact.size {
            let _ = tokio::fs::remove_file(&part).await;
            continue;
        }
        if have == artifact.size {
            break;
        }
        // A live connection: the one that failed stays published until its
        // session notices, so skip closed ones.
        let conn = conn_rx
            .wait_for(|c| c.as_ref().is_some_and(|c| c.close_reason().is_none()))
            .await
            .map_err(|_| anyhow!("the agent is stopping"))?
            .clone();
        let Some(conn) = conn else { continue };
        match fetch_from(&conn, artifact, &part, have).await {
            Ok(()) => {}
            Err(e) => {
                warn!(error = %format!("{e:#}"), "content transfer interrupted; resuming");
                last_error = Some(e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    if have != artifact.size {
        return Err(last_error
            .unwrap_or_else(|| anyhow!("the content transfer did not complete"))
            .context("fetching the job's content"));
    }
    let digest = sha256_file(&part).await?;
    if digest != artifact.sha256 {
        let _ = tokio::fs::remove_file(&part).await;
        bail!(
            "refused, nothing was run: the content's SHA-256 is {digest}, not the {} its signed manifest names (the artifact was altered)",
            artifact.sha256
        );
    }
    tokio::fs::rename(&part, &done).await?;
    Ok(done)
}

fn sanitize(format: &str) -> String {
    format
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect()
}

async fn fetch_from(
    conn: &quinn::Connection,
    artifact: &Artifact,
    part: &Path,
    offset: u64,
) -> Result<()> {
    use deskhand_net::stream::{recv, send};
    info!(sha256 = %artifact.sha256, offset, size = artifact.size, "fetching content");
    let (mut tx, mut rx) = conn.open_bi().await.context("opening a content stream")?;
    send(
        &mut tx,
        &AgentMessage::Fetch(FetchRequest {
            sha256: artifact.sha256.clone(),
            offset,
        }),
    )
    .await?;
    let _ = tx.finish();
    let mut decoder = FrameDecoder::new(MAX_FETCH_FRAME);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .await
        .with_context(|| format!("opening {}", part.display()))?;
    let mut have = offset;
    loop {
        match recv::<ServerMessage>(&mut rx, &mut decoder).await? {
            Some(ServerMessage::Fetch(FetchReply::Start { size })) => {
                if size != artifact.size {
                    bail!(
                        "the server's content is {size} bytes, but the signed manifest says {}",
                        artifact.size
                    );
                }
            }
            Some(ServerMessage::Fetch(FetchReply::Chunk(bytes))) => {
                have += bytes.len() as u64;
                if have > artifact.size {
                    bail!("the server sent more content than the manifest's size");
                }
                file.write_all(&bytes).await?;
            }
            Some(ServerMessage::Fetch(FetchReply::Missing(why))) => bail!("the server: {why}"),
            Some(other) => bail!("unexpected message on a content stream: {other:?}"),
            None => break,
        }
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(())
}

async fn sha256_file(path: &Path) -> Result<String> {
    let mut f = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex::encode(ctx.finish()))
}

/// Runs `argv` with exactly the environment `env` (nothing inherited), a
/// timeout and a cancel switch; tells `on_start` the pid of the command
/// (its process group's id on Unix), streams its output to `on_output`
/// and keeps up to [`OUTPUT_CAP`] of each stream.
pub async fn run_command(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    timeout: Duration,
    cancel: &mut watch::Receiver<bool>,
    on_start: impl FnOnce(u32),
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
    let mut child = cmd.spawn().with_context(|| format!("starting {program}"))?;
    let pid = child.id();
    if let Some(pid) = pid {
        on_start(pid);
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
                kill_tree(pid);
            }
            Ok(()) = cancel.changed(), if !timed_out && !cancelled => {
                if *cancel.borrow() {
                    cancelled = true;
                    kill_tree(pid);
                }
            }
        }
    };
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
    let mut buf = vec![0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx
                    .send((stderr, String::from_utf8_lossy(&buf[..n]).into_owned()))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Kills a command and everything it started.
fn kill_tree(pid: Option<u32>) {
    let Some(pid) = pid else { return };
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
        let _ = std::process::Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T", "/F"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn presence_checks_say_what_the_inventory_shows() {
        assert!(check_presence(true, "hello", "1.0", Some("1.0")).is_ok());
        assert!(
            check_presence(true, "hello", "1.0", Some("0.9")).is_err_and(|e| e.contains("0.9"))
        );
        assert!(check_presence(true, "hello", "1.0", None).is_err());
        assert!(check_presence(false, "hello", "1.0", None).is_ok());
        assert!(check_presence(false, "hello", "1.0", Some("1.0")).is_err());
    }

    #[test]
    fn the_file_placeholder_becomes_the_artifact_path() {
        let out = substitute(
            &argv(&["dpkg", "-i", FILE_PLACEHOLDER]),
            Some(Path::new("/c/x.deb")),
        );
        assert_eq!(out, argv(&["dpkg", "-i", "/c/x.deb"]));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_timeout_kills_the_whole_process_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survivor");
        // The shell starts a grandchild that would write the marker later.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let (_tx, mut rx) = watch::channel(false);
        let started = std::time::Instant::now();
        let out = run_command(
            &argv(&["sh", "-c", &script]),
            &[],
            dir.path(),
            Duration::from_millis(300),
            &mut rx,
            |_| {},
            |_, _| {},
        )
        .await
        .expect("runs");
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
            |_| {},
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
            |pid| *started.lock().expect("lock") = Some(pid),
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
                |_| {},
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
}
