//! The link log: changes survive encoding, a torn row is refused, the
//! follower applies each row once across overlapping reads, and two stores
//! on one PostgreSQL database see each other's links.

use super::{Follow, Logged, decode, encode};
use crate::store::{AssetFilter, Store};
use crate::testkit::{enroll, inv, pkg};

#[test]
fn changes_round_trip_and_a_torn_row_is_refused() {
    let changes = vec![(1, 7, true), (i64::MAX, u32::MAX, false), (42, 0, true)];
    let bytes = encode(&changes);
    assert_eq!(bytes.len(), 39);
    assert_eq!(decode(&bytes).expect("decodes"), changes);
    let err = decode(&bytes[..20]).expect_err("torn");
    assert!(err.contains("20 bytes"), "{err}");
}

fn row(seq: i64, at: i64) -> Logged {
    Logged {
        seq,
        at,
        changes: Vec::new(),
    }
}

#[test]
fn the_follower_applies_each_row_once_and_looks_back() {
    let mut f = Follow::from(100);
    assert_eq!(f.since(), 95);
    let seqs = |v: Vec<Logged>| v.into_iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(f.fresh(vec![row(1, 99), row(2, 101)])), [1, 2]);
    assert_eq!(f.since(), 96);
    // The next read overlaps: only the new row, including one stamped
    // earlier that committed late.
    assert_eq!(
        seqs(f.fresh(vec![row(1, 99), row(3, 97), row(2, 101), row(4, 102)])),
        [3, 4]
    );
    assert_eq!(f.since(), 97);
    // Rows older than the look back are forgotten, not re-applied: they
    // are no longer read.
    assert_eq!(seqs(f.fresh(vec![row(5, 120)])), [5]);
    assert_eq!(f.since(), 115);
    assert!(f.fresh(vec![row(5, 120)]).is_empty());
}

/// The assets that have `name` by the index (what software filters use).
async fn holders(s: &Store, name: &str) -> Vec<String> {
    let ids: Vec<i64> = s
        .software_versions(name.into())
        .await
        .expect("versions")
        .into_iter()
        .map(|(id, _, _, _)| id)
        .collect();
    let filter = AssetFilter {
        software_ids: Some(ids),
        ..AssetFilter::default()
    };
    let mut ids: Vec<String> = s
        .list_assets(filter, 10)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    ids
}

/// Node B's store learns the software node A's writer linked (and
/// unlinked) through the log; A does not read its own rows.
#[tokio::test]
async fn another_store_on_the_same_database_sees_the_links() {
    let Some(config) = crate::store::sql::testing::fresh_postgres_config() else {
        return;
    };
    let a = Store::open_postgres(&config.clone().into()).expect("node A's store");
    let b = Store::open_postgres(&config.clone().into()).expect("node B's store");
    let mut follow = Follow::from(b.link_log_newest().await.expect("newest"));
    enroll(&a, &[("a1", "pc-1"), ("a2", "pc-2")]).await;
    let first = inv(vec![pkg("openssl", "3.0.1"), pkg("curl", "8")]);
    for (id, packages) in [
        ("a1", first.clone()),
        ("a2", inv(vec![pkg("openssl", "3.0.1")])),
    ] {
        let plan = crate::inventory::plan_full(None, &packages);
        a.ingest_inventory(id.into(), None, plan, 1, 1)
            .await
            .expect("ingest on A");
    }
    assert_eq!(holders(&a, "openssl").await, ["a1", "a2"], "A's own index");
    assert!(
        holders(&b, "openssl").await.is_empty(),
        "B has not read the log"
    );
    let rows = follow.fresh(b.links_logged_since(follow.since()).await.expect("read"));
    assert!(b.apply_logged_links(&rows).expect("apply") > 0);
    assert_eq!(
        holders(&b, "openssl").await,
        ["a1", "a2"],
        "B finds what A linked"
    );
    assert_eq!(holders(&b, "curl").await, ["a1"]);
    assert!(
        a.links_logged_since(0).await.expect("read").is_empty(),
        "A skips its own rows"
    );

    // a1 drops curl: B hears of the unlink; a read again brings nothing new.
    let plan = crate::inventory::plan_full(Some(&first), &inv(vec![pkg("openssl", "3.0.1")]));
    a.ingest_inventory("a1".into(), None, plan, 2, 2)
        .await
        .expect("second report");
    assert!(holders(&a, "curl").await.is_empty(), "A unlinked it");
    let rows = follow.fresh(b.links_logged_since(follow.since()).await.expect("read"));
    b.apply_logged_links(&rows).expect("apply");
    assert!(holders(&b, "curl").await.is_empty(), "B unlinked it too");
    assert!(
        follow
            .fresh(b.links_logged_since(follow.since()).await.expect("read"))
            .is_empty()
    );
}
