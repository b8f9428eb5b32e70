//! Selecting assets against a seeded store: version constraints, long
//! filters and keys, static and dynamic labels, across the assets,
//! software and labels areas.

use axum::http::StatusCode;

use super::labels::labels_of;
use super::params::MAX_FILTER_TEXT;
use super::select::{MAX_WILDCARD_MATCHES, software_matches};
use super::*;
use crate::inventory::plan_full;
use crate::store::StoreError;
use crate::store::{AssetFilter, NewAgent};
use crate::testkit::pkg_from;
use deskhand_shared::inventory::{Inventory, PackageSource};

/// The catalog rows a software filter matches.
async fn software_ids(store: &Store, spec: &str) -> Result<Vec<i64>, ApiError> {
    Ok(software_matches(store, spec)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// A fleet whose openssl versions straddle the constraint's edges.
async fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::testkit::open(&dir.path().join("db")).expect("open");
    store
        .create_enrollment_token("t".into(), String::new(), 100, i64::MAX, "admin".into(), 0)
        .await
        .expect("token");
    let fleet = [
        ("deb11", "openssl", "1.1.1w-0+deb11u1", PackageSource::Dpkg),
        (
            "deb12-old",
            "openssl",
            "3.0.11-1~deb12u2",
            PackageSource::Dpkg,
        ),
        (
            "deb12-edge",
            "openssl",
            "3.0.13-1~deb12u1",
            PackageSource::Dpkg,
        ),
        (
            "deb12-new",
            "openssl",
            "3.0.19-1~deb12u2",
            PackageSource::Dpkg,
        ),
        ("rhel", "openssl", "1:3.0.7-27.el9", PackageSource::Rpm),
        ("win", "OpenSSL", "3.0.9", PackageSource::WindowsMachine),
        ("none", "curl", "7.88.1-10", PackageSource::Dpkg),
    ];
    for (host, name, version, source) in fleet {
        store
            .enroll_agent(
                "t".into(),
                NewAgent {
                    id: host.into(),
                    hostname: host.into(),
                    cert_sha256: host.into(),
                    cert_not_after: 0,
                },
                1,
            )
            .await
            .expect("agent");
        let mut inv = Inventory::new();
        inv.identity.hostname = host.into();
        inv.software = vec![
            pkg_from(source, name, version),
            pkg_from(PackageSource::Dpkg, "bash", "5.2"),
        ];
        let plan = plan_full(None, &inv);
        store
            .ingest_inventory(host.into(), None, plan, 1, 1)
            .await
            .expect("ingest");
    }
    (dir, store)
}

async fn hosts(store: &Store, spec: &str) -> Vec<String> {
    let ids = software_ids(store, spec).await.expect("spec");
    let filter = AssetFilter {
        software_ids: Some(ids),
        ..AssetFilter::default()
    };
    let mut h: Vec<String> = store
        .list_assets(filter, 10)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.hostname)
        .collect();
    h.sort();
    h
}

