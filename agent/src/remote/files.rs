//! Remote file get, put and ls. Every check that can refuse runs before
//! the session is accepted (`prepare_*`, `list`), so the operator reads
//! a sentence rather than a broken transfer.
//!
//! A put writes `<dir>/.<name>.deskhand-part-<12 hex of its SHA-256>`
//! and renames it into place once its size and hash are right: a link
//! that drops leaves the part file, and the next put of the same content
//! resumes from its length (`Resume`). A wrong hash deletes it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use deskhand_shared::remote::{CHUNK, FileEntry, RemoteFrame};
use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

use super::{FrameReader, FrameWriter, SessionWatch};

/// The most entries a listing carries.
pub(super) const MAX_ENTRIES: usize = 10_000;
/// The most bytes of names a listing carries (the frame's limit is 256 KiB).
const MAX_LISTING_NAMES: usize = 160 * 1024;

/// Why `path` cannot be used, as the operator reads it.
fn io_refusal(path: &str, e: &std::io::Error, doing: &str) -> String {
    match e.kind() {
        ErrorKind::NotFound => format!("no such file or directory: {path}"),
        ErrorKind::PermissionDenied => format!("permission denied {doing} {path}"),
        _ => format!("cannot {doing} {path}: {e}"),
    }
}

fn absolute(path: &str) -> Result<&Path, String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!("the path must be absolute, not {path:?}"));
    }
    Ok(p)
}

/// SHA-256 of a whole file and its length, on a blocking thread.
async fn hash_file(path: PathBuf) -> std::io::Result<(u64, String)> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; CHUNK];
        let mut len = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
            len += n as u64;
        }
        Ok((len, hex::encode(ctx.finish())))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A file to send, opened and hashed.
#[derive(Debug)]
pub(super) struct GetPlan {
    file: File,
    path: std::path::PathBuf,
    offset: u64,
}

/// Checks a get: an absolute path to a regular file, an offset within it.
pub(super) async fn prepare_get(path: &str, offset: u64) -> Result<GetPlan, String> {
    let p = absolute(path)?;
    let meta = tokio::fs::metadata(p)
        .await
        .map_err(|e| io_refusal(path, &e, "reading"))?;
    if meta.is_dir() {
        return Err(format!("{path} is a directory; list it with ls"));
    }
    if !meta.is_file() {
        return Err(format!("{path} is not a regular file"));
    }
    let size = meta.len();
    if offset > size {
        return Err(format!(
            "the offset {offset} is past the end of {path} ({size} bytes)"
        ));
    }
    let file = File::open(p)
        .await
        .map_err(|e| io_refusal(path, &e, "reading"))?;
    Ok(GetPlan {
        file,
        path: p.to_path_buf(),
        offset,
    })
}

/// Sends `FileInfo`, the data from the offset and `Eof`.
pub(super) async fn run_get<W: AsyncWrite + Unpin>(
    plan: GetPlan,
    writer: &mut FrameWriter<W>,
    watch: &mut SessionWatch,
) -> Result<String> {
    let GetPlan {
        mut file,
        path,
        offset,
    } = plan;
    // Hashed after the acceptance, not before: a large file on a slow
    // disk takes longer than the server waits for an answer.
    let (size, sha256) = tokio::select! {
        why = watch.ended() => {
            writer.end(why).await;
            return Ok(format!("{why} while hashing"));
        }
        hashed = hash_file(path) => hashed.context("hashing the file")?,
    };
    if offset > size {
        let reason = format!("the file shrank to {size} bytes, before the offset {offset}");
        writer.end(&reason).await;
        return Ok(reason);
    }
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .context("seeking in the file")?;
    writer
        .frame(RemoteFrame::FileInfo {
            size,
            sha256,
            offset,
        })
        .await?;
    // What was hashed, even if the file grew since.
    let mut file = file.take(size - offset);
    let mut sent = 0u64;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = tokio::select! {
            why = watch.ended() => {
                writer.end(why).await;
                return Ok(format!("{why} after {sent} bytes"));
            }
            n = read_full(&mut file, &mut buf) => n.context("reading the file")?,
        };
        if n == 0 {
            break;
        }
        buf.truncate(n);
        writer.frame(RemoteFrame::Data(buf)).await?;
        sent += n as u64;
    }
    writer.frame(RemoteFrame::Eof).await?;
    Ok(format!("sent {sent} bytes"))
}

