//! A machine's files in the console: a directory's listing, a file's
//! download and an upload into the shown directory, each one remote
//! session (`ls`, `get`, `put`) opened through the API's own
//! [`crate::api::remote::open_local`], so the console passes the same
//! checks (role, the operator's permission, the agent's policy and the
//! user's consent) and its sessions are pumped, counted, audited and
//! listed as the CLI's are.
//!
//! This file holds the routes and the listing page; `paths` reads the
//! machine's paths, `download` streams a file to the browser, `upload`
//! spools one and sends it. Paths
//! are the agent's: taken literally, Unix (`/var/log`) or Windows
//! (`C:\Users`), so the helpers work on text rather than `std::path`,
//! which only knows this server's own platform.

mod download;
mod paths;
mod upload;

use paths::{base_name, default_root, join, parent};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use deskhand_api_types::limits::CONSOLE_UPLOAD_BODY_LIMIT;
use deskhand_api_types::remote::OpenRemote;
use deskhand_shared::remote::{FileEntry, RemoteFrame};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleError, ConsoleUser, PageResult, csrf_field, enc, page};
use crate::api::Shared;
use crate::api::error::ApiError;
use crate::remote::local::{LocalReader, LocalWriter};
use crate::remote::pipe::SessionInfo;
use crate::store::Role;

/// How long the machine may take to answer a session's first frame (a
/// listing, a file's size, how much of an upload it holds).
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The console's file routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console/assets/{key}/files", get(listing))
        .route(
            "/console/assets/{key}/files/download",
            get(download::download),
        )
        .route(
            "/console/assets/{key}/files/upload",
            post(upload::upload).layer(DefaultBodyLimit::max(CONSOLE_UPLOAD_BODY_LIMIT)),
        )
}

/// The listing's query: the directory, the ticket the sessions are for,
/// and what an upload that redirected here stored.
#[derive(Debug, Default, Deserialize)]
pub(super) struct FilesQuery {
    path: Option<String>,
    /// Text, not a number: the path form sends an empty field when no
    /// ticket is named, which a number would refuse before the page.
    ticket: Option<String>,
    stored: Option<String>,
    size: Option<u64>,
    sha256: Option<String>,
}

/// The ticket a form or link named: none when empty.
fn ticket_of(text: Option<&str>) -> Result<Option<i64>, ConsoleError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => deskhand_api_types::tickets::parse_number(t)
            .map(Some)
            .map_err(|e| ConsoleError::Api(ApiError::bad_request(e))),
    }
}

/// `&ticket=N` for the links of a page opened for a ticket.
fn ticket_param(ticket: Option<i64>) -> String {
    ticket.map_or_else(String::new, |t| format!("&ticket={t}"))
}

/// The listing page's URL for `path`.
fn listing_url(agent: &str, path: &str, ticket: Option<i64>) -> String {
    format!(
        "/console/assets/{}/files?path={}{}",
        enc(agent),
        enc(path),
        ticket_param(ticket)
    )
}

/// `GET /console/assets/{key}/files`: the directory's entries, with the
/// path form and the upload form; a refusal or failure on the page.
async fn listing(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(q): Query<FilesQuery>,
) -> PageResult {
    let agent = s.store.find_agent(key).await?;
    let ticket = ticket_of(q.ticket.as_deref())?;
    let path = q
        .path
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map_or_else(|| default_root(&agent.os_name).to_string(), str::to_string);
    let listed = list(&s, &user, &agent.id, &path, ticket).await;
    let stored = q.stored.as_deref().map(|name| {
        let mut said = format!("Stored {name}");
        if let (Some(size), Some(sha)) = (q.size, q.sha256.as_deref()) {
            let prefix: String = sha.chars().take(12).collect();
            said.push_str(&format!(" ({}, SHA-256 {prefix}…)", size_text(size)));
        }
        said
    });
    let view = FilesView {
        agent: &agent.id,
        host: &agent.hostname,
        path: &path,
        ticket,
    };
    let status = listed.as_ref().err().map_or(StatusCode::OK, |e| e.status);
    let content = view.render(&user, &listed, stored.as_deref());
    let mut resp = page(&user, &format!("Files on {}", agent.hostname), content)?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// Lists `path` through an `ls` session.
async fn list(
    s: &Shared,
    user: &ConsoleUser,
    agent: &str,
    path: &str,
    ticket: Option<i64>,
) -> Result<Vec<FileEntry>, ApiError> {
    let q = OpenRemote {
        kind: "ls".into(),
        path: Some(path.to_string()),
        ticket,
        ..Default::default()
    };
    let (mut reader, writer, _) = open(s, user, agent, q).await?;
    let answer = first_frame(&mut reader).await;
    writer.close().await;
    match answer? {
        RemoteFrame::Listing(mut entries) => {
            entries.sort_by(|a, b| (a.kind != "dir", &a.name).cmp(&(b.kind != "dir", &b.name)));
            Ok(entries)
        }
        other => Err(out_of_turn(&other)),
    }
}

/// Opens a session as the API does. The agent checks a path before it
/// accepts, and a refusal is a 403 whatever its reason; one that says the
/// path is missing is the 404 it is.
async fn open(
    s: &Shared,
    user: &ConsoleUser,
    agent: &str,
    q: OpenRemote,
) -> Result<(LocalReader, LocalWriter, SessionInfo), ApiError> {
    crate::api::remote::open_local(s, &user.authed(), agent.to_string(), q)
        .await
        .map_err(|e| match end_status(&e.message) {
            StatusCode::NOT_FOUND if e.status == StatusCode::FORBIDDEN => {
                ApiError::new(StatusCode::NOT_FOUND, e.message)
            }
            _ => e,
        })
}

/// A session's first frame from the machine; its `End` as the error it
/// describes.
async fn first_frame(reader: &mut LocalReader) -> Result<RemoteFrame, ApiError> {
    let got = tokio::time::timeout(ANSWER_WAIT, reader.recv())
        .await
        .map_err(|_| conflict("the machine did not answer within a minute; try again"))?;
    match got {
        Ok(Some(RemoteFrame::End { reason })) => Err(ApiError::new(end_status(&reason), reason)),
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err(conflict("the session ended before the machine answered")),
        Err(e) => Err(conflict(e)),
    }
}

fn conflict(m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, m)
}

