//! Jobs on the agent: the ledger on disk, the running jobs, and the events
//! the session forwards to the server.
//!
//! [`Jobs`] outlives sessions: a job keeps running while the agent
//! reconnects, and its result waits in the ledger's outbox until the
//! server acknowledges it. The session ([`crate::link`]) hands orders,
//! cancels and acknowledgements in, tells it the current connection (for
//! content transfers), and forwards the [`JobEvent`]s it emits.

pub mod command;
pub mod environment;
pub mod exec;
pub mod ledger;
pub mod orphans;
pub mod output;
#[cfg(windows)]
pub(crate) mod win32;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use deskhand_shared::jobs::{JobOrder, JobProgress, JobResult, JobUpdate};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use ledger::{Decision, Ledger};

/// What the session should do for the jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// Send this update to the server.
    Update(JobUpdate),
    /// Collect and send the inventory now (after an install, or asked).
    RefreshInventory,
}

pub(crate) struct Shared {
    dir: PathBuf,
    trusted: Vec<String>,
    ledger: Mutex<Ledger>,
    active: Mutex<HashMap<String, watch::Sender<bool>>>,
    events: mpsc::UnboundedSender<JobEvent>,
    conn: watch::Sender<Option<quinn::Connection>>,
    /// One lock per artifact, so concurrent jobs that need the same
    /// content fetch it once.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ledger_path(&self) -> PathBuf {
        self.dir.join("ledger.json")
    }

    /// Saves the ledger; a failure is logged (the job still reports).
    fn save(&self, ledger: &Ledger) -> bool {
        match ledger.save(&self.ledger_path()) {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "could not save the job ledger");
                false
            }
        }
    }

    pub(crate) fn emit(&self, event: JobEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn progress(&self, job_id: &str, progress: JobProgress) {
        self.emit(JobEvent::Update(JobUpdate {
            job_id: job_id.to_string(),
            progress,
        }));
    }

    /// Records the process group a job's command started in, durably, so
    /// that an agent killed meanwhile can stop it at its next start.
    pub(crate) fn started_group(&self, job_id: &str, pid: u32, ends_with_agent: bool) {
        let group = orphans::record(pid, ends_with_agent);
        let mut ledger = self.ledger();
        ledger.started_group(job_id, group);
        self.save(&ledger);
    }

    /// Records a result in the outbox and sends it.
    fn finish(&self, job_id: &str, result: JobResult) {
        {
            let mut ledger = self.ledger();
            ledger.finish(job_id, result.clone());
            self.save(&ledger);
        }
        info!(%job_id, outcome = result.outcome.as_str(), message = %result.message, "job ended");
        self.progress(job_id, JobProgress::Finished(result));
    }

    pub(crate) fn cache_dir(&self) -> PathBuf {
        self.dir.join("cache")
    }

    pub(crate) fn trusted(&self) -> &[String] {
        &self.trusted
    }

    pub(crate) fn connection(&self) -> watch::Receiver<Option<quinn::Connection>> {
        self.conn.subscribe()
    }

    /// The lock for fetching one artifact.
    pub(crate) fn fetch_lock(&self, sha256: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.fetching.lock().unwrap_or_else(|e| e.into_inner());
        // Forget locks nobody holds.
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(sha256.to_string()).or_default().clone()
    }
}

/// The agent's jobs: cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

impl Jobs {
    /// Opens the ledger under `state_dir/jobs`; returns the jobs and the
    /// events the session must forward.
    pub fn open(
        state_dir: &Path,
        trusted: Vec<String>,
    ) -> Result<(Self, mpsc::UnboundedReceiver<JobEvent>)> {
        let dir = state_dir.join("jobs");
        std::fs::create_dir_all(dir.join("cache"))
            .with_context(|| format!("creating {}", dir.display()))?;
        // Commands run in the cache directory and get absolute paths.
        let dir = std::fs::canonicalize(&dir)
            .map(|d| PathBuf::from(plain_path(&d.to_string_lossy())))
            .with_context(|| format!("resolving {}", dir.display()))?;
        let path = dir.join("ledger.json");
        let mut ledger = match Ledger::load(&path) {
            Ok(l) => l,
            Err(e) => {
                // Keep the evidence; jobs already run would be answered
                // "unknown" and could run again, so say so loudly.
                let aside = path.with_extension("corrupt");
                let _ = std::fs::rename(&path, &aside);
                warn!(error = %format!("{e:#}"), moved_to = %aside.display(),
                    "the job ledger was unreadable; starting a new one");
                Ledger::default()
            }
        };
        ledger.prune(crate::unix_now());
        // Jobs this agent was running when it died: stop what they left
        // behind, and report them failed (not run again).
        let orphaned = ledger.orphans();
        for (job_id, started_at, group) in &orphaned {
            let note = orphans::reap(group);
            warn!(%job_id, pgid = group.pgid, %note, "a job was running when the agent stopped");
            ledger.abandon(job_id, *started_at, &note, crate::unix_now());
        }
        if !orphaned.is_empty()
            && let Err(e) = ledger.save(&path)
        {
            warn!(error = %format!("{e:#}"), "could not save the job ledger");
        }
        let (events, rx) = mpsc::unbounded_channel();
        let (conn, _) = watch::channel(None);
        Ok((
            Self {
                shared: Arc::new(Shared {
                    dir,
                    trusted,
                    ledger: Mutex::new(ledger),
                    active: Mutex::default(),
                    events,
                    conn,
                    fetching: Mutex::default(),
                }),
            },
            rx,
        ))
    }

