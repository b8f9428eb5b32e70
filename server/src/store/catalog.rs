//! The software catalog and the links of assets to it, as the writer
//! thread keeps them.
//!
//! An asset's packages are rows of `asset_packages`, keyed by the asset's
//! integer `num` (new assets get increasing numbers, so a first inventory
//! appends at the end of the table). The inverted index `software_assets`
//! (catalog row -> assets) is not maintained inside each request's
//! savepoint: a request records its index changes in [`WriterState`], and
//! the writer applies the whole batch's changes sorted, once, just before
//! the commit, in the same transaction. Readers therefore never see the
//! two tables disagree, and a first inventory's 1,500 index entries cost
//! no savepoint journal pages and touch the index B-tree in order.
//!
//! The writer also keeps the catalog's ids in memory ([`CatalogCache`]),
//! so linking a package that the fleet already has needs no index probe.
//! Catalog rows are never deleted, so a cached id stays valid as long as
//! the transaction that created it commits; ids created by a request that
//! is rolled back, or by a batch whose commit fails, are forgotten.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rusqlite::{OptionalExtension, Transaction, params};

use super::Result;
use crate::inventory::SoftwareRow;

/// 128 bits of SipHash over a catalog key (name, version, vendor, source,
/// arch). Two distinct keys collide with probability about 2^-128 per
/// pair, far below any hardware error rate, and a collision would need a
/// 2^64 search even for someone who controls package names.
type CatalogKey = (u64, u64);

fn catalog_key(r: &SoftwareRow) -> CatalogKey {
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        (&r.name, &r.version, &r.vendor, &r.source, &r.arch).hash(&mut h);
        h.finish()
    };
    (half(1), half(2))
}

/// A package with its catalog key, computed before the request reaches
/// the writer (hashing 1,500 keys is work the writer need not do).
pub(super) struct KeyedRow {
    key: CatalogKey,
    row: SoftwareRow,
}

/// Keys packages for [`WriterState::relink`].
pub(super) fn keyed(rows: Vec<SoftwareRow>) -> Vec<KeyedRow> {
    rows.into_iter()
        .map(|row| KeyedRow {
            key: catalog_key(&row),
            row,
        })
        .collect()
}

/// Catalog ids by key, filled as the writer meets packages.
#[derive(Default)]
struct CatalogCache {
    ids: HashMap<CatalogKey, i64>,
    /// Keys added by the current transaction, forgotten if it fails.
    added: Vec<CatalogKey>,
}

/// A change of the inverted index, applied at the end of the batch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct IndexChange {
    software_id: i64,
    asset_num: i64,
    /// Position in the batch: the last change of a pair wins.
    seq: usize,
    linked: bool,
}

/// What the writer thread keeps between requests.
#[derive(Default)]
pub(super) struct WriterState {
    catalog: CatalogCache,
    index: Vec<IndexChange>,
}

/// A point to roll a request's changes of [`WriterState`] back to.
pub(super) struct Mark {
    added: usize,
    index: usize,
}

impl WriterState {
    pub(super) fn mark(&self) -> Mark {
        Mark {
            added: self.catalog.added.len(),
            index: self.index.len(),
        }
    }

    /// Forgets what a request that was rolled back did.
    pub(super) fn rollback_to(&mut self, m: Mark) {
        for k in self.catalog.added.drain(m.added..) {
            self.catalog.ids.remove(&k);
        }
        self.index.truncate(m.index);
    }

    /// The batch committed: its catalog ids are real.
    pub(super) fn committed(&mut self) {
        self.catalog.added.clear();
        self.index.clear();
    }

    /// The batch was rolled back as a whole.
    pub(super) fn aborted(&mut self) {
        self.rollback_to(Mark { added: 0, index: 0 });
    }

