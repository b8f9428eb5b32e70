//! The software catalog and the links of assets to it, as the writer
//! thread keeps them.
//!
//! An asset's packages are one packed value in `asset_links`, keyed by the
//! asset's integer `num` ([`super::links`]). The inverted index (catalog
//! row -> assets) lives in memory ([`super::index`]): a request records
//! its link changes in [`WriterState`], a request that is rolled back
//! drops its own, and the writer applies the batch's changes to the index
//! only after the commit, so the index never holds a link the database
//! does not.
//!
//! The writer also keeps the catalog's ids in memory ([`CatalogCache`]),
//! so linking a package that the fleet already has needs no index probe.
//! Catalog rows are never deleted, so a cached id stays valid as long as
//! the transaction that created it commits; ids created by a request that
//! is rolled back, or by a batch whose commit fails, are forgotten.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use rustc_hash::FxHashSet;

use crate::store::sql::{Conn, Dialect, OptionalExtension, params};

use super::index::SoftwareIndex;
use super::links::{BaseIds, Changed, Changes, Corrupt, FOLD_AT, Link, LinkSet, decode_ids};
use super::{Result, StoreError};
use crate::inventory::SoftwareRow;

/// A catalog key (name, version, vendor, source, arch) hashed twice, by
/// SipHash and by foldhash, each under a key drawn at random when the
/// server starts: 128 bits, from two unrelated functions. Without the
/// process's keys nobody can aim at a collision (or at one bucket of the
/// cache below), and by chance two distinct keys collide with probability
/// about 2^-128 per pair. The fields are laid out once, each after its
/// length, and each function reads them in one call: fed field by field,
/// SipHash spent more on its per-call overhead than on the bytes.
type CatalogKey = (u64, u64);

fn catalog_key(r: &SoftwareRow, scratch: &mut Vec<u8>) -> CatalogKey {
    static KEYS: OnceLock<(RandomState, foldhash::quality::RandomState)> = OnceLock::new();
    let (sip, fold) = KEYS.get_or_init(Default::default);
    scratch.clear();
    for field in [&r.name, &r.version, &r.vendor, &r.source, &r.arch] {
        scratch.extend_from_slice(&(field.len() as u64).to_le_bytes());
        scratch.extend_from_slice(field.as_bytes());
    }
    let bytes: &[u8] = scratch;
    (sip.hash_one(bytes), fold.hash_one(bytes))
}

/// Hashes a [`CatalogKey`] by its first half, which is already a keyed
/// hash: the cache needs no second pass of SipHash per package.
#[derive(Default)]
struct FirstHalf(u64);

impl Hasher for FirstHalf {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for (u64, u64) keys; fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        if self.0 == 0 {
            self.0 = n;
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A package with its catalog key, computed before the request reaches
/// the writer (hashing 1,500 keys is work the writer need not do).
pub(super) struct KeyedRow {
    key: CatalogKey,
    row: SoftwareRow,
}

/// Keys packages for [`WriterState::relink`].
pub(super) fn keyed(rows: Vec<SoftwareRow>) -> Vec<KeyedRow> {
    let mut scratch = Vec::with_capacity(256);
    rows.into_iter()
        .map(|row| KeyedRow {
            key: catalog_key(&row, &mut scratch),
            row,
        })
        .collect()
}

/// Catalog ids by key, filled as the writer meets packages.
#[derive(Default)]
struct CatalogCache {
    ids: HashMap<CatalogKey, i64, BuildHasherDefault<FirstHalf>>,
    /// Keys added by the current transaction, forgotten if it fails.
    added: Vec<CatalogKey>,
}

/// The key of the advisory lock nodes add catalog rows under: "catalog"
/// in ASCII.
const CATALOG_LOCK: i64 = 0x63_6174_616c_6f67;

/// A change of the inverted index, applied after the batch commits.
#[derive(Clone, Copy)]
struct IndexChange {
    software_id: i64,
    asset_num: u32,
    linked: bool,
}

/// What a writer thread keeps between requests.
pub(super) struct WriterState {
    catalog: CatalogCache,
    /// The current batch's index changes, applied when it commits.
    index: Vec<IndexChange>,
    /// Assets (by number) with index changes in the current batch: for
    /// them the shared index is not yet up to date.
    touched: FxHashSet<u32>,
    shared: Arc<RwLock<SoftwareIndex>>,
    /// Held by the store's writer that is committing link changes and
    /// applying them to `shared` (PostgreSQL has several writers).
    commit_order: Arc<Mutex<()>>,
    /// The tag of this index's rows in the link log (`super::link_log`).
    origin: i64,
    /// Why the current batch must be rolled back as a whole, if it must
    /// (see `Isolation::ChecksFirst`).
    lost: Option<String>,
    /// Whether this batch holds the catalog's insert lock (PostgreSQL).
    catalog_locked: bool,
    /// The first statement SQLite refused since the writer last looked
    /// (see `WriteHealth`).
    database_error: Option<String>,
}

/// An asset's package count after [`WriterState::relink`]: counted, or
/// changed by so many from what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Count {
    Total(i64),
    Changed(i64),
}

/// A point to roll a request's changes of [`WriterState`] back to.
pub(super) struct Mark {
    added: usize,
    index: usize,
}

impl WriterState {
    /// The state of one of the writers that share `commit_order`.
    pub(super) fn new(shared: Arc<RwLock<SoftwareIndex>>, commit_order: Arc<Mutex<()>>) -> Self {
        Self {
            commit_order,
            catalog: CatalogCache::default(),
            index: Vec::new(),
            touched: FxHashSet::default(),
            origin: super::link_log::origin(&shared),
            shared,
            lost: None,
            catalog_locked: false,
            database_error: None,
        }
    }