/// Fills `buf` unless the reader ends first; how many bytes it holds.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// A file to receive: where its part is, how much of it is there.
#[derive(Debug)]
pub(super) struct PutPlan {
    target: PathBuf,
    part: PathBuf,
    file: File,
    size: u64,
    sha256: String,
    offset: u64,
}

/// The part file a put of content `sha256` writes before the rename.
pub(super) fn part_path(target: &Path, sha256: &str) -> Option<PathBuf> {
    let name = target.file_name()?.to_string_lossy();
    let short: String = sha256.chars().take(12).collect();
    Some(target.with_file_name(format!(".{name}.deskhand-part-{short}")))
}

/// Checks a put and opens its part file: an absolute path in an existing
/// directory, not a directory itself, a size within `max`.
pub(super) async fn prepare_put(
    path: &str,
    size: u64,
    sha256: &str,
    max: u64,
) -> Result<PutPlan, String> {
    let target = absolute(path)?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the file's SHA-256 must be 64 hex digits".into());
    }
    let sha256 = sha256.to_ascii_lowercase();
    if size > max {
        return Err(format!(
            "the file is {size} bytes; this machine takes files of at most {max} bytes (max_file_bytes in the agent's config)"
        ));
    }
    let part = part_path(target, &sha256).ok_or_else(|| format!("{path} does not name a file"))?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    match tokio::fs::metadata(dir).await {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a directory", dir.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!("no such directory: {}", dir.display()));
        }
        Err(e) => return Err(io_refusal(&dir.display().to_string(), &e, "reaching")),
    }
    match tokio::fs::symlink_metadata(target).await {
        Ok(m) if m.is_dir() => return Err(format!("{path} is a directory")),
        Ok(m) if !m.is_file() => return Err(format!("{path} exists and is not a regular file")),
        _ => {}
    }
    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&part)
        .await
        .map_err(|e| io_refusal(&dir.display().to_string(), &e, "writing in"))?;
    let mut held = file
        .metadata()
        .await
        .map_err(|e| io_refusal(path, &e, "writing"))?
        .len();
    if held > size {
        file.set_len(0)
            .await
            .map_err(|e| io_refusal(path, &e, "writing"))?;
        held = 0;
    }
    Ok(PutPlan {
        target: target.to_path_buf(),
        part,
        file,
        size,
        sha256,
        offset: held,
    })
}

