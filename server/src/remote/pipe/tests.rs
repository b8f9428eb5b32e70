//! The pump in memory: both sides are duplex pipes, the frames real.

use std::time::Duration;

use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::remote::{MAX_REMOTE_FRAME, RemoteFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::remote::fbs::FbsRecording;
use crate::remote::fbs::tests::blocks;
use crate::remote::recorder::Checkpoint;
use crate::remote::recording::Recording;

/// One side's end in the test: writes frames, reads them.
struct Peer {
    io: DuplexStream,
    decoder: FrameDecoder,
}

impl Peer {
    fn new(io: DuplexStream) -> Self {
        Self {
            io,
            decoder: FrameDecoder::new(MAX_REMOTE_FRAME),
        }
    }

    async fn send(&mut self, f: RemoteFrame) {
        let bytes = encode_frame(&f).expect("encode");
        self.io.write_all(&bytes).await.expect("write");
    }

    /// The next frame, or none at the end; bounded by a timeout.
    async fn next(&mut self) -> Option<RemoteFrame> {
        let read = async {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(f) = self.decoder.next_message().expect("a frame") {
                    return Some(f);
                }
                let n = self.io.read(&mut buf).await.expect("read");
                if n == 0 {
                    return None;
                }
                self.decoder.push(&buf[..n]).expect("push");
            }
        };
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a frame in time")
    }

    /// Every frame up to the end.
    async fn rest(&mut self) -> Vec<RemoteFrame> {
        let mut all = Vec::new();
        for _ in 0..100 {
            match self.next().await {
                Some(f) => all.push(f),
                None => return all,
            }
        }
        panic!("more than 100 frames")
    }
}

struct Rig {
    operator: Peer,
    agent: Peer,
    kill: tokio::sync::oneshot::Sender<String>,
    run: tokio::task::JoinHandle<Outcome>,
}

fn rig(recording: Option<SessionRecording>, until: Option<Duration>) -> Rig {
    let (op_client, op_server) = tokio::io::duplex(64 * 1024);
    let (agent_client, agent_server) = tokio::io::duplex(64 * 1024);
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel();
    let run = tokio::spawn(async move {
        let (ar, aw) = tokio::io::split(agent_server);
        let (or, ow) = tokio::io::split(op_server);
        let ends = Ends {
            kill: kill_rx,
            gone: Box::pin(std::future::pending()),
            until,
        };
        let recorder = recording.map(|recording| Recorder {
            recording,
            checkpoint: None,
        });
        relay(
            &mut Side::new(or, ow),
            &mut Side::new(ar, aw),
            recorder,
            ends,
        )
        .await
    });
    Rig {
        operator: Peer::new(op_client),
        agent: Peer::new(agent_client),
        kill: kill_tx,
        run,
    }
}

async fn outcome(run: tokio::task::JoinHandle<Outcome>) -> Outcome {
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the session ends")
        .expect("no panic")
}

