//! What a session records, chosen by its kind: a terminal as asciicast
//! ([`Recording`]: output, keystrokes, resizes), a desktop as FBS
//! ([`FbsRecording`]: the RFB server's stream only); other kinds (files,
//! tunnels) record nothing. The pump feeds a [`SessionRecording`] both
//! directions and checkpoints it through a [`Checkpoint`] the same way
//! whichever it is.

use deskhand_shared::remote::RemoteKind;
use tracing::warn;

use super::fbs::FbsRecording;
use super::pipe::SessionInfo;
use super::recording::Recording;
use crate::store::Store;

/// Keeps a live recording's bytes so far (the store, in [`for_session`]).
pub type Checkpoint = Box<
    dyn Fn(Vec<u8>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// A session's recording and where its checkpoints go.
pub struct Recorder {
    /// The recording.
    pub recording: SessionRecording,
    /// Called every 30 s (the pump's checkpoint interval) when it grew.
    pub checkpoint: Option<Checkpoint>,
}

/// A recording of either format.
#[derive(Debug)]
pub enum SessionRecording {
    /// A terminal's, asciicast v2.
    Cast(Recording),
    /// A desktop's, FBS 1.0.
    Fbs(FbsRecording),
}

impl From<Recording> for SessionRecording {
    fn from(r: Recording) -> Self {
        SessionRecording::Cast(r)
    }
}

impl From<FbsRecording> for SessionRecording {
    fn from(r: FbsRecording) -> Self {
        SessionRecording::Fbs(r)
    }
}

impl SessionRecording {
    /// The recording a session of `kind` keeps (none for files and
    /// tunnels): started at `started_at` (Unix seconds), titled `title`,
    /// kept to `cap` bytes.
    pub fn for_kind(kind: &RemoteKind, started_at: i64, title: &str, cap: usize) -> Option<Self> {
        match kind {
            RemoteKind::Terminal { cols, rows, .. } => {
                Some(Recording::new(*cols, *rows, started_at, title, cap).into())
            }
            RemoteKind::Desktop { .. } => Some(FbsRecording::new(cap).into()),
            RemoteKind::FileGet { .. }
            | RemoteKind::FilePut { .. }
            | RemoteKind::FileList { .. }
            | RemoteKind::Tunnel { .. } => None,
        }
    }

    /// The machine's bytes (a terminal's output, the RFB server's
    /// stream) at `secs` since the start.
    pub fn output(&mut self, secs: f64, bytes: &[u8]) {
        match self {
            SessionRecording::Cast(r) => r.output(secs, bytes),
            SessionRecording::Fbs(r) => r.output(secs, bytes),
        }
    }

    /// The operator's bytes at `secs`: a terminal's keystrokes; a
    /// viewer's messages are not part of an FBS file.
    pub fn input(&mut self, secs: f64, bytes: &[u8]) {
        match self {
            SessionRecording::Cast(r) => r.input(secs, bytes),
            SessionRecording::Fbs(_) => {}
        }
    }

    /// The operator's terminal became `cols` x `rows` at `secs`.
    pub fn resize(&mut self, secs: f64, cols: u16, rows: u16) {
        match self {
            SessionRecording::Cast(r) => r.resize(secs, cols, rows),
            SessionRecording::Fbs(_) => {}
        }
    }

    /// Whether its cap was reached.
    pub fn was_cut(&self) -> bool {
        match self {
            SessionRecording::Cast(r) => r.was_cut(),
            SessionRecording::Fbs(r) => r.was_cut(),
        }
    }

    /// How many bytes it holds.
    pub fn len(&self) -> usize {
        match self {
            SessionRecording::Cast(r) => r.len(),
            SessionRecording::Fbs(r) => r.len(),
        }
    }

    /// Whether it holds nothing (either format holds its header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its bytes so far (a checkpoint of a live session's recording).
    pub fn snapshot(&self) -> Vec<u8> {
        match self {
            SessionRecording::Cast(r) => r.snapshot(),
            SessionRecording::Fbs(r) => r.snapshot(),
        }
    }

    /// The recording as stored.
    pub fn finish(self) -> Vec<u8> {
        match self {
            SessionRecording::Cast(r) => r.finish(),
            SessionRecording::Fbs(r) => r.finish(),
        }
    }
}

/// The recorder of session `info` (none for kinds not recorded), capped
/// at `cap` bytes and checkpointed into `store`.
pub fn for_session(info: &SessionInfo, cap: usize, store: &Store) -> Option<Recorder> {
    let title = format!(
        "{} by {}, session {}",
        info.hostname, info.operator, info.id
    );
    let recording = SessionRecording::for_kind(&info.kind, info.started_at, &title, cap)?;
    Some(Recorder {
        recording,
        checkpoint: Some(checkpoint_to(store.clone(), info.id)),
    })
}

/// Checkpoints of session `id`'s recording, into `store`.
fn checkpoint_to(store: Store, id: i64) -> Checkpoint {
    Box::new(move |bytes| {
        let store = store.clone();
        Box::pin(async move {
            if let Err(e) = store
                .checkpoint_remote_recording(id, bytes, crate::unix_now())
                .await
            {
                warn!(session = id, error = %e, "a live recording's checkpoint was not stored");
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_record_asciicast_desktops_fbs_and_the_rest_nothing() {
        let term = RemoteKind::Terminal {
            cols: 80,
            rows: 24,
            as_user: false,
        };
        let mut cast = SessionRecording::for_kind(&term, 7, "t", 1 << 20).expect("recorded");
        cast.input(0.1, b"ls\r");
        cast.resize(0.2, 100, 30);
        cast.output(0.3, b"ok");
        let text = String::from_utf8(cast.finish()).expect("utf-8");
        assert!(
            text.starts_with('{') && text.contains(r#""i","ls\r""#),
            "{text}"
        );
        assert!(text.contains(r#""r","100x30""#), "{text}");

        let desk = RemoteKind::Desktop { control: true };
        let mut fbs = SessionRecording::for_kind(&desk, 7, "t", 1 << 20).expect("recorded");
        fbs.input(0.1, b"viewer's bytes");
        fbs.resize(0.2, 100, 30);
        let before = fbs.len();
        assert_eq!(before, 12, "the signature only");
        fbs.output(0.3, b"RFB 003.008\n");
        assert!(fbs.len() > before && !fbs.was_cut());
        assert_eq!(
            crate::remote::fbs::tests::blocks(&fbs.finish()),
            vec![(300, b"RFB 003.008\n".to_vec())]
        );

        for kind in [
            RemoteKind::FileList { path: "/".into() },
            RemoteKind::Tunnel { port: 22 },
        ] {
            assert!(SessionRecording::for_kind(&kind, 0, "t", 1 << 20).is_none());
        }
    }
}
