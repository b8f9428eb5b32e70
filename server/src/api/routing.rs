//! Routing rules: `/api/v1/routing/rules` (list, add, remove, move) and
//! `/api/v1/tickets/{number}/routing` (what routing would do with a
//! ticket now, changing nothing). The rules are applied by the store
//! when a ticket is created ([`crate::tickets::routing`] decides).
//! Reading needs any role, every change a technician and is audited.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::{Role, TicketChange};
use crate::tickets::routing::{AssignMode, Rule};
use crate::tickets::{Channel, Priority, parse_number};
use crate::unix_now;
use deskhand_api_types::routing::{CreateRule, MoveRule, RoutingTestView, RuleView};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/routing/rules", get(list_rules).post(add_rule))
        .route("/api/v1/routing/rules/{name}", delete(remove_rule))
        .route("/api/v1/routing/rules/{name}/move", post(move_rule))
        .route("/api/v1/tickets/{number}/routing", get(test_routing))
}

fn rule_view(r: Rule) -> RuleView {
    RuleView {
        position: r.position,
        name: r.name,
        category: r.category,
        label: r.label,
        channel: r.channel.map(|c| c.as_str().to_string()),
        priority: r.priority.map(|p| p.as_str().to_string()),
        team: r.team,
        assign: r.assign.map(|a| a.as_str().to_string()),
    }
}

/// A criterion: trimmed, empty is none.
fn criterion(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Checks a rule name: 1 to 64 letters, digits, `-`, `_` or `.`.
fn rule_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(ApiError::bad_request(format!(
            "bad rule name \"{name}\": use 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(name.to_string())
}

#[utoipa::path(
    get,
    path = "/api/v1/routing/rules",
    tag = "teams",
    summary = "routing rules, in order",
    responses(
        (status = 200, description = "the rules; the first matching one wins", body = Vec<RuleView>),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn list_rules(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<RuleView>> {
    let rules = s.store.routing_rules().await?;
    Ok(Json(rules.into_iter().map(rule_view).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/routing/rules",
    tag = "teams",
    summary = "add a routing rule, last in order",
    request_body = CreateRule,
    responses(
        (status = 201, description = "added", body = RuleView),
        (status = 400, description = "a field is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such team or label", body = ErrorBody),
        (status = 409, description = "a rule of that name exists, or the label is dynamic", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn add_rule(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateRule>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    op.require(Role::Technician)?;
    let category = match criterion(req.category) {
        Some(c) => Some(super::tickets::field("category", &c, 60, false, true)?),
        None => None,
    };
    let label = criterion(req.label);
    if let Some(name) = &label {
        let l = s.store.get_label(name.clone()).await?;
        if l.filter.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "`{name}` is a dynamic label: routing matches static labels only; use a static one"
                ),
            ));
        }
    }
    let rule = Rule {
        name: rule_name(&req.name)?,
        position: 0,
        category,
        label,
        channel: criterion(req.channel)
            .map(|c| Channel::parse(&c))
            .transpose()
            .map_err(ApiError::bad_request)?,
        priority: criterion(req.priority)
            .map(|p| Priority::parse(&p))
            .transpose()
            .map_err(ApiError::bad_request)?,
        team: req.team.trim().to_string(),
        assign: criterion(req.assign)
            .map(|a| AssignMode::parse(&a))
            .transpose()
            .map_err(ApiError::bad_request)?,
    };
    let name = rule.name.clone();
    s.store
        .add_routing_rule(rule, op.0.name, unix_now())
        .await?;
    let added = s
        .store
        .routing_rules()
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::bad_request(format!("rule {name} was removed meanwhile")))?;
    Ok((StatusCode::CREATED, Json(rule_view(added))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/routing/rules/{name}",
    tag = "teams",
    summary = "remove a routing rule",
    params(("name" = String, Path, description = "rule name")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such rule", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn remove_rule(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store
        .remove_routing_rule(name, op.0.name, unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/routing/rules/{name}/move",
    tag = "teams",
    summary = "move a routing rule to another place in the order",
    params(("name" = String, Path, description = "rule name")),
    request_body = MoveRule,
    responses(
        (status = 200, description = "the rules in their new order", body = Vec<RuleView>),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such rule", body = ErrorBody),
        (status = 409, description = "the position is below 1", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn move_rule(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<MoveRule>,
) -> ApiResult<Vec<RuleView>> {
    op.require(Role::Technician)?;
    s.store
        .move_routing_rule(name, req.position, op.0.name, unix_now())
        .await?;
    let rules = s.store.routing_rules().await?;
    Ok(Json(rules.into_iter().map(rule_view).collect()))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/routing",
    tag = "tickets",
    summary = "which rule a ticket matches now and whom it would pick, changing nothing",
    params(("number" = String, Path, description = "ticket number")),
    responses(
        (status = 200, description = "the trial", body = RoutingTestView),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 404, description = "no such ticket, or the rule's team is gone", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn test_routing(
    State(s): State<Shared>,
    _: Authed,
    Path(number): Path<String>,
) -> ApiResult<RoutingTestView> {
    let number = parse_number(&number).map_err(ApiError::bad_request)?;
    let trial = s.store.test_routing(number, unix_now()).await?;
    let routed = trial.routed.as_ref();
    Ok(Json(RoutingTestView {
        number,
        category: trial.facts.category.clone(),
        channel: trial.facts.channel.as_str().into(),
        priority: trial.facts.priority.as_str().into(),
        labels: trial.facts.labels.iter().cloned().collect(),
        rule: routed.map(|r| r.rule.clone()),
        team: routed.map(|r| r.team.clone()),
        assign: routed.map(|r| r.mode.as_str().to_string()),
        assignee: routed.and_then(|r| r.assignee.clone()),
        note: routed.map(|r| r.note()),
        on_shift: trial.on_shift,
    }))
}

/// Assigns a ticket just created to the technician its creator named,
/// unless routing already gave it to them. The ticket exists either way:
/// a bad assignee is a 409 that says so.
pub(super) async fn assign_created(
    s: &Shared,
    number: i64,
    name: &str,
    by: String,
    now: i64,
) -> Result<(), ApiError> {
    if s.store.get_ticket(number).await?.assignee.as_deref() == Some(name) {
        return Ok(());
    }
    let to = Some(name.to_string());
    s.store
        .change_ticket(number, TicketChange::Assign { to }, by, now)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("ticket {number} was created but not assigned: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_checked() {
        assert_eq!(rule_name(" printing ").ok().as_deref(), Some("printing"));
        for bad in ["", "two words", "a/b", &"x".repeat(65)] {
            let e = rule_name(bad).expect_err(bad);
            assert!(e.message.contains("letters, digits"), "{}", e.message);
        }
    }
}