/// Sends `Resume`, appends `Data` until `Eof`, checks size and hash,
/// renames into place and sends `Stored`. A stream that ends early
/// leaves the part file for the next attempt.
pub(super) async fn run_put<R, W>(
    plan: PutPlan,
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    watch: &mut SessionWatch,
) -> Result<String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let PutPlan {
        target,
        part,
        mut file,
        size,
        sha256,
        offset,
    } = plan;
    writer.frame(RemoteFrame::Resume { offset }).await?;
    let mut held = offset;
    loop {
        let frame = tokio::select! {
            why = watch.ended() => {
                let _ = file.flush().await;
                writer.end(why).await;
                return Ok(format!("{why} at {held} of {size} bytes; the part is kept"));
            }
            frame = reader.recv() => frame,
        };
        match frame {
            Ok(Some(RemoteFrame::Data(bytes))) => {
                if held + bytes.len() as u64 > size {
                    drop(file);
                    let _ = tokio::fs::remove_file(&part).await;
                    let why =
                        format!("more data than the {size} bytes announced; nothing was stored");
                    writer.end(&why).await;
                    return Ok(why);
                }
                file.write_all(&bytes)
                    .await
                    .context("writing the part file")?;
                held += bytes.len() as u64;
            }
            Ok(Some(RemoteFrame::Eof)) => break,
            Ok(Some(RemoteFrame::End { reason })) => {
                let _ = file.flush().await;
                return Ok(format!("the operator ended it ({reason}) at {held} bytes"));
            }
            Ok(Some(other)) => {
                let _ = file.flush().await;
                writer.end("unexpected frame during a put").await;
                return Ok(format!("unexpected frame {other:?}"));
            }
            Ok(None) | Err(_) => {
                let _ = file.flush().await;
                return Ok(format!(
                    "the stream ended at {held} of {size} bytes; the part is kept"
                ));
            }
        }
    }
    file.sync_all().await.context("writing the part file")?;
    drop(file);
    if held != size {
        let why = format!("the upload ended at {held} of {size} bytes; send it again to resume");
        writer.end(&why).await;
        return Ok(why);
    }
    let (len, got) = hash_file(part.clone())
        .await
        .context("hashing the part file")?;
    if len != size || got != sha256 {
        let _ = tokio::fs::remove_file(&part).await;
        let why = format!("the file's SHA-256 is {got}, not {sha256}; nothing was stored");
        writer.end(&why).await;
        return Ok(why);
    }
    if let Err(e) = tokio::fs::rename(&part, &target).await {
        let why = format!(
            "cannot move the file into place at {}: {e}",
            target.display()
        );
        writer.end(&why).await;
        return Ok(why);
    }
    writer.frame(RemoteFrame::Stored { size }).await?;
    Ok(format!("stored {size} bytes"))
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "link"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else {
        "other"
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

/// A directory's entries, sorted by name, at most [`MAX_ENTRIES`].
pub(super) async fn list(path: &str) -> Result<Vec<FileEntry>, String> {
    let dir = absolute(path)?.to_path_buf();
    let meta = tokio::fs::metadata(&dir)
        .await
        .map_err(|e| io_refusal(path, &e, "listing"))?;
    if !meta.is_dir() {
        return Err(format!("{path} is not a directory"));
    }
    let shown = path.to_string();
    tokio::task::spawn_blocking(move || {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io_refusal(&shown, &e, "listing"))? {
            let Ok(entry) = entry else { continue };
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            entries.push(FileEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: kind_of(&meta).into(),
                size: meta.len(),
                modified: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs()),
                mode: mode_of(&meta),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cap_listing(entries, &shown))
    })
    .await
    .map_err(|e| format!("listing {path} failed: {e}"))?
}

/// At most [`MAX_ENTRIES`] entries and [`MAX_LISTING_NAMES`] bytes of
/// names, so the listing fits one frame; a cut is logged.
fn cap_listing(mut entries: Vec<FileEntry>, path: &str) -> Vec<FileEntry> {
    let total = entries.len();
    let mut names = 0;
    let keep = entries
        .iter()
        .take(MAX_ENTRIES)
        .take_while(|e| {
            names += e.name.len() + 8;
            names <= MAX_LISTING_NAMES
        })
        .count();
    if keep < total {
        warn!(%path, shown = keep, total, "a remote listing was cut to fit one frame");
        entries.truncate(keep);
    }
    entries
}

/// Sends the listing.
pub(super) async fn run_list<W: AsyncWrite + Unpin>(
    entries: Vec<FileEntry>,
    writer: &mut FrameWriter<W>,
) -> Result<String> {
    let n = entries.len();
    writer.frame(RemoteFrame::Listing(entries)).await?;
    info!(entries = n, "sent a remote listing");
    Ok(format!("listed {n} entries"))
}

#[cfg(test)]
#[path = "files_tests.rs"]
pub(super) mod tests;
