//! The controller's transitions with an explicit `now` and a fake window
//! check: each rule of the module doc, a restart mid-wave (the state
//! copied, as the store would keep it) and aborts with and without
//! rollback.

use std::collections::{BTreeSet, HashSet};

use super::*;
use crate::rollouts::plan::{PlannedAsset, RolloutSettings, WavePlan, joiner_wave};

const T0: i64 = 1_700_000_000;
const SOAK: i64 = 3600;

fn settings() -> RolloutSettings {
    RolloutSettings {
        waves: vec![50, 100],
        min_wave_size: 1,
        failure_threshold_pct: 20,
        soak_secs: SOAK,
        max_in_flight: 100,
        deadline: T0 + 86_400,
        approve_waves: false,
        on_abort_uninstall: false,
        pause_if_tickets_exceed: None,
    }
}

/// A plan with the waves as given (no hashing), some machines compliant.
fn plan(waves: &[&[&str]], compliant: &[&str]) -> WavePlan {
    WavePlan {
        waves: waves
            .iter()
            .map(|w| {
                w.iter()
                    .map(|a| PlannedAsset {
                        asset: a.to_string(),
                        compliant: compliant.contains(a),
                    })
                    .collect()
            })
            .collect(),
    }
}

fn open(_: &str, _: i64) -> bool {
    true
}

fn start(s: RolloutSettings, p: &WavePlan) -> (Rollout, Vec<Action>) {
    Rollout::start("r1", s, p, T0, &open)
}

fn ev(r: &mut Rollout, e: Event, now: i64) -> Vec<Action> {
    r.handle(e, now, &open).expect("event accepted")
}

fn fin(asset: &str, outcome: Outcome) -> Event {
    Event::TargetFinished {
        asset: asset.into(),
        outcome,
    }
}

fn sent(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { asset } => Some(asset.as_str()),
            _ => None,
        })
        .collect()
}

fn send(asset: &str) -> Action {
    Action::Send {
        asset: asset.into(),
    }
}

fn by() -> String {
    "alice".into()
}

fn state(r: &Rollout, asset: &str) -> Option<MachineState> {
    r.machine(asset).map(|m| m.state)
}

/// Canary c1, c2; wave 1 a1, a2; wave 2 b1.
fn three_waves() -> WavePlan {
    plan(&[&["c1", "c2"], &["a1", "a2"], &["b1"]], &[])
}

/// Runs the canary to success and past its soak: wave 1 has started.
fn into_wave_one(r: &mut Rollout) {
    ev(r, fin("c1", Outcome::Succeeded), T0 + 10);
    ev(r, fin("c2", Outcome::Succeeded), T0 + 10);
    let a = ev(r, Event::Tick, T0 + 10 + SOAK);
    assert_eq!(a[0], Action::WaveStarted { wave: 1 });
}

#[test]
fn the_canary_starts_first() {
    let (r, a) = start(settings(), &three_waves());
    assert_eq!(
        a,
        vec![Action::WaveStarted { wave: 0 }, send("c1"), send("c2")]
    );
    assert_eq!(r.phase, Phase::Running);
    assert_eq!(r.machine("c1").and_then(|m| m.sent_at), Some(T0));
    assert_eq!(state(&r, "a1"), Some(MachineState::Pending));
}

/// A machine that succeeded with a restart pending is a success (the
/// wave soaks and the next starts); the count of those awaiting one is
/// taken among the wave's succeeded machines only.
#[test]
fn machines_awaiting_a_restart_are_counted_among_the_succeeded() {
    let (mut r, _) = start(settings(), &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 5);
    ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 5);
    let rebooting: HashSet<String> = ["c1", "a1", "b1"].map(String::from).into();
    assert_eq!(r.counts(0).succeeded, 2);
    assert_eq!(r.awaiting_restart(0, &rebooting), 1);
    let a = ev(&mut r, Event::Tick, T0 + 5 + SOAK);
    assert_eq!(a[0], Action::WaveStarted { wave: 1 });
    // a1 is in flight, not yet a success: not counted.
    assert_eq!(r.awaiting_restart(1, &rebooting), 0);
    ev(&mut r, fin("a1", Outcome::Succeeded), T0 + 6 + SOAK);
    assert_eq!(r.awaiting_restart(1, &rebooting), 1);
}

