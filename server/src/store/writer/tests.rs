//! The writers as a pool (PostgreSQL runs several at once; SQLite one):
//! reports on one asset from two writers apply one after the other, and
//! the in-memory software index ends as the database says, whichever
//! writer committed what. Run on both stores (`DESKHAND_TEST_DATABASE`).

use std::time::Duration;

use deskhand_shared::inventory::diff;

use crate::inventory::{plan_delta, plan_full};
use crate::store::{Store, catalog};
use crate::testkit::{enroll, inv, pkg, software_of};

/// Whether the index the writers kept is the one the database's links
/// build.
async fn index_agrees(s: &Store) -> bool {
    let built = s
        .read(|r| catalog::build_index(r.0))
        .await
        .expect("build the index");
    let kept = s.index.read().expect("index").pairs();
    built.pairs() == kept
}

/// Two deltas against the same stored inventory, the second sent while
/// the first may still be in another writer's transaction: exactly one
/// applies, the other is refused as against a base that moved on, and
/// links, count and index are the winner's. Several rounds, each with a
/// slightly later second delta.
#[tokio::test]
async fn deltas_on_one_asset_from_two_writers_apply_one_after_the_other() {
    let (_dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "a1")]).await;
    let mut current = inv(vec![pkg("curl", "1"), pkg("vim", "1")]);
    s.ingest_inventory("a1".into(), None, plan_full(None, &current), 1, 1)
        .await
        .expect("first inventory");
    for round in 0..12u64 {
        let one = inv(vec![
            pkg("curl", &format!("{}", round + 2)),
            pkg("vim", "1"),
        ]);
        let two = inv(vec![pkg("vim", "1"), pkg("zsh", &format!("{round}"))]);
        let base = current.content_hash().to_hex();
        let send = |to: &deskhand_shared::inventory::Inventory| {
            let s = s.clone();
            let base = base.clone();
            let plan = plan_delta(None, diff(&current, to)).expect("delta");
            async move {
                s.ingest_inventory("a1".into(), Some(base), plan, 1, 2)
                    .await
            }
        };
        let first = tokio::spawn(send(&one));
        tokio::time::sleep(Duration::from_micros(round * 150)).await;
        let second = send(&two).await;
        let first = first.await.expect("join");
        current = match (first.is_ok(), second.is_ok()) {
            (true, false) => one,
            (false, true) => two,
            other => panic!("round {round}: both or neither applied: {other:?}"),
        };
        let mut want: Vec<(String, String)> = current
            .software
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        want.sort();
        let mut have = software_of(&s, "a1").await;
        have.sort();
        assert_eq!(have, want, "round {round}");
        let count = s.find_asset("a1".into()).await.expect("a1").software_count;
        assert_eq!(count, 2, "round {round}");
        assert!(
            index_agrees(&s).await,
            "round {round}: the index and the links differ"
        );
    }
}

/// Many agents' first inventories and deltas at once, spread over the
/// writers: every asset has what it reported, and the index agrees with
/// the links, also after reopening.
#[tokio::test]
async fn many_reports_at_once_leave_the_index_as_the_links_say() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let s = crate::testkit::open(&path).expect("open");
    let names: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    let agents: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), n.as_str())).collect();
    enroll(&s, &agents).await;
    let first = |i: usize| {
        inv(vec![
            pkg("curl", "1"),
            pkg(&format!("tool-{}", i % 7), "1"),
            pkg(&format!("own-{i}"), "1"),
        ])
    };
    let later = |i: usize| {
        inv(vec![
            pkg("curl", "2"),
            pkg(&format!("tool-{}", i % 5), "2"),
            pkg(&format!("own-{i}"), "1"),
        ])
    };
    let mut tasks = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (s, name) = (s.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let before = first(i);
            s.ingest_inventory(name.clone(), None, plan_full(None, &before), 1, 1)
                .await?;
            let delta = plan_delta(None, diff(&before, &later(i))).expect("delta");
            let base = before.content_hash().to_hex();
            s.ingest_inventory(name, Some(base), delta, 1, 2).await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("reports stored");
    }
    for (i, name) in names.iter().enumerate() {
        let mut want: Vec<(String, String)> = later(i)
            .software
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        want.sort();
        let mut have = software_of(&s, name).await;
        have.sort();
        assert_eq!(have, want, "{name}");
    }
    assert!(index_agrees(&s).await, "the index and the links differ");
    drop(s);
    let s = crate::testkit::open(&path).expect("reopen");
    assert!(index_agrees(&s).await, "after reopening");
}
