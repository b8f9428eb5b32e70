//! Files attached to tickets: `/api/v1/tickets/{number}/attachments`.
//!
//! Reading needs any role; attaching needs a technician. A file is
//! always served as a download (`Content-Disposition: attachment`,
//! `application/octet-stream`, `nosniff`, a sandboxing CSP) whatever type
//! its sender claimed: it came from a requester or an e-mail, and a
//! browser must never render it as a page of this server.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::{Attachment, AttachmentInfo, NewAttachment, Role};
use crate::tickets::attachment::{check_size, clean_name};
use crate::tickets::parse_number;
use crate::{rfc3339, unix_now};
use deskhand_api_types::limits::ATTACHMENT_BODY_LIMIT;
use deskhand_api_types::server::ErrorBody;
pub use deskhand_api_types::tickets::{AttachQuery, AttachmentView};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/tickets/{number}/attachments",
            get(list_attachments)
                .post(add_attachment)
                .layer(DefaultBodyLimit::max(ATTACHMENT_BODY_LIMIT)),
        )
        .route(
            "/api/v1/tickets/{number}/attachments/{id}",
            get(download_attachment),
        )
}

/// The API's view of an attachment.
pub fn attachment_view(a: &AttachmentInfo) -> AttachmentView {
    AttachmentView {
        id: a.id,
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        sha256: a.sha256.clone(),
        internal: a.internal,
        added_by: a.added_by.clone(),
        added_at: rfc3339(a.added_at),
    }
}

/// An attachment as a download that no browser renders.
pub fn download(a: Attachment) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}\"",
        // Already clean when stored; cleaned again, as this is a header.
        clean_name(&a.info.name).replace(|c: char| !c.is_ascii(), "_")
    );
    let mut r = Body::from(a.data).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    r
}

/// The file's type as claimed, reduced to a plain `type/subtype`.
pub fn claimed_type(text: Option<&str>) -> String {
    let t = text
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let ok = t.len() <= 100
        && t.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c))
        });
    if ok {
        t.to_ascii_lowercase()
    } else {
        "application/octet-stream".into()
    }
}

fn number(text: &str) -> Result<i64, ApiError> {
    parse_number(text).map_err(ApiError::bad_request)
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/attachments",
    operation_id = "list_ticket_attachments",
    tag = "tickets",
    summary = "a ticket's attached files",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    responses(
        (status = 200, description = "the attachments, oldest first", body = Vec<AttachmentView>),
        (status = 404, description = "no such ticket", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_attachments(
    State(s): State<Shared>,
    _: Authed,
    Path(n): Path<String>,
) -> ApiResult<Vec<AttachmentView>> {
    let n = number(&n)?;
    s.store.get_ticket(n).await?;
    let rows = s.store.ticket_attachments(n).await?;
    Ok(Json(rows.iter().map(attachment_view).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/attachments",
    operation_id = "add_ticket_attachment",
    tag = "tickets",
    summary = "attach a file (the body, at most 10 MiB) to a ticket",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42"), AttachQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "attached", body = AttachmentView),
        (status = 400, description = "an empty or oversized file", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket is closed or has too many attachments", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn add_attachment(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Query(q): Query<AttachQuery>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    op.require(Role::Technician)?;
    let n = number(&n)?;
    check_size(body.len()).map_err(ApiError::bad_request)?;
    let file = NewAttachment {
        name: clean_name(&q.name),
        content_type: claimed_type(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        ),
        internal: q.internal,
        data: body.to_vec(),
    };
    let info = s
        .store
        .add_ticket_attachment(n, file, op.0.name.clone(), unix_now())
        .await?;
    Ok((StatusCode::CREATED, Json(attachment_view(&info))))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/attachments/{id}",
    operation_id = "download_ticket_attachment",
    tag = "tickets",
    summary = "one attached file, as a download",
    params(
        ("number" = String, Path, description = "ticket number: 42, #42 or T42"),
        ("id" = i64, Path, description = "the attachment's id"),
    ),
    responses(
        (status = 200, description = "the file's bytes", content_type = "application/octet-stream"),
        (status = 404, description = "no such ticket or attachment", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn download_attachment(
    State(s): State<Shared>,
    _: Authed,
    Path((n, id)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let a = s.store.ticket_attachment(number(&n)?, id).await?;
    Ok(download(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_types_are_reduced_to_a_plain_type_or_octet_stream() {
        assert_eq!(claimed_type(Some("image/PNG; charset=x")), "image/png");
        assert_eq!(
            claimed_type(Some("text/html\r\nX: y")),
            "application/octet-stream"
        );
        assert_eq!(claimed_type(Some("nonsense")), "application/octet-stream");
        assert_eq!(claimed_type(None), "application/octet-stream");
    }
}
