//! A ticket's attachments in the console: the list on its page, each a
//! download through the API's own handler (so always
//! `Content-Disposition: attachment`, never rendered as a page of the
//! console, whatever a requester or an e-mail claimed it was), and the
//! upload form for technicians (multipart, CSRF-checked, its size
//! checked as it streams in).

use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use deskhand_api_types::tickets::{AttachQuery, AttachmentView};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, PageResult, back, csrf_field};
use crate::api::Shared;
use crate::api::error::ApiError;
use crate::store::Role;
use crate::tickets::attachment::{MAX_ATTACHMENT_BYTES, check_size};

/// The attachments section of ticket `number`'s page.
pub(super) fn section(user: &ConsoleUser, number: i64, rows: &[AttachmentView]) -> Markup {
    let url = format!("/console/tickets/{number}/attachments");
    html! {
        h2 { "Attachments" }
        @if rows.is_empty() { p.muted { "None." } }
        @if !rows.is_empty() {
            table {
                tr { th { "File" } th { "Size" } th.wide { "Type claimed" } th { "Added" } }
                @for a in rows {
                    tr {
                        td {
                            a href=(format!("{url}/{}", a.id)) download { (a.name) }
                            @if a.internal { " " span.at-risk { "(internal)" } }
                        }
                        td { (size(a.size)) }
                        td.wide { (a.content_type) }
                        td { (a.added_at) " by " (a.added_by) }
                    }
                }
            }
        }
        @if user.may(Role::Technician) {
            form method="post" action=(url) enctype="multipart/form-data" {
                (csrf_field(user))
                label { "File (at most " (size(MAX_ATTACHMENT_BYTES as i64)) ")" input type="file" name="file" required; }
                label { input type="checkbox" name="internal" value="1"; " internal (technicians only)" }
                button.secondary type="submit" { "Attach" }
            }
        }
    }
}

/// `512 B`, `12 KiB`, `3.4 MiB`.
fn size(bytes: i64) -> String {
    const KIB: i64 = 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < KIB * KIB {
        format!("{} KiB", (bytes + KIB - 1) / KIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64)
    }
}

/// `GET /console/tickets/{number}/attachments/{id}`: the file, as the
/// API serves it.
pub(in crate::api) async fn download(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path((n, id)): Path<(String, i64)>,
) -> PageResult {
    Ok(
        crate::api::ticket_files::download_attachment(State(s), user.authed(), Path((n, id)))
            .await?,
    )
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    internal: bool,
    name: String,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn bad(e: impl std::fmt::Display) -> ConsoleError {
    ConsoleError::Api(ApiError::bad_request(format!(
        "the upload could not be read ({e}); choose the file again and resend the form"
    )))
}

/// Reads the form's parts; a file past the cap is refused as soon as it
/// is, not after it was all read.
async fn read_upload(mut m: Multipart) -> Result<Upload, ConsoleError> {
    let mut u = Upload::default();
    while let Some(mut field) = m.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "csrf" => u.csrf = field.text().await.map_err(bad)?,
            "internal" => u.internal = !field.text().await.map_err(bad)?.is_empty(),
            "file" => {
                u.name = field.file_name().unwrap_or_default().to_string();
                u.content_type = field.content_type().map(str::to_string);
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    u.data.extend_from_slice(&chunk);
                    if u.data.len() > MAX_ATTACHMENT_BYTES {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(u)
}

/// `POST /console/tickets/{number}/attachments`: attaches the file
/// through the API's handler, back to the ticket's page.
pub(in crate::api) async fn upload(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    m: Multipart,
) -> PageResult {
    let u = read_upload(m).await?;
    user.check(&u.csrf)?;
    check_size(u.data.len()).map_err(|e| ConsoleError::Api(ApiError::bad_request(e)))?;
    let mut headers = HeaderMap::new();
    if let Some(v) = u
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.insert(header::CONTENT_TYPE, v);
    }
    let q = AttachQuery {
        name: u.name,
        internal: u.internal,
    };
    let _attached = crate::api::ticket_files::add_attachment(
        State(s),
        user.authed(),
        Path(n.clone()),
        Query(q),
        headers,
        Bytes::from(u.data),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_in_the_unit_that_fits() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1025), "2 KiB");
        assert_eq!(size(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    }
}
