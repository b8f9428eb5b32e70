//! One step of a rollout, as plain code: what the controller's actions and
//! changed machines come to in the store ([`save_of`]), and the ticket a
//! pause opens ([`pause_ticket`]). No I/O.

use crate::rollouts::{Action, Machine, MachineState, PauseReason, Rollout};
use crate::store::{MachineDetail, NewTicket};
use crate::tickets::Priority;
use crate::tickets::sla::SlaTargets;

/// What of a machine a save compares: state, wave and when it was sent.
pub type Snapshot = Vec<(MachineState, usize, Option<i64>)>;

/// The comparable part of every machine, before a step.
pub fn snapshot(r: &Rollout) -> Snapshot {
    r.machines
        .iter()
        .map(|m| (m.state, m.wave, m.sent_at))
        .collect()
}

/// The machines that changed since `before`, or joined, with their
/// position.
pub fn changed(before: &Snapshot, r: &Rollout) -> Vec<(usize, Machine)> {
    r.machines
        .iter()
        .enumerate()
        .filter(|(i, m)| before.get(*i) != Some(&(m.state, m.wave, m.sent_at)))
        .map(|(i, m)| (i, m.clone()))
        .collect()
}

/// Where the actions of a step go: job targets to queue, cancel and
/// uninstall, and the audit entries of what the rollout did by itself,
/// by `author`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sorted {
    /// Machines to send to.
    pub sends: Vec<String>,
    /// Machines whose target to cancel.
    pub cancels: Vec<String>,
    /// Machines to uninstall from.
    pub uninstalls: Vec<String>,
    /// Audit entries: (who, action, detail).
    pub audit: Vec<(String, String, String)>,
    /// A pause that opens a ticket (failures or tickets).
    pub pause: Option<PauseReason>,
    /// The rollout finished (done or aborted).
    pub finished: bool,
}

/// Sorts a step's actions (see [`Sorted`]).
pub fn sort(r: &Rollout, actions: Vec<Action>, author: &str) -> Sorted {
    let mut s = Sorted::default();
    let entry = |action: &str, detail: String| (author.to_string(), action.to_string(), detail);
    for a in actions {
        match a {
            Action::Send { asset } => s.sends.push(asset),
            Action::Cancel { asset } => s.cancels.push(asset),
            Action::Uninstall { asset } => s.uninstalls.push(asset),
            Action::WaveStarted { wave } => {
                let c = r.counts(wave);
                s.audit.push(entry(
                    "rollout.wave",
                    format!(
                        "wave {wave} started: {} machine(s), {} already compliant",
                        c.pending + c.in_flight + c.compliant + c.succeeded + c.failed,
                        c.compliant
                    ),
                ));
            }
            Action::Paused { reason } => {
                s.audit
                    .push(entry("rollout.paused", format!("paused: {reason}")));
                if !matches!(reason, PauseReason::Operator { .. }) {
                    s.pause = Some(reason);
                }
            }
            Action::Done => {
                s.audit
                    .push(entry("rollout.done", "every wave is done".into()));
                s.finished = true;
            }
            Action::Aborted => {
                s.audit.push(entry(
                    "rollout.aborted",
                    "aborted; nothing is in flight any more".into(),
                ));
                s.finished = true;
            }
        }
    }
    s
}

/// The last `lines` lines of a text, trimmed.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A machine's output tail: error output, then output, at most 5 lines of
/// each.
pub fn output_tail(d: &MachineDetail) -> String {
    let parts: Vec<String> = [tail(&d.stderr, 5), tail(&d.stdout, 5)]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect();
    parts.join("\n")
}

