//! What `files get` and `files put` decide, apart from moving bytes:
//! where a download lands ([`local_target`], [`part_path`]), whether an
//! agent's answer lets a transfer resume ([`check_info`],
//! [`check_resume`]), when to try again ([`Retries`]), and the SHA-256
//! of a local file ([`sha256_file`]). The decisions are pure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use deskhand_shared::diag::render::human_bytes;

/// What a download is written into until its hash is checked.
pub(crate) const PART_SUFFIX: &str = ".deskhand-part";

/// The local file a download of `remote` into `local` becomes: `local`
/// itself, or, when it is a directory (`local_is_dir`), the remote file's
/// name inside it. The remote path may be Unix's or Windows'.
pub(crate) fn local_target(remote: &str, local: &Path, local_is_dir: bool) -> Result<PathBuf> {
    if !local_is_dir {
        return Ok(local.to_path_buf());
    }
    let name = remote
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..");
    match name {
        Some(name) => Ok(local.join(name)),
        None => {
            bail!("{remote} names no file; give the remote file's full path, e.g. /var/log/syslog")
        }
    }
}

/// The partial download of `target`, which a later attempt resumes.
pub(crate) fn part_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(PART_SUFFIX);
    PathBuf::from(name)
}

/// Whether a download goes on after the agent's `FileInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InfoCheck {
    /// The data follows from where we asked.
    Continue,
    /// What we hold does not fit the file (it shrank, or the agent
    /// starts elsewhere): drop the part and start from 0.
    Restart,
}

/// Judges a `FileInfo` (`size`, data from `offset`) for a download that
/// asked from `asked`.
pub(crate) fn check_info(asked: u64, size: u64, offset: u64) -> InfoCheck {
    if offset != asked || asked > size {
        InfoCheck::Restart
    } else {
        InfoCheck::Continue
    }
}

/// Judges an upload's `Resume{offset}` for a file of `size` bytes: the
/// offset to send from, or why the agent's answer makes no sense.
pub(crate) fn check_resume(size: u64, offset: u64) -> Result<u64> {
    if offset > size {
        bail!(
            "the machine says it holds {offset} bytes of a {size}-byte file; is the agent's partial file from another upload?"
        );
    }
    Ok(offset)
}

/// How many times a transfer is tried again after its connection
/// dropped mid-way (the link cut halfway), and the pause before each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retries {
    left: u32,
    done: u32,
}

impl Retries {
    /// Three more tries.
    pub(crate) fn new() -> Self {
        Self { left: 3, done: 0 }
    }

    /// The pause before the next try, or `None` when none is left: 1 s
    /// first, then 2 s.
    pub(crate) fn next_pause(&mut self) -> Option<Duration> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.done += 1;
        Some(Duration::from_secs(if self.done == 1 { 1 } else { 2 }))
    }
}

/// Why one attempt of a transfer failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection dropped: another attempt may resume.
    Broken(anyhow::Error),
    /// Refused, or ended by the machine with a reason: trying again would
    /// not help.
    Final(anyhow::Error),
}

impl Failure {
    /// A dropped connection.
    pub(crate) fn broken(e: impl Into<anyhow::Error>) -> Self {
        Self::Broken(e.into())
    }

    /// A final failure.
    pub(crate) fn fatal(e: impl Into<anyhow::Error>) -> Self {
        Self::Final(e.into())
    }
}

/// `12.3 MiB, sha256 abcdef012345…`: a file's size and the start of its
/// hash, for the line a transfer ends with.
pub(crate) fn summary(size: u64, sha256: &str) -> String {
    let short: String = sha256.chars().take(12).collect();
    format!("{}, sha256 {short}…", human_bytes(size))
}

/// The SHA-256 of a local file, lowercase hex; read on a blocking thread.
pub(crate) async fn sha256_file(path: &Path) -> Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> Result<String> {
        use std::io::Read;
        let mut file =
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
        }
        Ok(hex::encode(ctx.finish().as_ref()))
    })
    .await
    .context("hashing the file")?
}

/// A bar of bytes on stderr while a file moves, when stderr is a
/// terminal; nothing otherwise (the final line says it all).
pub(crate) struct TransferBar {
    bar: Option<indicatif::ProgressBar>,
}

impl TransferBar {
    /// Starts at `done` of `size` bytes, saying `label`.
    pub(crate) fn start(label: String, size: u64, done: u64) -> Self {
        let bar = crate::progress::stderr_is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(size);
            // The template is a constant: it parses or no bar is drawn.
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "  {msg} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar.set_position(done);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self { bar }
    }

    /// `n` more bytes moved.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
}

impl Drop for TransferBar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_takes_the_remote_files_name() {
        let dir = Path::new("./logs");
        assert_eq!(
            local_target("/var/log/cups/error_log", dir, true).expect("target"),
            Path::new("./logs/error_log")
        );
        assert_eq!(
            local_target(r"C:\Windows\Logs\CBS\CBS.log", dir, true).expect("target"),
            Path::new("./logs/CBS.log")
        );
        assert_eq!(
            local_target("/var/log/x", Path::new("./y.txt"), false).expect("target"),
            Path::new("./y.txt")
        );
        let e = local_target("/var/log/", dir, true).expect_err("no name");
        assert!(e.to_string().contains("names no file"), "{e}");
        assert!(local_target("/var/..", dir, true).is_err());
    }

    #[test]
    fn the_part_file_sits_beside_the_target() {
        assert_eq!(
            part_path(Path::new("./logs/error_log")),
            Path::new("./logs/error_log.deskhand-part")
        );
    }

    #[test]
    fn a_download_resumes_only_where_it_asked_and_within_the_file() {
        assert_eq!(check_info(0, 100, 0), InfoCheck::Continue);
        assert_eq!(check_info(40, 100, 40), InfoCheck::Continue);
        assert_eq!(check_info(100, 100, 100), InfoCheck::Continue);
        // The file shrank below what we hold.
        assert_eq!(check_info(150, 100, 100), InfoCheck::Restart);
        // The agent starts elsewhere than asked.
        assert_eq!(check_info(40, 100, 0), InfoCheck::Restart);
    }

    #[test]
    fn an_upload_resumes_from_what_the_agent_holds() {
        assert_eq!(check_resume(100, 0).expect("ok"), 0);
        assert_eq!(check_resume(100, 100).expect("ok"), 100);
        let e = check_resume(100, 101).expect_err("past the end");
        assert!(e.to_string().contains("101 bytes of a 100-byte"), "{e}");
    }

    #[test]
    fn three_retries_pause_one_then_two_seconds() {
        let mut r = Retries::new();
        let pauses: Vec<_> = std::iter::from_fn(|| r.next_pause()).take(10).collect();
        assert_eq!(
            pauses,
            vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(2)
            ]
        );
    }

    #[test]
    fn summaries_shorten_the_hash() {
        assert_eq!(
            summary(3 * 1024 * 1024, &"ab".repeat(32)),
            "3.0 MiB, sha256 abababababab…"
        );
    }

    #[tokio::test]
    async fn files_hash_as_sha256() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").expect("write");
        assert_eq!(
            sha256_file(&p).await.expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(sha256_file(&dir.path().join("none")).await.is_err());
    }
}