    /// A request failed because SQLite refused a statement (not because
    /// the data refused the request). The first reason is kept.
    pub(super) fn database_failed(&mut self, why: String) {
        self.database_error.get_or_insert(why);
    }

    /// The first statement SQLite refused since the last call, if any.
    pub(super) fn take_database_error(&mut self) -> Option<String> {
        self.database_error.take()
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            added: self.catalog.added.len(),
            index: self.index.len(),
        }
    }

    /// Forgets what a request that was rolled back did. (Its assets stay
    /// in `touched`, which only makes the rest of the batch read their
    /// base values.)
    pub(super) fn rollback_to(&mut self, m: Mark) {
        // Taken again if need be (it is re-entrant): a savepoint rolled
        // back may have let it go.
        self.catalog_locked = false;
        for k in self.catalog.added.drain(m.added..) {
            self.catalog.ids.remove(&k);
        }
        self.index.truncate(m.index);
    }

    /// Commits the batch and applies its link changes to the in-memory
    /// index. Writers of one store that change links commit one at a
    /// time, so the index gets two batches' changes to one asset in the
    /// order the database committed them (a batch waiting on another's
    /// row lock commits after it, and must not be applied before it).
    pub(super) fn commit(&mut self, tx: &Conn) -> Result<()> {
        self.share_changes(tx)?;
        let order = self.commit_order.clone();
        let _turn =
            (!self.index.is_empty()).then(|| order.lock().unwrap_or_else(PoisonError::into_inner));
        tx.execute_batch("COMMIT")?;
        self.committed();
        Ok(())
    }

    /// Hands the batch's index changes to the other nodes' indexes, in
    /// the batch's transaction (PostgreSQL only; see `super::link_log`).
    fn share_changes(&self, tx: &Conn) -> Result<()> {
        let changes: Vec<super::link_log::Change> = self
            .index
            .iter()
            .map(|c| (c.software_id, c.asset_num, c.linked))
            .collect();
        super::link_log::append(tx, self.origin, &changes)
    }

    /// The batch committed: its catalog ids are real, and its link
    /// changes go into the in-memory index, in order.
    fn committed(&mut self) {
        self.catalog_locked = false;
        self.catalog.added.clear();
        self.touched.clear();
        if !self.index.is_empty() {
            let mut idx = self.shared.write().unwrap_or_else(PoisonError::into_inner);
            for c in self.index.drain(..) {
                idx.set(c.software_id, c.asset_num, c.linked);
            }
        }
    }

    /// The batch was rolled back as a whole.
    pub(super) fn aborted(&mut self) {
        self.catalog_locked = false;
        self.rollback_to(Mark { added: 0, index: 0 });
        self.touched.clear();
        self.lost = None;
    }

