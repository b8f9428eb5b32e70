//! Rollouts in the store: a created rollout reads back as it was, a step's
//! sends queue job targets in the same transaction (never twice), finished
//! targets are found, and the ticket gate skips the rollout's own tickets.

use crate::store::sql::Conn;

use super::{RolloutRecord, RolloutSave};
use crate::rollouts::plan::PlannedAsset;
use crate::rollouts::{
    Machine, MachineState, PauseReason, Phase, Rollout, RolloutAction, RolloutSettings, WavePlan,
};
use crate::store::{NewTicket, Store};
use crate::testkit::enroll;
use crate::tickets::Priority;

async fn setup() -> (tempfile::TempDir, Store, Conn) {
    let (dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2"), ("a3", "pc-3")]).await;
    for (id, host, version) in [
        ("a1", "pc-1", "1.0"),
        ("a2", "pc-2", "0.9"),
        ("a3", "pc-3", ""),
    ] {
        let mut inv = crate::testkit::inv(if version.is_empty() {
            Vec::new()
        } else {
            vec![crate::testkit::pkg("hello", version)]
        });
        inv.identity.hostname = host.into();
        let plan = crate::inventory::plan_full(None, &inv);
        s.ingest_inventory(id.into(), None, plan, 1, 1)
            .await
            .expect("ingest");
    }
    let raw = s.raw_conn();
    raw.execute_batch(
        "INSERT INTO content_items (id, kind, name, version, manifest, signature, publisher, published_at, published_by)
         VALUES (1, 'package', 'hello', '1.0', '{}', 'sig', 'key', 1, 'admin');",
    )
    .expect("an item");
    (dir, s, raw)
}

fn settings() -> RolloutSettings {
    RolloutSettings {
        waves: vec![50, 100],
        min_wave_size: 1,
        failure_threshold_pct: 10,
        soak_secs: 60,
        max_in_flight: 1,
        deadline: 100_000,
        approve_waves: true,
        on_abort_uninstall: true,
        pause_if_tickets_exceed: Some(2),
    }
}

fn record(state: Rollout) -> RolloutRecord {
    RolloutRecord {
        state,
        action: RolloutAction::Install,
        item_id: 1,
        item: "hello@1.0".into(),
        args: vec!["GREETING=hi".into()],
        targets: vec!["label:desktops".into()],
        filter: Some("os=linux".into()),
        canary: vec!["pc-1".into()],
        window: Some("Mon-Fri 19:00-06:00".into()),
        timeout_secs: 600,
        job_id: String::new(),
        rollback_job_id: None,
        ticket_mark: 0,
        tickets: Vec::new(),
        created_at: 10,
        created_by: "alice".into(),
    }
}

fn planned(a: &str) -> PlannedAsset {
    PlannedAsset {
        asset: a.into(),
        compliant: false,
    }
}

/// Rollout 1 over a1 (canary), a2 and a3, started at 10.
async fn created(s: &Store) -> RolloutRecord {
    let plan = WavePlan {
        waves: vec![
            vec![planned("a1")],
            vec![planned("a2")],
            vec![planned("a3")],
        ],
    };
    let (state, actions) = Rollout::start("1", settings(), &plan, 10, &|_, _| true);
    assert!(actions.contains(&crate::rollouts::Action::Send { asset: "a1".into() }));
    let mut rec = record(state);
    let first = RolloutSave {
        sends: vec!["a1".into()],
        ..RolloutSave::default()
    };
    let (job, saved) = s
        .create_rollout(rec.clone(), first, 10)
        .await
        .expect("create");
    assert_eq!(saved.agents, vec!["a1"]);
    rec.job_id = job;
    rec
}

fn target_state(raw: &Conn, job: &str, asset: &str) -> Option<String> {
    raw.query_row(
        "SELECT state FROM job_targets WHERE job_id = ?1 AND asset_id = ?2",
        [job, asset],
        |r| r.get(0),
    )
    .ok()
}

#[tokio::test]
async fn a_created_rollout_reads_back_as_it_was_with_its_first_send_queued() {
    let (_dir, s, raw) = setup().await;
    let rec = created(&s).await;
    assert_eq!(s.next_rollout_number().await.expect("next"), 2);
    let taken = s.take_rollout_number(1).await.expect("take");
    assert_eq!(taken, 2);
    if s.is_shared() {
        // Taken on PostgreSQL: the next creation gets the one after.
        assert_eq!(s.next_rollout_number().await.expect("next"), 3);
    }
    let back = s.rollout(1).await.expect("read");
    assert_eq!(back, rec);
    assert_eq!(
        back.state.machine("a1").map(|m| m.state),
        Some(MachineState::InFlight)
    );
    assert_eq!(
        target_state(&raw, &rec.job_id, "a1").as_deref(),
        Some("queued")
    );
    assert_eq!(target_state(&raw, &rec.job_id, "a2"), None);
    let audit: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'rollout.create' AND target = '1'",
            [],
            |r| r.get(0),
        )
        .expect("audit");
    assert_eq!(audit, 1);
    assert_eq!(s.rollouts(true, 10).await.expect("live").len(), 1);
    let err = s.rollout(9).await.expect_err("no such rollout");
    assert!(err.to_string().contains("no rollout 9"), "{err}");
}

