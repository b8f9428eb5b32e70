//! Canned replies: `/api/v1/replies`, and a comment that names one.
//!
//! Anyone reads them; technicians and admins create, change and delete
//! them, each change audited. A body is parsed when it is saved, so an
//! unknown placeholder is refused then, naming the known ones
//! ([`crate::tickets::canned`]); a comment that names a reply gets it
//! rendered for its ticket and its operator here, then goes through the
//! same change as any comment (so the requester's mail works unchanged).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::tickets::field;
use super::{ApiState, Authed, Shared};
use crate::store::{Reply, Role};
use crate::tickets::canned::{MAX_BODY_CHARS, ReplyContext, Template, check_name};
use crate::tickets::parse_number;
use crate::{rfc3339, unix_now};
use deskhand_api_types::replies::{CreateReply, ReplyView, UpdateReply};
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::tickets::CommentRequest;

/// The longest comment, in characters (as `tickets`' comment takes).
const MAX_COMMENT_CHARS: usize = 20_000;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/replies", get(list_replies).post(create_reply))
        .route(
            "/api/v1/replies/{name}",
            get(show_reply).put(update_reply).delete(delete_reply),
        )
}

fn reply_view(r: Reply) -> ReplyView {
    ReplyView {
        name: r.name,
        body: r.body,
        created_by: r.created_by,
        created_at: rfc3339(r.created_at),
        updated_by: r.updated_by,
        updated_at: rfc3339(r.updated_at),
    }
}

/// A body as saved: checked as text, then parsed for its placeholders.
fn checked_body(body: &str) -> Result<String, ApiError> {
    let body = field("the reply's text", body, MAX_BODY_CHARS, true, false)?;
    Template::parse(&body).map_err(ApiError::bad_request)?;
    Ok(body)
}

/// The text of a comment: its `body`, or the canned reply it names
/// rendered for ticket `n` and the operator; both or neither is refused.
pub(super) async fn comment_body(
    s: &ApiState,
    op: &Authed,
    n: &str,
    req: &CommentRequest,
) -> Result<String, ApiError> {
    let Some(name) = req.reply.as_deref().map(str::trim) else {
        return field("the comment", &req.body, MAX_COMMENT_CHARS, true, false);
    };
    if !req.body.trim().is_empty() {
        return Err(ApiError::bad_request(
            "give the comment's text or a canned reply (--reply), not both",
        ));
    }
    let number = parse_number(n).map_err(ApiError::bad_request)?;
    let reply = s.store.get_reply(name.to_string()).await?;
    let template = Template::parse(&reply.body).map_err(|e| {
        ApiError::bad_request(format!(
            "the canned reply `{name}` does not render ({e}); fix it with `deskhand replies edit {name}`"
        ))
    })?;
    let t = s.store.get_ticket(number).await?;
    let asset = match t.assets.first() {
        Some(id) => s
            .store
            .find_asset(id.clone())
            .await
            .ok()
            .map(|a| a.hostname),
        None => None,
    };
    let text = template.render(&ReplyContext {
        requester: t.requester,
        ticket: t.number,
        title: t.title,
        asset,
        technician: op.0.name.clone(),
    });
    field("the rendered reply", &text, MAX_COMMENT_CHARS, true, false)
}

#[utoipa::path(
    get,
    path = "/api/v1/replies",
    tag = "replies",
    summary = "canned replies, by name",
    responses(
        (status = 200, description = "every reply", body = Vec<ReplyView>),
    ),
    security(("bearer" = [])),
)]
async fn list_replies(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<ReplyView>> {
    let rows = s.store.list_replies().await?;
    Ok(Json(rows.into_iter().map(reply_view).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/replies",
    tag = "replies",
    summary = "create a canned reply",
    request_body = CreateReply,
    responses(
        (status = 201, description = "created", body = ReplyView),
        (status = 400, description = "the name is not a slug, or the text has an unknown placeholder", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "a reply of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create_reply(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateReply>,
) -> Result<(StatusCode, Json<ReplyView>), ApiError> {
    op.require(Role::Technician)?;
    let name = req.name.trim().to_string();
    check_name(&name).map_err(ApiError::bad_request)?;
    let body = checked_body(&req.body)?;
    s.store
        .create_reply(name.clone(), body, op.0.name.clone(), unix_now())
        .await?;
    let r = s.store.get_reply(name).await?;
    Ok((StatusCode::CREATED, Json(reply_view(r))))
}

#[utoipa::path(
    get,
    path = "/api/v1/replies/{name}",
    tag = "replies",
    summary = "one canned reply",
    params(("name" = String, Path, description = "the reply's name")),
    responses(
        (status = 200, description = "the reply", body = ReplyView),
        (status = 404, description = "no such reply", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_reply(
    State(s): State<Shared>,
    _: Authed,
    Path(name): Path<String>,
) -> ApiResult<ReplyView> {
    Ok(Json(reply_view(s.store.get_reply(name).await?)))
}

#[utoipa::path(
    put,
    path = "/api/v1/replies/{name}",
    tag = "replies",
    summary = "replace a canned reply's text",
    params(("name" = String, Path, description = "the reply's name")),
    request_body = UpdateReply,
    responses(
        (status = 204, description = "changed"),
        (status = 400, description = "the text has an unknown placeholder", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such reply", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update_reply(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<UpdateReply>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let body = checked_body(&req.body)?;
    s.store
        .update_reply(name, body, op.0.name.clone(), unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/replies/{name}",
    tag = "replies",
    summary = "delete a canned reply",
    params(("name" = String, Path, description = "the reply's name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such reply", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_reply(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store
        .delete_reply(name, op.0.name.clone(), unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
