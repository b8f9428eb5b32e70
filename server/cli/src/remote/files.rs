//! `deskhand files get|put|ls`: files on a machine, each transfer one
//! session. A download lands in `NAME.deskhand-part`, resumes from its
//! length when tried again, and is renamed into place once its SHA-256
//! matches the agent's; an upload asks the agent how much it holds and
//! sends the rest. Both try again by themselves when the connection
//! drops mid-way. The decisions are in [`super::transfer`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use deskhand_shared::remote::{CHUNK, FileEntry, RemoteFrame, RemoteKind};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::transfer::{
    Failure, InfoCheck, Retries, TransferBar, check_info, check_resume, local_target, part_path,
    sha256_file, summary,
};
use super::{Session, open};
use crate::client::Client;
use crate::render::{OutputFormat, Table, print};

/// `deskhand files`.
#[derive(Debug, Subcommand)]
pub enum FilesCmd {
    /// Copy a file from a machine; resumes an interrupted copy and checks
    /// the SHA-256.
    ///
    /// Example: `deskhand files get PC-0042 /var/log/cups/error_log ./`.
    Get {
        /// Agent id, id prefix or host name.
        agent: String,
        /// The file's absolute path on the machine.
        remote: String,
        /// A local directory (the file keeps its name) or file path.
        local: PathBuf,
        /// The ticket this copy is for; it appears in its timeline.
        #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
        ticket: Option<i64>,
    },
    /// Copy a local file to a machine; the agent checks its SHA-256
    /// before putting it in place.
    ///
    /// Example: `deskhand files put PC-0042 ./fix.conf /etc/foo/fix.conf`.
    Put {
        /// Agent id, id prefix or host name.
        agent: String,
        /// The local file.
        local: PathBuf,
        /// The absolute path it gets on the machine.
        remote: String,
        /// The ticket this copy is for; it appears in its timeline.
        #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
        ticket: Option<i64>,
    },
    /// List a directory on a machine.
    Ls {
        /// Agent id, id prefix or host name.
        agent: String,
        /// The directory's absolute path on the machine.
        path: String,
        /// The ticket this is for; it appears in its timeline.
        #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
        ticket: Option<i64>,
    },
}

/// Runs a `deskhand files` command.
pub async fn run(c: &Client, format: OutputFormat, cmd: FilesCmd) -> Result<()> {
    match cmd {
        FilesCmd::Get {
            agent,
            remote,
            local,
            ticket,
        } => get(c, &agent, &remote, &local, ticket).await,
        FilesCmd::Put {
            agent,
            local,
            remote,
            ticket,
        } => put(c, &agent, &local, &remote, ticket).await,
        FilesCmd::Ls {
            agent,
            path,
            ticket,
        } => ls(c, format, &agent, &path, ticket).await,
    }
}

/// How a download attempt ended when the data all came.
enum Got {
    /// The part file is whole: this size and hash, by the agent.
    Whole { size: u64, sha256: String },
    /// What the part holds does not fit the file: start again from 0.
    Restart,
}

