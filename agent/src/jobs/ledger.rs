//! The agent's job ledger and result outbox: plain code, time an argument.
//!
//! The server sends each job at least once (again after a reconnect, a
//! server restart, a lost acknowledgement). The ledger, kept on disk,
//! records every job id the agent has seen, so that a job runs at most
//! once: a job is marked started, and the ledger saved, before its
//! command starts; a job found started after an agent restart is reported
//! failed, never run again. A finished job's result stays in the outbox
//! until the server acknowledges it (it does so after committing it), so
//! a result produced while the server is unreachable is delivered later.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use deskhand_shared::jobs::{JobOrder, JobResult, Outcome};
use serde::{Deserialize, Serialize};

use super::orphans::ProcessGroup;

/// How long an acknowledged result is remembered, so that a late re-send
/// of its order is answered rather than run again.
pub const KEEP_ACKED_SECS: i64 = 30 * 24 * 3600;

/// What the ledger knows of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// The job's command may have started at this time.
    Started(i64),
    /// The job ended; `acked` once the server has committed the result.
    Done {
        /// The result.
        result: JobResult,
        /// Whether the server acknowledged it.
        acked: bool,
    },
}

/// What to do with an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it (it is now recorded as started).
    Run,
    /// It is running in this process already; nothing to do.
    AlreadyRunning,
    /// Report this result (the job will not run, or already ran).
    Report(JobResult),
}

/// The ledger: every job id seen, and the outbox of unacknowledged results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    jobs: BTreeMap<String, Entry>,
    /// The process group of each job whose command is running, so that an
    /// agent that died meanwhile can kill what it left behind
    /// ([`super::orphans`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    groups: BTreeMap<String, ProcessGroup>,
}

fn ended(
    outcome: Outcome,
    message: impl Into<String>,
    started_at: Option<i64>,
    now: i64,
) -> JobResult {
    JobResult {
        started_at,
        finished_at: now,
        ..JobResult::new(outcome, message)
    }
}

impl Ledger {
    /// Decides what to do with an order received at `now`; `active` says
    /// whether this process is running the job right now.
    pub fn on_order(&mut self, order: &JobOrder, active: bool, now: i64) -> Decision {
        match self.jobs.get(&order.job_id) {
            None if now > order.deadline => {
                let r = ended(
                    Outcome::Expired,
                    "the job's deadline passed before it reached the agent; it was not run",
                    None,
                    now,
                );
                self.finish(&order.job_id, r.clone());
                Decision::Report(r)
            }
            None => {
                self.jobs.insert(order.job_id.clone(), Entry::Started(now));
                Decision::Run
            }
            Some(Entry::Started(_)) if active => Decision::AlreadyRunning,
            Some(Entry::Started(at)) => {
                let r = ended(
                    Outcome::Failed,
                    "the agent stopped while this job was running; it was not run again",
                    Some(*at),
                    now,
                );
                self.finish(&order.job_id, r.clone());
                Decision::Report(r)
            }
            Some(Entry::Done { result, .. }) => Decision::Report(result.clone()),
        }
    }

    /// A cancel for a job this process is not running: a job not seen yet
    /// is recorded as cancelled so that a later order does not run it.
    /// Returns the result to report.
    pub fn on_cancel(&mut self, job_id: &str, now: i64) -> JobResult {
        match self.jobs.get(job_id) {
            Some(Entry::Done { result, .. }) => result.clone(),
            Some(Entry::Started(at)) => {
                // Started before an agent restart and never finished.
                let r = ended(
                    Outcome::Cancelled,
                    "cancelled; the agent had stopped while the job was running",
                    Some(*at),
                    now,
                );
                self.finish(job_id, r.clone());
                r
            }
            None => {
                let r = ended(Outcome::Cancelled, "cancelled before it started", None, now);
                self.finish(job_id, r.clone());
                r
            }
        }
    }