#[tokio::test]
async fn version_constraints_select_exactly_the_right_assets() {
    let (_d, store) = seeded().await;
    assert_eq!(
        hosts(&store, "openssl@>=3.0,<3.0.13").await,
        ["deb12-old", "rhel", "win"]
    );
    assert_eq!(
        hosts(&store, "openssl@<3.0.13").await,
        ["deb11", "deb12-old", "rhel", "win"]
    );
    assert_eq!(
        hosts(&store, "openssl@>=3.0.13").await,
        ["deb12-edge", "deb12-new"]
    );
    assert_eq!(hosts(&store, "openssl").await.len(), 6);
    assert_eq!(
        hosts(&store, "openssl@=3.0.19-1~deb12u2").await,
        ["deb12-new"]
    );
    assert!(hosts(&store, "nosuch").await.is_empty());
    // `*` matches any text, in any case; LIKE's own wildcards are text.
    assert_eq!(
        hosts(&store, "open*@<3.0.13").await,
        ["deb11", "deb12-old", "rhel", "win"]
    );
    assert_eq!(hosts(&store, "*SSL").await.len(), 6);
    assert_eq!(hosts(&store, "c*l@>=7").await, ["none"]);
    assert!(hosts(&store, "op_nssl").await.is_empty());
    assert!(hosts(&store, "%").await.is_empty());
    // The versions each selected asset has, from the index.
    let matches = software_matches(&store, "openssl@<3.0.13")
        .await
        .expect("spec");
    let ids: Vec<i64> = matches.iter().map(|(id, _)| *id).collect();
    let filter = AssetFilter {
        software_ids: Some(ids.clone()),
        ..AssetFilter::default()
    };
    let rows = store.list_assets(filter, 10).await.expect("list");
    let nums: Vec<Option<u32>> = rows.iter().map(|r| r.num).collect();
    let held: Vec<String> = rows
        .iter()
        .zip(store.holding(&nums, &ids))
        .map(|(r, ids)| {
            let versions: Vec<&str> = ids
                .iter()
                .filter_map(|id| matches.iter().find(|(m, _)| m == id))
                .map(|(_, p)| p.version.as_str())
                .collect();
            format!("{} {}", r.hostname, versions.join(" "))
        })
        .collect();
    assert_eq!(
        held,
        [
            "deb11 1.1.1w-0+deb11u1",
            "deb12-old 3.0.11-1~deb12u2",
            "rhel 1:3.0.7-27.el9",
            "win 3.0.9"
        ]
    );
    assert_eq!(store.holding(&[None], &ids), [Vec::<i64>::new()]);
    assert!(software_ids(&store, "openssl@>=").await.is_err());
    assert!(software_ids(&store, "openssl@>>3").await.is_err());
    let err = software_ids(&store, "@3").await.expect_err("no name");
    assert!(err.message.contains("names no package"), "{}", err.message);
    let counts = store
        .software_counts(Some("bash".into()))
        .await
        .expect("counts");
    assert_eq!(counts.len(), 1, "one catalog row shared by every asset");
    assert_eq!(counts[0].1, 7);
    // Sorted by how many have it: bash on all seven, the rest on one
    // each, in name and version order among themselves; paged.
    let page = |by, descending, offset, limit| {
        let store = &store;
        async move {
            let order = crate::store::SoftwareOrder { by, descending };
            let (rows, total) = store
                .software_page(None, order, offset, limit)
                .await
                .expect("page");
            assert_eq!(total, 8, "every catalog row someone has");
            rows.iter()
                .map(|(r, n)| format!("{} {} {n}", r.name, r.version))
                .collect::<Vec<_>>()
        }
    };
    use crate::store::SoftwareSort;
    let by_name = page(SoftwareSort::Name, false, 0, None).await;
    assert_eq!(by_name.len(), 8, "{by_name:?}");
    assert_eq!(
        by_name[..3],
        ["OpenSSL 3.0.9 1", "bash 5.2 7", "curl 7.88.1-10 1"]
    );
    let mut reversed = page(SoftwareSort::Name, true, 0, None).await;
    reversed.reverse();
    assert_eq!(reversed, by_name);
    let most = page(SoftwareSort::Assets, true, 0, Some(3)).await;
    assert_eq!(most, ["bash 5.2 7", "OpenSSL 3.0.9 1", "curl 7.88.1-10 1"]);
    let fewest = page(SoftwareSort::Assets, false, 0, None).await;
    assert_eq!(fewest[..2], ["OpenSSL 3.0.9 1", "curl 7.88.1-10 1"]);
    assert_eq!(fewest[7], "bash 5.2 7");
    assert_eq!(
        page(SoftwareSort::Assets, false, 6, Some(5)).await,
        fewest[6..],
        "the last page"
    );
    assert!(page(SoftwareSort::Name, false, 8, Some(5)).await.is_empty());
    // A wildcard that matches more rows than a list may ask about is
    // refused, saying how many.
    store
        .enroll_agent(
            "t".into(),
            NewAgent {
                id: "many".into(),
                hostname: "many".into(),
                cert_sha256: "many".into(),
                cert_not_after: 0,
            },
            1,
        )
        .await
        .expect("agent");
    let mut inv = Inventory::new();
    inv.software = (0..=MAX_WILDCARD_MATCHES)
        .map(|i| pkg_from(PackageSource::Dpkg, &format!("lib-{i:04}"), "1.0"))
        .collect();
    store
        .ingest_inventory("many".into(), None, plan_full(None, &inv), 1, 1)
        .await
        .expect("ingest");
    let err = software_ids(&store, "lib-*").await.expect_err("too many");
    assert!(
        err.message.contains("`lib-*` matches 1001 packages"),
        "{}",
        err.message
    );
    assert_eq!(
        software_ids(&store, "lib-00*").await.expect("some").len(),
        100
    );
    assert_eq!(
        software_ids(&store, "lib-0001").await.expect("one").len(),
        1
    );
}

async fn labelled(store: &Store, label: &str, os: Option<&str>) -> Vec<String> {
    let q = AssetQuery {
        label: Some(label.into()),
        os: os.map(Into::into),
        ..AssetQuery::default()
    };
    let mut h: Vec<String> = asset_rows(store, &q)
        .await
        .expect("rows")
        .into_iter()
        .map(|a| a.hostname)
        .collect();
    h.sort();
    h
}

