//! Jobs on the server, as plain code: the per-(job, asset) state machine
//! and what a session sends an agent. Time is an argument; no I/O.
//!
//! A target starts `queued`. The agent's receipt makes it `delivered`, its
//! start `running`, its result `succeeded`, `failed`, `cancelled` or
//! `expired`. Those four are terminal: late or repeated reports change
//! nothing (delivery is at least once). A queued target whose deadline
//! passes is `expired` by the server; one already on the agent is judged
//! by the agent, which refuses to start it after the deadline.

use std::collections::HashSet;

use deskhand_shared::jobs::{
    JobAction, JobOrder, JobProgress, JobResult, Manifest, Outcome, SignedManifest,
};

/// Where one (job, asset) pair stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Waiting for the agent (offline, or at its concurrency cap).
    Queued,
    /// The agent has recorded it.
    Delivered,
    /// It runs on the agent.
    Running,
    /// It ran and did what it should.
    Succeeded,
    /// It failed or was refused.
    Failed,
    /// An operator cancelled it.
    Cancelled,
    /// Its deadline passed before it started.
    Expired,
}

impl TargetState {
    /// Every state, in lifecycle order.
    pub const ALL: [TargetState; 7] = [
        TargetState::Queued,
        TargetState::Delivered,
        TargetState::Running,
        TargetState::Succeeded,
        TargetState::Failed,
        TargetState::Cancelled,
        TargetState::Expired,
    ];

    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Queued => "queued",
            TargetState::Delivered => "delivered",
            TargetState::Running => "running",
            TargetState::Succeeded => "succeeded",
            TargetState::Failed => "failed",
            TargetState::Cancelled => "cancelled",
            TargetState::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether nothing more will happen to it.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TargetState::Succeeded
                | TargetState::Failed
                | TargetState::Cancelled
                | TargetState::Expired
        )
    }

    /// Whether it occupies one of the agent's job slots.
    pub fn is_active(self) -> bool {
        matches!(self, TargetState::Delivered | TargetState::Running)
    }
}

impl From<Outcome> for TargetState {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Succeeded => TargetState::Succeeded,
            Outcome::Failed => TargetState::Failed,
            Outcome::Cancelled => TargetState::Cancelled,
            Outcome::Expired => TargetState::Expired,
        }
    }
}

/// The state after the agent reports `progress`, or `None` if the report
/// changes nothing (a duplicate, a late report, output).
pub fn on_progress(state: TargetState, progress: &JobProgress) -> Option<TargetState> {
    if state.is_terminal() {
        return None;
    }
    let next = match progress {
        JobProgress::Received => TargetState::Delivered,
        JobProgress::Running { .. } => TargetState::Running,
        JobProgress::Output { .. } => return None,
        JobProgress::Finished(r) => r.outcome.into(),
    };
    // Never go backwards: a late "received" after "running" is dropped.
    let rank = |s: TargetState| TargetState::ALL.iter().position(|x| *x == s);
    (next.is_terminal() || rank(next) > rank(state)).then_some(next)
}

/// The state after an operator cancels: a queued target is cancelled at
/// once; one on the agent waits for the agent's answer (`None`).
pub fn on_cancel(state: TargetState) -> Option<TargetState> {
    (state == TargetState::Queued).then_some(TargetState::Cancelled)
}

/// Whether a target expires at `now`.
pub fn expires(state: TargetState, deadline: i64, now: i64) -> bool {
    state == TargetState::Queued && now > deadline
}

/// One of an agent's unfinished targets, as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The job id.
    pub job_id: String,
    /// Its state.
    pub state: TargetState,
    /// An operator asked to cancel it.
    pub cancel_requested: bool,
}

/// What a session sends its agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Send {
    /// The job's order.
    Order(String),
    /// A cancel for the job.
    Cancel(String),
}

/// What to send an agent, given its unfinished targets (oldest first),
/// what this session already sent, and the cap on concurrent jobs.
///
/// Targets the agent has (delivered, running) are sent again once per
/// session, since the agent may have restarted or the order may have been
/// lost; the agent's ledger makes that harmless. Queued targets are sent
/// while fewer than `cap` are active, counting those sent this session.
/// A cancel is sent once per session for every target it concerns.
pub fn plan_sends(pending: &[Pending], sent: &HashSet<Send>, cap: usize) -> Vec<Send> {
    let ordered = |p: &Pending| sent.contains(&Send::Order(p.job_id.clone()));
    let mut out = Vec::new();
    let mut active = pending
        .iter()
        .filter(|p| p.state.is_active() || (p.state == TargetState::Queued && ordered(p)))
        .count();
    for p in pending {
        if p.cancel_requested {
            let cancel = Send::Cancel(p.job_id.clone());
            if !sent.contains(&cancel) {
                out.push(cancel);
            }
        } else if !ordered(p) {
            if p.state.is_active() {
                out.push(Send::Order(p.job_id.clone()));
            } else if p.state == TargetState::Queued && active < cap {
                active += 1;
                out.push(Send::Order(p.job_id.clone()));
            }
        }
    }
    out
}

