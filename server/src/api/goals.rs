//! Supervisors' goals: `GET /api/v1/goals`, `PUT /api/v1/goals` (set a
//! team's or technician's targets) and `DELETE
//! /api/v1/goals/{scope}/{name}`; and the ticket report's groups judged
//! against them ([`group_report`]), which the ticket report and the
//! scheduled reports' mails show.
//!
//! The metrics and the rules are [`crate::tickets::goals`]'s, the
//! arithmetic [`crate::tickets::report::groups`]'s; this file parses,
//! checks roles and converts. Changes need a technician.

use axum::extract::{Path, Query, State};
use axum::routing::{delete, get};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::rfc3339;
use crate::store::{GoalRecord, Role, Store, StoreError};
use crate::text::{Shape, check_required};
use crate::tickets::goals::{Goal, Metric, Scope, Verdict};
use crate::tickets::report::groups::{GroupBy, GroupRow, Judged, groups};
use crate::tickets::sla::SlaPolicy;
use crate::unix_now;
use deskhand_api_types::goals::{
    ClearGoalsQuery, GoalView, GoalsCleared, GroupReportView, JudgedView, SetGoals,
    TicketGroupsView,
};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/goals", get(list_goals).put(set_goals))
        .route("/api/v1/goals/{scope}/{name}", delete(clear_goals))
}

fn goal_view(g: &GoalRecord) -> GoalView {
    let m = g.goal.metric;
    GoalView {
        scope: g.goal.scope.as_str().into(),
        name: g.goal.name.clone(),
        metric: m.as_str().into(),
        target: g.goal.target,
        shown: m.show(g.goal.target),
        rule: if m.lower_is_better() {
            "at most"
        } else {
            "at least"
        }
        .into(),
        set_by: g.set_by.clone(),
        set_at: rfc3339(g.set_at),
    }
}

fn scope_and_name(scope: &str, name: &str) -> Result<Scope, ApiError> {
    let scope = Scope::parse(scope).map_err(ApiError::bad_request)?;
    check_required(&format!("the {}'s name", scope.as_str()), name, Shape::Line)
        .map_err(ApiError::bad_request)?;
    Ok(scope)
}

#[utoipa::path(
    get,
    path = "/api/v1/goals",
    tag = "reports",
    summary = "every team's and technician's goals",
    responses((status = 200, description = "the goals", body = Vec<GoalView>)),
    security(("bearer" = [])),
)]
pub(super) async fn list_goals(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<GoalView>> {
    let all = s.store.goals().await?;
    Ok(Json(all.iter().map(goal_view).collect()))
}

#[utoipa::path(
    put,
    path = "/api/v1/goals",
    tag = "reports",
    summary = "set (or replace) goals of a team or a technician",
    request_body = SetGoals,
    responses(
        (status = 200, description = "that team's or technician's goals now", body = Vec<GoalView>),
        (status = 400, description = "a scope, metric or target is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such technician", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn set_goals(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<SetGoals>,
) -> ApiResult<Vec<GoalView>> {
    op.require(Role::Technician)?;
    let scope = scope_and_name(&req.scope, &req.name)?;
    if req.targets.is_empty() {
        return Err(ApiError::bad_request(
            "give at least one goal: first-response-p90, resolved-per-day, backlog-age or satisfaction",
        ));
    }
    let mut targets: Vec<(Metric, f64)> = Vec::new();
    for t in &req.targets {
        let metric = Metric::parse(&t.metric).map_err(ApiError::bad_request)?;
        if targets.iter().any(|(m, _)| *m == metric) {
            return Err(ApiError::bad_request(format!(
                "{metric} is given twice: give each goal once"
            )));
        }
        targets.push((
            metric,
            metric
                .parse_target(&t.target)
                .map_err(ApiError::bad_request)?,
        ));
    }
    s.store
        .set_goals(scope, req.name.clone(), targets, op.0.name, unix_now())
        .await?;
    let all = s.store.goals().await?;
    Ok(Json(
        all.iter()
            .filter(|g| g.goal.scope == scope && g.goal.name == req.name)
            .map(goal_view)
            .collect(),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/goals/{scope}/{name}",
    tag = "reports",
    summary = "remove a team's or technician's goals (metric: only that one)",
    params(
        ("scope" = String, Path, description = "team or technician"),
        ("name" = String, Path, description = "the team or technician"),
        ClearGoalsQuery,
    ),
    responses(
        (status = 200, description = "how many were removed", body = GoalsCleared),
        (status = 400, description = "the scope or metric is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such goal", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn clear_goals(
    State(s): State<Shared>,
    op: Authed,
    Path((scope, name)): Path<(String, String)>,
    Query(q): Query<ClearGoalsQuery>,
) -> ApiResult<GoalsCleared> {
    op.require(Role::Technician)?;
    let scope = scope_and_name(&scope, &name)?;
    let metric = q
        .metric
        .as_deref()
        .map(Metric::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let cleared = s
        .store
        .clear_goals(scope, name, metric, op.0.name, unix_now())
        .await?;
    Ok(Json(GoalsCleared { cleared }))
}

fn judged_view(j: &Judged) -> JudgedView {
    JudgedView {
        value: j.value,
        goal: j.goal,
        met: match j.verdict {
            Some(Verdict::Met) => Some(true),
            Some(Verdict::Missed) => Some(false),
            Some(Verdict::NoData) | None => None,
        },
    }
}

/// The groups of a report over `[from, to)` as the API shows them.
pub(super) fn groups_view(by: GroupBy, from: i64, to: i64, rows: &[GroupRow]) -> TicketGroupsView {
    TicketGroupsView {
        by: by.as_str().into(),
        from: rfc3339(from),
        to: rfc3339(to),
        groups: rows
            .iter()
            .map(|r| GroupReportView {
                group: r.group.clone(),
                volume: r.volume,
                resolved: r.resolved,
                resolved_per_day: judged_view(&r.resolved_per_day),
                first_response_p90_secs: judged_view(&r.first_response_p90),
                oldest_backlog_secs: judged_view(&r.oldest_backlog),
                satisfaction: judged_view(&r.satisfaction),
                ratings: r.ratings,
                time_logged_secs: r.time_logged,
            })
            .collect(),
    }
}

/// Every goal, as the report's arithmetic takes them.
pub(super) async fn goal_list(store: &Store) -> Result<Vec<Goal>, StoreError> {
    Ok(store.goals().await?.into_iter().map(|g| g.goal).collect())
}

/// The ticket report's groups over `[from, to)` at `now`, judged against
/// the goals: what a scheduled report mails.
pub async fn group_report(
    store: &Store,
    policy: &SlaPolicy,
    by: GroupBy,
    from: i64,
    to: i64,
    now: i64,
) -> Result<TicketGroupsView, StoreError> {
    let facts = super::reports::ticket_facts(store, policy, to, now).await?;
    let goals = goal_list(store).await?;
    let logged = store.time_logged_in(from, to).await?;
    let rows = groups(&facts, &logged, by, &goals, from, to, now);
    Ok(groups_view(by, from, to, &rows))
}