#[tokio::test]
async fn long_filters_and_keys_get_an_answer_not_a_database_error() {
    let (_d, store) = seeded().await;
    let query = |field: &str, text: String| {
        let mut q = AssetQuery::default();
        match field {
            "search" => q.search = Some(text),
            "os" => q.os = Some(text),
            "model" => q.model = Some(text),
            _ => q.software = Some(text),
        }
        q
    };
    // As long as a filter may be: a query SQLite runs.
    for field in ["search", "os", "model"] {
        let rows = asset_rows(&store, &query(field, "x".repeat(MAX_FILTER_TEXT)))
            .await
            .expect("rows");
        assert!(rows.is_empty(), "{field}");
    }
    // Longer: refused, saying the bound, where SQLite would have failed
    // the query (a LIKE pattern over 50,000 bytes is "too complex").
    for field in ["search", "os", "model", "software"] {
        let err = asset_rows(&store, &query(field, "x".repeat(60_000)))
            .await
            .expect_err("too long");
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{field}");
        assert_eq!(
            err.message,
            format!("{field} is at most 1000 bytes long, not 60000")
        );
    }
    // A bad value of any length is said back cut short.
    let q = AssetQuery {
        seen_within: Some("7".repeat(60_000)),
        ..AssetQuery::default()
    };
    let err = asset_rows(&store, &q).await.expect_err("not a duration");
    assert!(
        err.message.len() < 300 && err.message.contains("... (60000 bytes)"),
        "{}",
        err.message
    );
    assert_eq!(
        crate::said("é".repeat(100).as_str()),
        format!("{}... (200 bytes)", "é".repeat(64))
    );
    assert_eq!(crate::said("7d"), "7d");
    // An id prefix in any case; LIKE's `_` is not a wildcard in it; a
    // key of 60,000 bytes is not found, and said back shortened.
    let found = store.find_asset("DEB12-N".into()).await.expect("prefix");
    assert_eq!(found.hostname, "deb12-new");
    let err = store.find_asset("____".into()).await.expect_err("no id");
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains("no asset matches `____`")),
        "{err}"
    );
    assert!(matches!(
        store.find_agent("deb1".into()).await,
        Err(StoreError::Refused(m)) if m.contains("matches 4 agents")
    ));
    let err = store
        .find_asset("f".repeat(60_000))
        .await
        .expect_err("no asset");
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.len() < 200 && m.contains("(60000 bytes)")),
        "{err}"
    );
}

#[tokio::test]
async fn static_and_dynamic_labels_select_their_assets() {
    let (_d, store) = seeded().await;
    store
        .create_label("lab".into(), None, "admin".into(), 1)
        .await
        .expect("static");
    store
        .create_label(
            "old-openssl".into(),
            Some("software=openssl@<3.0.13".into()),
            "admin".into(),
            1,
        )
        .await
        .expect("dynamic");
    for host in ["deb11", "rhel"] {
        store
            .set_label(host.into(), "lab".into(), true, "admin".into(), 2)
            .await
            .expect("label");
    }
    assert_eq!(labelled(&store, "lab", None).await, ["deb11", "rhel"]);
    assert_eq!(
        labelled(&store, "old-openssl", None).await,
        ["deb11", "deb12-old", "rhel", "win"]
    );
    // Labels combine with the other filters.
    store
        .set_label("rhel".into(), "lab".into(), false, "admin".into(), 3)
        .await
        .expect("unlabel");
    assert_eq!(labelled(&store, "lab", None).await, ["deb11"]);
    let err = store
        .set_label("win".into(), "old-openssl".into(), true, "admin".into(), 3)
        .await;
    assert!(err.is_err(), "a dynamic label cannot be set by hand");
    assert!(
        asset_rows(
            &store,
            &AssetQuery {
                label: Some("nope".into()),
                ..AssetQuery::default()
            }
        )
        .await
        .is_err()
    );
    assert_eq!(
        labels_of(&store, "deb11").await.expect("labels"),
        ["lab", "old-openssl"]
    );
    // A filter stored by an older version that this one refuses
    // (`~` ranges were once taken as versions) hides no asset and no
    // label; using the label says what is wrong and what to do.
    store
        .create_label(
            "tilde".into(),
            Some("software=openssl@~3".into()),
            "admin".into(),
            4,
        )
        .await
        .expect("stored as an older version would have");
    assert_eq!(
        labels_of(&store, "deb11").await.expect("labels"),
        ["lab", "old-openssl"]
    );
    let err = asset_rows(
        &store,
        &AssetQuery {
            label: Some("tilde".into()),
            ..AssetQuery::default()
        },
    )
    .await
    .expect_err("a filter that does not evaluate");
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
    assert!(err.message.contains("delete the label"), "{}", err.message);
}
