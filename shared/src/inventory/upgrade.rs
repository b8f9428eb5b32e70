//! Inventories written by an older schema, read into the current one.
//!
//! postcard is positional, so a document of schema 1 does not decode as
//! schema 2. The server keeps every asset's stored form in the wire
//! encoding, so its migration rewrites each one with [`upgrade_from_v1`].
//! Schema 2 only added [`CollectionMeta::unknown`](super::CollectionMeta::unknown)
//! at the end of the metadata: every byte after the metadata is the same.

use serde::Deserialize;

use super::{CollectionMeta, CollectorReport, Inventory, InventoryError, SCHEMA_VERSION};

/// [`CollectionMeta`] as schema 1 wrote it.
#[derive(Deserialize)]
struct CollectionMetaV1 {
    collected_at_unix_ms: u64,
    agent_version: String,
    total_micros: u64,
    collectors: Vec<CollectorReport>,
}

/// The current wire form of a schema-1 wire form: the same document, with
/// no category unknown. Fails, changing nothing, on anything that is not
/// a whole schema-1 inventory.
pub fn upgrade_from_v1(bytes: &[u8]) -> Result<Vec<u8>, InventoryError> {
    let decode = |e: postcard::Error| InventoryError::Decode(e.to_string());
    let (version, rest) = postcard::take_from_bytes::<u32>(bytes).map_err(decode)?;
    if version != 1 {
        return Err(InventoryError::UnsupportedSchema {
            found: version,
            expected: 1,
        });
    }
    let (old, rest) = postcard::take_from_bytes::<CollectionMetaV1>(rest).map_err(decode)?;
    let meta = CollectionMeta {
        collected_at_unix_ms: old.collected_at_unix_ms,
        agent_version: old.agent_version,
        total_micros: old.total_micros,
        collectors: old.collectors,
        unknown: Vec::new(),
    };
    let mut out = postcard::to_stdvec(&SCHEMA_VERSION).map_err(decode)?;
    out.extend(postcard::to_stdvec(&meta).map_err(decode)?);
    out.extend_from_slice(rest);
    // The rest must be a whole inventory of the current schema.
    Inventory::from_wire(&out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// What the schema-1 build (commit 35efc89) wrote to the fixtures:
    /// `synthetic(7, 3)` with a kernel and metadata, as a whole report and
    /// as the stored form a server kept.
    fn written_then() -> (Inventory, Inventory) {
        let mut inv = super::super::synthetic(7, 3);
        inv.os.kernel = Some("6.1.0-18-amd64".into());
        inv.meta.collected_at_unix_ms = 1_733_430_000_000;
        inv.meta.agent_version = "0.9.0".into();
        inv.meta.total_micros = 13_000;
        inv.meta.collectors = vec![CollectorReport {
            name: "dpkg".into(),
            micros: 9000,
            warnings: vec!["cannot read x".into()],
        }];
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

    #[test]
    fn schema_1_documents_read_the_same_in_schema_2() {
        let (report, stored) = written_then();
        for (file, want) in [
            ("inventory-v1-report.bin", report),
            ("inventory-v1-stored.bin", stored),
        ] {
            let old = fixture(file);
            assert!(
                matches!(
                    Inventory::from_wire(&old),
                    Err(InventoryError::UnsupportedSchema { found: 1, .. })
                ),
                "{file} is refused as it is"
            );
            let new = upgrade_from_v1(&old).expect("upgrades");
            let inv = Inventory::from_wire(&new).expect("decodes");
            assert_eq!(inv, want, "{file}");
            // Re-encoding is exact: what the migration writes is what a
            // schema-2 server would have written.
            assert_eq!(want.to_wire(), new, "{file}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        let current = Inventory::new().to_wire();
        assert!(matches!(
            upgrade_from_v1(&current),
            Err(InventoryError::UnsupportedSchema { found: 2, .. })
        ));
        let old = fixture("inventory-v1-stored.bin");
        assert!(upgrade_from_v1(&old[..old.len() - 1]).is_err(), "cut short");
        let mut longer = old.clone();
        longer.push(0);
        assert!(upgrade_from_v1(&longer).is_err(), "trailing bytes");
        assert!(upgrade_from_v1(&[]).is_err());
    }
}