    /// The catalog id of a package, creating the row if it is new.
    fn software_id(
        &mut self,
        tx: &Transaction<'_>,
        &KeyedRow { key, ref row }: &KeyedRow,
    ) -> Result<i64> {
        let r = row;
        if let Some(id) = self.catalog.ids.get(&key) {
            return Ok(*id);
        }
        let id = match find_software(tx, r)? {
            Some(id) => id,
            None => {
                tx.prepare_cached(
                    "INSERT INTO software (name, version, vendor, source, arch) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![r.name, r.version, r.vendor, r.source, r.arch])?;
                let id = tx.last_insert_rowid();
                self.catalog.added.push(key);
                id
            }
        };
        self.catalog.ids.insert(key, id);
        Ok(id)
    }

    /// The catalog id of a package, if the catalog has it.
    fn existing_software_id(
        &mut self,
        tx: &Transaction<'_>,
        &KeyedRow { key, ref row }: &KeyedRow,
    ) -> Result<Option<i64>> {
        let r = row;
        if let Some(id) = self.catalog.ids.get(&key) {
            return Ok(Some(*id));
        }
        let id = find_software(tx, r)?;
        if let Some(id) = id {
            self.catalog.ids.insert(key, id);
        }
        Ok(id)
    }

    fn index_change(&mut self, software_id: i64, asset_num: i64, linked: bool) {
        let seq = self.index.len();
        self.index.push(IndexChange {
            software_id,
            asset_num,
            seq,
            linked,
        });
    }

    /// Unlinks `removed` and links `added` (in that order, so a package
    /// whose details changed is relinked) for one asset. Returns the
    /// change in the asset's number of packages.
    pub(super) fn relink(
        &mut self,
        tx: &Transaction<'_>,
        asset_num: i64,
        added: &[KeyedRow],
        removed: &[KeyedRow],
    ) -> Result<i64> {
        let mut delta = 0;
        let mut unlink = tx.prepare_cached(
            "DELETE FROM asset_packages WHERE asset_num = ?1 AND software_id = ?2",
        )?;
        let mut link = tx.prepare_cached(
            "INSERT OR IGNORE INTO asset_packages (asset_num, software_id, install_date, size_bytes, state, pkg_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut update = tx.prepare_cached(
            "UPDATE asset_packages SET install_date = ?3, size_bytes = ?4, state = ?5, pkg_id = ?6
             WHERE asset_num = ?1 AND software_id = ?2",
        )?;
        for r in removed {
            if let Some(id) = self.existing_software_id(tx, r)?
                && unlink.execute(params![asset_num, id])? > 0
            {
                delta -= 1;
                self.index_change(id, asset_num, false);
            }
        }
        for k in added {
            let id = self.software_id(tx, k)?;
            let r = &k.row;
            let row = params![
                asset_num,
                id,
                r.install_date,
                r.size_bytes,
                r.state,
                r.pkg_id
            ];
            if link.execute(row)? > 0 {
                delta += 1;
                self.index_change(id, asset_num, true);
            } else {
                // The same catalog row twice in one report: the last wins.
                update.execute(row)?;
            }
        }
        Ok(delta)
    }

    /// Unlinks every package of an asset.
    pub(super) fn unlink_all(&mut self, tx: &Transaction<'_>, asset_num: i64) -> Result<()> {
        let mut st = tx.prepare_cached(
            "DELETE FROM asset_packages WHERE asset_num = ?1 RETURNING software_id",
        )?;
        let ids: Vec<i64> = st
            .query_map([asset_num], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in ids {
            self.index_change(id, asset_num, false);
        }
        Ok(())
    }

    /// Applies the batch's index changes, sorted by catalog row and asset,
    /// the last change of each pair winning. Runs outside any request's
    /// savepoint, in the batch's transaction.
    pub(super) fn apply_index(&mut self, tx: &Transaction<'_>) -> Result<()> {
        self.index.sort_unstable();
        let mut link = tx.prepare_cached(
            "INSERT OR IGNORE INTO software_assets (software_id, asset_num) VALUES (?1, ?2)",
        )?;
        let mut unlink = tx.prepare_cached(
            "DELETE FROM software_assets WHERE software_id = ?1 AND asset_num = ?2",
        )?;
        let changes = &self.index;
        for (i, c) in changes.iter().enumerate() {
            let last = changes
                .get(i + 1)
                .is_none_or(|n| (n.software_id, n.asset_num) != (c.software_id, c.asset_num));
            if !last {
                continue;
            }
            if c.linked {
                link.execute(params![c.software_id, c.asset_num])?;
            } else {
                unlink.execute(params![c.software_id, c.asset_num])?;
            }
        }
        Ok(())
    }
}

fn find_software(tx: &Transaction<'_>, r: &SoftwareRow) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached(
            "SELECT id FROM software WHERE name = ?1 AND version = ?2 AND vendor = ?3 AND source = ?4 AND arch = ?5",
        )?
        .query_row(params![r.name, r.version, r.vendor, r.source, r.arch], |row| row.get(0))
        .optional()?)
}

