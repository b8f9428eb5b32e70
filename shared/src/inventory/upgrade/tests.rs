//! Older schemas' documents, as their builds wrote them (`testdata/`),
//! read into the current schema.

use super::*;
use crate::inventory::{Category, Unknown, synthetic};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `synthetic(7, 3)` as the builds that wrote the fixtures made it: no
/// time zone and no offset (later builds add them).
fn synthetic_then() -> Inventory {
    let mut inv = synthetic(7, 3);
    inv.os.time_zone = None;
    inv.os.utc_offset_secs = None;
    inv
}

/// The report `inv` and the stored form a server kept of it.
fn report_and_stored(inv: Inventory) -> (Inventory, Inventory) {
    let report = inv.canonical();
    let mut stored = report.clone();
    stored.software.clear();
    stored.meta = CollectionMeta::default();
    stored.sessions = Default::default();
    stored.os.last_boot = None;
    for v in &mut stored.volumes {
        v.free_bytes = 0;
    }
    (report, stored)
}

/// What the schema-1 build (commit 35efc89) wrote to the fixtures:
/// `synthetic(7, 3)` with a kernel and metadata, as a whole report and
/// as the stored form a server kept.
fn written_by_v1() -> (Inventory, Inventory) {
    let mut inv = synthetic_then();
    inv.os.kernel = Some("6.1.0-18-amd64".into());
    inv.meta.collected_at_unix_ms = 1_733_430_000_000;
    inv.meta.agent_version = "0.9.0".into();
    inv.meta.total_micros = 13_000;
    inv.meta.collectors = vec![CollectorReport {
        name: "dpkg".into(),
        micros: 9000,
        warnings: vec!["cannot read x".into()],
    }];
    report_and_stored(inv)
}

/// What the schema-2 build (commit 179a54a) wrote to the fixtures: the
/// same with a time zone, a locale, a boot time and an unknown category.
fn written_by_v2() -> (Inventory, Inventory) {
    let mut inv = synthetic_then();
    inv.os.kernel = Some("6.1.0-18-amd64".into());
    inv.os.time_zone = Some("Europe/Berlin".into());
    inv.os.locale = Some("de_DE.UTF-8".into());
    inv.os.last_boot = Some(1_733_400_000);
    inv.meta.collected_at_unix_ms = 1_765_000_000_000;
    inv.meta.agent_version = "0.9.1".into();
    inv.meta.total_micros = 14_000;
    inv.meta.collectors = vec![CollectorReport {
        name: "dpkg".into(),
        micros: 9000,
        warnings: vec!["cannot read x".into()],
    }];
    inv.meta.unknown = vec![Unknown::new(Category::Services, "systemctl: timed out")];
    report_and_stored(inv)
}

fn reads_the_same(version: u32, written: (Inventory, Inventory)) {
    let (report, stored) = written;
    for (file, want) in [
        (format!("inventory-v{version}-report.bin"), report),
        (format!("inventory-v{version}-stored.bin"), stored),
    ] {
        let old = fixture(&file);
        assert!(
            matches!(
                Inventory::from_wire(&old),
                Err(InventoryError::UnsupportedSchema { found, .. }) if found == version
            ),
            "{file} is refused as it is"
        );
        let new = upgrade(&old).expect("upgrades");
        let inv = Inventory::from_wire(&new).expect("decodes");
        assert_eq!(inv, want, "{file}");
        assert_eq!(inv.os.utc_offset_secs, None, "{file}: no offset then");
        // Re-encoding is exact: what the migration writes is what a
        // current server would have written.
        assert_eq!(want.to_wire(), new, "{file}");
    }
}

#[test]
fn schema_1_documents_read_the_same_in_the_current_schema() {
    reads_the_same(1, written_by_v1());
}

#[test]
fn schema_2_documents_read_the_same_in_the_current_schema() {
    let (report, stored) = written_by_v2();
    assert_eq!(report.os.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(report.meta.unknown.len(), 1);
    reads_the_same(2, (report, stored));
}

#[test]
fn a_current_document_comes_back_as_it_is() {
    let mut inv = synthetic(3, 5);
    inv.os.utc_offset_secs = Some(-18_000);
    let bytes = inv.to_wire();
    assert_eq!(upgrade(&bytes), Ok(bytes));
}

/// Found by the `stored_blobs` fuzz target: a current-schema document
/// with a non-minimal integer (`ff 00` for 127) decodes, and came back
/// byte for byte instead of in the encoding it re-encodes to.
#[test]
fn a_non_minimal_encoding_comes_back_canonical() {
    let mut bytes = vec![0u8; 69];
    bytes[0] = 3;
    bytes[35] = 0xff;
    let upgraded = upgrade(&bytes).expect("a current document");
    let inv = Inventory::from_wire(&upgraded).expect("decodes");
    assert_eq!(inv.to_wire(), upgraded);
    assert_ne!(upgraded, bytes);
}

#[test]
fn anything_else_is_refused() {
    let mut newer = Inventory::new();
    newer.schema_version = SCHEMA_VERSION + 1;
    assert!(matches!(
        upgrade(&newer.to_wire()),
        Err(InventoryError::UnsupportedSchema { found, .. }) if found == SCHEMA_VERSION + 1
    ));
    for file in ["inventory-v1-stored.bin", "inventory-v2-stored.bin"] {
        let old = fixture(file);
        assert!(upgrade(&old[..old.len() - 1]).is_err(), "{file} cut short");
        let mut longer = old.clone();
        longer.push(0);
        assert!(upgrade(&longer).is_err(), "{file} with trailing bytes");
        // A schema-2 document labelled schema 1 (and the other way round)
        // does not pass for one.
        let mut relabelled = old.clone();
        relabelled[0] = if relabelled[0] == 1 { 2 } else { 1 };
        assert!(upgrade(&relabelled).is_err(), "{file} relabelled");
    }
    assert!(upgrade(&[]).is_err());
}
