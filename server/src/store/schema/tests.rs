//! Migrations carry existing data across: databases made by older schemas
//! keep every link, change and stored form.

use super::*;
use crate::store::*;

/// A database made by the schema before migration 5 (links keyed by
/// TEXT asset ids, one table with a secondary index) keeps every link
/// and finds the same assets after it.
#[tokio::test]
async fn links_survive_the_move_to_integer_asset_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    {
        let conn = crate::store::sql::testing::lite_file(&path);
        migrate_sqlite(&conn, Some(4)).expect("old schema");
        conn.execute_batch(
            "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, software_count)
                 VALUES ('asset-b', 'pc-b', 1, 1, 2), ('asset-a', 'pc-a', 1, 1, 1);
             INSERT INTO assets (id, kind, hostname, first_inventory_at, last_inventory_at)
                 VALUES ('printer', 'printer', 'lp1', 1, 1);
             INSERT INTO software (id, name, version, vendor, source, arch) VALUES
                 (7, 'openssl', '3.0.11', '', 'dpkg', 'amd64'),
                 (9, 'curl', '8.0', '', 'dpkg', 'amd64');
             INSERT INTO asset_software (asset_id, software_id, install_date, size_bytes, state, pkg_id) VALUES
                 ('asset-b', 7, 100, 2000, '', ''),
                 ('asset-b', 9, NULL, NULL, 'half-installed', 'x'),
                 ('asset-a', 7, 200, NULL, '', '');
             INSERT INTO asset_events (asset_id, at, category, item, change) VALUES ('asset-a', 1, 'asset', '', 'inventoried');",
        )
        .expect("old data");
    }
    let s = Store::open(&path).expect("migrate");
    let b = s
        .read(|r| r.asset_software("asset-b"))
        .await
        .expect("links of b");
    assert_eq!(
        b.iter()
            .map(|r| (
                r.name.as_str(),
                r.install_date,
                r.size_bytes,
                r.state.as_str(),
                r.pkg_id.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            ("curl", None, None, "half-installed", "x"),
            ("openssl", Some(100), Some(2000), "", ""),
        ]
    );
    let a = s
        .read(|r| r.asset_software("asset-a"))
        .await
        .expect("links of a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].install_date, Some(200));
    let with_openssl = s
        .list_assets(
            AssetFilter {
                software_ids: Some(vec![7]),
                ..AssetFilter::default()
            },
            10,
        )
        .await
        .expect("search");
    assert_eq!(
        with_openssl
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["asset-a", "asset-b"]
    );
    let counts = s.software_counts(None).await.expect("counts");
    assert_eq!(
        counts
            .iter()
            .map(|(r, n)| (r.name.as_str(), *n))
            .collect::<Vec<_>>(),
        [("curl", 1), ("openssl", 2)]
    );
    assert_eq!(
        s.asset_history("asset-a".into(), 0, None)
            .await
            .expect("history")
            .len(),
        1
    );
    // Every asset has a distinct number, and a new asset gets the next.
    let nums: Vec<Option<i64>> = s
        .read(|c| {
            let mut st = c.prepare("SELECT num FROM assets ORDER BY num")?;
            let rows = st.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .expect("nums");
    assert_eq!(nums, [Some(1), Some(2), Some(3)]);
    let old_table: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'asset_software'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .expect("schema");
    assert_eq!(old_table, 0);
    // The in-memory index is rebuilt from the packed links on reopen.
    drop(s);
    let s = Store::open(&path).expect("reopen");
    let again = s
        .list_assets(
            AssetFilter {
                software_ids: Some(vec![7]),
                ..AssetFilter::default()
            },
            10,
        )
        .await
        .expect("search after reopen");
    assert_eq!(again.len(), 2);
}

/// Migration 10 folds version-1 link changes, whose added links could
/// replace a base link without listing it as removed, into the base.
#[tokio::test]
async fn version_1_link_changes_are_folded_into_the_base() {
    use links::{Changes, Link, LinkSet};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    {
        let conn = crate::store::sql::testing::lite_file(&path);
        migrate_sqlite(&conn, Some(9)).expect("old schema");
        conn.execute_batch(
            "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, software_count, num)
                 VALUES ('asset-a', 'pc-a', 1, 1, 2, 1);
             INSERT INTO software (id, name, version, vendor, source, arch) VALUES
                 (7, 'openssl', '3.0.11', '', 'dpkg', 'amd64'),
                 (8, 'curl', '7.88', '', 'dpkg', 'amd64');",
        )
        .expect("seed");
        let link = |id, state: &str| Link {
            software_id: id,
            state: state.into(),
            ..Link::default()
        };
        let mut base = LinkSet::default();
        base.apply(&[], vec![link(7, "old"), link(8, "")]);
        // Version 1: openssl's new details, and nothing removed.
        let mut changes = Changes::default();
        changes.apply(|_| false, &[], vec![link(7, "new")]);
        let mut v1 = changes.encode();
        v1[0] = 1;
        conn.execute(
            "INSERT INTO asset_links (asset_num, links) VALUES (1, ?1)",
            [base.encode()],
        )
        .expect("base");
        conn.execute(
            "INSERT INTO asset_link_changes (asset_num, changes) VALUES (1, ?1)",
            [v1],
        )
        .expect("changes");
    }
    let s = Store::open(&path).expect("migrate");
    let (left, links): (i64, Vec<u8>) = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM asset_link_changes), links FROM asset_links WHERE asset_num = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .expect("links");
    assert_eq!(left, 0, "no changes value is left");
    let folded = LinkSet::decode(&links).expect("base");
    let states: Vec<(i64, &str)> = folded
        .links()
        .iter()
        .map(|l| (l.software_id, l.state.as_str()))
        .collect();
    assert_eq!(states, [(7, "new"), (8, "")]);
    let software = s
        .read(|r| r.asset_software("asset-a"))
        .await
        .expect("software");
    assert_eq!(software.len(), 2);
}

/// Migration 11 moves each stored form out of the assets row, keeps
/// every one (an asset without a number gets one) and leaves manual
/// assets without.
#[tokio::test]
async fn stored_forms_move_to_their_own_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    {
        let conn = crate::store::sql::testing::lite_file(&path);
        migrate_sqlite(&conn, Some(10)).expect("old schema");
        conn.execute(
            "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, inventory_hash, inventory, num)
                 VALUES ('a', 'pc-a', 1, 1, 'ha', ?1, 4), ('b', 'pc-b', 1, 1, 'hb', x'0102', NULL);",
            [&big],
        )
        .expect("seed");
        conn.execute_batch(
            "INSERT INTO assets (id, kind, hostname, first_inventory_at, last_inventory_at)
                 VALUES ('lp', 'printer', 'lp1', 1, 1);",
        )
        .expect("manual");
    }
    let s = Store::open(&path).expect("migrate");
    let stored = |id: &str| {
        let s = s.clone();
        let id = id.to_string();
        async move {
            s.read(move |r| r.stored_inventory(&id))
                .await
                .expect("read")
        }
    };
    assert_eq!(stored("a").await, Some((big.clone(), "ha".to_string())));
    assert_eq!(stored("b").await, Some((vec![1, 2], "hb".to_string())));
    assert_eq!(stored("lp").await, Some((Vec::new(), String::new())));
    assert_eq!(stored("nobody").await, None);
    let (forms, numbered, column): (i64, i64, i64) = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM asset_inventory),
                        (SELECT count(*) FROM assets WHERE num IS NOT NULL AND id IN ('a', 'b')),
                        (SELECT count(*) FROM pragma_table_info('assets') WHERE name = 'inventory')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .expect("counts");
    assert_eq!((forms, numbered, column), (2, 2, 0));
}
