//! Stale inventory categories per asset: what its agent could not collect,
//! since when and why (`asset_stale`), and the flag on the asset's row
//! (`assets.has_stale`) that lets ingest skip all of it for the common
//! report, which collected everything of an asset that had nothing stale.
//! The decision is `inventory::stale::next_stale`; this applies it.

use crate::store::sql::{Conn, OptionalExtension, params};
use deskhand_shared::inventory::Unknown;

use super::{Reader, Result};
use crate::inventory::stale::{StaleCategory, next_stale};

/// The migration's table and flag.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE asset_stale (
        asset_num  INTEGER NOT NULL,
        category   TEXT NOT NULL,
        since      INTEGER NOT NULL,
        reason     TEXT NOT NULL,
        PRIMARY KEY (asset_num, category)
    ) WITHOUT ROWID;
    ALTER TABLE assets ADD COLUMN has_stale INTEGER NOT NULL DEFAULT 0;
"#;

/// The same migration's hook: inventory schema 2 added a field to the
/// collection metadata, and postcard is positional, so every stored form
/// (schema 1) is rewritten in the new layout (today's, schema 3). The content is the same; the
/// assets' stored hashes stay schema 1's, which only means that each
/// agent's next full report (every session starts with one) is diffed
/// against the base, finds nothing, and re-anchors the hash. A stored form
/// that was unreadable already is left as it was.
pub(super) fn upgrade_stored_forms(tx: &Conn) -> crate::store::sql::Result<()> {
    let blobs: Vec<(i64, Vec<u8>)> = {
        let mut st = tx.prepare("SELECT asset_num, inventory FROM asset_inventory")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<crate::store::sql::Result<_>>()?
    };
    let mut update =
        tx.prepare("UPDATE asset_inventory SET inventory = ?2 WHERE asset_num = ?1")?;
    for (num, blob) in blobs {
        // Straight to the current schema; the later migrations' hooks
        // find nothing left to upgrade.
        if let Ok(upgraded) = deskhand_shared::inventory::upgrade(&blob)
            && upgraded != blob
        {
            update.execute(params![num, upgraded])?;
        }
    }
    Ok(())
}

