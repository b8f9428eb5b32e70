//! A file's download and upload through the console, each one remote
//! session.
//!
//! A download streams the machine's `Data` frames as the response body
//! (never the whole file in memory) while computing its SHA-256, and
//! keeps the last chunk back until `Eof` proves the whole file arrived
//! with the hash the machine announced: a short file, a wrong hash or an
//! `End` mid-way ends the body early, so the browser's download fails
//! instead of saving a wrong file.
//!
//! An upload is spooled to a temporary file while it is hashed and
//! counted (the machine needs the size and hash before any data, and the
//! browser's request is not something to resume from), capped at
//! [`MAX_UPLOAD_BYTES`]; only then is the `put` session opened and the
//! file sent from where the machine says it holds it.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use deskhand_api_types::remote::OpenRemote;
use deskhand_shared::remote::{CHUNK, RemoteFrame};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::warn;

use super::{
    FilesQuery, FilesView, base_name, conflict, end_status, first_frame, join, listing_url, open,
    out_of_turn, ticket_of,
};
use crate::api::Shared;
use crate::api::console::{ConsoleError, ConsoleUser, PageResult, back, page};
use crate::api::error::ApiError;
use crate::remote::local::{LocalReader, LocalWriter};
use crate::store::Role;

/// The largest file the console uploads: the whole file is spooled on
/// the server first; the CLI, which resumes, is the way for more.
pub(super) const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How long the machine may take to check and store a whole upload.
const STORE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// The longest text field of the upload form.
const MAX_FIELD_BYTES: usize = 4096;

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
        ctx: ring::digest::Context::new(&ring::digest::SHA256),
        have: 0,
        size,
        sha256,
        held: None,
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

