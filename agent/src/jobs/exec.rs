//! Running one job: verify, fetch, run, check.
//!
//! Nothing runs unless the manifest verifies against a pinned publisher
//! key and the content matches the manifest's SHA-256 (fetched only when
//! the command names it). The command runs through [`super::command`]
//! (its whole tree killed on a timeout or cancel, its output streamed and
//! kept, capped); its exit code means what the manifest's lists say
//! (success, success with a restart pending, failure). After an install
//! or uninstall the agent collects its software again and says whether
//! the package is present at the expected version.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::jobs::{
    Artifact, ExitMeaning, FILE_PLACEHOLDER, FetchReply, FetchRequest, ItemKind, JobAction,
    JobOrder, JobProgress, JobResult, Manifest, Outcome,
};
use deskhand_shared::proto::{AgentMessage, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tracing::{info, warn};

use super::command::{OUTPUT_CAP, run_command};
use super::{JobEvent, Shared};

/// Largest frame on a content stream (a chunk plus its envelope).
const MAX_FETCH_FRAME: usize = 1024 * 1024;
/// Attempts to finish a content transfer, each resuming the last.
const FETCH_ATTEMPTS: u32 = 30;

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
    // Only a command that names the file needs it: an MSI is removed by
    // its product code, without fetching the package again.
    let needs_file = argv.iter().any(|a| a.contains(FILE_PLACEHOLDER));
    let file = match &manifest.artifact {
        Some(artifact) if needs_file => {
            let fetched = tokio::select! {
                r = tokio::time::timeout(timeout, fetch(shared, artifact)) => {
                    r.map_err(|_| anyhow!("the content transfer did not finish within the job's timeout"))?
                }
                _ = cancel.wait_for(|c| *c) => bail!("cancelled while the content was transferred"),
            };
            Some(fetched?)
        }
        _ => None,
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
        |pid, ends_with_agent| shared.started_group(&job_id, pid, ends_with_agent),
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
    let meaning = out
        .exit_code
        .map(|code| (code, manifest.exit_meaning(code)));
    match meaning {
        Some((_, ExitMeaning::Success)) => {}
        Some((code, ExitMeaning::RebootPending)) => {
            result.message = format!(
                "the command exited with code {code}: it succeeded, and the machine must restart to finish"
            );
        }
        Some((code, ExitMeaning::Failure)) => {
            result.outcome = Outcome::Failed;
            result.message = format!("the command exited with code {code}");
        }
        None => {
            result.outcome = Outcome::Failed;
            result.message = "the command was killed by a signal".into();
        }
    }
    let reboot = matches!(meaning, Some((_, ExitMeaning::RebootPending)));
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
            match verdict {
                Err(why) => {
                    result.outcome = Outcome::Failed;
                    result.message = why;
                }
                Ok(msg) if reboot => {
                    result.message = format!("{msg}; the machine must restart to finish");
                }
                Ok(msg) => result.message = msg,
            }
        } else {
            result.message = format!("{}; {}", result.message, verdict.unwrap_or_else(|e| e));
        }
    } else if result.outcome == Outcome::Succeeded && !reboot {
        result.message = format!(
            "the command exited with code {}",
            out.exit_code.unwrap_or_default()
        );
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
}
