//! The software index kept coherent across nodes. Each node holds the
//! inverted index ([`super::index`]) in memory and its writer changes it
//! after each commit; on a shared database a node would not see the links
//! another node's writer changed. So on PostgreSQL each batch that changes
//! links also appends its index changes to `link_log`, tagged with the
//! index they came from and stamped with the database's clock, in the same
//! transaction; every node reads the rows of other indexes every second
//! and applies them in order (`crate::nodes` drives it, [`Follow`] decides
//! what is new). A change is an overwrite (linked or not), so applying a
//! suffix of the log again is harmless. The leader prunes rows older than
//! [`KEEP_SECS`]. SQLite's one server writes nothing here.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crate::store::sql::{Conn, Dialect, params};

use super::index::SoftwareIndex;
use super::{Result, Store, StoreError};

/// The schema of this module (SQLite's migration 25, empty there;
/// PostgreSQL's twin is in `schema/postgres.rs`).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE link_log (
    seq      INTEGER PRIMARY KEY,
    origin   INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    changes  BLOB NOT NULL
);
CREATE INDEX link_log_at ON link_log(at);
"#;

/// How long rows are kept: far longer than any node lags.
pub const KEEP_SECS: i64 = 300;
/// How far back each read looks past the newest row seen: a transaction
/// stamped earlier may commit later.
pub(super) const LOOK_BACK_SECS: i64 = 5;
/// Bytes of one change: software id (8), asset number (4), linked (1).
const CHANGE: usize = 13;

/// One index change: catalog row, asset number, linked or not.
pub(super) type Change = (i64, u32, bool);

/// A row of the log another index wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// Its sequence number.
    pub seq: i64,
    /// The database's clock when it was written (Unix seconds).
    pub at: i64,
    changes: Vec<u8>,
}

/// The tag of an index's rows: one per index (one per open store), the
/// same for its writer and its reader of the log, different between
/// processes and machines.
pub(super) fn origin(index: &Arc<RwLock<SoftwareIndex>>) -> i64 {
    static SEED: LazyLock<std::collections::hash_map::RandomState> =
        LazyLock::new(std::collections::hash_map::RandomState::new);
    // Positive, so it reads back the same from either database.
    (SEED.hash_one((Arc::as_ptr(index) as usize, std::process::id())) >> 1) as i64
}

pub(super) fn encode(changes: &[Change]) -> Vec<u8> {
    let mut out = Vec::with_capacity(changes.len() * CHANGE);
    for &(software_id, num, linked) in changes {
        out.extend_from_slice(&software_id.to_le_bytes());
        out.extend_from_slice(&num.to_le_bytes());
        out.push(u8::from(linked));
    }
    out
}

pub(super) fn decode(bytes: &[u8]) -> std::result::Result<Vec<Change>, String> {
    if !bytes.len().is_multiple_of(CHANGE) {
        return Err(format!(
            "a link log row of {} bytes is not whole changes",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(CHANGE)
        .map(|c| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&c[..8]);
            let mut num = [0u8; 4];
            num.copy_from_slice(&c[8..12]);
            (i64::from_le_bytes(id), u32::from_le_bytes(num), c[12] != 0)
        })
        .collect())
}

/// Appends a committed-to-be batch's index changes, in its transaction
/// (PostgreSQL only).
pub(super) fn append(tx: &Conn, origin: i64, changes: &[Change]) -> Result<()> {
    if changes.is_empty() || tx.dialect() != Dialect::Postgres {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO link_log (origin, at, changes)
         VALUES (?1, CAST(extract(epoch FROM now()) AS BIGINT), ?2)",
    )?
    .execute(params![origin, encode(changes)])?;
    Ok(())
}

/// What a node has read of the log: the newest stamp seen and the rows
/// applied since a look back before it. Pure.
#[derive(Debug, Default)]
pub struct Follow {
    newest: Option<i64>,
    applied: BTreeMap<i64, i64>,
}

impl Follow {
    /// Starts from `newest`, the log's newest stamp when the index was
    /// built (rows from then on are read; older ones are in the index).
    pub fn from(newest: i64) -> Self {
        Follow {
            newest: Some(newest),
            applied: BTreeMap::new(),
        }
    }

    /// The stamp to read from.
    pub fn since(&self) -> i64 {
        self.newest.map_or(0, |n| n - LOOK_BACK_SECS)
    }

    /// Of the rows read (in sequence order), those not applied yet; they
    /// count as applied from now on.
    pub fn fresh(&mut self, rows: Vec<Logged>) -> Vec<Logged> {
        let fresh: Vec<Logged> = rows
            .into_iter()
            .filter(|r| !self.applied.contains_key(&r.seq))
            .collect();
        for r in &fresh {
            self.applied.insert(r.seq, r.at);
            self.newest = Some(self.newest.map_or(r.at, |n| n.max(r.at)));
        }
        let since = self.since();
        self.applied.retain(|_, at| *at >= since);
        fresh
    }
}

impl Store {
    /// The log's newest stamp (the database's clock when it is empty).
    pub async fn link_log_newest(&self) -> Result<i64> {
        self.read(|r| {
            Ok(r.query_row(
                "SELECT coalesce(max(at), CAST(extract(epoch FROM now()) AS BIGINT)) FROM link_log",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Rows other indexes wrote stamped `since` or later, in order.
    pub async fn links_logged_since(&self, since: i64) -> Result<Vec<Logged>> {
        let origin = origin(&self.index);
        self.read(move |r| {
            let mut st = r.prepare_cached(
                "SELECT seq, at, changes FROM link_log
                 WHERE at >= ?1 AND origin <> ?2 ORDER BY seq",
            )?;
            let rows = st
                .query_map(params![since, origin], |r| {
                    Ok(Logged {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        changes: r.get(2)?,
                    })
                })?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Applies other nodes' changes to this node's index, in order.
    pub fn apply_logged_links(&self, rows: &[Logged]) -> Result<usize> {
        let mut decoded = Vec::with_capacity(rows.len());
        for r in rows {
            decoded.push(decode(&r.changes).map_err(|why| StoreError::Corrupt {
                table: "link_log",
                column: "changes",
                why: format!("row {}: {why}", r.seq),
            })?);
        }
        let mut idx = self.index.write().unwrap_or_else(PoisonError::into_inner);
        let mut n = 0;
        for changes in decoded {
            for (software_id, num, linked) in changes {
                idx.set(software_id, num, linked);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Forgets rows stamped before `before` (the leader's chore).
    pub async fn prune_link_log(&self, before: i64, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute("DELETE FROM link_log WHERE at < ?1", [before])?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
