//! What changed across the fleet in a time window.

use super::*;

/// A fleet's events in a window: newest first, each with its host;
/// grouped, the same change on one asset twice counts that asset once.
#[tokio::test]
async fn changes_across_assets_in_a_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let s = crate::testkit::open(&path).expect("open");
    let conn = s.raw_conn();
    conn.execute_batch(
        "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at)
             VALUES ('a1', 'pc-1', 1, 1), ('a2', 'pc-2', 1, 1), ('p1', 'lp-4', 1, 1);
         INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value) VALUES
             ('a2', 50, 'software', 'curl', 'removed', '8.0', NULL),
             ('a1', 100, 'software', 'firefox', 'upgraded', '120', '121'),
             ('a2', 110, 'software', 'firefox', 'upgraded', '120', '121'),
             ('a2', 120, 'software', 'firefox', 'upgraded', '120', '121'),
             ('p1', 125, 'software', 'firefox', 'removed', '121', NULL),
             ('a1', 130, 'software', 'Firefox-ESR', 'installed', NULL, '115'),
             ('a1', 140, 'memory', '', 'changed', '8 GiB', '16 GiB');",
    )
    .expect("seed");
    let window = |since, until| ChangeQuery {
        since,
        until,
        ..ChangeQuery::default()
    };
    let seen = |rows: &[Change]| -> Vec<(i64, String, String)> {
        rows.iter()
            .map(|c| (c.at, c.hostname.clone(), c.event.item.clone()))
            .collect()
    };

    let all = s.changes(window(100, None), 100).await.expect("changes");
    assert_eq!(
        seen(&all)
            .iter()
            .map(|(at, host, _)| (*at, host.as_str()))
            .collect::<Vec<_>>(),
        [
            (140, "pc-1"),
            (130, "pc-1"),
            (125, "lp-4"),
            (120, "pc-2"),
            (110, "pc-2"),
            (100, "pc-1"),
        ]
    );
    let newest = s.changes(window(0, None), 2).await.expect("limited");
    assert_eq!(newest.iter().map(|c| c.at).collect::<Vec<_>>(), [140, 130]);
    assert!(
        s.changes(window(0, None), 0)
            .await
            .expect("none")
            .is_empty()
    );
    let before = s.changes(window(100, Some(130)), 100).await.expect("until");
    assert_eq!(
        before.iter().map(|c| c.at).collect::<Vec<_>>(),
        [125, 120, 110, 100]
    );
    let firefox = ChangeQuery {
        item: Some("FIREFOX".into()),
        category: Some("software".into()),
        ..window(0, None)
    };
    let items = s.changes(firefox, 100).await.expect("item");
    assert_eq!(
        items.iter().map(|c| c.at).collect::<Vec<_>>(),
        [130, 125, 120, 110, 100]
    );
    let on_a2 = ChangeQuery {
        assets: Some(HashSet::from(["a2".to_string()])),
        ..window(0, None)
    };
    let a2 = s.changes(on_a2.clone(), 100).await.expect("a2");
    assert_eq!(a2.iter().map(|c| c.at).collect::<Vec<_>>(), [120, 110, 50]);

    let groups = s.change_summary(window(100, None)).await.expect("summary");
    let shape: Vec<(&str, &str, usize, i64, i64)> = groups
        .iter()
        .map(|g| {
            (
                g.event.item.as_str(),
                g.event.change.as_str(),
                g.assets,
                g.first_at,
                g.last_at,
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("firefox", "upgraded", 2, 100, 120),
            ("", "changed", 1, 140, 140),
            ("Firefox-ESR", "installed", 1, 130, 130),
            ("firefox", "removed", 1, 125, 125),
        ]
    );
    let mut counts = s.change_counts("software", 100, 130).await.expect("counts");
    counts.sort();
    assert_eq!(
        counts,
        [("removed".to_string(), 1), ("upgraded".to_string(), 3)]
    );
    let a2_groups = s.change_summary(on_a2).await.expect("a2 summary");
    assert_eq!(
        a2_groups
            .iter()
            .map(|g| (g.event.item.as_str(), g.assets))
            .collect::<Vec<_>>(),
        [("curl", 1), ("firefox", 1)]
    );
}

/// The dashboard's 24-hour summary: each (category, change) with its
/// events and distinct assets, most events first, nothing before `since`.
#[tokio::test]
async fn change_kinds_count_events_and_assets_since_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let s = crate::testkit::open(&path).expect("open");
    let conn = s.raw_conn();
    conn.execute_batch(
        "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at)
             VALUES ('a1', 'pc-1', 1, 1), ('a2', 'pc-2', 1, 1);
         INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value) VALUES
             ('a1', 50, 'software', 'curl', 'removed', '8.0', NULL),
             ('a1', 100, 'software', 'firefox', 'upgraded', '120', '121'),
             ('a1', 100, 'software', 'thunderbird', 'upgraded', '120', '121'),
             ('a2', 110, 'software', 'firefox', 'upgraded', '120', '121'),
             ('a2', 120, 'software', 'vim', 'installed', NULL, '9.1'),
             ('a1', 140, 'memory', '', 'changed', '8 GiB', '16 GiB');",
    )
    .expect("seed");
    let kinds = s.read(|r| r.change_kinds(100)).await.expect("kinds");
    let seen: Vec<(&str, &str, usize, usize)> = kinds
        .iter()
        .map(|k| (k.category.as_str(), k.change.as_str(), k.events, k.assets))
        .collect();
    assert_eq!(
        seen,
        [
            ("software", "upgraded", 3, 2),
            ("memory", "changed", 1, 1),
            ("software", "installed", 1, 1),
        ]
    );
    assert!(
        s.read(|r| r.change_kinds(141))
            .await
            .expect("none")
            .is_empty()
    );
}
