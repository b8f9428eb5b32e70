//! Teams' shifts and operators' absences: `/api/v1/teams/{team}/shifts`
//! and `/api/v1/absences`. Local times are read in the team calendar's
//! zone (UTC for a team without one) by [`crate::tickets::shifts`];
//! reading needs any role, every change a technician and is audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::{Role, Store};
use crate::tickets::shifts::{
    Absence, Shift, Week, Zone, day_names, parse_local, parse_schedule, week_hours,
};
use crate::{rfc3339, unix_now};
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::shifts::{
    AbsenceQuery, AbsenceView, AddAbsence, AddShift, DayHoursView, SetShifts, ShiftView,
    ShiftsChanged, WeekQuery, WeekView,
};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/teams/{team}/shifts",
            get(show_week).put(set_week).post(add_shift),
        )
        .route("/api/v1/absences", get(list_absences).post(add_absence))
}

/// The zone a team's local times are in.
async fn team_zone(store: &Store, team: &str, now: i64) -> Result<Zone, ApiError> {
    let schedule = store.team_schedule(team.to_string(), now, now).await?;
    Ok(Zone::of(schedule.calendar.as_ref()))
}

/// The week asked for, or the current one in `zone`.
fn week_of(text: Option<&str>, zone: &Zone, now: i64) -> Result<Week, ApiError> {
    match text.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => Week::parse(w).map_err(ApiError::bad_request),
        None => Ok(Week::at(now, zone)),
    }
}