/// Most output kept per job and stream between two flushes.
const OUTPUT_BUFFER_CAP: usize = 64 * 1024;

/// Output a session has received but not yet stored: a chatty script's
/// many small chunks become one write per flush, so an agent's output
/// cannot keep the database writer busy.
#[derive(Debug, Default)]
pub struct OutputBuffer {
    pending: std::collections::BTreeMap<(String, bool), String>,
}

impl OutputBuffer {
    /// Adds output of a job; beyond the cap it is dropped (the agent's
    /// final result carries the capped whole anyway).
    pub fn push(&mut self, job_id: &str, stderr: bool, text: &str) {
        let buf = self
            .pending
            .entry((job_id.to_string(), stderr))
            .or_default();
        let room = OUTPUT_BUFFER_CAP.saturating_sub(buf.len());
        let mut cut = text.len().min(room);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        buf.push_str(&text[..cut]);
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Drops what is pending for a job (its result has arrived).
    pub fn forget(&mut self, job_id: &str) {
        self.pending.retain(|(id, _), _| id != job_id);
    }

    /// Takes everything pending: (job id, stderr, text).
    pub fn take(&mut self) -> Vec<(String, bool, String)> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|((id, stderr), text)| (id, stderr, text))
            .collect()
    }
}

/// What an agent's order is built from: a stored job's fields and the
/// signed manifest of its item (the store reads them, [`build_order`]
/// decides).
#[derive(Debug, Clone)]
pub struct OrderParts {
    /// The job id.
    pub job_id: String,
    /// What it does: install, uninstall, script, inventory or diag.
    pub action: String,
    /// `name version` of its package or script; a diagnostic's check.
    pub item: String,
    /// `NAME=VALUE` parameter values (check arguments for a diagnostic).
    pub args: Vec<String>,
    /// Deadline, Unix seconds.
    pub deadline: i64,
    /// Timeout per target, seconds.
    pub timeout_secs: i64,
    /// The signed manifest of its item, as stored.
    pub manifest: Option<SignedManifest>,
}

/// The order an agent receives for a stored job. The manifest goes out
/// exactly as stored: the agent, not the server, decides whether to trust it.
pub fn build_order(parts: &OrderParts) -> Result<JobOrder, String> {
    let manifest = || {
        parts
            .manifest
            .clone()
            .ok_or_else(|| format!("job {} has no manifest", parts.job_id))
    };
    let params = || deskhand_shared::params::split_assignments(&parts.args);
    let action = match parts.action.as_str() {
        "install" => JobAction::Install {
            manifest: manifest()?,
            params: params()?,
        },
        "uninstall" => JobAction::Uninstall(manifest()?),
        "script" => JobAction::Script {
            manifest: manifest()?,
            params: params()?,
        },
        "inventory" => JobAction::InventoryRefresh,
        "diag" => JobAction::Diag(diag_request(&parts.item, &parts.args)?),
        other => return Err(format!("unknown job action {other}")),
    };
    Ok(JobOrder {
        job_id: parts.job_id.clone(),
        action,
        deadline: parts.deadline,
        timeout_secs: u64::try_from(parts.timeout_secs).unwrap_or(1),
    })
}

/// Whether a target's result leaves its machine waiting for a restart:
/// it succeeded with one of the reboot exit codes its item's signed
/// manifest (`manifest_json`, as stored) lists. No manifest (an inventory
/// or diagnostic job) or one that does not read: no.
pub fn reboot_pending(manifest_json: Option<&str>, result: &JobResult) -> bool {
    manifest_json
        .and_then(|json| serde_json::from_str::<Manifest>(json).ok())
        .is_some_and(|m| m.reboot_pending(result))
}

