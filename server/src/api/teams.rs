//! Teams and calendars: `/api/v1/teams`, `/api/v1/calendars`, and moving
//! a ticket to a team's queue (`POST /api/v1/tickets/{number}/team`).
//!
//! Anyone reads; admins set teams and calendars up (they decide whose
//! clocks run when); technicians move tickets between queues.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::{Role, StoredCalendar, Team, TicketChange};
use crate::tickets::calendar::{Calendar, holidays_from_ics};
use crate::tickets::parse_number;
use crate::tickets::team::{TeamEdit, check_assign};
use crate::unix_now;
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::teams::{
    CalendarView, CreateCalendar, CreateTeam, EditCalendar, EditTeam, MoveTicket, TeamView,
};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/calendars",
            get(list_calendars).post(create_calendar),
        )
        .route(
            "/api/v1/calendars/{name}",
            get(show_calendar)
                .patch(edit_calendar)
                .delete(delete_calendar),
        )
        .route("/api/v1/teams", get(list_teams).post(create_team))
        .route(
            "/api/v1/teams/{name}",
            get(show_team).patch(edit_team).delete(delete_team),
        )
        .route("/api/v1/tickets/{number}/team", post(move_ticket))
}

fn calendar_view(c: StoredCalendar, now: i64) -> CalendarView {
    CalendarView {
        working_now: c.calendar.is_working(now),
        zone: c.calendar.zone().to_string(),
        hours: c.calendar.hours_text(),
        holidays: c.calendar.holidays().map(|d| d.to_string()).collect(),
        name: c.name,
        teams: c.teams,
    }
}

fn team_view(t: Team) -> TeamView {
    TeamView {
        name: t.name,
        tier: t.tier,
        calendar: t.calendar,
        assign: t.assign,
        members: t.members,
        active: t.active,
        unassigned: t.unassigned,
    }
}

/// ISO dates as users type them, each checked.
fn dates(texts: &[String]) -> Result<Vec<Date>, ApiError> {
    texts
        .iter()
        .map(|d| {
            d.trim().parse::<Date>().map_err(|_| {
                ApiError::bad_request(format!(
                    "`{d}` is not a date: write holidays as YYYY-MM-DD, e.g. 2026-12-25"
                ))
            })
        })
        .collect()
}

