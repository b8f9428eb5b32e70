//! The conductor against a real store: it sends one machine at a time,
//! moves on when a result is stored, and after a restart in the middle of
//! a wave it carries on where it was, with a result stored while it was
//! down, never sending a machine twice. With two nodes on one database
//! only the leader steps rollouts; the other's creations and commands
//! reach it through the store, and a new leader carries on.

use std::sync::Arc;
use std::time::Duration;

use deskhand_shared::jobs::{JobProgress, JobResult, Outcome};
use tokio::sync::{Notify, watch};

use super::{Conductor, Create, Parts, spawn};
use crate::nodes::Leader;
use crate::presence::Presence;
use crate::rollouts::plan::ItemRef;
use crate::rollouts::{MachineState, Phase, Rollout, RolloutAction, RolloutSettings};
use crate::store::{RolloutRecord, Store};

async fn setup() -> (tempfile::TempDir, Store) {
    let (dir, s) = crate::testkit::store().await;
    crate::testkit::enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2"), ("a3", "pc-3")]).await;
    for (id, host) in [("a1", "pc-1"), ("a2", "pc-2"), ("a3", "pc-3")] {
        let mut inv = crate::testkit::inv(Vec::new());
        inv.identity.hostname = host.into();
        s.ingest_inventory(
            id.into(),
            None,
            crate::inventory::plan_full(None, &inv),
            1,
            1,
        )
        .await
        .expect("ingest");
    }
    assert_eq!(s.insert_test_item("script", "fix", "1").await, 1);
    (dir, s)
}

fn start(
    s: &Store,
) -> (
    Conductor,
    tokio::task::JoinHandle<()>,
    watch::Sender<bool>,
    Arc<Notify>,
) {
    start_as(s, Leader::new(true))
}

fn start_as(
    s: &Store,
    leader: Leader,
) -> (
    Conductor,
    tokio::task::JoinHandle<()>,
    watch::Sender<bool>,
    Arc<Notify>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let job_finished = Arc::new(Notify::new());
    let parts = Parts {
        store: s.clone(),
        presence: Arc::new(Presence::default()),
        job_finished: job_finished.clone(),
        tickets: crate::tickets::TicketSettings::default(),
        resolve: Arc::new(|_, _| Box::pin(async { Ok(Vec::new()) })),
        leader,
    };
    let (c, task) = spawn(parts, stop_rx);
    (c, task, stop_tx, job_finished)
}

fn create() -> Create {
    let now = crate::unix_now();
    let settings = RolloutSettings {
        waves: vec![100],
        min_wave_size: 1,
        failure_threshold_pct: 0,
        soak_secs: 0,
        max_in_flight: 1,
        deadline: now + 3600,
        approve_waves: false,
        on_abort_uninstall: false,
        pause_if_tickets_exceed: None,
    };
    let state = Rollout::unstarted(settings);
    Create {
        record: RolloutRecord {
            state,
            action: RolloutAction::Script,
            item_id: 1,
            item: "fix@1".into(),
            args: Vec::new(),
            targets: vec!["all".into()],
            filter: None,
            canary: Vec::new(),
            window: None,
            timeout_secs: 60,
            job_id: String::new(),
            rollback_job_id: None,
            ticket_mark: 0,
            tickets: Vec::new(),
            created_at: now,
            created_by: "alice".into(),
        },
        targets: vec!["a1".into(), "a2".into(), "a3".into()],
        canary: Vec::new(),
        check: ItemRef {
            name: "fix".into(),
            version: "1".into(),
        },
    }
}