    /// The current batch cannot commit: a request without a savepoint
    /// failed after it changed rows. The first reason is kept.
    pub(super) fn lose_batch(&mut self, why: String) {
        self.lost.get_or_insert(why);
    }

    /// Why the current batch cannot commit, if it cannot.
    pub(super) fn batch_lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// On PostgreSQL, takes the lock that orders the nodes' additions to
    /// the catalog, once per batch: two nodes' batches adding rows the
    /// other also adds, in other orders, deadlocked each other (each
    /// waiting for the other's unique key); with the lock one waits for
    /// the other's commit instead. Held to the end of the batch.
    fn lock_catalog(&mut self, tx: &Conn) -> Result<()> {
        if self.catalog_locked || tx.dialect() != Dialect::Postgres {
            return Ok(());
        }
        tx.execute("SELECT pg_advisory_xact_lock(?1)", [CATALOG_LOCK])?;
        self.catalog_locked = true;
        Ok(())
    }

    /// The catalog id of a package, creating the row if it is new.
    fn software_id(&mut self, tx: &Conn, &KeyedRow { key, ref row }: &KeyedRow) -> Result<i64> {
        let r = row;
        if let Some(id) = self.catalog.ids.get(&key) {
            return Ok(*id);
        }
        let id = match find_software(tx, r)? {
            Some(id) => id,
            None => {
                // Another node may add the same row meanwhile (PostgreSQL):
                // then its id, once its transaction is committed.
                self.lock_catalog(tx)?;
                let added: Option<i64> = tx
                    .query_row(
                        "INSERT INTO software (name, version, vendor, source, arch) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT DO NOTHING RETURNING id",
                        params![r.name, r.version, r.vendor, r.source, r.arch],
                        |r| r.get(0),
                    )
                    .optional()?;
                let id = match added {
                    Some(id) => id,
                    None => find_software(tx, r)?.ok_or_else(|| {
                        StoreError::Refused(format!(
                            "software {} {} was neither added nor found",
                            r.name, r.version
                        ))
                    })?,
                };
                self.catalog.added.push(key);
                id
            }
        };
        self.catalog.ids.insert(key, id);
        Ok(id)
    }

    /// Puts the catalog ids of `rows` that the cache lacks into it:
    /// looked up all at once and, with `create`, the rows the catalog
    /// lacks added all at once (each of these steps one pipeline on
    /// PostgreSQL). A row the catalog lacks stays out of the cache
    /// without `create`.
    fn fill_ids(&mut self, tx: &Conn, rows: &[KeyedRow], create: bool) -> Result<()> {
        let mut seen = FxHashSet::default();
        let missing: Vec<&KeyedRow> = rows
            .iter()
            .filter(|k| !self.catalog.ids.contains_key(&k.key) && seen.insert(k.key))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut absent = Vec::new();
        for (k, id) in missing.iter().zip(find_each(tx, &missing)?) {
            match id {
                Some(id) => {
                    self.catalog.ids.insert(k.key, id);
                }
                None => absent.push(*k),
            }
        }
        if !create || absent.is_empty() {
            return Ok(());
        }
        self.lock_catalog(tx)?;
        let values: Vec<[&str; 5]> = absent.iter().map(|k| fields(&k.row)).collect();
        let inserted = tx
            .prepare_cached(
                "INSERT INTO software (name, version, vendor, source, arch) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING RETURNING id",
            )?
            .query_row_each(&values, |r| r.get::<i64>(0))?;
        let mut raced = Vec::new();
        for (k, id) in absent.iter().zip(inserted) {
            match id {
                Some(id) => {
                    self.catalog.ids.insert(k.key, id);
                    self.catalog.added.push(k.key);
                }
                None => raced.push(*k),
            }
        }
        // Another node added these meanwhile (PostgreSQL): its ids, once
        // its transaction is committed.
        for (k, id) in raced.iter().zip(find_each(tx, &raced)?) {
            let id = id.ok_or_else(|| {
                StoreError::Refused(format!(
                    "software {} {} was neither added nor found",
                    k.row.name, k.row.version
                ))
            })?;
            self.catalog.ids.insert(k.key, id);
            self.catalog.added.push(k.key);
        }
        Ok(())
    }

