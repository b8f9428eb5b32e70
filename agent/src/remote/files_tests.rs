//! File sessions driven through [`super::super::serve`] on in-memory
//! streams, as the server's side would drive them.

use std::time::Duration;

use deskhand_shared::proto::AgentMessage;
use deskhand_shared::remote::{Access, CHUNK, RemoteFrame, RemoteKind, RemoteReply, RemoteRequest};
use tokio::io::{DuplexStream, ReadHalf, WriteHalf};

use super::super::{FrameReader, FrameWriter, Remote, RemoteSettings, serve};
use super::part_path;

/// The operator's end of a session being served.
pub(crate) struct Operator {
    pub(crate) rx: FrameReader<ReadHalf<DuplexStream>>,
    pub(crate) tx: FrameWriter<WriteHalf<DuplexStream>>,
    pub(crate) served: tokio::task::JoinHandle<()>,
}

impl Operator {
    pub(crate) async fn reply(&mut self) -> RemoteReply {
        match tokio::time::timeout(Duration::from_secs(10), self.rx.recv_message()).await {
            Ok(Ok(Some(AgentMessage::RemoteReply(r)))) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    pub(crate) async fn frame(&mut self) -> Option<RemoteFrame> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a frame in time")
            .expect("a well-formed frame")
    }

    pub(crate) async fn send(&mut self, frame: RemoteFrame) {
        self.tx.frame(frame).await.expect("send");
    }

    /// Hangs up and waits for the agent's side to finish.
    pub(crate) async fn hang_up(self) {
        let Operator {
            rx, mut tx, served, ..
        } = self;
        tx.finish().await;
        drop((rx, tx));
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .expect("the session ends")
            .expect("join");
    }
}

pub(crate) fn open_remote() -> Remote {
    Remote::new(RemoteSettings {
        access: Access::On,
        tunnel_ports: vec![5900],
        max_file_bytes: 1 << 20,
    })
}

/// Starts serving `kind` for an operator.
pub(crate) fn start(remote: &Remote, kind: RemoteKind) -> Operator {
    let (agent, operator) = tokio::io::duplex(256 * 1024);
    let (arx, atx) = tokio::io::split(agent);
    let (orx, otx) = tokio::io::split(operator);
    let remote = remote.clone();
    let req = RemoteRequest {
        session_id: 1,
        operator: "alice".into(),
        ticket: None,
        kind,
    };
    let served = tokio::spawn(async move {
        serve(&remote, req, FrameReader::fresh(arx), FrameWriter::new(atx)).await;
    });
    Operator {
        rx: FrameReader::fresh(orx),
        tx: FrameWriter::new(otx),
        served,
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

fn content() -> Vec<u8> {
    (0..(3 * CHUNK + 123))
        .map(|i| (i * 7 % 251) as u8)
        .collect()
}

fn put(path: &std::path::Path, data: &[u8], sha256: String) -> RemoteKind {
    RemoteKind::FilePut {
        path: path.display().to_string(),
        size: data.len() as u64,
        sha256,
    }
}

async fn refused(remote: &Remote, kind: RemoteKind) -> String {
    let mut op = start(remote, kind);
    let reply = op.reply().await;
    op.hang_up().await;
    match reply {
        RemoteReply::Refused { message } => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_put_cut_halfway_resumes_into_the_right_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("setup.bin");
    let data = content();
    let remote = open_remote();
    let half = 2 * CHUNK;

    let mut op = start(&remote, put(&target, &data, sha(&data)));
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    assert_eq!(op.frame().await, Some(RemoteFrame::Resume { offset: 0 }));
    for chunk in data[..half].chunks(CHUNK) {
        op.send(RemoteFrame::Data(chunk.to_vec())).await;
    }
    op.hang_up().await;
    let part = part_path(&target, &sha(&data)).expect("part");
    assert_eq!(
        std::fs::metadata(&part).expect("part kept").len(),
        half as u64
    );
    assert!(!target.exists(), "nothing in place before the end");

    let mut op = start(&remote, put(&target, &data, sha(&data)));
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    assert_eq!(
        op.frame().await,
        Some(RemoteFrame::Resume {
            offset: half as u64
        })
    );
    for chunk in data[half..].chunks(CHUNK) {
        op.send(RemoteFrame::Data(chunk.to_vec())).await;
    }
    op.send(RemoteFrame::Eof).await;
    assert_eq!(
        op.frame().await,
        Some(RemoteFrame::Stored {
            size: data.len() as u64
        })
    );
    op.hang_up().await;
    assert_eq!(std::fs::read(&target).expect("stored"), data);
    assert!(!part.exists(), "the part became the file");
}

#[tokio::test]
async fn a_wrong_hash_leaves_nothing_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("x.txt");
    let data = b"what was sent".to_vec();
    let claimed = sha(b"what was meant");
    let mut op = start(&open_remote(), put(&target, &data, claimed.clone()));
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    assert_eq!(op.frame().await, Some(RemoteFrame::Resume { offset: 0 }));
    op.send(RemoteFrame::Data(data.clone())).await;
    op.send(RemoteFrame::Eof).await;
    let Some(RemoteFrame::End { reason }) = op.frame().await else {
        panic!("expected End");
    };
    assert!(reason.contains("SHA-256"), "{reason}");
    op.hang_up().await;
    assert!(!target.exists());
    assert!(!part_path(&target, &claimed).expect("part").exists());
}

#[tokio::test]
async fn a_get_sends_info_then_the_data_from_the_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log.txt");
    let data = content();
    std::fs::write(&path, &data).expect("write");
    let mut op = start(
        &open_remote(),
        RemoteKind::FileGet {
            path: path.display().to_string(),
            offset: 10,
        },
    );
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    assert_eq!(
        op.frame().await,
        Some(RemoteFrame::FileInfo {
            size: data.len() as u64,
            sha256: sha(&data),
            offset: 10
        })
    );
    let mut got = Vec::new();
    for _ in 0..100 {
        match op.frame().await {
            Some(RemoteFrame::Data(b)) => got.extend(b),
            Some(RemoteFrame::Eof) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, data[10..]);
    op.hang_up().await;
}

#[tokio::test]
async fn refusals_are_sentences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f");
    std::fs::write(&file, b"abc").expect("write");
    let remote = open_remote();
    let get = |path: String, offset| RemoteKind::FileGet { path, offset };
    let d = dir.path().display().to_string();
    let f = file.display().to_string();
    let m = refused(&remote, get("rel/path".into(), 0)).await;
    assert!(m.contains("absolute"), "{m}");
    let m = refused(&remote, get(format!("{d}/missing"), 0)).await;
    assert!(m.contains("no such file"), "{m}");
    let m = refused(&remote, get(d.clone(), 0)).await;
    assert!(m.contains("is a directory"), "{m}");
    let m = refused(&remote, get(f.clone(), 4)).await;
    assert!(m.contains("past the end"), "{m}");
    let big = RemoteKind::FilePut {
        path: format!("{d}/big"),
        size: 2 << 20,
        sha256: sha(b""),
    };
    let m = refused(&remote, big).await;
    assert!(m.contains("max_file_bytes"), "{m}");
    let m = refused(&remote, put(&dir.path().join("no/dir/x"), b"", sha(b""))).await;
    assert!(m.contains("no such directory"), "{m}");
    let m = refused(&remote, RemoteKind::FileList { path: f }).await;
    assert!(m.contains("not a directory"), "{m}");
    let off = Remote::new(RemoteSettings {
        access: Access::Off,
        ..RemoteSettings::default()
    });
    let m = refused(&off, RemoteKind::FileList { path: d }).await;
    assert!(m.contains("off"), "{m}");
}

#[tokio::test]
async fn a_listing_is_sorted_with_kinds_and_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("b.txt"), b"12345").expect("write");
    std::fs::create_dir(dir.path().join("a")).expect("mkdir");
    let mut op = start(
        &open_remote(),
        RemoteKind::FileList {
            path: dir.path().display().to_string(),
        },
    );
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    let Some(RemoteFrame::Listing(entries)) = op.frame().await else {
        panic!("expected a listing");
    };
    let seen: Vec<_> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind.as_str(), e.size))
        .filter(|(_, k, _)| *k == "file")
        .collect();
    assert_eq!(seen, [("b.txt", "file", 5)]);
    assert_eq!(entries.first().map(|e| e.name.as_str()), Some("a"));
    assert_eq!(op.frame().await, None, "finished after the listing");
    op.hang_up().await;
}

#[tokio::test]
async fn withdrawn_consent_ends_a_put_and_keeps_its_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("big.iso");
    let data = content();
    let remote = Remote::new(RemoteSettings {
        access: Access::Ticket,
        ..RemoteSettings::default()
    });
    remote.allow(super::super::unix_now(), Duration::from_secs(600), Some(5));
    let mut op = start(&remote, put(&target, &data, sha(&data)));
    assert_eq!(
        op.reply().await,
        RemoteReply::Accepted {
            ticket: Some(5),
            until: remote.consent(super::super::unix_now()).map(|c| c.until)
        }
    );
    assert_eq!(op.frame().await, Some(RemoteFrame::Resume { offset: 0 }));
    op.send(RemoteFrame::Data(data[..CHUNK].to_vec())).await;
    remote.deny(super::super::unix_now());
    assert_eq!(
        op.frame().await,
        Some(RemoteFrame::End {
            reason: super::super::CONSENT_WITHDRAWN.into()
        })
    );
    op.hang_up().await;
    assert!(!target.exists());
    assert!(part_path(&target, &sha(&data)).expect("part").exists());
}