    /// The session's connection, or `None` while disconnected.
    pub fn set_connection(&self, conn: Option<quinn::Connection>) {
        self.shared.conn.send_replace(conn);
    }

    /// Results not yet acknowledged, to send after (re)connecting.
    pub fn outbox(&self) -> Vec<JobUpdate> {
        self.shared
            .ledger()
            .outbox()
            .into_iter()
            .map(|(job_id, result)| JobUpdate {
                job_id,
                progress: JobProgress::Finished(result),
            })
            .collect()
    }

    /// Handles an order from the server: runs it once, or reports.
    pub fn order(&self, order: JobOrder) {
        let shared = &self.shared;
        let active = shared.active().contains_key(&order.job_id);
        let decision = {
            let mut ledger = shared.ledger();
            let decision = ledger.on_order(&order, active, crate::unix_now());
            // Started must be on disk before anything runs.
            let saved = decision == Decision::AlreadyRunning || shared.save(&ledger);
            if decision == Decision::Run && !saved {
                drop(ledger);
                shared.finish(
                    &order.job_id,
                    failed("the agent cannot write its job ledger, so it cannot promise to run this job once; it was not run"),
                );
                return;
            }
            decision
        };
        match decision {
            Decision::AlreadyRunning => {}
            Decision::Report(result) => {
                shared.progress(&order.job_id, JobProgress::Finished(result));
            }
            Decision::Run => {
                shared.progress(&order.job_id, JobProgress::Received);
                let (cancel_tx, cancel_rx) = watch::channel(false);
                shared.active().insert(order.job_id.clone(), cancel_tx);
                let shared = shared.clone();
                info!(job_id = %order.job_id, action = order.action.name(), "job received");
                tokio::spawn(async move {
                    let job_id = order.job_id.clone();
                    let result = exec::execute(&shared, order, cancel_rx).await;
                    shared.finish(&job_id, result);
                    shared.active().remove(&job_id);
                });
            }
        }
    }

    /// Cancels a job: kills it if it runs, keeps it from running if not.
    pub fn cancel(&self, job_id: &str) {
        if let Some(tx) = self.shared.active().get(job_id) {
            info!(%job_id, "cancelling a running job");
            let _ = tx.send(true);
            return;
        }
        let result = {
            let mut ledger = self.shared.ledger();
            let r = ledger.on_cancel(job_id, crate::unix_now());
            self.shared.save(&ledger);
            r
        };
        self.shared.progress(job_id, JobProgress::Finished(result));
    }

    /// The server committed a result.
    pub fn ack(&self, job_id: &str) {
        let mut ledger = self.shared.ledger();
        ledger.ack(job_id);
        self.shared.save(&ledger);
    }
}

/// `path` without Windows' verbatim prefix (`\\?\C:\...` becomes
/// `C:\...`) when that names the same file: a drive path shorter than
/// the old limit, with no `.` or `..` parts. Windows' canonical paths
/// carry the prefix, and PowerShell's `-File` and some installers refuse
/// it. Anything else is returned as it is.
pub fn plain_path(path: &str) -> String {
    let Some(rest) = path.strip_prefix(r"\\?\") else {
        return path.to_string();
    };
    let b = rest.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\';
    let dots = rest.split('\\').any(|part| part == "." || part == "..");
    if drive && !dots && rest.len() < 260 {
        rest.to_string()
    } else {
        path.to_string()
    }
}

fn failed(message: &str) -> JobResult {
    JobResult {
        finished_at: crate::unix_now(),
        ..JobResult::new(deskhand_shared::jobs::Outcome::Failed, message)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_path;

    #[test]
    fn verbatim_drive_paths_lose_their_prefix_and_nothing_else_changes() {
        assert_eq!(
            plain_path(r"\\?\C:\ProgramData\deskhand\jobs"),
            r"C:\ProgramData\deskhand\jobs"
        );
        for kept in [
            r"\\?\UNC\server\share\jobs",
            r"\\?\C:\a\..\b",
            "/var/lib/deskhand-agent/jobs",
            r"C:\already\plain",
        ] {
            assert_eq!(plain_path(kept), kept);
        }
        let long = format!(r"\\?\C:\{}", "x".repeat(300));
        assert_eq!(plain_path(&long), long);
    }
}