/// A download in progress: the session and what has passed so far.
struct Download {
    reader: LocalReader,
    writer: Option<LocalWriter>,
    ctx: ring::digest::Context,
    have: u64,
    size: u64,
    sha256: String,
    /// The last chunk, sent only once the next frame shows it is not the
    /// end of a wrong file.
    held: Option<Vec<u8>>,
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
            let frame = match self.reader.recv().await {
                Ok(Some(frame)) => frame,
                Ok(None) => return self.fail("the session ended before the file did".into()),
                Err(e) => return self.fail(e),
            };
            match frame {
                RemoteFrame::Data(bytes) => {
                    self.have += bytes.len() as u64;
                    if self.have > self.size {
                        let why =
                            format!("the machine sent more than the file's {} bytes", self.size);
                        return self.fail(why);
                    }
                    self.ctx.update(&bytes);
                    if let Some(before) = self.held.replace(bytes) {
                        return Some(Ok(before));
                    }
                }
                RemoteFrame::Eof => {
                    let got = hex::encode(self.ctx.clone().finish());
                    if let Err(why) = check_whole(self.have, self.size, &got, &self.sha256) {
                        return self.fail(why);
                    }
                    self.done = true;
                    if let Some(w) = self.writer.take() {
                        w.close().await;
                    }
                    return self.held.take().map(Ok);
                }
                RemoteFrame::End { reason } => return self.fail(reason),
                other => return self.fail(out_of_turn(&other).message),
            }
        }
    }

    fn fail(&mut self, why: String) -> Option<Result<Vec<u8>, std::io::Error>> {
        self.done = true;
        warn!(session = self.session, path = %self.path, reason = %why, "a console download was cut short");
        Some(Err(std::io::Error::other(why)))
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

/// Refuses a name an upload cannot be stored under: it must name a file
/// in the shown directory, not a path, so no separator and not `.` or
/// `..`.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the file has no name: type one in the name field".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` is not a file name"));
    }
    if name.contains(['/', '\\']) {
        return Err(format!(
            "the name `{name}` holds a / or \\: open the directory it goes in and upload there"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name holds a control character".into());
    }
    if name.len() > 255 {
        return Err("the name is longer than 255 bytes".into());
    }
    Ok(())
}

/// The upload form's fields, the file spooled.
#[derive(Default)]
struct UploadForm {
    csrf: String,
    dir: String,
    name: String,
    ticket: String,
    file_name: String,
    spool: Option<Spool>,
}

/// `POST /console/assets/{key}/files/upload`: stores the file in the
/// shown directory, then back to its listing saying so.
pub(super) async fn upload(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    m: Multipart,
) -> PageResult {
    let form = read_form(&user, m).await?;
    user.check(&form.csrf)?;
    user.authed().require(Role::Technician)?;
    let ticket = ticket_of(Some(&form.ticket))?;
    if form.dir.is_empty() {
        return Err(
            ApiError::bad_request("the form names no directory: open the listing again").into(),
        );
    }
    let name = match form.name.trim() {
        "" => form.file_name.as_str(),
        typed => typed,
    };
    check_name(name).map_err(ApiError::bad_request)?;
    let Some(mut spool) = form.spool else {
        return Err(ApiError::bad_request("choose a file to upload").into());
    };
    let sha256 = spool.seal().await?;
    let agent = s.store.find_agent(key).await?;
    let target = join(&form.dir, name);
    match put(&s, &user, &agent.id, &target, ticket, &mut spool, &sha256).await {
        Ok(size) => back(&format!(
            "{}&stored={}&size={size}&sha256={sha256}",
            listing_url(&agent.id, &form.dir, ticket),
            super::enc(name)
        )),
        Err(e) => {
            warn!(agent = %agent.id, path = %target, reason = %e.message, "a console upload was not stored");
            let view = FilesView {
                agent: &agent.id,
                host: &agent.hostname,
                path: &form.dir,
                ticket,
            };
            let failed = Err(ApiError::new(
                e.status,
                format!("{name} was not stored: {}", e.message),
            ));
            let mut resp = page(
                &user,
                &format!("Files on {}", agent.hostname),
                view.render(&user, &failed, None),
            )?;
            *resp.status_mut() = e.status;
            Ok(resp)
        }
    }
}

/// Reads the form. The file is spooled only once the form is known to
/// be this session's and its operator may send files.
async fn read_form(user: &ConsoleUser, mut m: Multipart) -> Result<UploadForm, ConsoleError> {
    let mut f = UploadForm::default();
    while let Some(mut field) = m.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            "csrf" => f.csrf = small_text(field).await?,
            "dir" => f.dir = small_text(field).await?,
            "name" => f.name = small_text(field).await?,
            "ticket" => f.ticket = small_text(field).await?,
            "file" => {
                user.check(&f.csrf)?;
                user.authed().require(Role::Technician)?;
                f.file_name = field.file_name().unwrap_or_default().to_string();
                let mut spool = Spool::create().await?;
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    spool.write(&chunk).await?;
                }
                f.spool = Some(spool);
            }
            _ => {}
        }
    }
    Ok(f)
}

/// A text field of the form, at most [`MAX_FIELD_BYTES`].
async fn small_text(mut field: Field<'_>) -> Result<String, ConsoleError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(ApiError::bad_request("a field of the form is too long").into());
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("a field of the form is not UTF-8 text").into())
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than the console's upload limit of {}: copy it with `deskhand files put`",
            super::size_text(MAX_UPLOAD_BYTES)
        ),
    )
}

fn unreadable(e: MultipartError) -> ConsoleError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large().into();
    }
    ApiError::bad_request(format!(
        "the upload could not be read ({e}); choose the file again and resend the form"
    ))
    .into()
}