fn read(c: &Conn, num: i64) -> crate::store::sql::Result<Vec<StaleCategory>> {
    let mut st = c.prepare_cached(
        "SELECT category, since, reason FROM asset_stale WHERE asset_num = ?1 ORDER BY category",
    )?;
    let rows = st.query_map([num], |r| {
        Ok(StaleCategory {
            category: r.get(0)?,
            since: r.get(1)?,
            reason: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// Replaces asset `num`'s record by what a report did not collect
/// (`unknown`; `None`: the report says nothing new). `has_stale` is the
/// asset row's flag: with it clear and nothing unknown, nothing is read
/// or written.
pub(super) fn record(
    tx: &Conn,
    num: i64,
    has_stale: bool,
    unknown: Option<&[Unknown]>,
    now: i64,
) -> Result<()> {
    let Some(unknown) = unknown else {
        return Ok(());
    };
    if unknown.is_empty() && !has_stale {
        return Ok(());
    }
    let previous = if has_stale {
        read(tx, num)?
    } else {
        Vec::new()
    };
    let Some(next) = next_stale(&previous, unknown, now) else {
        return Ok(());
    };
    tx.prepare_cached("DELETE FROM asset_stale WHERE asset_num = ?1")?
        .execute([num])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO asset_stale (asset_num, category, since, reason) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for s in &next {
        insert.execute(params![num, s.category, s.since, s.reason])?;
    }
    tx.prepare_cached("UPDATE assets SET has_stale = ?2 WHERE num = ?1")?
        .execute(params![num, !next.is_empty()])?;
    Ok(())
}

/// Forgets the record of an asset whose number goes away (taken over).
pub(super) fn forget(tx: &Conn, num: i64) -> crate::store::sql::Result<()> {
    tx.prepare_cached("DELETE FROM asset_stale WHERE asset_num = ?1")?
        .execute([num])?;
    Ok(())
}

impl Reader<'_> {
    /// The categories of an asset's inventory its agent could not collect
    /// lately, by category: each shown with its last collected value.
    pub fn asset_stale(&self, asset_id: &str) -> Result<Vec<StaleCategory>> {
        let num: Option<Option<i64>> = self
            .0
            .prepare_cached("SELECT num FROM assets WHERE id = ?1")?
            .query_row([asset_id], |r| r.get(0))
            .optional()?;
        Ok(match num.flatten() {
            Some(num) => read(self.0, num)?,
            None => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{plan_full, reconstruct, stored_form};
    use crate::store::Store;
    use crate::testkit::{inv, pkg};
    use deskhand_shared::inventory::{Category, Inventory};

    /// An inventory with these packages, each at version 1.
    fn inv_of(names: &[&str]) -> Inventory {
        inv(names.iter().map(|n| pkg(n, "1")).collect())
    }

    /// The base the server plans a full report against.
    async fn base(s: &Store, id: &str) -> Inventory {
        let (blob, _) = s
            .read({
                let id = id.to_string();
                move |r| r.stored_inventory(&id)
            })
            .await
            .expect("read")
            .expect("stored");
        let rows = s
            .read({
                let id = id.to_string();
                move |r| r.asset_software(&id)
            })
            .await
            .expect("software");
        reconstruct(Inventory::from_wire(&blob).expect("decodes"), &rows)
    }

    #[tokio::test]
    async fn a_report_that_could_not_read_its_packages_keeps_them_and_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        crate::testkit::enroll(&s, &[("a1", "pc-1")]).await;
        let first = inv_of(&["bash", "curl", "vim"]);
        s.ingest_inventory("a1".into(), None, plan_full(None, &first), 1, 100)
            .await
            .expect("first");
        assert!(
            s.read(|r| r.asset_stale("a1"))
                .await
                .expect("stale")
                .is_empty()
        );

        let mut failing = inv(vec![]);
        failing.meta.unknown = vec![Unknown::new(
            Category::Software,
            "dpkg: cannot read /var/lib/dpkg/status: Too many open files (os error 24)",
        )];
        for now in [200, 300] {
            let plan = plan_full(Some(&base(&s, "a1").await), &failing);
            s.ingest_inventory("a1".into(), None, plan, 1, now)
                .await
                .expect("stored");
        }
        let kept = s.read(|r| r.asset_software("a1")).await.expect("software");
        assert_eq!(kept.len(), 3, "nothing removed");
        let history = s
            .asset_history("a1".into(), 0, None)
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "only the first inventory: {history:?}");
        let stale = s.read(|r| r.asset_stale("a1")).await.expect("stale");
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].category, "software");
        assert_eq!(stale[0].since, 200, "since the first report that missed it");
        assert!(stale[0].reason.contains("Too many open files"));

        // Readable again, one package really gone: that alone is history,
        // and the software is no longer stale.
        let plan = plan_full(Some(&base(&s, "a1").await), &inv_of(&["bash", "curl"]));
        s.ingest_inventory("a1".into(), None, plan, 1, 400)
            .await
            .expect("stored");
        assert!(
            s.read(|r| r.asset_stale("a1"))
                .await
                .expect("stale")
                .is_empty()
        );
        let history = s
            .asset_history("a1".into(), 0, None)
            .await
            .expect("history");
        let changes: Vec<(&str, &str)> = history
            .iter()
            .map(|(_, e)| (e.item.as_str(), e.change.as_str()))
            .filter(|(_, c)| *c != "inventoried")
            .collect();
        assert_eq!(changes, [("vim", "removed")]);
    }

    /// A stored form written by inventory schema 1 (bytes the schema-1
    /// build wrote) reads back, after the migration, as the same content.
    #[tokio::test]
    async fn stored_forms_of_schema_1_are_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let old = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/testdata/inventory-v1-stored.bin"
        ))
        .expect("fixture");
        {
            let conn = crate::store::sql::testing::lite_file(&path);
            super::super::schema::migrate_sqlite(
                &conn,
                Some(super::super::schema::BEFORE_INVENTORY_SCHEMA_2),
            )
            .expect("the schema before");
            conn.execute(
                "INSERT INTO assets (id, num, hostname, first_inventory_at, last_inventory_at, inventory_hash)
                 VALUES ('a1', 1, 'sim-00007', 1, 1, 'old')",
                [],
            )
            .expect("asset");
            conn.execute(
                "INSERT INTO asset_inventory (asset_num, inventory) VALUES (1, ?1), (2, x'0102')",
                [&old],
            )
            .expect("stored forms");
        }
        let s = Store::open(&path).expect("migrates");
        let (blob, _) = s
            .read(|r| r.stored_inventory("a1"))
            .await
            .expect("read")
            .expect("stored");
        let inv = Inventory::from_wire(&blob).expect("the current schema");
        assert_eq!(inv.identity.hostname, "sim-00007");
        assert_eq!(inv.os.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert!(inv.software.is_empty() && inv.meta == Default::default());
        let mut want = deskhand_shared::inventory::synthetic(7, 3);
        // The schema-1 build's synthetic inventories had no zone.
        want.os.time_zone = None;
        want.os.utc_offset_secs = None;
        want.os.kernel = Some("6.1.0-18-amd64".into());
        assert_eq!(inv, stored_form(&want));
        assert!(
            s.read(|r| r.asset_stale("a1"))
                .await
                .expect("stale")
                .is_empty()
        );
    }
}
