//! The content store: published artifacts on disk, addressed by SHA-256.
//!
//! `DATA_DIR/content/ab/abcdef…` holds the bytes whose SHA-256 is the file
//! name. An upload is written to a temporary file while it is hashed and
//! renamed into place only if the hash is the one announced, so a file in
//! the store always had the right content when it was stored. The agent
//! checks again before it runs anything, so a file altered on the server's
//! disk later is refused there.
//!
//! On a database several server nodes share (PostgreSQL), the database is
//! where artifacts live and this directory is each node's cache of it
//! (`shared`): an upload is stored here, then in the database; a file
//! missing here is pulled from the database (checked against its hash,
//! one pull at a time per artifact) before it is served. On SQLite the
//! directory is the only copy, as before.
//!
//! Agents fetch content over their QUIC connection: one stream per
//! transfer, starting at an offset, so an interrupted transfer resumes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result, bail};
use deskhand_net::stream::send;
use deskhand_shared::jobs::FetchReply;
use deskhand_shared::proto::ServerMessage;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::warn;

use crate::store::Store;

mod shared;

pub use shared::Shared;

/// Bytes arriving for the store (an upload, or a pull from the shared
/// database): written to a temporary file while their SHA-256 is
/// computed, then put in place under their hash by [`Incoming::place`];
/// the temporary file is removed if they never are.
struct Incoming {
    tmp: PathBuf,
    file: tokio::fs::File,
    ctx: ring::digest::Context,
    size: u64,
    placed: bool,
}

impl Incoming {
    async fn start(store: &ContentStore) -> Result<Self> {
        let tmp = store
            .dir
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&tmp).await?;
        Ok(Incoming {
            tmp,
            file,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
            placed: false,
        })
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.size += chunk.len() as u64;
        self.ctx.update(chunk);
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// Flushes the bytes to disk; returns their SHA-256 (hex).
    async fn seal(&mut self) -> Result<String> {
        self.file.sync_all().await?;
        Ok(hex::encode(self.ctx.clone().finish()))
    }

    /// Moves the file to `dest`; returns its size.
    async fn place(mut self, dest: &Path) -> Result<u64> {
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&self.tmp, dest).await?;
        self.placed = true;
        Ok(self.size)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Bytes per chunk on a content stream.
pub const CHUNK: usize = 256 * 1024;

/// Artifacts on disk, by SHA-256 (and in the database, when it is shared).
pub struct ContentStore {
    dir: PathBuf,
    /// The database every node shares, when it is one: where artifacts
    /// live, this directory being a cache of it.
    shared: Option<Store>,
    /// One gate per artifact being pulled from the database, so that
    /// agents asking at once wait for one pull.
    pulls: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Artifacts pulled from the database since start.
    pulled: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ContentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentStore")
            .field("dir", &self.dir)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether `s` is a lower-case hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ContentStore {
    /// Opens (creating) the store under `data_dir/content`, backed by
    /// `store` when several nodes share it ([`Store::is_shared`]).
    pub fn open(data_dir: &Path, store: &Store) -> Result<Self> {
        let dir = data_dir.join("content");
        std::fs::create_dir_all(dir.join("tmp"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            dir,
            shared: store.is_shared().then(|| store.clone()),
            pulls: Mutex::default(),
            pulled: Default::default(),
        })
    }

    /// Where the content with this hash lives (the hash must be valid).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// The size of stored content, if present here or (on a shared
    /// database) complete in the database.
    pub async fn size(&self, sha256: &str) -> Result<Option<u64>> {
        if !is_sha256(sha256) {
            return Ok(None);
        }
        if let Some(size) = self.local_size(sha256).await {
            return Ok(Some(size));
        }
        match &self.shared {
            Some(store) => Ok(store
                .blob(sha256.to_string())
                .await
                .with_context(|| format!("looking for content {sha256} in the database"))?
                .map(|b| b.size)),
            None => Ok(None),
        }
    }

    /// The size of the file here, if there is one.
    async fn local_size(&self, sha256: &str) -> Option<u64> {
        tokio::fs::metadata(self.path(sha256))
            .await
            .ok()
            .map(|m| m.len())
    }

    /// The size of the file here, pulled from the database first when it
    /// is missing and the database has it; `None` when neither has it.
    /// Callers asking at once for the same artifact wait for one pull,
    /// and none sees a half-written file (a pull is renamed into place).
    pub async fn local(&self, sha256: &str) -> Result<Option<u64>> {
        if !is_sha256(sha256) {
            return Ok(None);
        }
        if let Some(size) = self.local_size(sha256).await {
            return Ok(Some(size));
        }
        let Some(store) = &self.shared else {
            return Ok(None);
        };
        let gate = self
            .pulls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(sha256.to_string())
            .or_default()
            .clone();
        let result = async {
            let _pulling = gate.lock().await;
            // Another caller may have pulled it while this one waited.
            if let Some(size) = self.local_size(sha256).await {
                return Ok(Some(size));
            }
            self.pull(store, sha256).await
        }
        .await;
        let mut pulls = self.pulls.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's and this caller's: nobody else waits on this gate.
        if Arc::strong_count(&gate) == 2 {
            pulls.remove(sha256);
        }
        result
    }

    /// Stores bytes from `chunks`, refusing them unless their SHA-256 is
    /// `sha256` and they are at most `max` bytes, then (on a shared
    /// database) in the database, replacing its copy. Returns the size.
    pub async fn put<S, E>(&self, sha256: &str, max: u64, mut chunks: S) -> Result<u64>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        if !is_sha256(sha256) {
            bail!("a content address is 64 lower-case hex digits");
        }
        let mut incoming = Incoming::start(self).await?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| anyhow::anyhow!("the upload failed: {e}"))?;
            if incoming.size() + chunk.len() as u64 > max {
                bail!("the upload is larger than the {max}-byte limit");
            }
            incoming.write(&chunk).await?;
        }
        let digest = incoming.seal().await?;
        if digest != sha256 {
            bail!("the uploaded bytes hash to {digest}, not {sha256}; nothing was stored");
        }
        let size = incoming.place(&self.path(sha256)).await?;
        if let Some(store) = &self.shared {
            self.upload(store, sha256).await.with_context(|| {
                format!(
                    "content {sha256} is stored on this node but not in the database, so other nodes cannot serve it; upload it again"
                )
            })?;
        }
        Ok(size)
    }

    /// Sends content from `offset` on an agent's stream, in chunks.
    pub async fn serve(&self, sha256: &str, offset: u64, tx: &mut quinn::SendStream) -> Result<()> {
        let missing = |why: String| ServerMessage::Fetch(FetchReply::Missing(why));
        let size = match self.local(sha256).await {
            Ok(Some(size)) => size,
            Ok(None) => {
                return send(tx, &missing(format!("no content {sha256} in the store"))).await;
            }
            Err(e) => {
                let why = format!("{e:#}");
                warn!(error = %why, "content not served");
                return send(tx, &missing(why)).await;
            }
        };
        if offset > size {
            return send(
                tx,
                &missing(format!("offset {offset} is past the end ({size})")),
            )
            .await;
        }
        send(tx, &ServerMessage::Fetch(FetchReply::Start { size })).await?;
        let mut file = tokio::fs::File::open(self.path(sha256)).await?;
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            send(
                tx,
                &ServerMessage::Fetch(FetchReply::Chunk(buf[..n].to_vec())),
            )
            .await?;
        }
    }
}

#[cfg(test)]
mod tests;