/// The machine in flight, waiting (bounded) until there is one other
/// than `not`.
async fn in_flight(s: &Store, not: Option<&str>) -> String {
    for _ in 0..100 {
        let r = s.rollout(1).await.expect("rollout");
        let found = r
            .state
            .machines
            .iter()
            .find(|m| m.state == MachineState::InFlight && Some(m.asset.as_str()) != not);
        if let Some(m) = found {
            return m.asset.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no machine in flight");
}

async fn succeed(s: &Store, job: &str, asset: &str) {
    let now = crate::unix_now();
    let done = JobProgress::Finished(JobResult::new(Outcome::Succeeded, "ok"));
    s.apply_job_update(asset.into(), job.into(), done, now)
        .await
        .expect("update");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_wave_carries_on_where_it_was() {
    let (_dir, s) = setup().await;
    let (c, task, stop, finished) = start(&s);
    let id = c.create(create()).await.expect("create");
    assert_eq!(id, 1);
    let job = s.rollout(1).await.expect("rollout").job_id;
    let first = in_flight(&s, None).await;
    succeed(&s, &job, &first).await;
    finished.notify_one();
    let second = in_flight(&s, Some(&first)).await;

    // The server stops with the second machine in flight; its result is
    // stored while the conductor is down.
    stop.send(true).expect("stop");
    task.await.expect("stopped");
    succeed(&s, &job, &second).await;
    let (c, task, stop, finished) = start(&s);
    let third = in_flight(&s, Some(&second)).await;
    assert!(third != first && third != second);
    succeed(&s, &job, &third).await;
    finished.notify_one();
    for _ in 0..100 {
        if s.rollout(1).await.expect("rollout").state.phase == Phase::Done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = s.rollout(1).await.expect("rollout");
    assert_eq!(r.state.phase, Phase::Done);
    assert!(
        r.state
            .machines
            .iter()
            .all(|m| m.state == MachineState::Succeeded)
    );
    let (_, targets) = s.get_job(job).await.expect("job");
    assert_eq!(targets.len(), 3, "each machine sent once");

    // A finished rollout refuses commands, saying why.
    let err = c
        .command(1, crate::rollouts::Event::Pause { by: "bob".into() })
        .await
        .expect_err("done");
    assert!(err.to_string().contains("done"), "{err}");
    stop.send(true).expect("stop");
    task.await.expect("stopped");
}

/// Rollout 1's phase once `want` holds of it (or the last one seen).
async fn phase(s: &Store, want: fn(&Phase) -> bool) -> Phase {
    let mut got = Phase::Done;
    for _ in 0..100 {
        got = s.rollout(1).await.expect("rollout").state.phase;
        if want(&got) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got
}

#[tokio::test]
async fn only_the_leader_steps_rollouts_and_others_pass_commands_on() {
    let (_dir, s) = setup().await;
    if !s.is_shared() {
        eprintln!("two nodes need a shared store: run with DESKHAND_TEST_DATABASE set");
        return;
    }
    let (a_leads, b_leads) = (Leader::new(true), Leader::new(false));
    let (a, a_task, a_stop, _) = start_as(&s, a_leads.clone());
    let (b, b_task, b_stop, _) = start_as(&s, b_leads.clone());

    // Created on B, which does not lead: A adopts it and steps it.
    assert_eq!(b.create(create()).await.expect("create"), 1);
    let job = s.rollout(1).await.expect("rollout").job_id;
    let first = in_flight(&s, None).await;
    succeed(&s, &job, &first).await;
    let second = in_flight(&s, Some(&first)).await;

    // A pause asked on B is carried out by A, and a refusal comes back.
    b.command(1, crate::rollouts::Event::Pause { by: "bob".into() })
        .await
        .expect("paused through the leader");
    let paused = phase(&s, |p| matches!(p, Phase::Paused(_))).await;
    assert!(matches!(paused, Phase::Paused(_)), "{paused:?}");
    let err = b
        .command(1, crate::rollouts::Event::Pause { by: "bob".into() })
        .await
        .expect_err("already paused");
    assert!(err.to_string().contains("paused"), "{err}");

    // B takes the lead (A stopped leading): B carries on from the store.
    a_leads.set(false, "a");
    b_leads.set(true, "b");
    a.command(1, crate::rollouts::Event::Resume { by: "carol".into() })
        .await
        .expect("resumed through the new leader");
    succeed(&s, &job, &second).await;
    let third = in_flight(&s, Some(&second)).await;
    succeed(&s, &job, &third).await;
    assert_eq!(phase(&s, |p| *p == Phase::Done).await, Phase::Done);
    let (_, targets) = s.get_job(job).await.expect("job");
    assert_eq!(targets.len(), 3, "each machine sent once across both nodes");
    for (stop, task) in [(a_stop, a_task), (b_stop, b_task)] {
        stop.send(true).expect("stop");
        task.await.expect("stopped");
    }
}
