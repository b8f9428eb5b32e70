//! The content store on a database several nodes share: a file copied
//! into the database in chunks ([`DB_CHUNK`] each, a few in flight, the
//! blob row last), pulled back into a node's directory when it is missing
//! there (checked against its hash before it is renamed into place), and
//! at start every local file the database lacks shared with the others.

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::AsyncReadExt;
use tracing::{info, warn};

use super::{ContentStore, Incoming, is_sha256};
use crate::store::{BlobInfo, Store};

/// Bytes per chunk in the database: a 100 MB package is a hundred rows,
/// each written in a request of its own. Measured on a 50 MB artifact
/// (PostgreSQL 15 on loopback, debug build): 1.5 s to store (file and
/// database), 0.55 s for another node's first pull; 4 MiB chunks were
/// not clearly faster (1.1-1.4 s, 0.5-0.6 s) and make each write hold
/// the writer four times as long.
pub(super) const DB_CHUNK: usize = 1 << 20;

/// Chunks of one upload written at once (the writer may batch them).
const IN_FLIGHT: usize = 4;

/// What [`ContentStore::share_local`] found in the node's directory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// Files copied into the database.
    pub uploaded: usize,
    /// Files the database had already.
    pub present: usize,
    /// Files that could not be copied (each logged with its reason).
    pub failed: usize,
}

impl ContentStore {
    /// Artifacts pulled from the database into this node's directory
    /// since it opened.
    pub fn pulled(&self) -> u64 {
        self.pulled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// On a shared database, copies into it every artifact in this
    /// node's directory that it lacks: a data directory that was a
    /// SQLite install's, or an upload whose copy failed. `None` on SQLite.
    pub async fn share_local(&self) -> Result<Option<Shared>> {
        let Some(store) = &self.shared else {
            return Ok(None);
        };
        let present = store
            .blob_hashes()
            .await
            .context("listing the artifacts in the database")?;
        let mut report = Shared::default();
        for sha256 in self.local_hashes().await? {
            if present.contains(&sha256) {
                report.present += 1;
                continue;
            }
            match self.upload(store, &sha256).await {
                Ok(()) => report.uploaded += 1,
                Err(e) => {
                    warn!(sha256 = %sha256, error = %format!("{e:#}"), "a local artifact is not shared with the other nodes");
                    report.failed += 1;
                }
            }
        }
        Ok(Some(report))
    }

    /// The hashes of the files in this node's directory.
    async fn local_hashes(&self) -> Result<Vec<String>> {
        let mut hashes = Vec::new();
        let mut dirs = tokio::fs::read_dir(&self.dir)
            .await
            .with_context(|| format!("listing {}", self.dir.display()))?;
        while let Some(dir) = dirs.next_entry().await? {
            let prefix = dir.file_name().to_string_lossy().into_owned();
            if prefix.len() != 2 || !dir.file_type().await?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(dir.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let name = file.file_name().to_string_lossy().into_owned();
                if is_sha256(&name) && name.starts_with(&prefix) {
                    hashes.push(name);
                }
            }
        }
        hashes.sort();
        Ok(hashes)
    }

    /// Copies the file `sha256` into the database, replacing any copy
    /// there: its chunks, then the blob row that makes it complete. A
    /// file that no longer hashes to its name is refused.
    pub(super) async fn upload(&self, store: &Store, sha256: &str) -> Result<()> {
        let path = self.path(sha256);
        let mut file = tokio::fs::File::open(&path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let (mut size, mut seq) = (0u64, 0u64);
        let mut writes = FuturesUnordered::new();
        loop {
            let chunk = read_up_to(&mut file, DB_CHUNK)
                .await
                .with_context(|| format!("reading {}", path.display()))?;
            if chunk.is_empty() {
                break;
            }
            ctx.update(&chunk);
            size += chunk.len() as u64;
            let (store, sha) = (store.clone(), sha256.to_string());
            writes.push(async move {
                store
                    .put_blob_chunk(sha, seq, chunk, crate::unix_now())
                    .await
            });
            seq += 1;
            if writes.len() >= IN_FLIGHT
                && let Some(written) = writes.next().await
            {
                written?;
            }
        }
        while let Some(written) = writes.next().await {
            written?;
        }
        let digest = hex::encode(ctx.finish());
        if digest != sha256 {
            bail!(
                "the file {} hashes to {digest}, not its name, so it was not shared: delete it and upload the content again",
                path.display()
            );
        }
        let info = BlobInfo { size, chunks: seq };
        store
            .finish_blob(sha256.to_string(), info, crate::unix_now())
            .await?;
        Ok(())
    }

    /// Pulls the artifact `sha256` from the database into this node's
    /// directory: written to a temporary file while hashed, renamed into
    /// place only if it hashes to `sha256`. `None` when the database does
    /// not have it; a copy that fails its hash is an error naming it.
    pub(super) async fn pull(&self, store: &Store, sha256: &str) -> Result<Option<u64>> {
        let Some(blob) = store
            .blob(sha256.to_string())
            .await
            .with_context(|| format!("looking for content {sha256} in the database"))?
        else {
            return Ok(None);
        };
        let mut incoming = Incoming::start(self).await?;
        for seq in 0..blob.chunks {
            let chunk = store
                .blob_chunk(sha256.to_string(), seq)
                .await
                .with_context(|| format!("reading content {sha256} from the database"))?;
            incoming.write(&chunk).await?;
        }
        let digest = incoming.seal().await?;
        let size = incoming.size();
        if digest != sha256 || size != blob.size {
            bail!(
                "the database's copy of content {sha256} is damaged ({size} bytes that hash to {digest}), so it is not served: upload the file again through any node (PUT /api/v1/content/{sha256})"
            );
        }
        let size = incoming.place(&self.path(sha256)).await?;
        self.pulled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        info!(sha256, size, "content pulled from the database");
        Ok(Some(size))
    }
}

/// Reads up to `max` bytes: fewer only at the end of the file.
async fn read_up_to(file: &mut tokio::fs::File, max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let mut filled = 0;
    while filled < max {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}