/// `files get`: attempts until the file is whole and checked, or a final
/// failure.
async fn get(
    c: &Client,
    agent: &str,
    remote: &str,
    local: &Path,
    ticket: Option<i64>,
) -> Result<()> {
    let is_dir = local.is_dir();
    if !is_dir
        && local
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::is_separator)
    {
        bail!("{} is not a directory", local.display());
    }
    let target = local_target(remote, local, is_dir)?;
    let part = part_path(&target);
    let mut retries = Retries::new();
    let mut restarted = false;
    let mut retrying = false;
    loop {
        let held = tokio::fs::metadata(&part).await.map_or(0, |m| m.len());
        let failure = match get_once(c, agent, remote, &part, held, ticket, retrying).await {
            Ok(Got::Whole { size, sha256 }) => {
                let actual = sha256_file(&part).await?;
                if actual == sha256 {
                    tokio::fs::rename(&part, &target)
                        .await
                        .with_context(|| format!("renaming {} into place", part.display()))?;
                    outln!(
                        "Got {remote} ({}) -> {}",
                        summary(size, &sha256),
                        target.display()
                    );
                    return Ok(());
                }
                remove_part(&part).await;
                let why = anyhow!(
                    "the copy's SHA-256 is {actual}, the machine's file's {sha256}; the partial copy is deleted"
                );
                if restarted {
                    return Err(why.context("the file changes while it is copied"));
                }
                eprintln!(
                    "deskhand: {why}; copying it again from the start (the file may have changed)"
                );
                restarted = true;
                continue;
            }
            Ok(Got::Restart) => {
                remove_part(&part).await;
                if restarted {
                    bail!("the machine's file keeps changing size while it is copied");
                }
                eprintln!(
                    "deskhand: the partial copy no longer fits the machine's file; copying it again from the start"
                );
                restarted = true;
                continue;
            }
            Err(f) => f,
        };
        match failure {
            Failure::Broken(e) => match retries.next_pause() {
                Some(pause) => {
                    eprintln!(
                        "deskhand: the connection dropped ({e:#}); resuming in {} s",
                        pause.as_secs()
                    );
                    tokio::time::sleep(pause).await;
                    retrying = true;
                }
                None => {
                    return Err(e.context(format!(
                        "the copy broke off; {} keeps what came, run the command again to resume",
                        part.display()
                    )));
                }
            },
            Failure::Final(e) => {
                let kept = tokio::fs::metadata(&part).await.map_or(0, |m| m.len());
                if kept == 0 {
                    return Err(e);
                }
                return Err(anyhow!(
                    "{e:#} ({} keeps {kept} bytes of an earlier copy, which the next attempt resumes; delete it to start over)",
                    part.display()
                ));
            }
        }
    }
}

async fn remove_part(part: &Path) {
    let _ = tokio::fs::remove_file(part).await;
}

