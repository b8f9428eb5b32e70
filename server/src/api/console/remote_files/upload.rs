//! A file's upload through the console.
//!
//! The upload is spooled to a temporary file while it is hashed and
//! counted (the machine needs the size and hash before any data, and the
//! browser's request is not something to resume from), capped at
//! [`MAX_UPLOAD_BYTES`]; only then is the `put` session opened and the
//! file sent from where the machine says it holds it.

use std::path::PathBuf;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use deskhand_api_types::remote::OpenRemote;
use deskhand_shared::remote::{CHUNK, RemoteFrame};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::warn;

use super::{
    FilesView, conflict, end_status, first_frame, join, listing_url, open, out_of_turn, ticket_of,
};
use crate::api::Shared;
use crate::api::console::{ConsoleError, ConsoleUser, PageResult, back, page};
use crate::api::error::ApiError;
use crate::remote::local::LocalReader;
use crate::store::Role;

/// The largest file the console uploads: the whole file is spooled on
/// the server first; the CLI, which resumes, is the way for more.
pub(super) const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How long the machine may take to check and store a whole upload.
const STORE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// The longest text field of the upload form.
const MAX_FIELD_BYTES: usize = 4096;

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
    // An operator whose remote access was withdrawn is told before their
    // file is read, not after.
    if user.may(Role::Technician) && !s.store.remote_allowed(user.op.name.clone()).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "an admin withdrew remote access from you",
        )
        .into());
    }
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