#[test]
fn a_done_wave_soaks_then_the_next_starts() {
    let (mut r, _) = start(settings(), &three_waves());
    assert!(ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 5).is_empty());
    assert_eq!(r.phase, Phase::Running);
    assert!(ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 10).is_empty());
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 10 + SOAK
        }
    );
    assert!(ev(&mut r, Event::Tick, T0 + 9 + SOAK).is_empty());
    let a = ev(&mut r, Event::Tick, T0 + 10 + SOAK);
    assert_eq!(
        a,
        vec![Action::WaveStarted { wave: 1 }, send("a1"), send("a2")]
    );
    assert_eq!((r.wave, &r.phase), (1, &Phase::Running));
}

#[test]
fn the_last_wave_done_is_done_without_a_soak() {
    let (mut r, _) = start(settings(), &plan(&[&[], &["a1"]], &[]));
    let a = ev(&mut r, fin("a1", Outcome::Succeeded), T0 + 5);
    assert_eq!(a, vec![Action::Done]);
    assert_eq!(r.phase, Phase::Done);
    // Nothing moves a finished rollout.
    assert!(ev(&mut r, Event::Tick, T0 + 10 * SOAK).is_empty());
}

#[test]
fn every_final_state_closes_a_wave() {
    let mut s = settings();
    s.failure_threshold_pct = 100;
    let p = plan(
        &[&["ok", "bad", "old", "gone", "same"], &["next"]],
        &["same"],
    );
    let (mut r, a) = start(s, &p);
    assert_eq!(sent(&a), vec!["ok", "bad", "old", "gone"]);
    ev(&mut r, fin("ok", Outcome::Succeeded), T0 + 1);
    ev(&mut r, fin("bad", Outcome::Failed), T0 + 2);
    ev(&mut r, fin("old", Outcome::Expired), T0 + 2);
    assert_eq!(r.phase, Phase::Running);
    ev(&mut r, fin("gone", Outcome::Cancelled), T0 + 3);
    assert_eq!(state(&r, "gone"), Some(MachineState::Skipped));
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 3 + SOAK
        }
    );
    let c = r.counts(0);
    let all = (
        c.succeeded,
        c.failed,
        c.expired,
        c.skipped,
        c.compliant,
        c.open(),
    );
    assert_eq!(all, (1, 1, 1, 1, 1, 0));
}

#[test]
fn the_failure_rate_counts_only_after_the_minimum_sample() {
    let mut s = settings();
    s.min_wave_size = 5;
    let wave: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let names: Vec<&str> = wave.iter().map(String::as_str).collect();
    let (mut r, _) = start(s, &plan(&[&[], &names, &["later"]], &[]));
    // One failure of one result: 100%, but the sample is too small.
    assert!(ev(&mut r, fin("m0", Outcome::Failed), T0 + 1).is_empty());
    for m in ["m1", "m2", "m3"] {
        ev(&mut r, fin(m, Outcome::Succeeded), T0 + 2);
    }
    assert_eq!(r.phase, Phase::Running);
    // Five results, one failed: 20%, at the threshold, carries on.
    assert!(ev(&mut r, fin("m4", Outcome::Succeeded), T0 + 3).is_empty());
    assert_eq!(r.phase, Phase::Running);
    // Two of six: over it.
    let a = ev(&mut r, fin("m5", Outcome::Failed), T0 + 4);
    let reason = PauseReason::Failures {
        wave: 1,
        failed: 2,
        results: 6,
        threshold_pct: 20,
    };
    assert_eq!(
        a,
        vec![Action::Paused {
            reason: reason.clone()
        }]
    );
    assert_eq!(r.phase, Phase::Paused(reason));
    assert_eq!(r.failed(1), vec!["m0", "m5"]);
}

#[test]
fn a_wave_smaller_than_the_minimum_is_judged_on_all_its_results() {
    let mut s = settings();
    s.min_wave_size = 5;
    let (mut r, _) = start(s, &three_waves());
    assert!(ev(&mut r, fin("c1", Outcome::Failed), T0 + 1).is_empty());
    let a = ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 2);
    assert!(matches!(
        a.as_slice(),
        [Action::Paused {
            reason: PauseReason::Failures {
                wave: 0,
                failed: 1,
                results: 2,
                ..
            }
        }]
    ));
    // Paused: the soak passing starts nothing.
    assert!(ev(&mut r, Event::Tick, T0 + 2 * SOAK).is_empty());
}