/// Sends the spooled file through a `put` session; its stored size.
async fn put(
    s: &Shared,
    user: &ConsoleUser,
    agent: &str,
    target: &str,
    ticket: Option<i64>,
    spool: &mut Spool,
    sha256: &str,
) -> Result<u64, ApiError> {
    let size = spool.size;
    let ask = OpenRemote {
        kind: "put".into(),
        path: Some(target.to_string()),
        ticket,
        size: Some(size),
        sha256: Some(sha256.to_string()),
        ..Default::default()
    };
    let (mut reader, mut writer, _) = open(s, user, agent, ask).await?;
    let offset = match first_frame(&mut reader).await? {
        RemoteFrame::Resume { offset } if offset <= size => offset,
        RemoteFrame::Resume { offset } => {
            return Err(conflict(format!(
                "the machine says it holds {offset} bytes of this {size}-byte file; nothing was sent"
            )));
        }
        other => return Err(out_of_turn(&other)),
    };
    spool
        .file
        .seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(ApiError::internal)?;
    let mut buf = vec![0u8; CHUNK];
    let mut sent = offset;
    while sent < size {
        let want = usize::try_from(size - sent).map_or(CHUNK, |left| left.min(CHUNK));
        let n = spool
            .file
            .read(&mut buf[..want])
            .await
            .map_err(ApiError::internal)?;
        if n == 0 {
            return Err(ApiError::internal("the spooled upload became shorter"));
        }
        if let Err(e) = writer.send(&RemoteFrame::Data(buf[..n].to_vec())).await {
            return Err(why_cut(&mut reader, e).await);
        }
        sent += n as u64;
    }
    if let Err(e) = writer.send(&RemoteFrame::Eof).await {
        return Err(why_cut(&mut reader, e).await);
    }
    let answer = tokio::time::timeout(STORE_WAIT, reader.recv()).await;
    writer.close().await;
    match answer {
        Err(_) => Err(conflict(
            "the machine did not confirm the file within 10 minutes; list the directory to see whether it arrived",
        )),
        Ok(Ok(Some(RemoteFrame::Stored { size: stored }))) if stored == size => Ok(size),
        Ok(Ok(Some(RemoteFrame::Stored { size: stored }))) => Err(conflict(format!(
            "the machine stored {stored} bytes of the {size} sent"
        ))),
        Ok(Ok(Some(RemoteFrame::End { reason }))) => {
            Err(ApiError::new(end_status(&reason), reason))
        }
        Ok(Ok(Some(other))) => Err(out_of_turn(&other)),
        Ok(Ok(None)) => Err(conflict(
            "the session ended before the machine confirmed the file",
        )),
        Ok(Err(e)) => Err(conflict(e)),
    }
}

/// A send failed: the machine's `End`, if it ended the session first, is
/// the reason.
async fn why_cut(reader: &mut LocalReader, e: String) -> ApiError {
    let wait = std::time::Duration::from_secs(2);
    match tokio::time::timeout(wait, reader.recv()).await {
        Ok(Ok(Some(RemoteFrame::End { reason }))) => ApiError::new(end_status(&reason), reason),
        _ => conflict(e),
    }
}

/// An upload on the server's disk while it is hashed and counted; the
/// file is removed when this is dropped, whatever became of the upload.
struct Spool {
    path: PathBuf,
    file: tokio::fs::File,
    ctx: ring::digest::Context,
    size: u64,
}

impl Spool {
    /// A new empty file only this process may read, under the system's
    /// temporary directory (`TMPDIR`).
    async fn create() -> Result<Self, ApiError> {
        let name = format!("deskhand-upload-{}", uuid::Uuid::new_v4().simple());
        let path = std::env::temp_dir().join(name);
        let mut open = tokio::fs::OpenOptions::new();
        open.read(true).write(true).create_new(true);
        #[cfg(unix)]
        open.mode(0o600);
        let file = open
            .open(&path)
            .await
            .map_err(|e| ApiError::internal(format!("creating {}: {e}", path.display())))?;
        Ok(Spool {
            path,
            file,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        })
    }

    /// Appends a chunk; past the cap the upload is refused.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.size += chunk.len() as u64;
        if self.size > MAX_UPLOAD_BYTES {
            return Err(too_large());
        }
        self.ctx.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| ApiError::internal(format!("writing {}: {e}", self.path.display())))
    }

    /// Flushes the file; its SHA-256, lowercase hex.
    async fn seal(&mut self) -> Result<String, ApiError> {
        self.file
            .flush()
            .await
            .map_err(|e| ApiError::internal(format!("writing {}: {e}", self.path.display())))?;
        Ok(hex::encode(self.ctx.clone().finish()))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            warn!(path = %self.path.display(), error = %e, "a spooled upload was not removed");
        }
    }
}