fn ics(text: Option<&str>) -> Result<Vec<Date>, ApiError> {
    match text {
        Some(t) => holidays_from_ics(t).map_err(ApiError::bad_request),
        None => Ok(Vec::new()),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/calendars",
    tag = "teams",
    summary = "create a business-hours calendar (zone, hours, holidays)",
    request_body = CreateCalendar,
    responses(
        (status = 201, description = "created", body = CalendarView),
        (status = 400, description = "the zone, hours or holidays are not valid", body = ErrorBody),
        (status = 403, description = "only admins set calendars up", body = ErrorBody),
        (status = 409, description = "a calendar of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create_calendar(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateCalendar>,
) -> Result<(StatusCode, Json<CalendarView>), ApiError> {
    op.require(Role::Admin)?;
    let mut holidays = dates(&req.holidays)?;
    holidays.extend(ics(req.ics.as_deref())?);
    let cal = Calendar::parse(&req.zone, &req.hours)
        .map_err(ApiError::bad_request)?
        .with_holidays(holidays);
    let now = unix_now();
    s.store
        .put_calendar(req.name.clone(), cal, false, op.0.name, now)
        .await?;
    let c = s.store.calendar(req.name).await?;
    Ok((StatusCode::CREATED, Json(calendar_view(c, now))))
}

#[utoipa::path(
    patch,
    path = "/api/v1/calendars/{name}",
    tag = "teams",
    summary = "change a calendar's zone, hours or holidays (its teams' clocks follow at once)",
    params(("name" = String, Path, description = "calendar name")),
    request_body = EditCalendar,
    responses(
        (status = 200, description = "changed", body = CalendarView),
        (status = 400, description = "the zone, hours or holidays are not valid", body = ErrorBody),
        (status = 403, description = "only admins set calendars up", body = ErrorBody),
        (status = 404, description = "no such calendar", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn edit_calendar(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<EditCalendar>,
) -> ApiResult<CalendarView> {
    op.require(Role::Admin)?;
    let old = s.store.calendar(name.clone()).await?.calendar;
    let zone = req.zone.as_deref().unwrap_or(old.zone());
    let hours = req.hours.clone().unwrap_or_else(|| old.hours_text());
    let mut holidays: Vec<Date> = match req.ics.as_deref() {
        Some(text) => ics(Some(text))?,
        None => old.holidays().collect(),
    };
    holidays.extend(dates(&req.add_holidays)?);
    let remove = dates(&req.remove_holidays)?;
    if let Some(d) = remove.iter().find(|d| !holidays.contains(d)) {
        return Err(ApiError::bad_request(format!(
            "{d} is not a holiday of calendar `{name}`"
        )));
    }
    holidays.retain(|d| !remove.contains(d));
    let cal = Calendar::parse(zone, &hours)
        .map_err(ApiError::bad_request)?
        .with_holidays(holidays);
    let now = unix_now();
    s.store
        .put_calendar(name.clone(), cal, true, op.0.name, now)
        .await?;
    Ok(Json(calendar_view(s.store.calendar(name).await?, now)))
}

#[utoipa::path(
    get,
    path = "/api/v1/calendars",
    tag = "teams",
    summary = "business-hours calendars",
    responses((status = 200, description = "every calendar, by name", body = Vec<CalendarView>)),
    security(("bearer" = [])),
)]
async fn list_calendars(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<CalendarView>> {
    let now = unix_now();
    Ok(Json(
        s.store
            .calendars()
            .await?
            .into_iter()
            .map(|c| calendar_view(c, now))
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/calendars/{name}",
    tag = "teams",
    summary = "one calendar",
    params(("name" = String, Path, description = "calendar name")),
    responses(
        (status = 200, description = "the calendar", body = CalendarView),
        (status = 404, description = "no such calendar", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_calendar(
    State(s): State<Shared>,
    _: Authed,
    Path(name): Path<String>,
) -> ApiResult<CalendarView> {
    Ok(Json(calendar_view(
        s.store.calendar(name).await?,
        unix_now(),
    )))
}

#[utoipa::path(
    delete,
    path = "/api/v1/calendars/{name}",
    tag = "teams",
    summary = "delete a calendar no team uses",
    params(("name" = String, Path, description = "calendar name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "only admins set calendars up", body = ErrorBody),
        (status = 404, description = "no such calendar", body = ErrorBody),
        (status = 409, description = "a team uses it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_calendar(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Admin)?;
    s.store.delete_calendar(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/teams",
    tag = "teams",
    summary = "create a team (members, tier, calendar, assignment)",
    request_body = CreateTeam,
    responses(
        (status = 201, description = "created", body = TeamView),
        (status = 400, description = "the name, tier or assignment is not valid", body = ErrorBody),
        (status = 403, description = "only admins set teams up", body = ErrorBody),
        (status = 404, description = "a member or the calendar does not exist", body = ErrorBody),
        (status = 409, description = "a team of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn create_team(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateTeam>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    op.require(Role::Admin)?;
    let edit = TeamEdit {
        name: req.name.clone(),
        tier: Some(tier(req.tier)?),
        calendar: Some(req.calendar),
        assign: req
            .assign
            .as_deref()
            .map(check_assign)
            .transpose()
            .map_err(ApiError::bad_request)?,
        add_members: req.members,
        remove_members: Vec::new(),
    };
    s.store.create_team(edit, op.0.name, unix_now()).await?;
    let t = s.store.team(req.name).await?;
    Ok((StatusCode::CREATED, Json(team_view(t))))
}

fn tier(n: i64) -> Result<i64, ApiError> {
    if (crate::tickets::FIRST_TIER..=9).contains(&n) {
        Ok(n)
    } else {
        Err(ApiError::bad_request(format!(
            "a team's tier is between 1 and 9, not {n}"
        )))
    }
}

#[utoipa::path(
    patch,
    path = "/api/v1/teams/{name}",
    tag = "teams",
    summary = "change a team: tier, calendar, assignment, members",
    params(("name" = String, Path, description = "team name")),
    request_body = EditTeam,
    responses(
        (status = 200, description = "changed", body = TeamView),
        (status = 400, description = "a value is not valid", body = ErrorBody),
        (status = 403, description = "only admins set teams up", body = ErrorBody),
        (status = 404, description = "no such team, member or calendar", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn edit_team(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<EditTeam>,
) -> ApiResult<TeamView> {
    op.require(Role::Admin)?;
    if req.no_calendar && req.calendar.is_some() {
        return Err(ApiError::bad_request(
            "give a calendar or take it away, not both",
        ));
    }
    let edit = TeamEdit {
        name: name.clone(),
        tier: req.tier.map(tier).transpose()?,
        calendar: if req.no_calendar {
            Some(None)
        } else {
            req.calendar.map(Some)
        },
        assign: req
            .assign
            .as_deref()
            .map(check_assign)
            .transpose()
            .map_err(ApiError::bad_request)?,
        add_members: req.add_members,
        remove_members: req.remove_members,
    };
    if edit.describe().is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give a tier, a calendar, an assignment or members",
        ));
    }
    s.store.edit_team(edit, op.0.name, unix_now()).await?;
    Ok(Json(team_view(s.store.team(name).await?)))
}

#[utoipa::path(
    get,
    path = "/api/v1/teams",
    tag = "teams",
    summary = "teams, by tier",
    responses((status = 200, description = "every team with its members and queue", body = Vec<TeamView>)),
    security(("bearer" = [])),
)]
async fn list_teams(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<TeamView>> {
    Ok(Json(
        s.store.teams().await?.into_iter().map(team_view).collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/teams/{name}",
    tag = "teams",
    summary = "one team",
    params(("name" = String, Path, description = "team name")),
    responses(
        (status = 200, description = "the team", body = TeamView),
        (status = 404, description = "no such team", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_team(
    State(s): State<Shared>,
    _: Authed,
    Path(name): Path<String>,
) -> ApiResult<TeamView> {
    Ok(Json(team_view(s.store.team(name).await?)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/teams/{name}",
    tag = "teams",
    summary = "delete a team with no active tickets",
    params(("name" = String, Path, description = "team name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "only admins set teams up", body = ErrorBody),
        (status = 404, description = "no such team", body = ErrorBody),
        (status = 409, description = "it has active tickets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_team(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Admin)?;
    s.store.delete_team(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/team",
    tag = "tickets",
    summary = "put a ticket in a team's queue (its assignee is cleared)",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = MoveTicket,
    responses(
        (status = 204, description = "moved"),
        (status = 403, description = "viewers cannot change tickets", body = ErrorBody),
        (status = 404, description = "no such ticket or team", body = ErrorBody),
        (status = 409, description = "the ticket is not active, or already there", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn move_ticket(
    State(s): State<Shared>,
    op: Authed,
    Path(number): Path<String>,
    Json(req): Json<MoveTicket>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let number = parse_number(&number).map_err(ApiError::bad_request)?;
    s.store
        .change_ticket(
            number,
            TicketChange::Move { team: req.team },
            op.0.name,
            unix_now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
