//! Ingest that takes over another asset: an agent adopting the asset
//! entered by hand with its serial, a re-enrolled machine keeping its
//! packages.

use deskhand_shared::inventory::{Inventory, Package, PackageSource};

use crate::inventory::plan_adoption;
use crate::store::*;
use crate::testkit::{enroll, pkg, software_of};

/// An agent whose first inventory has the serial number of an asset
/// entered by hand takes that asset over: its history, labels,
/// location and notes, with an event and an audit entry saying so.
#[tokio::test]
async fn an_agent_adopts_the_manual_asset_with_its_serial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    let manual = ManualAsset {
        name: "alice's laptop".into(),
        kind: "laptop".into(),
        serial: "SN-42".into(),
        location: "floor 4".into(),
        notes: "bought 2024".into(),
        ..ManualAsset::default()
    };
    let manual_id = s
        .add_manual_asset(manual, "admin".into(), 10)
        .await
        .expect("add");
    s.create_label("floor4".into(), None, "admin".into(), 11)
        .await
        .expect("label");
    s.set_label(manual_id.clone(), "floor4".into(), true, "admin".into(), 12)
        .await
        .expect("set label");
    assert_eq!(
        s.read(|r| r.manual_asset_with_serial(""))
            .await
            .expect("empty"),
        None
    );
    assert_eq!(
        s.read(|r| r.manual_asset_with_serial("SN-42"))
            .await
            .expect("lookup"),
        Some(manual_id.clone())
    );

    s.create_enrollment_token("t".into(), "".into(), 1, 100, "admin".into(), 0)
        .await
        .expect("token");
    let agent = NewAgent {
        id: "agent-1".into(),
        hostname: "alice-pc".into(),
        cert_sha256: "fp".into(),
        cert_not_after: 0,
    };
    s.enroll_agent("t".into(), agent, 20).await.expect("enroll");
    let mut inv = Inventory::new();
    inv.identity.hostname = "alice-pc".into();
    inv.identity.serial = Some("SN-42".into());
    inv.software = vec![Package {
        name: "bash".into(),
        version: "5.2".into(),
        source: PackageSource::Dpkg,
        ..Package::default()
    }];
    let plan = plan_adoption(&manual_id, "agent-1", &inv);
    s.ingest_inventory("agent-1".into(), None, plan, 100, 30)
        .await
        .expect("ingest");

    let assets = s
        .list_assets(AssetFilter::default(), 30)
        .await
        .expect("list");
    assert_eq!(assets.len(), 1, "one machine, one asset");
    let a = &assets[0];
    assert_eq!(
        (a.id.as_str(), a.kind.as_str(), a.serial.as_str()),
        ("agent-1", "computer", "SN-42")
    );
    assert_eq!(
        (a.location.as_str(), a.notes.as_str()),
        ("floor 4", "bought 2024")
    );
    assert_eq!(
        a.first_inventory_at, 10,
        "the asset's life began when it was added"
    );
    assert_eq!(a.software_count, 1);
    assert_eq!(
        s.static_labels_of("agent-1".into()).await.expect("labels"),
        ["floor4"]
    );
    let history: Vec<(String, Option<String>)> = s
        .asset_history("agent-1".into(), 0, None)
        .await
        .expect("history")
        .into_iter()
        .map(|(_, e)| (e.change, e.old_value))
        .collect();
    assert_eq!(
        history,
        [
            ("inventoried".to_string(), None),
            ("taken over by agent".into(), Some(manual_id.clone())),
            ("added by hand".into(), None),
        ]
    );
    let audit = s.list_audit(10).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.action == "asset.adopt"
            && e.target == "agent-1"
            && e.detail.contains(&manual_id)),
        "{audit:?}"
    );
    assert_eq!(
        s.read(|r| r.manual_asset_with_serial("SN-42"))
            .await
            .expect("gone"),
        None
    );
}

/// A re-enrolled machine's new asset takes over the old asset's
/// packages, and the changes since then apply on top of them.
#[tokio::test]
async fn a_reenrolled_machine_keeps_its_packages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    enroll(&s, &[("old", "pc"), ("new", "pc")]).await;
    let mut before = Inventory::new();
    before.identity.hostname = "pc".into();
    before.software = vec![pkg("curl", "1"), pkg("vim", "2"), pkg("zsh", "5")];
    before.interfaces = vec![deskhand_shared::inventory::NetInterface {
        name: "eth0".into(),
        mac: Some("52:54:00:00:00:01".into()),
        ..Default::default()
    }];
    let mut after = before.clone();
    after.software = vec![pkg("curl", "2"), pkg("vim", "2"), pkg("zsh", "5")];
    s.ingest_inventory(
        "old".into(),
        None,
        crate::inventory::plan_full(None, &before),
        1,
        2,
    )
    .await
    .expect("old inventory");
    let by_mac = |exclude: &str| {
        let exclude = exclude.to_string();
        s.read(move |r| r.asset_with_hardware(&exclude, "", "", &["52:54:00:00:00:01".to_string()]))
    };
    assert_eq!(by_mac("new").await.expect("lookup"), Some("old".into()));
    let plan = crate::inventory::plan_reenrollment("old", "new", &before, &after);
    s.ingest_inventory("new".into(), None, plan, 1, 3)
        .await
        .expect("re-enrollment");
    assert_eq!(
        software_of(&s, "new").await,
        [
            ("curl".to_string(), "2".to_string()),
            ("vim".into(), "2".into()),
            ("zsh".into(), "5".into())
        ]
    );
    assert_eq!(
        s.find_asset("new".into())
            .await
            .expect("new")
            .software_count,
        3
    );
    let counts: Vec<(String, i64)> = s
        .software_counts(None)
        .await
        .expect("counts")
        .into_iter()
        .map(|(r, n)| (format!("{} {}", r.name, r.version), n))
        .collect();
    assert_eq!(
        counts,
        [
            ("curl 2".to_string(), 1),
            ("vim 2".into(), 1),
            ("zsh 5".into(), 1)
        ],
        "nothing is left on the old asset"
    );
    assert_eq!(
        by_mac("other").await.expect("lookup"),
        Some("new".into()),
        "the MAC is the new asset's now"
    );
}

/// An asset's stored form that does not decode is an error naming its
/// column, not an empty inventory; an asset without one has none.
#[tokio::test]
async fn a_damaged_stored_form_is_an_error_naming_its_column() {
    let (_dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "pc-1")]).await;
    assert!(
        s.read(|r| r.stored_form("a1"))
            .await
            .expect("read")
            .is_none()
    );
    let inv = crate::testkit::inv(vec![pkg("curl", "1")]);
    s.ingest_inventory(
        "a1".into(),
        None,
        crate::inventory::plan_full(None, &inv),
        1,
        2,
    )
    .await
    .expect("ingest");
    let stored = s.read(|r| r.stored_form("a1")).await.expect("read");
    assert_eq!(stored.expect("stored").identity.hostname, "pc-1");
    let raw = s.raw_conn();
    raw.execute(
        "UPDATE asset_inventory SET inventory = ?1",
        [vec![0xffu8, 0, 0xff]],
    )
    .expect("damage");
    let err = s.read(|r| r.stored_form("a1")).await.expect_err("damaged");
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                table: "asset_inventory",
                column: "inventory",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("deskhand backup"), "{err}");
}