#[tokio::test]
async fn a_pair_is_sent_once_and_a_machine_without_an_agent_is_unsendable() {
    let (_dir, s, raw) = setup().await;
    let mut rec = created(&s).await;
    rec.state.machines[1].state = MachineState::InFlight;
    let save = RolloutSave {
        machines: vec![(1, rec.state.machines[1].clone())],
        sends: vec!["a1".into(), "a2".into(), "ghost".into()],
        ..RolloutSave::default()
    };
    let saved = s.save_rollout(rec.clone(), save, 20).await.expect("save");
    assert_eq!(saved.unsendable, vec!["ghost"]);
    assert_eq!(saved.agents, vec!["a1", "a2"]);
    let n: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM job_targets WHERE job_id = ?1",
            [&rec.job_id],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 2, "a1 was queued once, a2 once, ghost never");
    let back = s.rollout(1).await.expect("read");
    assert_eq!(back.state.machines[1].state, MachineState::InFlight);
}

#[tokio::test]
async fn finished_targets_are_the_in_flight_machines_whose_job_ended() {
    let (_dir, s, raw) = setup().await;
    let rec = created(&s).await;
    let job = rec.job_id.clone();
    let read = |s: &Store| {
        let s = s.clone();
        let job = job.clone();
        async move {
            s.read(move |r| r.finished_targets(1, &job))
                .await
                .expect("read")
        }
    };
    assert!(read(&s).await.is_empty());
    raw.execute(
        "UPDATE job_targets SET state = 'failed', exit_code = 3, stderr = 'boom' WHERE job_id = ?1",
        [&job],
    )
    .expect("finish");
    let found = read(&s).await;
    assert_eq!(
        found,
        vec![("a1".to_string(), crate::jobs::TargetState::Failed)]
    );
    let job2 = job.clone();
    let details = s
        .read(move |r| r.rollout_machine_details(1, &job2, true))
        .await
        .expect("details");
    assert!(details.is_empty(), "a1 is still in flight in the rollout");
    let mut rec = rec;
    rec.state.machines[0].state = MachineState::Failed;
    let save = RolloutSave {
        machines: vec![(0, rec.state.machines[0].clone())],
        ..RolloutSave::default()
    };
    s.save_rollout(rec, save, 30).await.expect("save");
    assert!(read(&s).await.is_empty());
    let details = s
        .read(move |r| r.rollout_machine_details(1, &job, true))
        .await
        .expect("details");
    assert_eq!(details.len(), 1);
    assert_eq!(
        (details[0].hostname.as_str(), details[0].exit_code),
        ("pc-1", Some(3))
    );
    assert_eq!(details[0].stderr, "boom");
}

#[tokio::test]
async fn a_pause_is_stored_with_its_reason_and_ticket_and_the_gate_skips_that_ticket() {
    let (_dir, s, _raw) = setup().await;
    let mut rec = created(&s).await;
    rec.state.phase = Phase::Paused(PauseReason::Failures {
        wave: 0,
        failed: 1,
        results: 1,
        threshold_pct: 10,
    });
    let ticket = NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title: "Rollout 1 paused".into(),
        description: String::new(),
        requester: "rollout 1".into(),
        category: "rollout".into(),
        software: "hello".into(),
        priority: Priority::High,
        targets: crate::tickets::sla::SlaTargets {
            first_response: 3600,
            resolution: 86_400,
        },
        assets: vec!["a1".into()],
    };
    let save = RolloutSave {
        ticket: Some(ticket.clone()),
        audit: vec![("rollout 1".into(), "rollout.paused".into(), "why".into())],
        ..RolloutSave::default()
    };
    let saved = s.save_rollout(rec.clone(), save, 40).await.expect("save");
    let number = saved.ticket.expect("a ticket");
    let back = s.rollout(1).await.expect("read");
    assert_eq!(back.state.phase, rec.state.phase);
    assert_eq!(back.tickets, vec![number]);
    // An operator's ticket on a1 counts; the rollout's own does not.
    let mine = s
        .create_ticket(
            NewTicket {
                channel: crate::tickets::Channel::Technician,
                requester_account: None,
                title: "printer".into(),
                requester: "bob".into(),
                ..ticket
            },
            "carol".into(),
            50,
        )
        .await
        .expect("ticket");
    let (links, top) = s.read(|r| r.tickets_since(0)).await.expect("since");
    assert_eq!(top, mine);
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].ticket, links[0].asset.as_str()), (mine, "a1"));
    let (links, _) = s.read(move |r| r.tickets_since(mine)).await.expect("since");
    assert!(links.is_empty());
}

