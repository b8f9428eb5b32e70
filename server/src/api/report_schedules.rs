//! Reports mailed on a schedule: `GET|POST /api/v1/reports/schedules`,
//! `DELETE /api/v1/reports/schedules/{id}` and `POST
//! /api/v1/reports/schedules/{id}/send` (mail it now). When a schedule
//! runs and what it covers is [`crate::tickets::report::schedule`]'s;
//! rendering and queuing is [`crate::reports_task`]'s. Changes need a
//! technician and are audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::rfc3339;
use crate::store::{NewSchedule, ReportSchedule, Role};
use crate::tickets::report::Period;
use crate::tickets::report::groups::GroupBy;
use crate::tickets::report::schedule::{next_run, parse_at, show_at};
use crate::unix_now;
use deskhand_api_types::goals::{
    NewReportSchedule, ReportScheduleView, ReportSent, ScheduleCreated,
};
use deskhand_api_types::server::ErrorBody;

/// Most recipients of one schedule.
const MAX_RECIPIENTS: usize = 50;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/reports/schedules",
            get(list_schedules).post(create_schedule),
        )
        .route(
            "/api/v1/reports/schedules/{id}",
            axum::routing::delete(delete_schedule),
        )
        .route("/api/v1/reports/schedules/{id}/send", post(send_schedule))
}

fn view(s: &ReportSchedule) -> ReportScheduleView {
    ReportScheduleView {
        id: s.id,
        report: s.report.clone(),
        period: s.period.as_str().into(),
        by: s.group_by.as_str().into(),
        recipients: s.recipients.clone(),
        at: show_at(s.at_minute),
        next_at: rfc3339(s.next_at),
        last_sent_at: s.last_sent_at.map(rfc3339),
        created_by: s.created_by.clone(),
        created_at: rfc3339(s.created_at),
    }
}

/// A new schedule from its request, checked, first run after `now`.
fn checked(req: NewReportSchedule, now: i64) -> Result<NewSchedule, ApiError> {
    let report = req.report.trim().to_ascii_lowercase();
    if report != "tickets" {
        return Err(ApiError::bad_request(format!(
            "unknown report `{}`: the report that can be scheduled is tickets",
            req.report
        )));
    }
    let period = Period::parse(&req.period).map_err(ApiError::bad_request)?;
    let group_by = GroupBy::parse(&req.by).map_err(ApiError::bad_request)?;
    let at_minute =
        parse_at(req.at.as_deref().unwrap_or("07:00")).map_err(ApiError::bad_request)?;
    if req.recipients.is_empty() {
        return Err(ApiError::bad_request(
            "give at least one recipient: --email manager@example.com",
        ));
    }
    if req.recipients.len() > MAX_RECIPIENTS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_RECIPIENTS} recipients; mail a list address instead"
        )));
    }
    let mut recipients: Vec<String> = Vec::new();
    for r in &req.recipients {
        let a = r.trim().to_ascii_lowercase();
        if !crate::mail::inbound::is_address(&a) {
            return Err(ApiError::bad_request(format!(
                "`{r}` is not an e-mail address such as manager@example.com"
            )));
        }
        if !recipients.contains(&a) {
            recipients.push(a);
        }
    }
    Ok(NewSchedule {
        report,
        period,
        group_by,
        recipients,
        at_minute,
        next_at: next_run(period, at_minute, now),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    summary = "reports mailed on a schedule, with their next run",
    responses((status = 200, description = "the schedules", body = Vec<ReportScheduleView>)),
    security(("bearer" = [])),
)]
pub(super) async fn list_schedules(
    State(s): State<Shared>,
    _: Authed,
) -> ApiResult<Vec<ReportScheduleView>> {
    Ok(Json(s.store.schedules().await?.iter().map(view).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/reports/schedules",
    tag = "reports",
    summary = "mail a report daily, weekly or monthly (UTC)",
    request_body = NewReportSchedule,
    responses(
        (status = 201, description = "the schedule, with a warning when mail is not configured", body = ScheduleCreated),
        (status = 400, description = "the report, period, by, time or an address is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_schedule(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<NewReportSchedule>,
) -> Result<(StatusCode, Json<ScheduleCreated>), ApiError> {
    op.require(Role::Technician)?;
    let now = unix_now();
    let new = checked(req, now)?;
    let id = s.store.create_schedule(new, op.0.name, now).await?;
    let schedule = view(&s.store.schedule(id).await?);
    let warning = s.mail.is_none().then(|| {
        "the server has no [mail] section: nothing is sent until mail is configured".to_string()
    });
    Ok((
        StatusCode::CREATED,
        Json(ScheduleCreated { schedule, warning }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/reports/schedules/{id}",
    tag = "reports",
    summary = "remove a report schedule",
    params(("id" = i64, Path, description = "the schedule's id")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such schedule", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn delete_schedule(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store.delete_schedule(id, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/reports/schedules/{id}/send",
    tag = "reports",
    summary = "mail a scheduled report now, covering the last whole period",
    params(("id" = i64, Path, description = "the schedule's id")),
    responses(
        (status = 200, description = "mails queued", body = ReportSent),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such schedule", body = ErrorBody),
        (status = 409, description = "mail is not configured", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn send_schedule(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<i64>,
) -> ApiResult<ReportSent> {
    op.require(Role::Technician)?;
    if s.mail.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the server has no [mail] section: configure mail to send reports",
        ));
    }
    let now = unix_now();
    let schedule = s.store.schedule(id).await?;
    let sent = crate::reports_task::send(
        &s.store,
        &s.tickets.sla,
        &schedule,
        None,
        Some(op.0.name),
        now,
    )
    .await?;
    Ok(Json(ReportSent {
        queued: sent.queued,
        from: rfc3339(sent.from),
        to: rfc3339(sent.to),
        attachment: sent.attachment,
    }))
}