    /// Records the process group a started job's command runs in.
    pub fn started_group(&mut self, job_id: &str, group: ProcessGroup) {
        if matches!(self.jobs.get(job_id), Some(Entry::Started(_))) {
            self.groups.insert(job_id.to_string(), group);
        }
    }

    /// Jobs recorded as started whose command's process group is known:
    /// after an agent restart, what a dead agent may have left running.
    pub fn orphans(&self) -> Vec<(String, i64, ProcessGroup)> {
        self.groups
            .iter()
            .filter_map(|(id, g)| match self.jobs.get(id) {
                Some(Entry::Started(at)) => Some((id.clone(), *at, g.clone())),
                _ => None,
            })
            .collect()
    }

    /// Ends a job the agent stopped in the middle of (found at start):
    /// failed, with `note` saying what became of its processes.
    pub fn abandon(&mut self, job_id: &str, started_at: i64, note: &str, now: i64) {
        let r = ended(
            Outcome::Failed,
            format!("the agent stopped while this job was running; it was not run again; {note}"),
            Some(started_at),
            now,
        );
        self.finish(job_id, r);
    }

    /// Records a job's result, into the outbox.
    pub fn finish(&mut self, job_id: &str, result: JobResult) {
        self.groups.remove(job_id);
        self.jobs.insert(
            job_id.to_string(),
            Entry::Done {
                result,
                acked: false,
            },
        );
    }

    /// The server committed this job's result.
    pub fn ack(&mut self, job_id: &str) {
        if let Some(Entry::Done { acked, .. }) = self.jobs.get_mut(job_id) {
            *acked = true;
        }
    }

    /// Results not yet acknowledged, oldest job id first.
    pub fn outbox(&self) -> Vec<(String, JobResult)> {
        self.jobs
            .iter()
            .filter_map(|(id, e)| match e {
                Entry::Done {
                    result,
                    acked: false,
                } => Some((id.clone(), result.clone())),
                _ => None,
            })
            .collect()
    }

    /// Forgets acknowledged results older than [`KEEP_ACKED_SECS`].
    pub fn prune(&mut self, now: i64) {
        self.jobs.retain(|_, e| match e {
            Entry::Done {
                result,
                acked: true,
            } => now - result.finished_at < KEEP_ACKED_SECS,
            _ => true,
        });
    }

    /// How many job ids the ledger remembers.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// What the ledger holds for a job.
    pub fn get(&self, job_id: &str) -> Option<&Entry> {
        self.jobs.get(job_id)
    }

    /// Loads the ledger; a missing file is an empty ledger.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("the job ledger {} is corrupt", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Saves the ledger durably: a temporary file, synced, then renamed.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(self)?;
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskhand_shared::jobs::JobAction;

    fn order(id: &str, deadline: i64) -> JobOrder {
        JobOrder {
            job_id: id.into(),
            action: JobAction::InventoryRefresh,
            deadline,
            timeout_secs: 60,
        }
    }

    fn ok(now: i64) -> JobResult {
        JobResult {
            exit_code: Some(0),
            ..ended(Outcome::Succeeded, "done", Some(now - 1), now)
        }
    }

    #[test]
    fn a_job_runs_once_however_often_it_is_sent() {
        let mut l = Ledger::default();
        let o = order("j1", 1000);
        assert_eq!(l.on_order(&o, false, 10), Decision::Run);
        // Re-sent while it runs (a reconnect): nothing new.
        assert_eq!(l.on_order(&o, true, 11), Decision::AlreadyRunning);
        l.finish("j1", ok(12));
        // Re-sent after it finished (the ack was lost): the same result.
        assert_eq!(l.on_order(&o, false, 13), Decision::Report(ok(12)));
        assert_eq!(l.outbox().len(), 1);
        l.ack("j1");
        assert!(l.outbox().is_empty());
        assert_eq!(l.on_order(&o, false, 14), Decision::Report(ok(12)));
    }

