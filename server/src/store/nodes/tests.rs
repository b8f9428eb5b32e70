//! Nodes and where agents are connected, on either database.

use super::*;
use crate::testkit::store;

fn beat(name: &str, lease_until: i64) -> NodeBeat {
    NodeBeat {
        name: name.into(),
        api: format!("{name}:8080"),
        agents_addr: format!("{name}:4433"),
        started_at: 1,
        lease_until,
    }
}

#[tokio::test]
async fn nodes_renew_their_lease_and_a_dead_ones_agents_are_not_online() {
    let (_d, s) = store().await;
    s.node_heartbeat(beat("a", 20), vec!["x".into(), "y".into()], vec![], 5)
        .await
        .expect("a beats");
    s.node_heartbeat(beat("b", 20), vec!["z".into()], vec![], 5)
        .await
        .expect("b beats");
    // From b at 10: a's agents are elsewhere and online.
    let mut remote = s.remote_agents("b".into(), 10).await.expect("remote");
    remote.sort();
    assert_eq!(
        remote,
        [("x".to_string(), "a".to_string()), ("y".into(), "a".into())]
    );
    // y leaves a; z moves from b to a; b's late "z left" must not undo it.
    s.node_heartbeat(beat("a", 40), vec!["z".into()], vec!["y".into()], 25)
        .await
        .expect("a beats again");
    s.node_heartbeat(beat("b", 20), vec![], vec!["z".into()], 15)
        .await
        .expect("b's late beat");
    let nodes = s.list_nodes(30).await.expect("nodes");
    let view: Vec<(&str, bool, i64)> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.alive, n.agents))
        .collect();
    // b's lease ran out at 20: dead, its agents not counted, listed last.
    assert_eq!(view, [("a", true, 2), ("b", false, 0)]);
    assert_eq!(nodes[0].api, "a:8080");
    assert_eq!(nodes[0].heartbeat_at, 25);
    let remote = s.remote_agents("b".into(), 30).await.expect("remote");
    assert_eq!(remote.len(), 2, "{remote:?}");
    // Past a's lease too: nobody is online anywhere but here.
    assert!(
        s.remote_agents("b".into(), 41)
            .await
            .expect("none")
            .is_empty()
    );
}

#[tokio::test]
async fn queued_targets_since_a_time_name_their_agents_once() {
    let (_d, s) = store().await;
    crate::testkit::enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2")]).await;
    for (id, host) in [("a1", "pc-1"), ("a2", "pc-2")] {
        let mut inv = crate::testkit::inv(Vec::new());
        inv.identity.hostname = host.into();
        let plan = crate::inventory::plan_full(None, &inv);
        s.ingest_inventory(id.into(), None, plan, 1, 1)
            .await
            .expect("ingest");
    }
    let job = crate::store::NewJob {
        action: "inventory".into(),
        item_id: None,
        diag_check: None,
        args: Vec::new(),
        timeout_secs: 60,
        deadline: 1_000,
        targets_spec: "all".into(),
        targets: vec![
            ("a1".into(), "a1".into(), "pc-1".into()),
            ("a2".into(), "a2".into(), "pc-2".into()),
        ],
    };
    s.create_job(job, "admin".into(), 50).await.expect("job");
    let mut targets = s.queued_targets_since(50).await.expect("since");
    targets.sort();
    let agents: Vec<&str> = targets.iter().map(|(agent, _, _)| agent.as_str()).collect();
    assert_eq!(agents, ["a1", "a2"]);
    assert!(s.queued_targets_since(51).await.expect("later").is_empty());
}

/// Two nodes' stores on one fresh PostgreSQL database, or `None` (the
/// test is skipped) without one.
fn two_nodes() -> Option<(Store, Store)> {
    let config = crate::store::sql::testing::fresh_postgres_config()?;
    let a = Store::open_postgres(&config.clone().into()).expect("node A's store");
    let b = Store::open_postgres(&config.into()).expect("node B's store");
    Some((a, b))
}