/// One download attempt from `held` bytes. When `retrying`, failing to
/// open is one more dropped connection rather than a refusal.
async fn get_once(
    c: &Client,
    agent: &str,
    remote: &str,
    part: &Path,
    held: u64,
    ticket: Option<i64>,
    retrying: bool,
) -> Result<Got, Failure> {
    let kind = RemoteKind::FileGet {
        path: remote.to_string(),
        offset: held,
    };
    let Session { mut reader, .. } = open(c, agent, &kind, ticket).await.map_err(|e| {
        if retrying {
            Failure::Broken(e)
        } else {
            Failure::Final(e)
        }
    })?;
    let (size, sha256) = match reader.recv().await {
        Ok(Some(RemoteFrame::FileInfo {
            size,
            sha256,
            offset,
        })) => {
            if check_info(held, size, offset) == InfoCheck::Restart {
                return Ok(Got::Restart);
            }
            (size, sha256)
        }
        Ok(Some(RemoteFrame::End { reason })) => return Err(Failure::fatal(anyhow!(reason))),
        Ok(Some(other)) => return Err(Failure::fatal(unexpected(&other))),
        Ok(None) => return Err(Failure::broken(anyhow!("the connection closed"))),
        Err(e) => return Err(Failure::Broken(e)),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .await
        .with_context(|| format!("opening {}", part.display()))
        .map_err(Failure::Final)?;
    let bar = TransferBar::start(format!("getting {remote}"), size, held);
    let mut have = held;
    loop {
        match reader.recv().await {
            Ok(Some(RemoteFrame::Data(bytes))) => {
                have += bytes.len() as u64;
                if have > size {
                    return Err(Failure::fatal(anyhow!(
                        "the machine sent more than the file's {size} bytes"
                    )));
                }
                file.write_all(&bytes)
                    .await
                    .with_context(|| format!("writing {}", part.display()))
                    .map_err(Failure::Final)?;
                bar.inc(bytes.len() as u64);
            }
            Ok(Some(RemoteFrame::Eof)) => break,
            Ok(Some(RemoteFrame::End { reason })) => return Err(Failure::fatal(anyhow!(reason))),
            Ok(Some(other)) => return Err(Failure::fatal(unexpected(&other))),
            Ok(None) => return Err(Failure::broken(anyhow!("the connection closed"))),
            Err(e) => return Err(Failure::Broken(e)),
        }
    }
    file.flush()
        .await
        .and(file.sync_all().await)
        .with_context(|| format!("writing {}", part.display()))
        .map_err(Failure::Final)?;
    if have != size {
        return Err(Failure::broken(anyhow!(
            "the file ended at {have} of its {size} bytes"
        )));
    }
    Ok(Got::Whole { size, sha256 })
}

/// `files put`: hashes the file, then attempts until the agent stored it.
async fn put(
    c: &Client,
    agent: &str,
    local: &Path,
    remote: &str,
    ticket: Option<i64>,
) -> Result<()> {
    let meta = tokio::fs::metadata(local)
        .await
        .with_context(|| format!("reading {}", local.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", local.display());
    }
    let size = meta.len();
    let sha256 = sha256_file(local).await?;
    let kind = RemoteKind::FilePut {
        path: remote.to_string(),
        size,
        sha256: sha256.clone(),
    };
    let mut retries = Retries::new();
    let mut retrying = false;
    loop {
        let e = match put_once(c, agent, local, &kind, size, ticket, retrying).await {
            Ok(()) => {
                outln!(
                    "Put {} ({}) -> {agent}:{remote}",
                    local.display(),
                    summary(size, &sha256)
                );
                return Ok(());
            }
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Broken(e)) => e,
        };
        let Some(pause) = retries.next_pause() else {
            return Err(e.context("the copy broke off; run the command again to resume"));
        };
        eprintln!(
            "deskhand: the connection dropped ({e:#}); resuming in {} s",
            pause.as_secs()
        );
        tokio::time::sleep(pause).await;
        retrying = true;
    }
}

/// One upload attempt.
async fn put_once(
    c: &Client,
    agent: &str,
    local: &Path,
    kind: &RemoteKind,
    size: u64,
    ticket: Option<i64>,
    retrying: bool,
) -> Result<(), Failure> {
    let Session {
        mut reader,
        mut writer,
        ..
    } = open(c, agent, kind, ticket).await.map_err(|e| {
        if retrying {
            Failure::Broken(e)
        } else {
            Failure::Final(e)
        }
    })?;
    let offset = match reader.recv().await {
        Ok(Some(RemoteFrame::Resume { offset })) => {
            check_resume(size, offset).map_err(Failure::Final)?
        }
        Ok(Some(RemoteFrame::End { reason })) => return Err(Failure::fatal(anyhow!(reason))),
        Ok(Some(other)) => return Err(Failure::fatal(unexpected(&other))),
        Ok(None) => return Err(Failure::broken(anyhow!("the connection closed"))),
        Err(e) => return Err(Failure::Broken(e)),
    };
    let mut file = tokio::fs::File::open(local)
        .await
        .with_context(|| format!("opening {}", local.display()))
        .map_err(Failure::Final)?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .with_context(|| format!("reading {}", local.display()))
        .map_err(Failure::Final)?;
    let name = local.display().to_string();
    let bar = TransferBar::start(format!("putting {name}"), size, offset);
    let mut sent = offset;
    let mut buf = vec![0u8; CHUNK];
    while sent < size {
        let want = usize::try_from(size - sent).map_or(CHUNK, |left| left.min(CHUNK));
        let n = file
            .read(&mut buf[..want])
            .await
            .with_context(|| format!("reading {name}"))
            .map_err(Failure::Final)?;
        if n == 0 {
            return Err(Failure::fatal(anyhow!(
                "{name} became shorter while it was sent; run the command again"
            )));
        }
        if let Err(e) = writer.send(&RemoteFrame::Data(buf[..n].to_vec())).await {
            return Err(why_cut(&mut reader, e).await);
        }
        sent += n as u64;
        bar.inc(n as u64);
    }
    if let Err(e) = writer.send(&RemoteFrame::Eof).await {
        return Err(why_cut(&mut reader, e).await);
    }
    drop(bar);
    match reader.recv().await {
        Ok(Some(RemoteFrame::Stored { .. })) => {
            let _ = writer.close().await;
            Ok(())
        }
        Ok(Some(RemoteFrame::End { reason })) => Err(Failure::fatal(anyhow!(reason))),
        Ok(Some(other)) => Err(Failure::fatal(unexpected(&other))),
        Ok(None) => Err(Failure::broken(anyhow!(
            "the connection closed before the machine confirmed the file"
        ))),
        Err(e) => Err(Failure::Broken(e)),
    }
}

/// A send failed: if the machine ended the session first, its reason is
/// the real failure (and final); otherwise the connection dropped.
async fn why_cut<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut super::framed::FrameReader<R>,
    e: anyhow::Error,
) -> Failure {
    let wait = std::time::Duration::from_secs(2);
    match tokio::time::timeout(wait, reader.recv()).await {
        Ok(Ok(Some(RemoteFrame::End { reason }))) => Failure::fatal(anyhow!(reason)),
        _ => Failure::Broken(e),
    }
}