/// The integer key of an asset, assigning the next one if it has none.
pub(super) fn asset_num(tx: &Transaction<'_>, asset_id: &str) -> Result<i64> {
    tx.prepare_cached(
        "UPDATE assets SET num = (SELECT coalesce(max(num), 0) + 1 FROM assets) WHERE id = ?1 AND num IS NULL",
    )?
    .execute([asset_id])?;
    Ok(tx
        .prepare_cached("SELECT num FROM assets WHERE id = ?1")?
        .query_row([asset_id], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use deskhand_shared::inventory::{Inventory, Package, PackageSource, diff};

    use crate::inventory::{plan_delta, plan_full};
    use crate::store::{AssetFilter, NewAgent, Store};

    fn inv(packages: &[(&str, &str)]) -> Inventory {
        let mut inv = Inventory::new();
        inv.identity.hostname = "pc".into();
        inv.software = packages
            .iter()
            .map(|(name, version)| Package {
                name: (*name).into(),
                version: (*version).into(),
                source: PackageSource::Dpkg,
                ..Package::default()
            })
            .collect();
        inv
    }

    async fn holders(s: &Store, name: &str, version: &str) -> Vec<String> {
        let ids: Vec<i64> = s
            .software_versions(name.into())
            .await
            .expect("versions")
            .into_iter()
            .filter(|(_, v, _)| v == version)
            .map(|(id, _, _)| id)
            .collect();
        let filter = AssetFilter {
            software_ids: Some(ids),
            ..AssetFilter::default()
        };
        s.list_assets(filter, 10)
            .await
            .expect("list")
            .into_iter()
            .map(|a| a.id)
            .collect()
    }

    /// Links, the package count and the inverted index agree after
    /// requests that land in one writer batch, and a refused request
    /// leaves nothing behind.
    #[tokio::test]
    async fn links_and_index_agree_across_a_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        s.create_enrollment_token("t".into(), "".into(), 9, 100, "admin".into(), 0)
            .await
            .expect("token");
        for id in ["a1", "a2"] {
            let agent = NewAgent {
                id: id.into(),
                hostname: id.into(),
                cert_sha256: id.into(),
                cert_not_after: 0,
            };
            s.enroll_agent("t".into(), agent, 1).await.expect("agent");
        }
        let before = inv(&[("curl", "1"), ("vim", "2")]);
        let after = inv(&[("curl", "2"), ("vim", "2"), ("zsh", "5")]);
        let first = plan_full(None, &before);
        s.ingest_inventory("a1".into(), None, first.clone(), 1, 1)
            .await
            .expect("a1");
        // In one batch: a2's first inventory, a1's delta, and a delta
        // against a base a1 no longer has.
        let delta = plan_delta(None, &diff(&before, &after)).expect("delta");
        let base = before.content_hash().to_hex();
        let (r2, r1, stale) = tokio::join!(
            s.ingest_inventory("a2".into(), None, first, 1, 2),
            s.ingest_inventory("a1".into(), Some(base.clone()), delta.clone(), 1, 2),
            s.ingest_inventory("a1".into(), Some("0".repeat(64)), delta, 1, 2),
        );
        r2.expect("a2");
        r1.expect("a1 delta");
        assert!(stale.is_err());
        let names: Vec<(String, String)> = s
            .asset_software("a1".into())
            .await
            .expect("a1 software")
            .into_iter()
            .map(|r| (r.name, r.version))
            .collect();
        assert_eq!(
            names,
            [
                ("curl".to_string(), "2".to_string()),
                ("vim".into(), "2".into()),
                ("zsh".into(), "5".into())
            ]
        );
        assert_eq!(
            s.find_asset("a1".into()).await.expect("a1").software_count,
            3
        );
        assert_eq!(
            s.find_asset("a2".into()).await.expect("a2").software_count,
            2
        );
        assert_eq!(holders(&s, "curl", "1").await, ["a2"]);
        assert_eq!(holders(&s, "curl", "2").await, ["a1"]);
        assert_eq!(holders(&s, "vim", "2").await, ["a1", "a2"]);
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
                ("curl 1".to_string(), 1),
                ("curl 2".into(), 1),
                ("vim 2".into(), 2),
                ("zsh 5".into(), 1)
            ]
        );
    }
}