/// Two nodes' writers adding the same new software in opposite orders, at
/// once: node A's batch adds package 0, 1, 2, ... (one per report), node
/// B's 39, 38, 37, ...; every report is stored (the two batches deadlocked
/// each other before the catalog lock), and each package is one row.
#[tokio::test]
async fn two_nodes_adding_the_same_software_at_once_both_succeed() {
    let Some((a, b)) = two_nodes() else {
        return;
    };
    let agents: Vec<(String, String)> = (0..80)
        .map(|i| (format!("agent-{i}"), format!("pc-{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = agents
        .iter()
        .map(|(id, host)| (id.as_str(), host.as_str()))
        .collect();
    crate::testkit::enroll(&a, &pairs).await;
    let mut reports = Vec::new();
    for k in 0..40 {
        for (store, agent, package) in [(&a, k, k), (&b, 40 + k, 39 - k)] {
            let pkg = crate::testkit::pkg(&format!("shared-{package:02}"), "1.0");
            let plan = crate::inventory::plan_full(None, &crate::testkit::inv(vec![pkg]));
            let (store, id) = (store.clone(), agents[agent].0.clone());
            reports.push(tokio::spawn(async move {
                store.ingest_inventory(id, None, plan, 1, 1).await
            }));
        }
    }
    for r in reports {
        r.await.expect("joined").expect("every report stored");
    }
    let rows: i64 = b
        .read(|r| {
            Ok(r.query_row(
                "SELECT count(*) FROM software WHERE name LIKE 'shared-%'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .expect("count");
    assert_eq!(rows, 40, "one catalog row per package");
}

/// Whether a hint comes within `limit`.
async fn hinted(hints: &mut mpsc::Receiver<()>, limit: std::time::Duration) -> bool {
    tokio::time::timeout(limit, hints.recv())
        .await
        .is_ok_and(|h| h.is_some())
}

fn job(targets: &[&str]) -> crate::store::NewJob {
    crate::store::NewJob {
        action: "inventory".into(),
        item_id: None,
        diag_check: None,
        args: Vec::new(),
        timeout_secs: 60,
        deadline: 1_000,
        targets_spec: "all".into(),
        targets: targets
            .iter()
            .map(|a| ((*a).into(), (*a).into(), format!("pc-{a}")))
            .collect(),
    }
}

/// Node B hears of targets node A queued at A's commit, and of nothing
/// else: not of a write rolled back after its NOTIFY, not of a report.
#[tokio::test]
async fn queued_targets_hint_other_nodes_at_commit_and_nothing_else_does() {
    use std::time::Duration;
    let Some((a, b)) = two_nodes() else {
        return;
    };
    crate::testkit::enroll(&a, &[("a1", "pc-a1")]).await;
    let plan = crate::inventory::plan_full(None, &crate::testkit::inv(Vec::new()));
    a.ingest_inventory("a1".into(), None, plan, 1, 1)
        .await
        .expect("ingest");
    let mut hints = b.job_hints().expect("hints on PostgreSQL");
    // The first hint says the listener listens (and covers what was
    // queued before).
    assert!(
        hinted(&mut hints, Duration::from_secs(10)).await,
        "listening"
    );

    // A job whose write fails after its NOTIFY (its audit row refused):
    // rolled back, so never heard of.
    let raw = a.raw_conn();
    crate::store::sql::testing::refuse_inserts(
        &raw,
        "no_audit",
        "BEFORE",
        "audit_log",
        "true",
        "no audit today",
    );
    let e = a
        .create_job(job(&["a1"]), "alice".into(), 10)
        .await
        .expect_err("the audit row is refused");
    assert!(e.to_string().contains("no audit today"), "{e}");
    assert!(
        !hinted(&mut hints, Duration::from_millis(1500)).await,
        "a rolled-back write's NOTIFY is not delivered"
    );
    raw.execute_batch("DROP TRIGGER no_audit ON audit_log")
        .expect("drop the trigger");

    let (job_id, _) = a
        .create_job(job(&["a1"]), "alice".into(), 11)
        .await
        .expect("a job");
    assert!(
        hinted(&mut hints, Duration::from_secs(5)).await,
        "a committed job is heard of"
    );
    let looked = b.queued_targets_since(10).await.expect("look");
    assert_eq!(
        looked
            .iter()
            .map(|(agent, _, _)| agent.as_str())
            .collect::<Vec<_>>(),
        ["a1"]
    );

    // Reports and heartbeats say nothing.
    let progress = deskhand_shared::jobs::JobProgress::Running { at: 12 };
    a.apply_job_update("a1".into(), job_id, progress, 12)
        .await
        .expect("a report");
    a.node_heartbeat(beat("a", 30), vec!["a1".into()], vec![], 12)
        .await
        .expect("a beat");
    assert!(
        !hinted(&mut hints, Duration::from_millis(1500)).await,
        "no hint for a report or a heartbeat"
    );
}

#[tokio::test]
async fn sqlite_gives_no_hints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&dir.path().join("deskhand.db")).expect("open");
    assert!(s.job_hints().is_none());
}

/// The listening connection killed by the server is opened again, and
/// hears of jobs again.
#[tokio::test]
async fn a_lost_listening_connection_is_opened_again() {
    use std::time::Duration;
    let Some(config) = crate::store::sql::testing::fresh_postgres_config() else {
        return;
    };
    let s = Store::open_postgres(&config.into()).expect("store");
    let mut hints = s.job_hints().expect("hints on PostgreSQL");
    assert!(
        hinted(&mut hints, Duration::from_secs(10)).await,
        "listening"
    );
    let killed: i64 = s
        .raw_conn()
        .query_row(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN deskhand_jobs'",
            [],
            |r| r.get(0),
        )
        .expect("terminate the listener");
    assert_eq!(killed, 1, "one listening connection");
    // Listening again says so with a hint (for what was missed meanwhile).
    assert!(
        hinted(&mut hints, Duration::from_secs(10)).await,
        "listening again"
    );
    s.raw_conn()
        .execute_batch("NOTIFY deskhand_jobs")
        .expect("notify");
    assert!(
        hinted(&mut hints, Duration::from_secs(5)).await,
        "heard again"
    );
}