#[tokio::test]
async fn an_operator_pause_and_a_joiner_read_back() {
    let (_dir, s, _raw) = setup().await;
    let mut rec = created(&s).await;
    rec.state.phase = Phase::Paused(PauseReason::Operator { by: "bob".into() });
    rec.state.machines.push(Machine {
        asset: "a9".into(),
        wave: 2,
        canary: false,
        state: MachineState::Pending,
        sent_at: None,
    });
    let save = RolloutSave {
        machines: vec![(3, rec.state.machines[3].clone())],
        ..RolloutSave::default()
    };
    s.save_rollout(rec.clone(), save, 40).await.expect("save");
    let back = s.rollout(1).await.expect("read");
    assert_eq!(back.state, rec.state);
}

#[tokio::test]
async fn installed_versions_say_who_has_the_package() {
    let (_dir, s, _raw) = setup().await;
    let found = s
        .installed_versions("HELLO".into())
        .await
        .expect("versions");
    assert_eq!(found.len(), 2);
    assert_eq!(found.get("a1").map(|v| v.0.as_str()), Some("1.0"));
    assert_eq!(found.get("a2").map(|v| v.0.as_str()), Some("0.9"));
    assert!(!found.contains_key("a3"));
    assert!(
        s.installed_versions("nothing".into())
            .await
            .expect("none")
            .is_empty()
    );
}

#[tokio::test]
async fn a_damaged_phase_is_an_error_naming_the_column() {
    let (_dir, s, raw) = setup().await;
    created(&s).await;
    raw.execute("UPDATE rollouts SET phase = 'sideways'", [])
        .expect("damage");
    let err = s.rollout(1).await.expect_err("damaged");
    assert!(err.to_string().contains("rollouts.phase"), "{err}");
}

/// A command moves once: taken by the leader and answered, or withdrawn by
/// its asker before that (then never taken); an old one expires.
#[tokio::test]
async fn a_rollout_command_is_taken_once_or_withdrawn() {
    use crate::store::CommandState;
    let (_dir, s) = crate::testkit::store().await;
    assert!(
        s.take_rollout_commands(0, 100)
            .await
            .expect("none")
            .is_empty()
    );

    let pause = s
        .ask_rollout_command(7, "pause".into(), "bob".into(), 100)
        .await
        .expect("ask");
    let taken = s.take_rollout_commands(90, 101).await.expect("take");
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, taken[0].rollout), (pause, 7));
    assert_eq!(
        (taken[0].kind.as_str(), taken[0].by.as_str()),
        ("pause", "bob")
    );
    assert!(
        s.take_rollout_commands(90, 101)
            .await
            .expect("again")
            .is_empty()
    );
    assert!(!s.withdraw_rollout_command(pause, 102).await.expect("taken"));
    assert_eq!(
        s.rollout_command_state(pause).await.expect("state"),
        CommandState::Taken
    );
    s.answer_rollout_command(pause, Some("already paused".into()), 103)
        .await
        .expect("answer");
    assert_eq!(
        s.rollout_command_state(pause).await.expect("state"),
        CommandState::Refused("already paused".into())
    );

    let resume = s
        .ask_rollout_command(7, "resume".into(), "bob".into(), 110)
        .await
        .expect("ask");
    assert!(
        s.withdraw_rollout_command(resume, 111)
            .await
            .expect("withdrawn")
    );
    assert!(
        s.take_rollout_commands(100, 112)
            .await
            .expect("take")
            .is_empty()
    );
    assert_eq!(
        s.rollout_command_state(resume).await.expect("state"),
        CommandState::Expired
    );

    let old = s
        .ask_rollout_command(7, "abort".into(), "eve".into(), 120)
        .await
        .expect("ask");
    assert!(
        s.take_rollout_commands(150, 160)
            .await
            .expect("take")
            .is_empty(),
        "too old"
    );
    assert_eq!(
        s.rollout_command_state(old).await.expect("state"),
        CommandState::Expired
    );
}