#[test]
fn a_resume_accepts_the_failures_seen_and_a_new_one_pauses_again() {
    let mut s = settings();
    s.max_in_flight = 1;
    let p = plan(&[&[], &["m0", "m1", "m2", "m3"], &["later"]], &[]);
    let (mut r, a) = start(s, &p);
    assert_eq!(sent(&a), vec!["m0"]);
    let a = ev(&mut r, fin("m0", Outcome::Failed), T0 + 1);
    assert!(matches!(a.as_slice(), [Action::Paused { .. }]));
    // The operator has looked and resumes: the same wave carries on.
    let a = ev(&mut r, Event::Resume { by: by() }, T0 + 2);
    assert_eq!(a, vec![send("m1")]);
    assert_eq!(r.accepted_failures, 1);
    // 1 of 2 is still over 20%, but no new failure: carries on.
    assert_eq!(
        ev(&mut r, fin("m1", Outcome::Succeeded), T0 + 3),
        vec![send("m2")]
    );
    // A further failure while over the threshold pauses again.
    let a = ev(&mut r, fin("m2", Outcome::Failed), T0 + 4);
    assert!(matches!(
        a.as_slice(),
        [Action::Paused {
            reason: PauseReason::Failures {
                failed: 2,
                results: 3,
                ..
            }
        }]
    ));
}

#[test]
fn a_failure_pause_at_the_end_of_a_wave_resumes_into_the_soak() {
    let mut s = settings();
    s.min_wave_size = 2;
    let (mut r, _) = start(s, &three_waves());
    ev(&mut r, fin("c1", Outcome::Failed), T0 + 10);
    let a = ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 10);
    assert!(matches!(a.as_slice(), [Action::Paused { .. }]));
    // Resumed before the soak ends: it waits for the rest of it (counted
    // from when the wave was done), then the next wave starts.
    assert!(ev(&mut r, Event::Resume { by: by() }, T0 + 100).is_empty());
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 10 + SOAK
        }
    );
    let a = ev(&mut r, Event::Tick, T0 + 10 + SOAK);
    assert_eq!(a[0], Action::WaveStarted { wave: 1 });
}

#[test]
fn approval_gates_each_wave_after_the_first() {
    let mut s = settings();
    s.approve_waves = true;
    let (mut r, _) = start(s, &three_waves());
    // Not before the wave is done.
    let e = r.handle(Event::Approve { by: by() }, T0 + 1, &open);
    assert!(e.is_err_and(|e| e.0.contains("wave 0 of rollout r1 is still running")));
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 10);
    ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 10);
    // Soaked, then it waits: nothing is sent.
    assert!(ev(&mut r, Event::Tick, T0 + 10 + SOAK).is_empty());
    assert_eq!(r.phase, Phase::AwaitingApproval);
    assert!(ev(&mut r, Event::Tick, T0 + 10 * SOAK).is_empty());
    let a = ev(&mut r, Event::Approve { by: by() }, T0 + 10 * SOAK);
    assert_eq!(
        a,
        vec![Action::WaveStarted { wave: 1 }, send("a1"), send("a2")]
    );
    // Approved during the soak: the next wave starts when it ends.
    let t = T0 + 20 * SOAK;
    ev(&mut r, fin("a1", Outcome::Succeeded), t);
    ev(&mut r, fin("a2", Outcome::Succeeded), t);
    assert!(ev(&mut r, Event::Approve { by: by() }, t + 1).is_empty());
    assert_eq!(r.approved_wave, Some(2));
    let e = r.handle(Event::Approve { by: by() }, t + 2, &open);
    assert!(e.is_err_and(|e| e.0.contains("already approved")));
    let a = ev(&mut r, Event::Tick, t + SOAK);
    assert_eq!(a, vec![Action::WaveStarted { wave: 2 }, send("b1")]);
    // The last wave: nothing left to approve.
    let e = r.handle(Event::Approve { by: by() }, t + SOAK, &open);
    assert!(e.is_err_and(|e| e.0.contains("no wave left to approve")));
}

#[test]
fn approval_is_refused_without_approve_waves() {
    let (mut r, _) = start(settings(), &three_waves());
    let before = r.clone();
    let e = r.handle(Event::Approve { by: by() }, T0, &open);
    assert!(e.is_err_and(|e| e.0.contains("without --approve-waves")));
    assert_eq!(r, before);
}

