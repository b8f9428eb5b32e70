//! The content store: published artifacts on disk, addressed by SHA-256.
//!
//! `DATA_DIR/content/ab/abcdef…` holds the bytes whose SHA-256 is the file
//! name. An upload is written to a temporary file while it is hashed and
//! renamed into place only if the hash is the one announced, so a file in
//! the store always had the right content when it was stored. The agent
//! checks again before it runs anything, so a file altered on the server's
//! disk later is refused there.
//!
//! Agents fetch content over their QUIC connection: one stream per
//! transfer, starting at an offset, so an interrupted transfer resumes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use deskhand_net::stream::send;
use deskhand_shared::jobs::FetchReply;
use deskhand_shared::proto::ServerMessage;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bytes per chunk on a content stream.
pub const CHUNK: usize = 256 * 1024;

/// Artifacts on disk, by SHA-256.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
}

/// Whether `s` is a lower-case hex SHA-256.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ContentStore {
    /// Opens (creating) the store under `data_dir/content`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join("content");
        std::fs::create_dir_all(dir.join("tmp"))
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// Where the content with this hash lives (the hash must be valid).
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    /// The size of stored content, if present.
    pub async fn size(&self, sha256: &str) -> Option<u64> {
        if !is_sha256(sha256) {
            return None;
        }
        tokio::fs::metadata(self.path(sha256))
            .await
            .ok()
            .map(|m| m.len())
    }

    /// Stores bytes from `chunks`, refusing them unless their SHA-256 is
    /// `sha256` and they are at most `max` bytes. Returns the size.
    pub async fn put<S, E>(&self, sha256: &str, max: u64, mut chunks: S) -> Result<u64>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        if !is_sha256(sha256) {
            bail!("a content address is 64 lower-case hex digits");
        }
        let tmp = self
            .dir
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            let mut size = 0u64;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| anyhow::anyhow!("the upload failed: {e}"))?;
                size += chunk.len() as u64;
                if size > max {
                    bail!("the upload is larger than the {max}-byte limit");
                }
                ctx.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            let digest = hex::encode(ctx.finish());
            if digest != sha256 {
                bail!("the uploaded bytes hash to {digest}, not {sha256}; nothing was stored");
            }
            let dest = self.path(sha256);
            tokio::fs::create_dir_all(dest.parent().unwrap_or(&self.dir)).await?;
            tokio::fs::rename(&tmp, &dest).await?;
            Ok(size)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// Sends content from `offset` on an agent's stream, in chunks.
    pub async fn serve(&self, sha256: &str, offset: u64, tx: &mut quinn::SendStream) -> Result<()> {
        let missing = |why: String| ServerMessage::Fetch(FetchReply::Missing(why));
        let Some(size) = self.size(sha256).await else {
            return send(tx, &missing(format!("no content {sha256} in the store"))).await;
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
mod tests {
    use super::*;

    fn sha(b: &[u8]) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
    }

    fn stream(
        parts: &[&'static [u8]],
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(bytes::Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn only_bytes_with_the_announced_hash_are_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContentStore::open(dir.path()).expect("open");
        let good = sha(b"hello world");
        assert_eq!(
            store
                .put(&good, 100, stream(&[b"hello ", b"world"]))
                .await
                .expect("stored"),
            11
        );
        assert_eq!(store.size(&good).await, Some(11));

        let other = sha(b"something else");
        let err = store
            .put(&other, 100, stream(&[b"hello world"]))
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("nothing was stored"), "{err}");
        assert_eq!(store.size(&other).await, None);

        let big = sha(b"0123456789");
        assert!(store.put(&big, 5, stream(&[b"0123456789"])).await.is_err());
        assert!(
            store
                .put("../etc/passwd", 100, stream(&[b"x"]))
                .await
                .is_err()
        );
        assert_eq!(store.size("../../x").await, None);
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("content/tmp"))
                .expect("dir")
                .count(),
            0
        );
    }
}
