//! Package artifacts kept in the database, so that every server node
//! sharing it can serve them: each artifact in chunks (`content_chunks`),
//! then a row in `content_blobs` written last, so a blob row means every
//! chunk is there. Only on a shared database (PostgreSQL); on SQLite the
//! tables exist (the schemas are versioned together) and stay empty.
//! `crate::content` decides what goes in and checks what comes out (the
//! bytes' SHA-256); here are only the rows. Time is the caller's.

use std::collections::HashSet;

use crate::store::sql::{OptionalExtension, params};

use super::{Result, Store, StoreError};

/// The schema of this module (migration 26; PostgreSQL's twin, with
/// BYTEA for BLOB, is in `schema/postgres.rs`). The tables exist on
/// SQLite too, but a SQLite install keeps its artifacts only as files in
/// its data directory: these stay empty there.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE content_chunks (
    sha256  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);
CREATE TABLE content_blobs (
    sha256     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    chunks     INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL
);
"#;

/// An artifact complete in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its size in bytes.
    pub size: u64,
    /// How many chunks hold it (numbered from 0).
    pub chunks: u64,
}

/// A count or size as the database stores it (BIGINT).
fn stored(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::Refused(format!("{what} {n} is too large to store")))
}

impl Store {
    /// Stores chunk `seq` of the artifact `sha256`, replacing one an
    /// earlier upload left (so uploading again mends a damaged copy).
    pub async fn put_blob_chunk(
        &self,
        sha256: String,
        seq: u64,
        data: Vec<u8>,
        now: i64,
    ) -> Result<()> {
        let seq = stored(seq, "chunk number")?;
        self.write_at(now, move |tx| {
            tx.prepare_cached(
                "INSERT INTO content_chunks (sha256, seq, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sha256, seq) DO UPDATE SET data = excluded.data",
            )?
            .execute(params![sha256, seq, data])?;
            Ok(())
        })
        .await
    }

    /// Marks the artifact `sha256` complete: `size` bytes in chunks
    /// `0..chunks`, each stored already (refused otherwise). Chunks past
    /// the last, left by an upload that used another chunk size, go.
    pub async fn finish_blob(&self, sha256: String, info: BlobInfo, now: i64) -> Result<()> {
        let size = stored(info.size, "size")?;
        let chunks = stored(info.chunks, "chunk count")?;
        self.write_at(now, move |tx| {
            let present: i64 = tx.query_row(
                "SELECT count(*) FROM content_chunks WHERE sha256 = ?1 AND seq < ?2",
                params![sha256, chunks],
                |r| r.get(0),
            )?;
            if present != chunks {
                return Err(StoreError::Refused(format!(
                    "content {sha256} has {present} of its {chunks} chunks in the database; upload it again"
                )));
            }
            tx.execute(
                "DELETE FROM content_chunks WHERE sha256 = ?1 AND seq >= ?2",
                params![sha256, chunks],
            )?;
            tx.execute(
                "INSERT INTO content_blobs (sha256, size, chunks, stored_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sha256) DO UPDATE SET size = excluded.size,
                     chunks = excluded.chunks, stored_at = excluded.stored_at",
                params![sha256, size, chunks, now],
            )?;
            Ok(())
        })
        .await
    }

    /// The artifact `sha256` if it is complete in the database.
    pub async fn blob(&self, sha256: String) -> Result<Option<BlobInfo>> {
        self.read(move |r| {
            let row: Option<(i64, i64)> = r
                .query_row(
                    "SELECT size, chunks FROM content_blobs WHERE sha256 = ?1",
                    [&sha256],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((size, chunks)) = row else {
                return Ok(None);
            };
            let count = |column, n: i64| {
                u64::try_from(n).map_err(|_| StoreError::Corrupt {
                    table: "content_blobs",
                    column,
                    why: format!("{n} for content {sha256}"),
                })
            };
            Ok(Some(BlobInfo {
                size: count("size", size)?,
                chunks: count("chunks", chunks)?,
            }))
        })
        .await
    }

    /// Chunk `seq` of the artifact `sha256`; a chunk missing below the
    /// blob row's count is damage that names the artifact.
    pub async fn blob_chunk(&self, sha256: String, seq: u64) -> Result<Vec<u8>> {
        let at = stored(seq, "chunk number")?;
        self.read(move |r| {
            r.prepare_cached("SELECT data FROM content_chunks WHERE sha256 = ?1 AND seq = ?2")?
                .query_row(params![sha256, at], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::Corrupt {
                    table: "content_chunks",
                    column: "data",
                    why: format!("chunk {seq} of content {sha256} is missing"),
                })
        })
        .await
    }

    /// The SHA-256 of every artifact complete in the database.
    pub async fn blob_hashes(&self) -> Result<HashSet<String>> {
        self.read(|r| {
            let mut st = r.prepare("SELECT sha256 FROM content_blobs")?;
            let hashes = st
                .query_map([], |r| r.get(0))?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(hashes)
        })
        .await
    }
}

#[cfg(test)]
impl Store {
    /// Overwrites chunk `seq` of `sha256` behind the content store's back,
    /// as damage would: for tests that a damaged copy is never served.
    pub(crate) fn damage_blob_chunk(&self, sha256: &str, seq: i64, data: Vec<u8>) {
        let changed = self
            .raw_conn()
            .execute(
                "UPDATE content_chunks SET data = ?1 WHERE sha256 = ?2 AND seq = ?3",
                params![data, sha256, seq],
            )
            .expect("damage a chunk");
        assert_eq!(changed, 1, "chunk {seq} of {sha256} exists");
    }
}

#[cfg(test)]
mod tests;
