//! Asset lists: search patterns and sort orders.

use super::*;

#[test]
fn like_patterns_take_star_as_any_text_and_the_rest_literally() {
    assert_eq!(like_pattern("Mozilla Firefox*", false), "Mozilla Firefox%");
    assert_eq!(like_pattern("fire", true), "%fire%");
    assert_eq!(like_pattern("100%_a\\b*", false), "100\\%\\_a\\\\b%");
    let db = rusqlite::Connection::open_in_memory().expect("db");
    let like = |value: &str, text: &str, contains: bool| -> bool {
        db.query_row(
            "SELECT ?1 LIKE ?2 ESCAPE '\\'",
            [value, &like_pattern(text, contains)],
            |r| r.get(0),
        )
        .expect("like")
    };
    assert!(like(
        "Mozilla Firefox (x64 en-US)",
        "mozilla firefox*",
        false
    ));
    assert!(!like("Mozilla Firefox (x64 en-US)", "firefox*", false));
    assert!(like("Mozilla Firefox (x64 en-US)", "firefox", true));
    assert!(
        like("lib*ssl", "lib*ssl", false),
        "a star matches itself too"
    );
    assert!(!like("libxssl", "lib_ssl", true), "_ is only itself");
    assert!(like("lib_ssl", "lib_ssl", true));
    assert!(!like("100 apps", "100%", false), "% is only itself");
}

#[test]
fn asset_orders_put_missing_values_last_and_break_ties_by_name() {
    let row = |name: &str, ram: i64, seen: Option<i64>, warranty: &str| AssetRow {
        id: format!("id-{name}"),
        hostname: name.into(),
        memory_bytes: ram,
        last_seen: seen,
        warranty_until: warranty.into(),
        ..Default::default()
    };
    let rows = vec![
        row("delta", 8, Some(300), ""),
        row("alpha", 16, None, "2027-01-31"),
        row("charlie", 8, Some(100), "2026-12-01"),
        row("bravo", 32, Some(200), ""),
    ];
    let names = |by: AssetSort, descending: bool| {
        let order = AssetOrder { by, descending };
        let mut sorted = rows.clone();
        sorted.sort_by(|a, b| order.compare(a, b));
        sorted
            .iter()
            .map(|r| r.hostname.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(names(AssetSort::Name, false), "alpha bravo charlie delta");
    assert_eq!(names(AssetSort::Name, true), "delta charlie bravo alpha");
    // Equal RAM: by name, ascending in either direction.
    assert_eq!(names(AssetSort::Ram, false), "charlie delta alpha bravo");
    assert_eq!(names(AssetSort::Ram, true), "bravo alpha charlie delta");
    // Never seen: last both ways.
    assert_eq!(
        names(AssetSort::LastSeen, false),
        "charlie bravo delta alpha"
    );
    assert_eq!(
        names(AssetSort::LastSeen, true),
        "delta bravo charlie alpha"
    );
    // No warranty date: last both ways, by name among themselves.
    assert_eq!(
        names(AssetSort::Warranty, false),
        "charlie alpha bravo delta"
    );
    assert_eq!(
        names(AssetSort::Warranty, true),
        "alpha charlie bravo delta"
    );
}

#[test]
fn sort_large_sorts_like_a_plain_sort() {
    // Permutations with one long cycle, many short ones, fixed points
    // and equal keys (the tie broken by the second field).
    let mut seed = 7u64;
    for n in [0usize, 1, 2, 3, 17, 500] {
        for _ in 0..20 {
            let mut rows: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % (n as u64 / 2 + 1), i)
                })
                .collect();
            let mut expected = rows.clone();
            expected.sort();
            sort_large(&mut rows, |a, b| a.cmp(b));
            assert_eq!(rows, expected, "n = {n}");
        }
    }
    let mut reversed: Vec<u32> = (0..1000).rev().collect();
    sort_large(&mut reversed, |a, b| a.cmp(b));
    assert!(reversed.iter().enumerate().all(|(i, &v)| v as usize == i));
}

fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let s = crate::testkit::open(&path).expect("open");
    let raw = s.raw_conn();
    raw.execute_batch(
        "INSERT INTO assets (id, kind, hostname, os_name, software_count, first_inventory_at, last_inventory_at) VALUES
             ('a1', 'computer', 'pc-1', 'Debian GNU/Linux', 1000, 10, 10),
             ('a2', 'computer', 'pc-2', 'Debian GNU/Linux', 500, 200, 200),
             ('a3', 'computer', 'pc-3', 'Windows 11 Pro', 300, 300, 300),
             ('p1', 'printer', 'lp-1', '', 0, 250, 250),
             ('old', 'computer', 'pc-0', 'Windows 10 Pro', 700, 400, 400);
         UPDATE assets SET retired_at = 500, retired_by = 'bob' WHERE id = 'old';",
    )
    .expect("seed");
    (dir, s)
}

/// The dashboard's inventory totals leave retired assets out of every
/// figure but their own.
#[tokio::test]
async fn asset_totals_count_in_service_retired_packages_and_new() {
    let (d, s) = seeded();
    let totals = s.read(|r| r.asset_totals(200)).await.expect("totals");
    assert_eq!(
        totals,
        AssetTotals {
            in_service: 4,
            computers: 3,
            retired: 1,
            packages: 1800,
            // a2, a3 and p1; not the retired one, new as it was.
            new_since: 3,
        }
    );
    let empty = crate::testkit::open(&d.path().join("empty")).expect("open");
    assert_eq!(
        empty.read(|r| r.asset_totals(0)).await.expect("empty"),
        AssetTotals::default()
    );
}

#[tokio::test]
async fn os_counts_are_most_first_and_limited() {
    let (_d, s) = seeded();
    let os = s.read(|r| r.os_counts(2)).await.expect("os");
    assert_eq!(
        os,
        [
            ("Debian GNU/Linux".to_string(), 2),
            // Ties by name: '' (the printer) before Windows.
            (String::new(), 1),
        ]
    );
    let all = s.read(|r| r.os_counts(10)).await.expect("all");
    assert_eq!(
        all.len(),
        3,
        "the retired Windows 10 is not counted: {all:?}"
    );
}

#[tokio::test]
async fn new_assets_are_newest_first_without_the_retired() {
    let (_d, s) = seeded();
    let new = s.read(|r| r.new_assets(200, 2)).await.expect("new");
    assert_eq!(
        new,
        [
            ("a3".to_string(), "pc-3".to_string(), 300),
            ("p1".to_string(), "lp-1".to_string(), 250),
        ]
    );
}
