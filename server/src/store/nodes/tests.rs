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
    let mut agents = s.agents_with_queued_jobs_since(50).await.expect("since");
    agents.sort();
    assert_eq!(agents, ["a1", "a2"]);
    assert!(
        s.agents_with_queued_jobs_since(51)
            .await
            .expect("later")
            .is_empty()
    );
}