/// The ticket a pause for failures or tickets opens, linked to the wave's
/// failed machines, each with its exit code and output tail.
pub fn pause_ticket(
    id: i64,
    item: &str,
    reason: &PauseReason,
    failed: &[MachineDetail],
    targets: SlaTargets,
) -> NewTicket {
    let mut description = format!(
        "Rollout {id} ({item}) paused by itself: {reason}.\n\n\
         See `deskhand rollouts show {id} --failures`; then `deskhand rollouts resume {id}` or `deskhand rollouts abort {id}`.\n"
    );
    for d in failed {
        let host = if d.hostname.is_empty() {
            &d.asset_id
        } else {
            &d.hostname
        };
        let code = d
            .exit_code
            .map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
        description.push_str(&format!("\n{host}: {code}: {}\n", d.message));
        let t = output_tail(d);
        if !t.is_empty() {
            for line in t.lines() {
                description.push_str(&format!("    {line}\n"));
            }
        }
    }
    let title = match reason {
        PauseReason::Failures {
            wave,
            failed,
            results,
            ..
        } => format!(
            "Rollout {id} ({item}) paused: {failed} of {results} machines of wave {wave} failed"
        ),
        PauseReason::Tickets { wave, opened, .. } => format!(
            "Rollout {id} ({item}) paused: {opened} tickets opened on wave {wave}'s machines"
        ),
        PauseReason::Operator { by } => format!("Rollout {id} ({item}) paused by {by}"),
    };
    NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title,
        description,
        requester: crate::store::rollout_author(id),
        category: "rollout".into(),
        software: item.split('@').next().unwrap_or(item).to_string(),
        priority: Priority::High,
        targets,
        assets: failed.iter().map(|d| d.asset_id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollouts::{RolloutSettings, WavePlan, plan::PlannedAsset};

    fn rollout() -> Rollout {
        let settings = RolloutSettings {
            waves: vec![100],
            min_wave_size: 1,
            failure_threshold_pct: 0,
            soak_secs: 0,
            max_in_flight: 1,
            deadline: 10_000,
            approve_waves: false,
            on_abort_uninstall: true,
            pause_if_tickets_exceed: None,
        };
        let asset = |a: &str| PlannedAsset {
            asset: a.into(),
            compliant: false,
        };
        let plan = WavePlan {
            waves: vec![vec![asset("a")], vec![asset("b"), asset("c")]],
        };
        Rollout::start("7", settings, &plan, 0, &|_, _| true).0
    }

    /// Only machines whose state, wave or send time moved are saved, and
    /// joiners are.
    #[test]
    fn changed_finds_moved_and_new_machines() {
        let mut r = rollout();
        let before = snapshot(&r);
        assert!(changed(&before, &r).is_empty());
        r.machines[1].state = MachineState::Skipped;
        r.machines.push(Machine {
            asset: "d".into(),
            wave: 1,
            canary: false,
            state: MachineState::Pending,
            sent_at: None,
        });
        let c: Vec<usize> = changed(&before, &r).into_iter().map(|(i, _)| i).collect();
        assert_eq!(c, vec![1, 3]);
    }

    /// Sends, cancels and uninstalls go to their lists; a pause for
    /// failures asks for a ticket, an operator's does not; done finishes.
    #[test]
    fn sort_routes_each_action() {
        let r = rollout();
        let s = sort(
            &r,
            vec![
                Action::Send { asset: "a".into() },
                Action::Cancel { asset: "b".into() },
                Action::Uninstall { asset: "c".into() },
                Action::Paused {
                    reason: PauseReason::Failures {
                        wave: 0,
                        failed: 1,
                        results: 1,
                        threshold_pct: 0,
                    },
                },
                Action::Done,
            ],
            "rollout 7",
        );
        assert_eq!(s.sends, vec!["a"]);
        assert_eq!(s.cancels, vec!["b"]);
        assert_eq!(s.uninstalls, vec!["c"]);
        assert!(s.pause.is_some() && s.finished);
        assert_eq!(s.audit.len(), 2);
        assert_eq!(s.audit[0].0, "rollout 7");
        let s = sort(
            &r,
            vec![Action::Paused {
                reason: PauseReason::Operator { by: "alice".into() },
            }],
            "rollout 7",
        );
        assert!(s.pause.is_none() && !s.finished);
    }

    /// The pause ticket names the rollout and the failed machines with
    /// their exit codes and last lines of output, and links them.
    #[test]
    fn pause_ticket_carries_exit_codes_and_tails() {
        let d = MachineDetail {
            asset_id: "asset-1".into(),
            hostname: "pc-1".into(),
            exit_code: Some(3),
            message: "the command exited with code 3".into(),
            stdout: (1..=9).map(|i| format!("out {i}\n")).collect(),
            stderr: "boom\n".into(),
            installed_version: None,
            reboot_pending: false,
        };
        let reason = PauseReason::Failures {
            wave: 0,
            failed: 1,
            results: 1,
            threshold_pct: 0,
        };
        let t = pause_ticket(
            7,
            "hello@1.0",
            &reason,
            &[d],
            SlaTargets {
                first_response: 3600,
                resolution: 86_400,
            },
        );
        assert!(t.title.contains("Rollout 7") && t.title.contains("1 of 1"));
        assert!(t.description.contains("pc-1: exit code 3"));
        assert!(t.description.contains("    boom"));
        assert!(t.description.contains("out 9") && !t.description.contains("out 4"));
        assert_eq!(t.assets, vec!["asset-1"]);
        assert_eq!(t.software, "hello");
    }
}