    /// The catalog id of a package, if the catalog has it.
    fn existing_software_id(
        &mut self,
        tx: &Conn,
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

    fn index_changes(&mut self, asset_num: i64, changed: Changed) -> Result<()> {
        let asset_num = index_num(asset_num)?;
        self.touched.insert(asset_num);
        let unlinked = changed.unlinked.into_iter().map(|id| (id, false));
        let linked = changed.linked.into_iter().map(|id| (id, true));
        self.index.extend(
            unlinked
                .chain(linked)
                .map(|(software_id, linked)| IndexChange {
                    software_id,
                    asset_num,
                    linked,
                }),
        );
        Ok(())
    }

    /// Unlinks `removed` and links `added` (in that order, so a package
    /// whose details changed is relinked) for one asset.
    ///
    /// A small change (a delta) goes into the asset's [`Changes`], and
    /// the in-memory index says which ids the base has: the base value is
    /// not read, unless this batch changed the asset already (the index
    /// has those changes only after the commit). A large change, or
    /// changes past [`FOLD_AT`], rewrite the base value.
    pub(super) fn relink(
        &mut self,
        tx: &Conn,
        asset_num: i64,
        added: &[KeyedRow],
        removed: &[KeyedRow],
    ) -> Result<Count> {
        // The ids the cache lacks, in a few pipelines rather than a round
        // trip per package (a first inventory meets many new ones).
        self.fill_ids(tx, removed, false)?;
        self.fill_ids(tx, added, true)?;
        let mut gone = Vec::with_capacity(removed.len());
        for r in removed {
            if let Some(id) = self.existing_software_id(tx, r)? {
                gone.push(id);
            }
        }
        let mut new = Vec::with_capacity(added.len());
        for k in added {
            let r = &k.row;
            new.push(Link {
                software_id: self.software_id(tx, k)?,
                install_date: r.install_date,
                size_bytes: r.size_bytes,
                state: r.state.clone(),
                pkg_id: r.pkg_id.clone(),
            });
        }
        let stored = load_changes(tx, asset_num)?;
        // Changes are only ever written beside a base value.
        let has_base = stored.is_some() || has_base(tx, asset_num)?;
        let mut changes = stored.unwrap_or_default();
        if has_base && changes.len() + gone.len() + new.len() <= FOLD_AT {
            let num = index_num(asset_num)?;
            // The in-memory index stands for the stored links only where
            // this writer is the only one (SQLite): on PostgreSQL another
            // writer or node may have committed changes it has not applied
            // yet, so the base is read (the asset's row is locked by now).
            let changed = if self.touched.contains(&num) || tx.dialect() == Dialect::Postgres {
                let ids = tx
                    .prepare_cached("SELECT links FROM asset_links WHERE asset_num = ?1")?
                    .query_row([asset_num], |r| Ok(BaseIds::of(r.get_ref(0)?.as_blob()?)))?
                    .map_err(corrupt)?;
                changes.apply(|id| ids.has(id), &gone, new)
            } else {
                let index = self.shared.read().unwrap_or_else(PoisonError::into_inner);
                let base = changes.base_given(|id| index.has(id, num));
                changes.apply(base, &gone, new)
            };
            tx.prepare_cached(
                "INSERT INTO asset_link_changes (asset_num, changes) VALUES (?1, ?2)
                 ON CONFLICT (asset_num) DO UPDATE SET changes = excluded.changes",
            )?
            .execute(params![asset_num, changes.encode()])?;
            let by = changed.linked.len() as i64 - changed.unlinked.len() as i64;
            self.index_changes(asset_num, changed)?;
            return Ok(Count::Changed(by));
        }
        // Fold: the merged set, changed, becomes the base.
        let mut set = changes.merged(load_base(tx, asset_num)?);
        let changed = set.apply(&gone, new);
        write_base(tx, asset_num, &set)?;
        self.index_changes(asset_num, changed)?;
        Ok(Count::Total(set.len() as i64))
    }

    /// Moves an asset's packages to another asset (whose own are
    /// replaced): a machine's new asset takes over its old one's. Returns
    /// how many there are.
    pub(super) fn move_links(&mut self, tx: &Conn, from: i64, to: i64) -> Result<i64> {
        let old = load_links(tx, from)?;
        let replaced = load_links(tx, to)?;
        delete_links(tx, from)?;
        write_base(tx, to, &old)?;
        let ids = |s: &LinkSet| s.links().iter().map(|l| l.software_id).collect();
        self.index_changes(
            from,
            Changed {
                unlinked: ids(&old),
                linked: Vec::new(),
            },
        )?;
        self.index_changes(
            to,
            Changed {
                unlinked: ids(&replaced),
                linked: ids(&old),
            },
        )?;
        Ok(old.len() as i64)
    }
}

fn corrupt(e: Corrupt) -> StoreError {
    StoreError::Refused(e.to_string())
}

/// Stores `set` as an asset's base value, with no changes on top.
fn write_base(tx: &Conn, asset_num: i64, set: &LinkSet) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO asset_links (asset_num, links) VALUES (?1, ?2)
         ON CONFLICT (asset_num) DO UPDATE SET links = excluded.links",
    )?
    .execute(params![asset_num, set.encode()])?;
    tx.prepare_cached("DELETE FROM asset_link_changes WHERE asset_num = ?1")?
        .execute([asset_num])?;
    Ok(())
}