fn unexpected(frame: &RemoteFrame) -> anyhow::Error {
    let name = format!("{frame:?}");
    let name = name
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string();
    anyhow!("the machine answered out of turn ({name}); is the agent a different version?")
}

/// `files ls`.
async fn ls(
    c: &Client,
    format: OutputFormat,
    agent: &str,
    path: &str,
    ticket: Option<i64>,
) -> Result<()> {
    let kind = RemoteKind::FileList {
        path: path.to_string(),
    };
    let Session { mut reader, .. } = open(c, agent, &kind, ticket).await?;
    let entries = match reader.recv().await? {
        Some(RemoteFrame::Listing(entries)) => entries,
        Some(RemoteFrame::End { reason }) => bail!("{reason}"),
        Some(other) => return Err(unexpected(&other)),
        None => bail!("the connection closed before the listing came"),
    };
    print(format, &entries, || listing_table(&entries))
}

fn listing_table(entries: &[FileEntry]) -> Table {
    let mut t = Table::new(vec!["MODE", "SIZE", "MODIFIED", "NAME"]);
    for e in entries {
        let name = if e.kind == "dir" {
            format!("{}/", e.name)
        } else {
            e.name.clone()
        };
        t.row(vec![
            e.mode_text(),
            e.size.to_string(),
            e.modified
                .and_then(|m| i64::try_from(m).ok())
                .map_or_else(|| "-".into(), super::timestamp),
            name,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::fake_server::FakeServer;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
    }

    /// The `offset=` or other numeric parameter of a request target.
    fn param(target: &str, name: &str) -> Option<u64> {
        target
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix(&format!("{name}="))?.parse().ok())
    }

    #[tokio::test]
    async fn a_download_cut_halfway_resumes_and_is_checked() {
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let hash = sha(&content);
        let server = FakeServer::start().await.expect("listen");
        let c = Client::new(&server.url(), Some("t".into())).expect("client");
        let (body, h) = (content.clone(), hash.clone());
        let script = server.spawn(|s| async move {
            let a = s.accept().await?;
            assert_eq!(param(&a.target, "offset"), Some(0), "{}", a.target);
            let (_r, mut w) = a.switch("").await?;
            let info = RemoteFrame::FileInfo {
                size: body.len() as u64,
                sha256: h.clone(),
                offset: 0,
            };
            w.send(&info).await?;
            w.send(&RemoteFrame::Data(body[..CHUNK].to_vec())).await?;
            w.close().await?;
            let a = s.accept().await?;
            assert_eq!(
                param(&a.target, "offset"),
                Some(CHUNK as u64),
                "{}",
                a.target
            );
            let (_r, mut w) = a.switch("").await?;
            let info = RemoteFrame::FileInfo {
                size: body.len() as u64,
                sha256: h,
                offset: CHUNK as u64,
            };
            w.send(&info).await?;
            for chunk in body[CHUNK..].chunks(CHUNK) {
                w.send(&RemoteFrame::Data(chunk.to_vec())).await?;
            }
            w.send(&RemoteFrame::Eof).await?;
            Ok(())
        });
        let dir = tempfile::tempdir().expect("dir");
        get(&c, "PC-0042", "/var/log/big.log", dir.path(), None)
            .await
            .expect("got");
        script.await.expect("joins").expect("script");
        let got = std::fs::read(dir.path().join("big.log")).expect("read");
        assert_eq!(got, content);
        assert!(!dir.path().join("big.log.deskhand-part").exists());
    }

    #[tokio::test]
    async fn a_copy_whose_hash_differs_starts_again_then_gives_up() {
        let server = FakeServer::start().await.expect("listen");
        let c = Client::new(&server.url(), Some("t".into())).expect("client");
        let script = server.spawn(|s| async move {
            for _ in 0..2 {
                let a = s.accept().await?;
                assert_eq!(param(&a.target, "offset"), Some(0), "{}", a.target);
                let (_r, mut w) = a.switch("").await?;
                let info = RemoteFrame::FileInfo {
                    size: 3,
                    sha256: sha(b"xyz"),
                    offset: 0,
                };
                w.send(&info).await?;
                w.send(&RemoteFrame::Data(b"abc".to_vec())).await?;
                w.send(&RemoteFrame::Eof).await?;
            }
            Ok(())
        });
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("x");
        let e = get(&c, "PC-0042", "/x", &target, None)
            .await
            .expect_err("mismatch twice");
        assert!(format!("{e:#}").contains("SHA-256"), "{e:#}");
        script.await.expect("joins").expect("script");
        assert!(!target.exists());
        assert!(!dir.path().join("x.deskhand-part").exists());
    }

    #[tokio::test]
    async fn an_upload_sends_what_the_agent_lacks_and_a_refusal_is_final() {
        let content: Vec<u8> = (0..150_000u32).map(|i| (i % 241) as u8).collect();
        let dir = tempfile::tempdir().expect("dir");
        let local = dir.path().join("fix.conf");
        std::fs::write(&local, &content).expect("write");
        let server = FakeServer::start().await.expect("listen");
        let c = Client::new(&server.url(), Some("t".into())).expect("client");
        let (body, h) = (content.clone(), sha(&content));
        let script = server.spawn(|s| async move {
            let a = s.accept().await?;
            assert_eq!(param(&a.target, "size"), Some(body.len() as u64));
            assert!(a.target.contains(&format!("sha256={h}")), "{}", a.target);
            let (mut r, mut w) = a.switch("").await?;
            w.send(&RemoteFrame::Resume { offset: 100_000 }).await?;
            let mut got = body[..100_000].to_vec();
            loop {
                match r.recv().await? {
                    Some(RemoteFrame::Data(d)) => got.extend_from_slice(&d),
                    Some(RemoteFrame::Eof) => break,
                    other => anyhow::bail!("unexpected {other:?}"),
                }
            }
            assert_eq!(got, body);
            w.send(&RemoteFrame::Stored {
                size: body.len() as u64,
            })
            .await?;
            s.accept()
                .await?
                .refuse("409 Conflict", "PC-0042 is offline")
                .await
        });
        put(&c, "PC-0042", &local, "/etc/foo/fix.conf", None)
            .await
            .expect("stored");
        let e = put(&c, "PC-0042", &local, "/etc/foo/fix.conf", None)
            .await
            .expect_err("refused");
        assert_eq!(e.to_string(), "PC-0042 is offline (HTTP 409)");
        script.await.expect("joins").expect("script");
    }

    #[test]
    fn listings_mark_directories() {
        let entries = vec![
            FileEntry {
                name: "cups".into(),
                kind: "dir".into(),
                size: 4096,
                modified: Some(60),
                mode: Some(0o40755),
            },
            FileEntry {
                name: "syslog".into(),
                kind: "file".into(),
                size: 12,
                modified: None,
                mode: Some(0o100640),
            },
        ];
        let text = listing_table(&entries).to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "MODE        SIZE  MODIFIED             NAME");
        assert_eq!(lines[1], "drwxr-xr-x  4096  1970-01-01 00:01:00  cups/");
        assert_eq!(lines[2], "-rw-r-----  12    -                    syslog");
    }

    #[test]
    fn out_of_turn_frames_are_named() {
        let e = unexpected(&RemoteFrame::Stored { size: 1 });
        assert!(e.to_string().contains("(Stored)"), "{e}");
        let e = unexpected(&RemoteFrame::Data(vec![1]));
        assert!(e.to_string().contains("(Data)"), "{e}");
    }
}