    #[test]
    fn a_job_interrupted_by_an_agent_restart_is_failed_not_rerun() {
        let mut l = Ledger::default();
        let o = order("j1", 1000);
        assert_eq!(l.on_order(&o, false, 10), Decision::Run);
        // The agent restarts: the job is started in the ledger but not active.
        let Decision::Report(r) = l.on_order(&o, false, 50) else {
            panic!("must not run again")
        };
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.started_at, Some(10));
        assert_eq!(l.outbox().len(), 1);
    }

    #[test]
    fn a_running_jobs_process_group_is_kept_until_it_ends() {
        let mut l = Ledger::default();
        let group = ProcessGroup {
            pgid: 77,
            boot_id: Some("b".into()),
            leader_start: Some(5),
            ends_with_agent: false,
        };
        // Not started: nothing to record.
        l.started_group("j0", group.clone());
        assert!(l.orphans().is_empty());
        assert_eq!(l.on_order(&order("j1", 1000), false, 10), Decision::Run);
        l.started_group("j1", group.clone());
        // Saved and loaded again, as across an agent restart.
        let back: Ledger =
            serde_json::from_slice(&serde_json::to_vec(&l).expect("json")).expect("loads");
        assert_eq!(back.orphans(), vec![("j1".to_string(), 10, group.clone())]);
        let mut back = back;
        back.abandon("j1", 10, "its processes were killed", 20);
        assert!(back.orphans().is_empty());
        let out = back.outbox();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.outcome, Outcome::Failed);
        assert!(
            out[0]
                .1
                .message
                .contains("not run again; its processes were killed")
        );
        // A ledger written before groups were recorded still loads.
        let old: Ledger = serde_json::from_str(r#"{"jobs":{"j":{"Started":3}}}"#).expect("old");
        assert!(old.orphans().is_empty());
    }

    #[test]
    fn a_job_past_its_deadline_is_expired_not_run() {
        let mut l = Ledger::default();
        let Decision::Report(r) = l.on_order(&order("j1", 100), false, 101) else {
            panic!("must not run")
        };
        assert_eq!(r.outcome, Outcome::Expired);
        // On the deadline itself it still runs.
        assert_eq!(l.on_order(&order("j2", 100), false, 100), Decision::Run);
    }

    #[test]
    fn a_cancel_before_the_order_keeps_it_from_running() {
        let mut l = Ledger::default();
        assert_eq!(l.on_cancel("j1", 5).outcome, Outcome::Cancelled);
        let Decision::Report(r) = l.on_order(&order("j1", 1000), false, 6) else {
            panic!("a cancelled job must not run")
        };
        assert_eq!(r.outcome, Outcome::Cancelled);
        // A cancel after the end changes nothing.
        let mut l = Ledger::default();
        l.on_order(&order("j2", 1000), false, 1);
        l.finish("j2", ok(3));
        assert_eq!(l.on_cancel("j2", 4), ok(3));
    }

    #[test]
    fn acknowledged_results_are_pruned_after_a_month_unacked_never() {
        let mut l = Ledger::default();
        for id in ["a", "b"] {
            l.on_order(&order(id, i64::MAX), false, 0);
            l.finish(id, ok(10));
        }
        l.ack("a");
        l.prune(10 + KEEP_ACKED_SECS - 1);
        assert!(l.get("a").is_some());
        l.prune(10 + KEEP_ACKED_SECS);
        assert!(l.get("a").is_none());
        assert!(
            l.get("b").is_some(),
            "an unacknowledged result is never dropped"
        );
    }

    #[test]
    fn the_ledger_survives_a_save_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jobs.json");
        assert_eq!(Ledger::load(&path).expect("empty"), Ledger::default());
        let mut l = Ledger::default();
        l.on_order(&order("j1", 1000), false, 10);
        l.finish("j1", ok(12));
        l.on_order(&order("j2", 1000), false, 13);
        l.save(&path).expect("save");
        assert_eq!(Ledger::load(&path).expect("load"), l);
        std::fs::write(&path, b"{garbage").expect("write");
        assert!(Ledger::load(&path).is_err());
    }
}