fn delete_links(tx: &Conn, asset_num: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM asset_links WHERE asset_num = ?1")?
        .execute([asset_num])?;
    tx.prepare_cached("DELETE FROM asset_link_changes WHERE asset_num = ?1")?
        .execute([asset_num])?;
    Ok(())
}

fn load_changes(c: &Conn, asset_num: i64) -> Result<Option<Changes>> {
    let packed: Option<Vec<u8>> = c
        .prepare_cached("SELECT changes FROM asset_link_changes WHERE asset_num = ?1")?
        .query_row([asset_num], |r| r.get(0))
        .optional()?;
    packed
        .map(|p| Changes::decode(&p).map_err(corrupt))
        .transpose()
}

/// Whether an asset has a base value (without reading it).
fn has_base(c: &Conn, asset_num: i64) -> Result<bool> {
    Ok(
        c.prepare_cached("SELECT 1 FROM asset_links WHERE asset_num = ?1")?
            .query_row([asset_num], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// An asset's base value (empty if it has none).
fn load_base(c: &Conn, asset_num: i64) -> Result<LinkSet> {
    let packed: Option<Vec<u8>> = c
        .prepare_cached("SELECT links FROM asset_links WHERE asset_num = ?1")?
        .query_row([asset_num], |r| r.get(0))
        .optional()?;
    match packed {
        Some(p) => LinkSet::decode(&p).map_err(corrupt),
        None => Ok(LinkSet::default()),
    }
}

/// An asset number as the in-memory index keeps it.
pub(super) fn index_num(asset_num: i64) -> Result<u32> {
    u32::try_from(asset_num)
        .map_err(|_| StoreError::Refused(format!("asset number {asset_num} is out of range")))
}

/// An asset's links, base and changes merged (empty if it has none).
pub(super) fn load_links(c: &Conn, asset_num: i64) -> Result<LinkSet> {
    let base = load_base(c, asset_num)?;
    Ok(match load_changes(c, asset_num)? {
        Some(changes) => changes.merged(base),
        None => base,
    })
}

/// Folds every asset's changes into its base value, reading version-1
/// changes too (migration 10: version 2 changed what the lists mean).
pub(super) fn fold_all_changes(tx: &Conn) -> Result<()> {
    let rows: Vec<(i64, Vec<u8>)> = {
        let mut st = tx.prepare("SELECT asset_num, changes FROM asset_link_changes")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<crate::store::sql::Result<_>>()?
    };
    for (num, packed) in rows {
        let changes = Changes::decode_legacy(&packed).map_err(corrupt)?;
        let merged = changes.merged(load_base(tx, num)?);
        write_base(tx, num, &merged)?;
    }
    Ok(())
}

/// Builds the in-memory index from every asset's links.
pub(super) fn build_index(c: &Conn) -> Result<SoftwareIndex> {
    let mut idx = SoftwareIndex::default();
    let mut st = c.prepare(
        "SELECT l.asset_num, l.links, c.changes FROM asset_links l
         LEFT JOIN asset_link_changes c ON c.asset_num = l.asset_num",
    )?;
    let mut rows = st.query([])?;
    while let Some(row) = rows.next()? {
        let num: i64 = row.get(0)?;
        let packed = row.get_ref(1)?.as_blob()?;
        let n = index_num(num)?;
        let damaged = |e: Corrupt| StoreError::Refused(format!("asset number {num}: {e}"));
        match row.get_ref(2)?.as_blob_or_null()? {
            None => decode_ids(packed, |id| idx.set(id, n, true)).map_err(damaged)?,
            Some(changes) => {
                let merged = Changes::decode(changes)
                    .map_err(damaged)?
                    .merged(LinkSet::decode(packed).map_err(damaged)?);
                for l in merged.links() {
                    idx.set(l.software_id, n, true);
                }
            }
        }
    }
    Ok(idx)
}

/// Looks a package up in the catalog by its five fields.
const FIND_SOFTWARE: &str = "SELECT id FROM software WHERE name = ?1 AND version = ?2 AND vendor = ?3 AND source = ?4 AND arch = ?5";

fn find_software(tx: &Conn, r: &SoftwareRow) -> Result<Option<i64>> {
    Ok(tx
        .prepare_cached(FIND_SOFTWARE)?
        .query_row(fields(r), |row| row.get(0))
        .optional()?)
}

/// The catalog ids of `rows`, where the catalog has them, in order.
fn find_each(tx: &Conn, rows: &[&KeyedRow]) -> Result<Vec<Option<i64>>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<[&str; 5]> = rows.iter().map(|k| fields(&k.row)).collect();
    Ok(tx
        .prepare_cached(FIND_SOFTWARE)?
        .query_row_each(&values, |row| row.get(0))?)
}

/// A package's catalog key fields, in the catalog's column order.
fn fields(r: &SoftwareRow) -> [&str; 5] {
    [&r.name, &r.version, &r.vendor, &r.source, &r.arch]
}

/// The integer key of an asset, assigning the next one if it has none:
/// one past the largest on SQLite (one writer), from a sequence on
/// PostgreSQL, where several nodes' transactions assign at once.
pub(super) fn asset_num(tx: &Conn, asset_id: &str) -> Result<i64> {
    tx.prepare_cached(match tx.dialect() {
        Dialect::Sqlite => {
            "UPDATE assets SET num = (SELECT coalesce(max(num), 0) + 1 FROM assets)
             WHERE id = ?1 AND num IS NULL"
        }
        Dialect::Postgres => {
            "UPDATE assets SET num = nextval('asset_nums') WHERE id = ?1 AND num IS NULL"
        }
    })?
    .execute([asset_id])?;
    Ok(tx
        .prepare_cached("SELECT num FROM assets WHERE id = ?1")?
        .query_row([asset_id], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use deskhand_shared::inventory::diff;

    use crate::inventory::{plan_delta, plan_full};
    use crate::store::{AssetFilter, Store, StoreError};
    use crate::testkit::{enroll, inv, pkg, software_of};

    async fn holders(s: &Store, name: &str, version: &str) -> Vec<String> {
        let ids: Vec<i64> = s
            .software_versions(name.into())
            .await
            .expect("versions")
            .into_iter()
            .filter(|(_, _, v, _)| v == version)
            .map(|(id, _, _, _)| id)
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
        let s = crate::testkit::open(&dir.path().join("db")).expect("open");
        enroll(&s, &[("a1", "a1"), ("a2", "a2")]).await;
        let before = inv(vec![pkg("curl", "1"), pkg("vim", "2")]);
        let after = inv(vec![pkg("curl", "2"), pkg("vim", "2"), pkg("zsh", "5")]);
        let first = plan_full(None, &before);
        s.ingest_inventory("a1".into(), None, first.clone(), 1, 1)
            .await
            .expect("a1");
        // In one batch: a2's first inventory, a1's delta, and a delta
        // against a base a1 no longer has.
        let delta = plan_delta(None, diff(&before, &after)).expect("delta");
        let base = before.content_hash().to_hex();
        let (r2, r1, stale) = tokio::join!(
            s.ingest_inventory("a2".into(), None, first, 1, 2),
            s.ingest_inventory("a1".into(), Some(base.clone()), delta.clone(), 1, 2),
            s.ingest_inventory("a1".into(), Some("0".repeat(64)), delta, 1, 2),
        );
        r2.expect("a2");
        r1.expect("a1 delta");
        assert!(stale.is_err());
        assert_eq!(
            software_of(&s, "a1").await,
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

        // a1's delta is still a change beside its base: reopening builds
        // the index from both.
        drop(s);
        let s = crate::testkit::open(&dir.path().join("db")).expect("reopen");
        assert_eq!(holders(&s, "curl", "2").await, ["a1"]);
        assert_eq!(holders(&s, "vim", "2").await, ["a1", "a2"]);

        // Deltas past the fold threshold: a1 ends with curl 42 and
        // pkg-0..40, whether its links are folded into the base or not.
        let mut now = after;
        for k in 0..40 {
            let mut next = now.clone();
            next.software.retain(|p| p.name != "curl");
            next.software.push(pkg("curl", &(k + 3).to_string()));
            next.software.push(pkg(&format!("pkg-{k}"), "1"));
            let delta = plan_delta(None, diff(&now, &next)).expect("delta");
            let base = now.content_hash().to_hex();
            s.ingest_inventory("a1".into(), Some(base), delta, 1, 3 + k)
                .await
                .expect("delta");
            now = next;
        }
        let a1 = s
            .read(|r| r.asset_software("a1"))
            .await
            .expect("a1 software");
        assert_eq!(a1.len(), 2 + 40 + 1);
        assert!(a1.iter().any(|r| r.name == "curl" && r.version == "42"));
        assert_eq!(
            s.find_asset("a1".into()).await.expect("a1").software_count,
            43
        );
        assert!(holders(&s, "curl", "2").await.is_empty());
        assert_eq!(holders(&s, "curl", "42").await, ["a1"]);
        assert_eq!(holders(&s, "pkg-39", "1").await, ["a1"]);
        drop(s);
        let s = crate::testkit::open(&dir.path().join("db")).expect("reopen");
        assert_eq!(holders(&s, "pkg-0", "1").await, ["a1"]);
        assert_eq!(holders(&s, "vim", "2").await, ["a1", "a2"]);

        // Two deltas of a1 sent together (most likely one batch, where
        // the index has not got the first yet): vim's details change (a
        // base link replaced by one with the same catalog row), then vim
        // goes. Then zsh goes in a delta of its own, off the index.
        let mut dated = now.clone();
        for p in dated.software.iter_mut().filter(|p| p.name == "vim") {
            p.install_date = Some(1_700_000_000);
        }
        let mut gone = dated.clone();
        gone.software.retain(|p| p.name != "vim");
        let second = || {
            s.ingest_inventory(
                "a1".into(),
                Some(dated.content_hash().to_hex()),
                plan_delta(None, diff(&dated, &gone)).expect("delta"),
                1,
                51,
            )
        };
        let (r1, r2) = tokio::join!(
            s.ingest_inventory(
                "a1".into(),
                Some(now.content_hash().to_hex()),
                plan_delta(None, diff(&now, &dated)).expect("delta"),
                1,
                50
            ),
            second(),
        );
        r1.expect("vim's details");
        match r2 {
            // Several writers (PostgreSQL) may take the second before the
            // first, and refuse it as against a base not yet stored (a
            // session never sends it so: it awaits each report); sent
            // again, it applies.
            Err(StoreError::NotFound(_)) if s.is_shared() => second().await.expect("vim removed"),
            r2 => r2.expect("vim removed"),
        }
        let mut last = gone.clone();
        last.software.retain(|p| p.name != "zsh");
        s.ingest_inventory(
            "a1".into(),
            Some(gone.content_hash().to_hex()),
            plan_delta(None, diff(&gone, &last)).expect("delta"),
            1,
            52,
        )
        .await
        .expect("zsh removed");
        assert_eq!(holders(&s, "vim", "2").await, ["a2"]);
        assert!(holders(&s, "zsh", "5").await.is_empty());
        let a1 = s
            .read(|r| r.asset_software("a1"))
            .await
            .expect("a1 software");
        assert_eq!(a1.len(), 41);
        assert_eq!(
            s.find_asset("a1".into()).await.expect("a1").software_count,
            41
        );
        drop(s);
        let s = crate::testkit::open(&dir.path().join("db")).expect("reopen");
        assert_eq!(holders(&s, "vim", "2").await, ["a2"]);
        assert_eq!(holders(&s, "curl", "42").await, ["a1"]);
    }
}