#[tokio::test]
async fn a_terminal_is_relayed_both_ways_counted_and_recorded() {
    let mut r = rig(Some(Recording::new(80, 24, 0, "t", 1 << 20).into()), None);
    r.operator.send(RemoteFrame::Data(b"ls\r".to_vec())).await;
    r.operator
        .send(RemoteFrame::Resize {
            cols: 100,
            rows: 30,
        })
        .await;
    assert_eq!(
        r.agent.next().await,
        Some(RemoteFrame::Data(b"ls\r".to_vec()))
    );
    assert_eq!(
        r.agent.next().await,
        Some(RemoteFrame::Resize {
            cols: 100,
            rows: 30
        })
    );
    r.agent.send(RemoteFrame::Data(b"a.txt\r\n".to_vec())).await;
    r.agent
        .send(RemoteFrame::Exit {
            code: Some(0),
            signal: None,
        })
        .await;
    r.agent.io.shutdown().await.expect("finish");
    let seen = r.operator.rest().await;
    assert_eq!(seen[0], RemoteFrame::Data(b"a.txt\r\n".to_vec()));
    assert!(matches!(seen[1], RemoteFrame::Exit { code: Some(0), .. }));
    assert_eq!(
        seen[2],
        RemoteFrame::End {
            reason: "the shell exited with code 0".into()
        }
    );
    let out = outcome(r.run).await;
    assert_eq!(out.ending, Ending::AgentFinished(Some((Some(0), None))));
    assert_eq!((out.up, out.down), (3, 7));
    let cast = String::from_utf8(out.recording.expect("recorded")).expect("utf-8");
    assert!(cast.contains(r#""i","ls\r""#), "{cast}");
    assert!(cast.contains(r#""r","100x30""#), "{cast}");
    assert!(cast.contains(r#""o","a.txt\r\n""#), "{cast}");
}

#[tokio::test]
async fn a_desktop_records_the_machines_rfb_stream_alone_as_fbs() {
    let mut r = rig(Some(FbsRecording::new(1 << 20).into()), None);
    let down: [&[u8]; 3] = [b"RFB 003.008\n", &[1], b"\x00\x00\x00\x01server-init"];
    let up: [&[u8]; 2] = [b"RFB 003.008\n", &[3, 0, 0, 0, 0, 0, 4, 0, 3]];
    // Interleaved: the server's version, the viewer's, and so on.
    for (i, d) in down.iter().enumerate() {
        r.agent.send(RemoteFrame::Data(d.to_vec())).await;
        assert_eq!(r.operator.next().await, Some(RemoteFrame::Data(d.to_vec())));
        if let Some(u) = up.get(i) {
            r.operator.send(RemoteFrame::Data(u.to_vec())).await;
            assert_eq!(r.agent.next().await, Some(RemoteFrame::Data(u.to_vec())));
        }
    }
    r.agent.io.shutdown().await.expect("finish");
    assert!(matches!(
        r.operator.rest().await.last(),
        Some(RemoteFrame::End { .. })
    ));
    let out = outcome(r.run).await;
    assert_eq!(out.ending, Ending::AgentFinished(None));
    assert_eq!((out.up, out.down), (21, 28));
    let file = out.recording.expect("recorded");
    let got: Vec<Vec<u8>> = blocks(&file).into_iter().map(|(_, d)| d).collect();
    assert_eq!(got, down.map(<[u8]>::to_vec).to_vec());
    let times: Vec<u32> = blocks(&file).into_iter().map(|(ms, _)| ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[tokio::test]
async fn garbage_from_the_operator_ends_the_session_with_a_sentence() {
    let mut r = rig(None, None);
    r.operator
        .io
        .write_all(&[0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        .await
        .expect("write");
    let told = r.operator.rest().await;
    assert!(
        matches!(told.last(), Some(RemoteFrame::End { reason }) if reason.contains("not a frame")),
        "{told:?}"
    );
    let agent_told = r.agent.next().await;
    assert!(
        matches!(&agent_told, Some(RemoteFrame::End { reason }) if reason.contains("not a frame")),
        "{agent_told:?}"
    );
    let out = outcome(r.run).await;
    assert!(
        matches!(out.ending, Ending::BadOperatorFrame(_)),
        "{:?}",
        out.ending
    );

    // A well-sized frame whose body is not a frame of this protocol.
    let mut r = rig(None, None);
    r.operator
        .io
        .write_all(&[0, 0, 0, 2, 0xFF, 0xFF])
        .await
        .expect("write");
    let out = outcome(r.run).await;
    assert!(
        matches!(out.ending, Ending::BadOperatorFrame(_)),
        "{:?}",
        out.ending
    );
}

#[tokio::test]
async fn a_kill_tells_the_operator_who_and_the_agent_to_stop() {
    let mut r = rig(None, None);
    r.operator.send(RemoteFrame::Data(vec![1; 10])).await;
    assert_eq!(r.agent.next().await, Some(RemoteFrame::Data(vec![1; 10])));
    r.kill.send("bob".into()).expect("kill");
    let told = r.operator.rest().await;
    assert_eq!(
        told,
        vec![RemoteFrame::End {
            reason: "killed by bob".into()
        }]
    );
    assert!(matches!(
        r.agent.next().await,
        Some(RemoteFrame::End { .. })
    ));
    let out = outcome(r.run).await;
    assert_eq!(out.ending, Ending::Killed("bob".into()));
    assert_eq!(out.up, 10);
}

#[tokio::test]
async fn the_session_ends_with_the_users_consent_and_when_the_operator_leaves() {
    let mut r = rig(None, Some(Duration::from_millis(50)));
    let told = r.operator.rest().await;
    assert!(
        matches!(told.last(), Some(RemoteFrame::End { reason }) if reason.contains("consent")),
        "{told:?}"
    );
    assert_eq!(outcome(r.run).await.ending, Ending::ConsentEnded);

    let mut r = rig(None, None);
    r.operator.io.shutdown().await.expect("close");
    let agent_told = r.agent.next().await;
    assert!(
        matches!(&agent_told, Some(RemoteFrame::End { reason }) if reason.contains("operator closed")),
        "{agent_told:?}"
    );
    assert_eq!(outcome(r.run).await.ending, Ending::OperatorLeft);
}

#[test]
fn every_ending_has_a_reason_and_says_who_to_tell() {
    let killed = Ending::Killed("alice".into());
    assert_eq!(killed.reason(), "killed by alice");
    assert!(killed.tell_operator().is_some() && killed.tell_agent().is_some());
    assert_eq!(Ending::OperatorLeft.tell_operator(), None);
    assert_eq!(Ending::AgentGone.tell_agent(), None);
    assert!(Ending::AgentGone.tell_operator().is_some());
    assert_eq!(
        Ending::AgentFinished(Some((None, Some(9)))).reason(),
        "the shell was ended by signal 9"
    );
    assert_eq!(
        Ending::AgentEnded("x".into()).tell_operator(),
        None,
        "passed on already"
    );
}

#[test]
fn a_finished_transfer_says_its_work_was_done() {
    let get = RemoteKind::FileGet {
        path: "/x".into(),
        offset: 0,
    };
    assert_eq!(super::finished(&get), "the file was sent");
    let ls = RemoteKind::FileList { path: "/".into() };
    assert_eq!(super::finished(&ls), "the listing was sent");
    let term = RemoteKind::Terminal {
        cols: 80,
        rows: 24,
        as_user: false,
    };
    assert_eq!(super::finished(&term), "the machine ended the session");
}

#[tokio::test]
async fn the_agents_connection_closing_ends_the_session_and_tells_the_operator() {
    let (op_client, op_server) = tokio::io::duplex(1024);
    let (_agent_client, agent_server) = tokio::io::duplex(1024);
    let (_kill, kill) = tokio::sync::oneshot::channel();
    let run = tokio::spawn(async move {
        let (ar, aw) = tokio::io::split(agent_server);
        let (or, ow) = tokio::io::split(op_server);
        let ends = Ends {
            kill,
            gone: Box::pin(async {}),
            until: None,
        };
        relay(&mut Side::new(or, ow), &mut Side::new(ar, aw), None, ends).await
    });
    let mut operator = Peer::new(op_client);
    assert_eq!(
        operator.rest().await,
        vec![RemoteFrame::End {
            reason: "the agent's connection closed".into()
        }]
    );
    assert_eq!(outcome(run).await.ending, Ending::AgentGone);
}

#[tokio::test(start_paused = true)]
async fn a_live_recording_is_checkpointed_when_it_grew() {
    let (op_client, op_server) = tokio::io::duplex(1024);
    let (agent_client, agent_server) = tokio::io::duplex(1024);
    let (_kill, kill) = tokio::sync::oneshot::channel();
    let (saved_tx, mut saved) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let checkpoint: Checkpoint = Box::new(move |bytes| {
        let tx = saved_tx.clone();
        Box::pin(async move {
            let _ = tx.send(bytes);
        })
    });
    let run = tokio::spawn(async move {
        let (ar, aw) = tokio::io::split(agent_server);
        let (or, ow) = tokio::io::split(op_server);
        let ends = Ends {
            kill,
            gone: Box::pin(std::future::pending()),
            until: None,
        };
        let recorder = Recorder {
            recording: Recording::new(80, 24, 0, "t", 1 << 20).into(),
            checkpoint: Some(checkpoint),
        };
        relay(
            &mut Side::new(or, ow),
            &mut Side::new(ar, aw),
            Some(recorder),
            ends,
        )
        .await
    });
    let mut agent = Peer::new(agent_client);
    let mut operator = Peer::new(op_client);
    agent.send(RemoteFrame::Data(b"first\r\n".to_vec())).await;
    assert_eq!(
        operator.next().await,
        Some(RemoteFrame::Data(b"first\r\n".to_vec()))
    );
    let first = tokio::time::timeout(Duration::from_secs(40), saved.recv())
        .await
        .expect("a checkpoint within 40 s")
        .expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("first"));
    // Nothing new: no checkpoint; then more output: a longer one.
    assert!(
        tokio::time::timeout(Duration::from_secs(40), saved.recv())
            .await
            .is_err(),
        "an unchanged recording is not written again"
    );
    agent.send(RemoteFrame::Data(b"second\r\n".to_vec())).await;
    assert!(operator.next().await.is_some());
    let second = tokio::time::timeout(Duration::from_secs(40), saved.recv())
        .await
        .expect("a second checkpoint")
        .expect("bytes");
    assert!(second.len() > first.len());
    assert!(String::from_utf8_lossy(&second).contains("second"));
    drop(operator);
    assert_eq!(outcome(run).await.ending, Ending::OperatorLeft);
}