/// A diagnostic request from a check name and `NAME=VALUE` arguments,
/// checked against the agent's catalog.
pub fn diag_request(
    check: &str,
    args: &[String],
) -> Result<deskhand_shared::diag::DiagRequest, String> {
    let args = args
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("diagnostic argument `{a}` is not NAME=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let req = deskhand_shared::diag::DiagRequest {
        check: check.to_string(),
        args,
        follow: false,
    };
    deskhand_shared::diag::catalog::validate(&req)?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(outcome: Outcome) -> JobProgress {
        JobProgress::Finished(JobResult::new(outcome, ""))
    }

    #[test]
    fn a_target_moves_forward_and_ends_once() {
        use TargetState::*;
        let s = on_progress(Queued, &JobProgress::Received).expect("received");
        assert_eq!(s, Delivered);
        let s = on_progress(s, &JobProgress::Running { at: 1 }).expect("running");
        assert_eq!(s, Running);
        assert_eq!(
            on_progress(s, &JobProgress::Received),
            None,
            "no going back"
        );
        let s = on_progress(s, &finished(Outcome::Succeeded)).expect("done");
        assert_eq!(s, Succeeded);
        // A duplicate result (re-sent from the agent's outbox) changes nothing.
        assert_eq!(on_progress(s, &finished(Outcome::Failed)), None);
        // A result may arrive without the steps before it (lost messages).
        assert_eq!(
            on_progress(Queued, &finished(Outcome::Failed)),
            Some(Failed)
        );
        assert_eq!(
            on_progress(
                Running,
                &JobProgress::Output {
                    stderr: false,
                    text: "x".into()
                }
            ),
            None
        );
    }

    #[test]
    fn cancel_and_expiry_touch_only_what_has_not_reached_the_agent() {
        use TargetState::*;
        assert_eq!(on_cancel(Queued), Some(Cancelled));
        assert_eq!(on_cancel(Running), None);
        assert_eq!(on_cancel(Succeeded), None);
        assert!(expires(Queued, 100, 101));
        assert!(!expires(Queued, 100, 100));
        assert!(!expires(Running, 100, 1000));
        for s in TargetState::ALL {
            assert_eq!(TargetState::parse(s.as_str()), Some(s));
        }
    }

    fn p(id: &str, state: TargetState) -> Pending {
        Pending {
            job_id: id.into(),
            state,
            cancel_requested: false,
        }
    }

    #[test]
    fn sends_respect_the_cap_and_are_not_repeated_in_a_session() {
        use TargetState::*;
        let pending = vec![
            p("a", Running),
            p("b", Queued),
            p("c", Queued),
            p("d", Queued),
        ];
        let mut sent = HashSet::new();
        let first = plan_sends(&pending, &sent, 2);
        // The running one is re-sent; one queued job fills the second slot.
        assert_eq!(
            first,
            vec![Send::Order("a".into()), Send::Order("b".into())]
        );
        sent.extend(first);
        assert!(plan_sends(&pending, &sent, 2).is_empty());
        // "a" finished: it is no longer pending; "c" takes its slot.
        let pending = vec![p("b", Delivered), p("c", Queued), p("d", Queued)];
        assert_eq!(
            plan_sends(&pending, &sent, 2),
            vec![Send::Order("c".into())]
        );
    }

    #[test]
    fn output_is_coalesced_capped_and_dropped_once_the_result_is_in() {
        let mut b = OutputBuffer::default();
        b.push("a", false, "one ");
        b.push("a", false, "two");
        b.push("a", true, "oops");
        b.push("b", false, &"x".repeat(OUTPUT_BUFFER_CAP + 10));
        b.push("c", false, "gone");
        b.forget("c");
        let taken = b.take();
        assert_eq!(
            taken[..2],
            [
                ("a".to_string(), false, "one two".to_string()),
                ("a".to_string(), true, "oops".to_string())
            ]
        );
        assert_eq!(taken[2].2.len(), OUTPUT_BUFFER_CAP);
        assert_eq!(taken.len(), 3);
        assert!(b.take().is_empty());
    }

    #[test]
    fn a_cancel_is_sent_for_a_job_the_agent_has() {
        let mut pending = vec![p("a", TargetState::Running)];
        let mut sent: HashSet<Send> = plan_sends(&pending, &HashSet::new(), 1)
            .into_iter()
            .collect();
        pending[0].cancel_requested = true;
        let cancel = plan_sends(&pending, &sent, 1);
        assert_eq!(cancel, vec![Send::Cancel("a".into())]);
        sent.extend(cancel);
        assert!(plan_sends(&pending, &sent, 1).is_empty());
    }

    #[test]
    fn a_restart_is_pending_only_for_a_success_with_a_listed_reboot_code() {
        let manifest = |extra: &str| {
            format!(
                r#"{{"format":1,"kind":"script","name":"patch","version":"1","artifact":null,
                    "install":["sh","{{file}}"],"uninstall":[],"check":null,"publisher":"k"{extra}}}"#
            )
        };
        let rebooting = manifest(r#","reboot_exit_codes":[3010]"#);
        let plain = manifest("");
        let result = |outcome, code| {
            let mut r = JobResult::new(outcome, "");
            r.exit_code = code;
            r
        };
        let ok_3010 = result(Outcome::Succeeded, Some(3010));
        assert!(reboot_pending(Some(&rebooting), &ok_3010));
        assert!(!reboot_pending(
            Some(&rebooting),
            &result(Outcome::Succeeded, Some(0))
        ));
        assert!(!reboot_pending(
            Some(&rebooting),
            &result(Outcome::Failed, Some(3010))
        ));
        assert!(!reboot_pending(Some(&plain), &ok_3010));
        assert!(!reboot_pending(None, &ok_3010), "no item, no manifest");
        assert!(!reboot_pending(Some("not json"), &ok_3010));
    }
}
