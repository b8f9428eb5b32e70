//! A file's download through the console: a `get` session streamed as
//! the response body, never the whole file in memory.
//!
//! [`BodyCheck`] (pure) decides what each frame means for the body: it
//! computes the SHA-256 as the data passes and holds the last chunk back
//! until `Eof` proves the whole file arrived with the hash the machine
//! announced. A short file, a wrong hash or an `End` mid-way ends the
//! body before its `Content-Length`, so the browser's download fails
//! instead of saving a wrong file.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use deskhand_api_types::remote::OpenRemote;
use deskhand_shared::remote::RemoteFrame;
use tracing::warn;

use super::{FilesQuery, base_name, conflict, first_frame, open, out_of_turn, ticket_of};
use crate::api::Shared;
use crate::api::console::{ConsoleUser, PageResult};
use crate::api::error::ApiError;
use crate::remote::local::{LocalReader, LocalWriter};

/// `GET /console/assets/{key}/files/download?path=...`: the file as an
/// attachment, streamed from the machine.
pub(super) async fn download(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(q): Query<FilesQuery>,
) -> PageResult {
    let Some(path) = q.path.filter(|p| !p.is_empty()) else {
        return Err(ApiError::bad_request("say which file to download: path=...").into());
    };
    let ticket = ticket_of(q.ticket.as_deref())?;
    let ask = OpenRemote {
        kind: "get".into(),
        path: Some(path.clone()),
        ticket,
        ..Default::default()
    };
    let (mut reader, writer, info) = open(&s, &user, &key, ask).await?;
    let (size, sha256) = match first_frame(&mut reader).await {
        Ok(RemoteFrame::FileInfo {
            size,
            sha256,
            offset: 0,
        }) => (size, sha256),
        Ok(RemoteFrame::FileInfo { offset, .. }) => {
            writer.close().await;
            return Err(conflict(format!(
                "the machine sent the file from byte {offset}, not 0"
            ))
            .into());
        }
        Ok(other) => {
            writer.close().await;
            return Err(out_of_turn(&other).into());
        }
        Err(e) => {
            writer.close().await;
            return Err(e.into());
        }
    };
    let disposition = HeaderValue::from_str(&content_disposition(base_name(&path)))
        .map_err(ApiError::internal)?;
    let state = Download {
        reader,
        writer: Some(writer),
        check: BodyCheck::new(size, sha256),
        session: info.id,
        path,
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut d| async move {
        d.next().await.map(|item| (item, d))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A download in progress: the session and its [`BodyCheck`].
struct Download {
    reader: LocalReader,
    writer: Option<LocalWriter>,
    check: BodyCheck,
    session: i64,
    path: String,
    done: bool,
}

impl Download {
    /// The body's next piece, `None` at its end, an error to cut it short.
    async fn next(&mut self) -> Option<Result<Vec<u8>, std::io::Error>> {
        if self.done {
            return None;
        }
        loop {
            let step = match self.reader.recv().await {
                Ok(Some(frame)) => self.check.on_frame(frame),
                Ok(None) => Step::Fail("the session ended before the file did".into()),
                Err(e) => Step::Fail(e),
            };
            match step {
                Step::Send(bytes) => return Some(Ok(bytes)),
                Step::Wait => {}
                Step::Done(last) => {
                    self.done = true;
                    if let Some(w) = self.writer.take() {
                        w.close().await;
                    }
                    return last.map(Ok);
                }
                Step::Fail(why) => {
                    self.done = true;
                    warn!(session = self.session, path = %self.path, reason = %why, "a console download was cut short");
                    return Some(Err(std::io::Error::other(why)));
                }
            }
        }
    }
}

/// What a frame from the machine means for the body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Send these bytes.
    Send(Vec<u8>),
    /// Nothing to send yet.
    Wait,
    /// The file is whole and checked: send its last bytes, if any, and
    /// end the body.
    Done(Option<Vec<u8>>),
    /// Cut the body short, for this reason.
    Fail(String),
}

/// A download's frames checked against the machine's announced size and
/// SHA-256: pure.
pub(super) struct BodyCheck {
    ctx: ring::digest::Context,
    have: u64,
    size: u64,
    sha256: String,
    /// The last chunk, sent only once the next frame shows it is not the
    /// end of a wrong file.
    held: Option<Vec<u8>>,
}

impl BodyCheck {
    /// A file of `size` bytes whose SHA-256 is `sha256` (hex).
    pub(super) fn new(size: u64, sha256: String) -> Self {
        Self {
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            have: 0,
            size,
            sha256,
            held: None,
        }
    }

    /// The next frame of the session.
    pub(super) fn on_frame(&mut self, frame: RemoteFrame) -> Step {
        match frame {
            RemoteFrame::Data(bytes) => {
                self.have += bytes.len() as u64;
                if self.have > self.size {
                    return Step::Fail(format!(
                        "the machine sent more than the file's {} bytes",
                        self.size
                    ));
                }
                self.ctx.update(&bytes);
                match self.held.replace(bytes) {
                    Some(before) => Step::Send(before),
                    None => Step::Wait,
                }
            }
            RemoteFrame::Eof => {
                let got = hex::encode(self.ctx.clone().finish());
                match check_whole(self.have, self.size, &got, &self.sha256) {
                    Ok(()) => Step::Done(self.held.take()),
                    Err(why) => Step::Fail(why),
                }
            }
            RemoteFrame::End { reason } => Step::Fail(reason),
            other => Step::Fail(out_of_turn(&other).message),
        }
    }
}

/// Whether a download that reached `Eof` is the machine's whole file.
pub(super) fn check_whole(have: u64, size: u64, got: &str, want: &str) -> Result<(), String> {
    if have != size {
        return Err(format!("the file ended at {have} of its {size} bytes"));
    }
    if !got.eq_ignore_ascii_case(want) {
        return Err(format!(
            "the copy's SHA-256 is {got}, the machine's file's {want}"
        ));
    }
    Ok(())
}

/// `attachment; filename="..."; filename*=UTF-8''...`: an ASCII name
/// every browser reads (anything else replaced by `_`) and the exact
/// name, percent-encoded, for those that read RFC 5987.
pub(super) fn content_disposition(name: &str) -> String {
    let name = if name.is_empty() { "download" } else { name };
    let ascii: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut exact = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            exact.push(char::from(b));
        } else {
            exact.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}