#[test]
fn the_ticket_gate_pauses_when_a_waves_tickets_exceed_the_limit() {
    let mut s = settings();
    s.pause_if_tickets_exceed = Some(1);
    let (mut r, _) = start(s, &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 10);
    ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 10);
    // Tickets on other machines do not count.
    ev(&mut r, Event::TicketOpened { asset: "a1".into() }, T0 + 20);
    ev(
        &mut r,
        Event::TicketOpened {
            asset: "elsewhere".into(),
        },
        T0 + 20,
    );
    assert_eq!(r.wave_tickets, 0);
    // One is allowed; the second, during the soak, pauses.
    assert!(ev(&mut r, Event::TicketOpened { asset: "c1".into() }, T0 + 30).is_empty());
    let a = ev(&mut r, Event::TicketOpened { asset: "c2".into() }, T0 + 40);
    let reason = PauseReason::Tickets {
        wave: 0,
        opened: 2,
        limit: 1,
    };
    assert_eq!(a, vec![Action::Paused { reason }]);
    assert!(ev(&mut r, Event::Tick, T0 + 10 + SOAK).is_empty());
    // Resumed: the next wave starts, with its own count.
    let a = ev(&mut r, Event::Resume { by: by() }, T0 + 10 + SOAK);
    assert_eq!(a[0], Action::WaveStarted { wave: 1 });
    assert_eq!(r.wave_tickets, 0);
    ev(
        &mut r,
        Event::TicketOpened { asset: "a1".into() },
        T0 + 2 * SOAK,
    );
    let a = ev(
        &mut r,
        Event::TicketOpened { asset: "a2".into() },
        T0 + 2 * SOAK,
    );
    assert!(matches!(
        a.as_slice(),
        [Action::Paused {
            reason: PauseReason::Tickets { wave: 1, .. }
        }]
    ));
}

#[test]
fn a_machine_outside_its_window_waits_then_is_sent_when_it_opens() {
    // "night" opens at T0 + 3600; "day" is always open.
    let window = |asset: &str, now: i64| asset != "night" || now >= T0 + 3600;
    let p = plan(&[&["night", "day"], &["a1"]], &[]);
    let (mut r, a) = Rollout::start("r1", settings(), &p, T0, &window);
    assert_eq!(sent(&a), vec!["day"]);
    assert_eq!(state(&r, "night"), Some(MachineState::Pending));
    // The wave is not done while it waits.
    let a = r.handle(fin("day", Outcome::Succeeded), T0 + 10, &window);
    assert_eq!(a, Ok(vec![]));
    assert_eq!(r.phase, Phase::Running);
    assert_eq!(r.handle(Event::Tick, T0 + 3599, &window), Ok(vec![]));
    assert_eq!(
        r.handle(Event::Tick, T0 + 3600, &window),
        Ok(vec![send("night")])
    );
}

#[test]
fn max_in_flight_caps_sends_across_the_rollout() {
    let mut s = settings();
    s.max_in_flight = 2;
    let p = plan(&[&[], &["m1", "m2", "m3", "m4", "m5"], &["b1"]], &[]);
    let (mut r, a) = start(s, &p);
    assert_eq!(sent(&a), vec!["m1", "m2"]);
    assert!(ev(&mut r, Event::Tick, T0 + 1).is_empty());
    assert_eq!(
        ev(&mut r, fin("m2", Outcome::Succeeded), T0 + 2),
        vec![send("m3")]
    );
    assert_eq!(r.in_flight(), 2);
    // A failure frees a slot too (80% threshold so nothing pauses).
    r.settings.failure_threshold_pct = 80;
    assert_eq!(
        ev(&mut r, fin("m1", Outcome::Failed), T0 + 3),
        vec![send("m4")]
    );
}

#[test]
fn the_deadline_expires_what_never_ran() {
    let mut s = settings();
    s.deadline = T0 + 1000;
    let window = |asset: &str, _: i64| asset != "closed";
    let p = plan(&[&["busy", "closed"], &["a1"], &["b1"]], &[]);
    let (mut r, a) = Rollout::start("r1", s, &p, T0, &window);
    assert_eq!(sent(&a), vec!["busy"]);
    // At the deadline the pending expire, in every wave; one still runs.
    assert_eq!(r.handle(Event::Tick, T0 + 1000, &window), Ok(vec![]));
    for m in ["closed", "a1", "b1"] {
        assert_eq!(state(&r, m), Some(MachineState::Expired), "{m}");
    }
    assert_eq!(state(&r, "busy"), Some(MachineState::InFlight));
    assert_eq!(r.phase, Phase::Running);
    // Its result ends the rollout.
    let a = r.handle(fin("busy", Outcome::Succeeded), T0 + 1200, &window);
    assert_eq!(a, Ok(vec![Action::Done]));
    assert_eq!(state(&r, "busy"), Some(MachineState::Succeeded));
}