/// A frame the machine should not have sent now.
fn out_of_turn(frame: &RemoteFrame) -> ApiError {
    let name = format!("{frame:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or_default();
    conflict(format!(
        "the machine answered out of turn ({name}); is the agent a different version?"
    ))
}

/// The status a machine's `End` sentence stands for: a missing file or
/// directory is a 404, anything else (permission, not a directory, an
/// I/O failure) a conflict with the machine's state.
fn end_status(reason: &str) -> StatusCode {
    if reason.starts_with("no such ") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::CONFLICT
    }
}

/// What the listing page shows about its machine and directory.
struct FilesView<'a> {
    agent: &'a str,
    host: &'a str,
    path: &'a str,
    ticket: Option<i64>,
}

impl FilesView<'_> {
    /// The page: where it is, the path form, the listing or why there is
    /// none, and the upload form under a listing.
    fn render(
        &self,
        user: &ConsoleUser,
        listed: &Result<Vec<FileEntry>, ApiError>,
        stored: Option<&str>,
    ) -> Markup {
        let base = format!("/console/assets/{}", enc(self.agent));
        html! {
            p { a href=(base) { "← " (self.host) } }
            h1 { "Files on " (self.host) }
            (self.path_form())
            @if let Some(said) = stored { p.notice { (said) } }
            @if let Some(up) = parent(self.path) {
                p { a href=(listing_url(self.agent, &up, self.ticket)) { "↑ Up to " (up) } }
            }
            @match listed {
                Err(e) => p.error { (e.status.as_u16()) ": " (e.message) },
                Ok(entries) => {
                    (self.table(entries))
                    @if user.may(Role::Technician) { (self.upload_form(user)) }
                }
            }
        }
    }

    /// A small GET form to go to a typed path.
    fn path_form(&self) -> Markup {
        html! {
            form method="get" action=(format!("/console/assets/{}/files", enc(self.agent))) {
                label { "Path " input type="text" name="path" value=(self.path) required; }
                @if let Some(t) = self.ticket { input type="hidden" name="ticket" value=(t); }
                button.secondary type="submit" { "Go" }
            }
        }
    }

    fn table(&self, entries: &[FileEntry]) -> Markup {
        html! {
            @if entries.is_empty() { p.muted { "The directory is empty." } }
            @if !entries.is_empty() {
                table {
                    tr { th { "Name" } th { "Permissions" } th { "Size" } th { "Modified (UTC)" } }
                    @for e in entries {
                        tr {
                            td { (self.name_cell(e)) }
                            td { code { (e.mode_text()) } }
                            td { @if e.kind == "file" { (size_text(e.size)) } @else { "-" } }
                            td { (e.modified.map_or_else(|| "-".to_string(), utc_text)) }
                        }
                    }
                }
            }
        }
    }

    /// A directory links to its listing, a file to its download; a link
    /// or anything else says what it is.
    fn name_cell(&self, e: &FileEntry) -> Markup {
        let full = join(self.path, &e.name);
        match e.kind.as_str() {
            "dir" => {
                html! { a href=(listing_url(self.agent, &full, self.ticket)) { (e.name) "/" } }
            }
            "file" => {
                let href = format!(
                    "/console/assets/{}/files/download?path={}{}",
                    enc(self.agent),
                    enc(&full),
                    ticket_param(self.ticket)
                );
                html! { a href=(href) download { (e.name) } }
            }
            other => html! { (e.name) " " span.muted { "(" (other) ")" } },
        }
    }

    fn upload_form(&self, user: &ConsoleUser) -> Markup {
        let action = format!("/console/assets/{}/files/upload", enc(self.agent));
        html! {
            h2 { "Upload into " (self.path) }
            form method="post" action=(action) enctype="multipart/form-data" {
                (csrf_field(user))
                input type="hidden" name="dir" value=(self.path);
                @if let Some(t) = self.ticket { input type="hidden" name="ticket" value=(t); }
                label { "Name (empty: the file's own) " input type="text" name="name"; }
                label {
                    "File (at most " (size_text(upload::MAX_UPLOAD_BYTES)) ") "
                    input type="file" name="file" required;
                }
                button.secondary type="submit" { "Upload" }
            }
        }
    }
}

/// `512 B`, `12 KiB`, `3.4 MiB`, `1.2 GiB`.
pub(super) fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < KIB * KIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else if bytes < KIB * KIB * KIB {
        format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64)
    } else {
        format!("{:.1} GiB", bytes as f64 / (KIB * KIB * KIB) as f64)
    }
}

/// `2026-12-07 13:24:44`: a Unix time in UTC, to the second; past year
/// 9999 (a machine's clock or file system gone wrong) the bare number,
/// which the date formatting cannot hold.
pub(super) fn utc_text(unix: u64) -> String {
    const LAST_SECOND_OF_9999: u64 = 253_402_300_799;
    if unix > LAST_SECOND_OF_9999 {
        return unix.to_string();
    }
    let text = crate::rfc3339(i64::try_from(unix).unwrap_or_default());
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests;
