//! Time logged on a ticket: `/api/v1/tickets/{number}/time`.
//!
//! Anyone reads the entries; a technician logs time, always as
//! themselves; an entry is removed by its author or an admin. Durations,
//! bounds and dates follow [`crate::tickets::effort`]; each change is an
//! internal timeline entry and an audit entry (the store's).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};

use super::{field, number};
use crate::api::error::{ApiError, ApiResult};
use crate::api::{Authed, Shared};
use crate::store::{NewTime, Role, TimeEntry};
use crate::tickets::effort::{MAX_NOTE_CHARS, entry_time, parse_duration};
use crate::tickets::report::parse_day;
use crate::{rfc3339, unix_now};
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::tickets::{LogTimeRequest, TimeEntryView};

/// The routes, merged into the tickets router.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/tickets/{number}/time",
            get(list_time).post(log_time),
        )
        .route("/api/v1/tickets/{number}/time/{id}", delete(remove_time))
}

fn time_view(e: TimeEntry) -> TimeEntryView {
    TimeEntryView {
        id: e.id,
        ticket: e.ticket,
        operator: e.operator,
        secs: e.secs,
        note: e.note,
        at: rfc3339(e.at),
        created_at: rfc3339(e.created_at),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/time",
    tag = "tickets",
    summary = "log time worked on a ticket, as the caller",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = LogTimeRequest,
    responses(
        (status = 201, description = "the entry logged", body = TimeEntryView),
        (status = 400, description = "the duration, date or note is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn log_time(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<LogTimeRequest>,
) -> Result<(StatusCode, Json<TimeEntryView>), ApiError> {
    op.require(Role::Technician)?;
    let number = number(&n)?;
    let secs = parse_duration(&req.duration).map_err(ApiError::bad_request)?;
    let note = field("the note", &req.note, MAX_NOTE_CHARS, false, true)?;
    let now = unix_now();
    let at = req
        .at
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(parse_day)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let at = entry_time(at, now).map_err(ApiError::bad_request)?;
    let e = s
        .store
        .log_ticket_time(number, NewTime { secs, note, at }, op.0.name.clone(), now)
        .await?;
    Ok((StatusCode::CREATED, Json(time_view(e))))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/time",
    tag = "tickets",
    summary = "the time logged on a ticket, entry by entry",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    responses(
        (status = 200, description = "the entries, oldest work first", body = Vec<TimeEntryView>),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn list_time(
    State(s): State<Shared>,
    _: Authed,
    Path(n): Path<String>,
) -> ApiResult<Vec<TimeEntryView>> {
    let rows = s.store.ticket_time(number(&n)?).await?;
    Ok(Json(rows.into_iter().map(time_view).collect()))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tickets/{number}/time/{id}",
    tag = "tickets",
    summary = "remove an entry of time logged (its author or an admin)",
    params(
        ("number" = String, Path, description = "ticket number: 42, #42 or T42"),
        ("id" = i64, Path, description = "the entry's id, as `GET .../time` lists it"),
    ),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or entry", body = ErrorBody),
        (status = 409, description = "someone else's entry, or the ticket is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn remove_time(
    State(s): State<Shared>,
    op: Authed,
    Path((n, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let number = number(&n)?;
    let id: i64 = id.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{}` is not an entry id; see `deskhand tickets time {number}`",
            crate::said(&id)
        ))
    })?;
    let admin = op.0.role >= Role::Admin;
    s.store
        .remove_ticket_time(number, id, op.0.name.clone(), admin, unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