#[test]
fn the_deadline_ends_a_paused_rollout_too() {
    let mut s = settings();
    s.deadline = T0 + 1000;
    let (mut r, _) = start(s, &three_waves());
    ev(&mut r, Event::Pause { by: by() }, T0 + 1);
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 2);
    ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 3);
    assert_eq!(ev(&mut r, Event::Tick, T0 + 1000), vec![Action::Done]);
    assert_eq!(state(&r, "a1"), Some(MachineState::Expired));
}

/// A joiner name whose hash puts it in `wave` among the plan's machines.
fn joiner_for(r: &Rollout, wave: usize) -> String {
    let others: Vec<&str> = r
        .machines
        .iter()
        .filter(|m| !m.canary)
        .map(|m| m.asset.as_str())
        .collect();
    (0..1000)
        .map(|i| format!("late-{i}"))
        .filter(|name| r.machine(name).is_none())
        .find(|name| joiner_wave(&r.id, &others, name, &r.settings.waves, 1) == wave)
        .expect("some name hashes into the wave")
}

#[test]
fn a_joiner_lands_in_its_hash_wave_if_not_started_else_the_current() {
    let (mut r, _) = start(settings(), &three_waves());
    // Wave 0 runs: a joiner hashed to wave 2 waits there.
    let later = joiner_for(&r, 2);
    let a = ev(
        &mut r,
        Event::AssetJoined {
            asset: later.clone(),
            compliant: false,
        },
        T0 + 1,
    );
    assert!(a.is_empty());
    assert_eq!(
        r.machine(&later).map(|m| (m.wave, m.state)),
        Some((2, MachineState::Pending))
    );
    into_wave_one(&mut r);
    // Wave 1 runs: a joiner hashed to wave 1 joins it and is sent at once.
    let now_one = joiner_for(&r, 1);
    let a = ev(
        &mut r,
        Event::AssetJoined {
            asset: now_one.clone(),
            compliant: false,
        },
        T0 + SOAK + 20,
    );
    assert_eq!(a, vec![send(&now_one)]);
    assert_eq!(r.machine(&now_one).map(|m| m.wave), Some(1));
    // Joining twice changes nothing.
    let before = r.clone();
    ev(
        &mut r,
        Event::AssetJoined {
            asset: now_one.clone(),
            compliant: false,
        },
        T0 + SOAK + 21,
    );
    assert_eq!(r, before);
}

#[test]
fn a_joiner_during_the_soak_reopens_the_current_wave() {
    let (mut r, _) = start(settings(), &plan(&[&[], &["a1"], &["b1"]], &[]));
    ev(&mut r, fin("a1", Outcome::Succeeded), T0 + 10);
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 10 + SOAK
        }
    );
    // Hashed to wave 1, which has started: it joins wave 1, is sent,
    // and the soak starts again once it is done.
    let late = joiner_for(&r, 1);
    let a = ev(
        &mut r,
        Event::AssetJoined {
            asset: late.clone(),
            compliant: false,
        },
        T0 + 20,
    );
    assert_eq!(a, vec![send(&late)]);
    assert_eq!(r.phase, Phase::Running);
    ev(&mut r, fin(&late, Outcome::Succeeded), T0 + 100);
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 100 + SOAK
        }
    );
    // A compliant joiner neither reopens the wave nor is sent.
    let ok = joiner_for(&r, 1);
    let a = ev(
        &mut r,
        Event::AssetJoined {
            asset: ok.clone(),
            compliant: true,
        },
        T0 + 200,
    );
    assert!(a.is_empty());
    assert_eq!(state(&r, &ok), Some(MachineState::Compliant));
    assert_eq!(
        r.phase,
        Phase::Soaking {
            until: T0 + 100 + SOAK
        }
    );
}