fn shift_view(s: &Shift) -> ShiftView {
    ShiftView {
        operator: s.operator.clone(),
        starts_at: rfc3339(s.starts_at),
        ends_at: rfc3339(s.ends_at),
        starts_unix: s.starts_at,
        ends_unix: s.ends_at,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/teams/{team}/shifts",
    tag = "teams",
    summary = "a team's shifts for one week",
    params(("team" = String, Path, description = "team name"), WeekQuery),
    responses(
        (status = 200, description = "the week", body = WeekView),
        (status = 400, description = "the week is not valid", body = ErrorBody),
        (status = 404, description = "no such team", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn show_week(
    State(s): State<Shared>,
    _: Authed,
    Path(team): Path<String>,
    Query(q): Query<WeekQuery>,
) -> ApiResult<WeekView> {
    let now = unix_now();
    let zone = team_zone(&s.store, &team, now).await?;
    let week = week_of(q.week.as_deref(), &zone, now)?;
    let (from, to) = week.bounds(&zone).map_err(ApiError::bad_request)?;
    let schedule = s.store.team_schedule(team.clone(), from, to).await?;
    let scheduled = s.store.scheduled_members(team.clone()).await?;
    let days = day_names();
    let hours = week_hours(&schedule.shifts, &week, &zone)
        .into_iter()
        .map(|h| DayHoursView {
            hours: h.text(),
            day: days[h.day].to_string(),
            date: week.day(h.day).to_string(),
            operator: h.operator,
        })
        .collect();
    Ok(Json(WeekView {
        week: week.name(),
        zone: zone.name().to_string(),
        unscheduled: schedule
            .members
            .iter()
            .filter(|m| !scheduled.contains(*m))
            .cloned()
            .collect(),
        members: schedule.members,
        shifts: schedule.shifts.iter().map(shift_view).collect(),
        hours,
        team,
    }))
}

#[utoipa::path(
    put,
    path = "/api/v1/teams/{team}/shifts",
    tag = "teams",
    summary = "replace a team's week of shifts with a CSV schedule",
    params(("team" = String, Path, description = "team name")),
    request_body = SetShifts,
    responses(
        (status = 200, description = "saved", body = ShiftsChanged),
        (status = 400, description = "the week or a row is not valid (rows named by line)", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such team", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn set_week(
    State(s): State<Shared>,
    op: Authed,
    Path(team): Path<String>,
    Json(req): Json<SetShifts>,
) -> ApiResult<ShiftsChanged> {
    op.require(Role::Technician)?;
    let now = unix_now();
    let week = Week::parse(&req.week).map_err(ApiError::bad_request)?;
    let schedule = s.store.team_schedule(team.clone(), now, now).await?;
    let zone = Zone::of(schedule.calendar.as_ref());
    let rows =
        parse_schedule(&req.csv, &week, &zone, &schedule.members).map_err(ApiError::bad_request)?;
    let bounds = week.bounds(&zone).map_err(ApiError::bad_request)?;
    let saved = rows.len();
    let removed = s
        .store
        .set_shifts(team.clone(), bounds, rows, op.0.name, now)
        .await?;
    Ok(Json(ShiftsChanged {
        team,
        week: Some(week.name()),
        saved,
        removed,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/teams/{team}/shifts",
    tag = "teams",
    summary = "add one shift to a team",
    params(("team" = String, Path, description = "team name")),
    request_body = AddShift,
    responses(
        (status = 201, description = "added", body = ShiftsChanged),
        (status = 400, description = "a time is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such team", body = ErrorBody),
        (status = 409, description = "the operator is not a member, or the shift ends before it starts", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn add_shift(
    State(s): State<Shared>,
    op: Authed,
    Path(team): Path<String>,
    Json(req): Json<AddShift>,
) -> Result<(StatusCode, Json<ShiftsChanged>), ApiError> {
    op.require(Role::Technician)?;
    let now = unix_now();
    let zone = team_zone(&s.store, &team, now).await?;
    let shift = Shift {
        operator: req.operator.trim().to_string(),
        starts_at: parse_local(&req.from, &zone, false).map_err(ApiError::bad_request)?,
        ends_at: parse_local(&req.to, &zone, true).map_err(ApiError::bad_request)?,
    };
    s.store
        .add_shift(team.clone(), shift, op.0.name, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ShiftsChanged {
            team,
            week: None,
            saved: 1,
            removed: 0,
        }),
    ))
}

/// The zone an operator's absence is read in: their first team (by
/// name) with a calendar, else UTC.
async fn operator_zone(store: &Store, operator: &str) -> Result<Zone, ApiError> {
    for team in store.teams().await? {
        if team.members.iter().any(|m| m == operator)
            && let Some(calendar) = &team.calendar
        {
            let schedule = store.team_schedule(team.name.clone(), 0, 0).await?;
            if schedule.calendar.is_some() {
                return Ok(Zone::of(schedule.calendar.as_ref()));
            }
            tracing::warn!(team = %team.name, %calendar, "a team's calendar is missing");
        }
    }
    Ok(Zone::utc())
}

#[utoipa::path(
    post,
    path = "/api/v1/absences",
    tag = "teams",
    summary = "record an operator's absence (routing skips them)",
    request_body = AddAbsence,
    responses(
        (status = 201, description = "recorded", body = AbsenceView),
        (status = 400, description = "a date is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
        (status = 409, description = "it ends before it starts", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn add_absence(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<AddAbsence>,
) -> Result<(StatusCode, Json<AbsenceView>), ApiError> {
    op.require(Role::Technician)?;
    let operator = req.operator.trim().to_string();
    let reason = super::tickets::field("reason", &req.reason, 200, false, true)?;
    let zone = operator_zone(&s.store, &operator).await?;
    let absence = Absence {
        operator: operator.clone(),
        starts_at: parse_local(&req.from, &zone, false).map_err(ApiError::bad_request)?,
        ends_at: parse_local(&req.to, &zone, true).map_err(ApiError::bad_request)?,
    };
    let now = unix_now();
    let (starts_at, ends_at) = (absence.starts_at, absence.ends_at);
    let id = s
        .store
        .add_absence(absence, reason.clone(), op.0.name.clone(), now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AbsenceView {
            id,
            operator,
            starts_at: rfc3339(starts_at),
            ends_at: rfc3339(ends_at),
            zone: Some(zone.name().to_string()),
            reason,
            created_by: op.0.name,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/absences",
    tag = "teams",
    summary = "absences not yet over (or all), by start",
    params(AbsenceQuery),
    responses(
        (status = 200, description = "the absences", body = Vec<AbsenceView>),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list_absences(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<AbsenceQuery>,
) -> ApiResult<Vec<AbsenceView>> {
    let since = if q.all.unwrap_or(false) {
        i64::MIN
    } else {
        unix_now()
    };
    let operator = q.operator.filter(|o| !o.trim().is_empty());
    let rows = s.store.absences(operator, since).await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AbsenceView {
                id: a.id,
                operator: a.absence.operator,
                starts_at: rfc3339(a.absence.starts_at),
                ends_at: rfc3339(a.absence.ends_at),
                zone: None,
                reason: a.reason,
                created_by: a.created_by,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_week_is_taken_when_none_is_given() {
        let now = 1_796_630_400; // 2026-12-08 UTC
        let week = week_of(None, &Zone::utc(), now).expect("week");
        assert_eq!(week.name(), "2026-W50");
        let e = week_of(Some("50"), &Zone::utc(), now).expect_err("bad");
        assert!(e.message.contains("2026-W50"), "{}", e.message);
    }
}
