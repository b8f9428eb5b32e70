//! Each asset's zone and offset: set by ingest, read by id, carried over
//! from schema-2 stored forms by the migration.

use super::*;
use crate::inventory::{plan_delta, plan_full, reconstruct};
use crate::testkit::{enroll, inv, pkg};
use deskhand_shared::inventory::diff;

fn in_zone(zone: Option<&str>, offset: Option<i32>) -> Inventory {
    let mut i = inv(vec![pkg("bash", "5.2")]);
    i.os.time_zone = zone.map(str::to_string);
    i.os.utc_offset_secs = offset;
    i
}

/// The base the server plans a full report against.
async fn base(s: &Store, id: &str) -> Inventory {
    let id = id.to_string();
    let (blob, rows) = s
        .read(move |r| {
            let blob = r.stored_inventory(&id)?.map(|(b, _)| b).unwrap_or_default();
            Ok((blob, r.asset_software(&id)?))
        })
        .await
        .expect("read");
    reconstruct(Inventory::from_wire(&blob).expect("decodes"), &rows)
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|i| i.to_string()).collect()
}

#[tokio::test]
async fn ingest_keeps_each_assets_zone_and_a_later_report_changes_it() {
    let (_dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2")]).await;
    let berlin_winter = in_zone(Some("Europe/Berlin"), Some(3600));
    s.ingest_inventory("a1".into(), None, plan_full(None, &berlin_winter), 1, 100)
        .await
        .expect("a1");
    s.ingest_inventory(
        "a2".into(),
        None,
        plan_full(None, &in_zone(None, None)),
        1,
        100,
    )
    .await
    .expect("a2");
    assert_eq!(
        s.machine_zones(ids(&["a2", "a1"])).await.expect("zones"),
        [
            ("a2".to_string(), None, None),
            (
                "a1".to_string(),
                Some("Europe/Berlin".to_string()),
                Some(3600)
            ),
        ],
        "in the order asked; an asset that reported none has none"
    );

    // Summer time: the offset alone changes.
    let summer = in_zone(Some("Europe/Berlin"), Some(7200));
    let plan = plan_full(Some(&base(&s, "a1").await), &summer);
    s.ingest_inventory("a1".into(), None, plan, 1, 200)
        .await
        .expect("summer");
    assert_eq!(
        s.machine_zones(ids(&["a1"])).await.expect("zones")[0].2,
        Some(7200)
    );
    // The machine moved to New York.
    let moved = in_zone(Some("America/New_York"), Some(-14_400));
    let plan = plan_full(Some(&base(&s, "a1").await), &moved);
    s.ingest_inventory("a1".into(), None, plan, 1, 300)
        .await
        .expect("moved");
    assert_eq!(
        s.machine_zones(ids(&["a1"])).await.expect("zones"),
        [(
            "a1".to_string(),
            Some("America/New_York".to_string()),
            Some(-14_400)
        )]
    );
}

#[tokio::test]
async fn ids_of_no_asset_are_left_out() {
    let (_dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "pc-1")]).await;
    let report = in_zone(Some("Asia/Kolkata"), Some(19_800));
    s.ingest_inventory("a1".into(), None, plan_full(None, &report), 1, 100)
        .await
        .expect("a1");
    let got = s
        .machine_zones(ids(&["nope", "a1", "also-nope"]))
        .await
        .expect("zones");
    assert_eq!(
        got,
        [(
            "a1".to_string(),
            Some("Asia/Kolkata".to_string()),
            Some(19_800)
        )]
    );
    assert!(s.machine_zones(Vec::new()).await.expect("none").is_empty());
}

/// Daylight saving time begins: the agent's next report is a delta that
/// changes only the offset, and the asset's row follows it.
#[tokio::test]
async fn a_delta_that_changes_only_the_offset_updates_it() {
    let (_dir, s) = crate::testkit::store().await;
    enroll(&s, &[("a1", "pc-1")]).await;
    let winter = in_zone(Some("Europe/Berlin"), Some(3600));
    s.ingest_inventory("a1".into(), None, plan_full(None, &winter), 1, 100)
        .await
        .expect("first");
    let summer = in_zone(Some("Europe/Berlin"), Some(7200));
    let rest = s
        .read(|r| r.stored_form("a1"))
        .await
        .expect("read")
        .expect("stored");
    let plan = plan_delta(Some(&rest), diff(&winter, &summer)).expect("planned");
    assert!(plan.rest.is_some(), "the offset is part of the stored form");
    assert!(plan.events.is_empty(), "and no history: {:?}", plan.events);
    s.ingest_inventory(
        "a1".into(),
        Some(winter.content_hash().to_hex()),
        plan,
        1,
        200,
    )
    .await
    .expect("delta");
    assert_eq!(
        s.machine_zones(ids(&["a1"])).await.expect("zones"),
        [(
            "a1".to_string(),
            Some("Europe/Berlin".to_string()),
            Some(7200)
        )]
    );
}

/// A stored form written by inventory schema 2 (bytes the schema-2 build
/// wrote) is rewritten in schema 3 by the migration, and its zone is the
/// asset's.
#[tokio::test]
async fn the_migration_upgrades_schema_2_stored_forms_and_takes_their_zones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let old = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/inventory-v2-stored.bin"
    ))
    .expect("fixture");
    {
        let conn = crate::store::sql::testing::lite_file(&path);
        super::super::schema::migrate_sqlite(
            &conn,
            Some(super::super::schema::BEFORE_INVENTORY_SCHEMA_3),
        )
        .expect("the schema before");
        assert!(
            conn.execute("UPDATE assets SET time_zone = 'x'", [])
                .is_err(),
            "no zone column before the migration"
        );
        conn.execute_batch(
            "INSERT INTO assets (id, num, hostname, first_inventory_at, last_inventory_at, inventory_hash)
             VALUES ('a1', 1, 'sim-00007', 1, 1, 'old'), ('a2', 2, 'pc-2', 1, 1, 'old')",
        )
        .expect("assets");
        conn.execute(
            "INSERT INTO asset_inventory (asset_num, inventory) VALUES (1, ?1), (2, x'0102')",
            [&old],
        )
        .expect("stored forms");
    }
    let s = Store::open(&path).expect("migrates");
    let blob = s
        .read(|r| r.stored_inventory("a1"))
        .await
        .expect("read")
        .expect("stored")
        .0;
    let inv = Inventory::from_wire(&blob).expect("the current schema");
    assert_eq!(inv.os.kernel.as_deref(), Some("6.1.0-18-amd64"));
    assert_eq!(inv.os.locale.as_deref(), Some("de_DE.UTF-8"));
    assert_eq!(
        s.machine_zones(ids(&["a1", "a2"])).await.expect("zones"),
        [
            ("a1".to_string(), Some("Europe/Berlin".to_string()), None),
            ("a2".to_string(), None, None),
        ],
        "a damaged stored form leaves its asset without a zone"
    );
    let damaged = s
        .read(|r| r.stored_inventory("a2"))
        .await
        .expect("read")
        .expect("stored")
        .0;
    assert_eq!(damaged, [1, 2], "left as it was");
}