#[test]
fn a_restart_mid_wave_sends_no_machine_twice() {
    let mut s = settings();
    s.max_in_flight = 2;
    let p = plan(&[&[], &["m1", "m2", "m3", "m4"], &["b1"]], &[]);
    let (mut r, a) = start(s, &p);
    let mut ever: Vec<String> = sent(&a).iter().map(|s| s.to_string()).collect();
    let a = ev(&mut r, fin("m1", Outcome::Succeeded), T0 + 5);
    ever.extend(sent(&a).iter().map(|s| s.to_string()));
    // The store keeps the state; the server restarts and loads it.
    let mut restored = r.clone();
    let a = ev(&mut restored, Event::Restored, T0 + 500);
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(restored.in_flight(), 2);
    // Results that arrived while it was down, and the rest of the wave.
    ever.extend(
        sent(&ev(&mut restored, fin("m2", Outcome::Succeeded), T0 + 501))
            .iter()
            .map(|s| s.to_string()),
    );
    ev(&mut restored, fin("m3", Outcome::Succeeded), T0 + 502);
    ev(&mut restored, fin("m4", Outcome::Succeeded), T0 + 503);
    let a = ev(&mut restored, Event::Tick, T0 + 503 + SOAK);
    ever.extend(sent(&a).iter().map(|s| s.to_string()));
    let distinct: BTreeSet<&String> = ever.iter().collect();
    assert_eq!(ever, vec!["m1", "m2", "m3", "m4", "b1"]);
    assert_eq!(distinct.len(), ever.len());
}

#[test]
fn a_restart_while_soaking_keeps_the_soak() {
    let (mut r, _) = start(settings(), &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 10);
    ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 10);
    let mut restored = r.clone();
    assert!(ev(&mut restored, Event::Restored, T0 + 20).is_empty());
    assert_eq!(
        restored.phase,
        Phase::Soaking {
            until: T0 + 10 + SOAK
        }
    );
    let a = ev(&mut restored, Event::Restored, T0 + 10 + SOAK);
    assert_eq!(a[0], Action::WaveStarted { wave: 1 });
}

#[test]
fn a_restart_while_aborting_asks_the_cancels_again() {
    let (mut r, _) = start(settings(), &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    ev(&mut r, Event::Abort { by: by() }, T0 + 2);
    let mut restored = r.clone();
    let a = ev(&mut restored, Event::Restored, T0 + 3);
    assert_eq!(a, vec![Action::Cancel { asset: "c2".into() }]);
    assert_eq!(restored.phase, Phase::Aborting);
}

#[test]
fn pause_stops_sends_and_resume_carries_on_in_the_same_wave() {
    let mut s = settings();
    s.max_in_flight = 1;
    let p = plan(&[&[], &["m1", "m2", "m3"], &["b1"]], &[]);
    let (mut r, _) = start(s, &p);
    let a = ev(&mut r, Event::Pause { by: by() }, T0 + 1);
    let reason = PauseReason::Operator { by: by() };
    assert_eq!(
        a,
        vec![Action::Paused {
            reason: reason.clone()
        }]
    );
    // The running job finishes; nothing new is sent.
    assert!(ev(&mut r, fin("m1", Outcome::Succeeded), T0 + 2).is_empty());
    assert_eq!(state(&r, "m1"), Some(MachineState::Succeeded));
    assert!(ev(&mut r, Event::Tick, T0 + 3).is_empty());
    let e = r.handle(Event::Pause { by: by() }, T0 + 4, &open);
    assert!(e.is_err_and(|e| e.0.contains("already paused (paused by alice)")));
    // Resumed: the same wave, the next machine, no wave started.
    assert_eq!(
        ev(&mut r, Event::Resume { by: by() }, T0 + 5),
        vec![send("m2")]
    );
    assert_eq!((r.wave, &r.phase), (1, &Phase::Running));
    let e = r.handle(Event::Resume { by: by() }, T0 + 6, &open);
    assert!(e.is_err_and(|e| e.0.contains("is running, not paused")));
}

#[test]
fn abort_skips_the_unsent_and_cancels_what_is_in_flight() {
    let (mut r, _) = start(settings(), &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    let a = ev(&mut r, Event::Abort { by: by() }, T0 + 2);
    assert_eq!(a, vec![Action::Cancel { asset: "c2".into() }]);
    assert_eq!(r.phase, Phase::Aborting);
    for m in ["a1", "a2", "b1"] {
        assert_eq!(state(&r, m), Some(MachineState::Skipped), "{m}");
    }
    assert_eq!(state(&r, "c1"), Some(MachineState::Succeeded));
    assert_eq!(
        ev(&mut r, fin("c2", Outcome::Cancelled), T0 + 3),
        vec![Action::Aborted]
    );
    assert_eq!(state(&r, "c2"), Some(MachineState::Skipped));
    assert_eq!(r.phase, Phase::Aborted);
    let e = r.handle(Event::Abort { by: by() }, T0 + 4, &open);
    assert!(e.is_err_and(|e| e.0 == "rollout r1 is aborted: there is nothing left to abort"));
}

#[test]
fn abort_with_rollback_uninstalls_where_it_succeeded() {
    let mut s = settings();
    s.on_abort_uninstall = true;
    let p = plan(&[&["c1", "c2", "had-it", "c3"], &["a1"]], &["had-it"]);
    let (mut r, _) = start(s, &p);
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    ev(&mut r, fin("c3", Outcome::Failed), T0 + 1);
    let a = ev(&mut r, Event::Abort { by: by() }, T0 + 2);
    assert_eq!(
        a,
        vec![
            Action::Uninstall { asset: "c1".into() },
            Action::Cancel { asset: "c2".into() },
        ]
    );
    assert_eq!(state(&r, "c1"), Some(MachineState::RolledBack));
    // Too late to cancel: it succeeded, so it is uninstalled too.
    let a = ev(&mut r, fin("c2", Outcome::Succeeded), T0 + 3);
    assert_eq!(
        a,
        vec![Action::Uninstall { asset: "c2".into() }, Action::Aborted]
    );
    // What the rollout did not install, and what failed, stay as they are.
    assert_eq!(state(&r, "had-it"), Some(MachineState::Compliant));
    assert_eq!(state(&r, "c3"), Some(MachineState::Failed));
}

#[test]
fn compliant_machines_are_never_sent() {
    let p = plan(
        &[&["c1", "ok1"], &["ok2", "ok3"], &["b1", "ok4"]],
        &["ok1", "ok2", "ok3", "ok4"],
    );
    let (mut r, a) = start(settings(), &p);
    let mut all = sent(&a).iter().map(|s| s.to_string()).collect::<Vec<_>>();
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    // Wave 1 holds only compliant machines: passed over, straight to 2.
    let a = ev(&mut r, Event::Tick, T0 + 1 + SOAK);
    assert_eq!(a, vec![Action::WaveStarted { wave: 2 }, send("b1")]);
    all.extend(sent(&a).iter().map(|s| s.to_string()));
    assert_eq!(
        ev(&mut r, fin("b1", Outcome::Succeeded), T0 + 2 + SOAK),
        vec![Action::Done]
    );
    assert_eq!(all, vec!["c1", "b1"]);
    // A rollout where everything complies is done at once.
    let (r, a) = start(settings(), &plan(&[&["ok1"], &["ok2"]], &["ok1", "ok2"]));
    assert_eq!(a, vec![Action::Done]);
    assert_eq!(r.phase, Phase::Done);
}

#[test]
fn late_repeated_and_unknown_results_change_nothing() {
    let (mut r, _) = start(settings(), &three_waves());
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    let before = r.clone();
    assert!(ev(&mut r, fin("c1", Outcome::Failed), T0 + 2).is_empty());
    assert!(ev(&mut r, fin("nobody", Outcome::Failed), T0 + 2).is_empty());
    assert!(ev(&mut r, fin("a1", Outcome::Succeeded), T0 + 2).is_empty());
    assert_eq!(r, before);
}

#[test]
fn operator_events_on_a_finished_rollout_are_refused() {
    let (mut r, _) = start(settings(), &plan(&[&["c1"]], &[]));
    ev(&mut r, fin("c1", Outcome::Succeeded), T0 + 1);
    assert_eq!(r.phase, Phase::Done);
    let e = r.handle(Event::Pause { by: by() }, T0 + 2, &open);
    assert!(e.is_err_and(|e| e.0 == "rollout r1 is done: there is nothing left to pause"));
    let e = r.handle(Event::Resume { by: by() }, T0 + 2, &open);
    assert!(e.is_err_and(|e| e.0.contains("only a paused rollout resumes")));
}

#[test]
fn names_round_trip() {
    for m in MachineState::ALL {
        assert_eq!(MachineState::parse(m.as_str()), Some(m));
    }
    assert_eq!(MachineState::parse("lost"), None);
    assert_eq!(Phase::Soaking { until: 1 }.as_str(), "soaking");
    assert_eq!(
        Outcome::from(deskhand_shared::jobs::Outcome::Cancelled),
        Outcome::Cancelled
    );
}
