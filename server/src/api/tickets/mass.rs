//! Mass incidents over the API: `POST /api/v1/tickets/{number}/merge`,
//! `POST /api/v1/tickets/{number}/children`,
//! `DELETE /api/v1/tickets/{number}/children/{child}` and
//! `POST /api/v1/tickets/bulk`, and a ticket's relations for its detail.
//! Every change needs a technician; each ticket is changed, audited and
//! mailed on its own, and answers with its own outcome.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};

use super::{field, number};
use crate::api::error::{ApiError, ApiResult};
use crate::api::{Authed, Shared};
use crate::rfc3339;
use crate::store::{Related, Role};
use crate::tickets::Status;
use crate::tickets::mass::{BulkAction, BulkFilter, Outcome, TicketOutcome as Done};
use crate::unix_now;
use deskhand_api_types::mass::{
    BulkRequest, ChildrenRequest, FollowerView, MassResult, MergeRequest, RelatedTicket,
    TicketOutcome, TicketRelations,
};
use deskhand_api_types::server::ErrorBody;

/// Most tickets named in one merge or link request.
const MAX_NAMED: usize = 500;

/// The routes, merged into the tickets' router.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/tickets/bulk", post(bulk_tickets))
        .route("/api/v1/tickets/{number}/merge", post(merge_tickets))
        .route("/api/v1/tickets/{number}/children", post(link_children))
        .route(
            "/api/v1/tickets/{number}/children/{child}",
            delete(unlink_child),
        )
}

/// `tickets list --parent N`: the parent's number, and the statuses to
/// list (all of them unless the query names some).
pub(super) fn children_of(
    q: &deskhand_api_types::tickets::TicketQuery,
    statuses: Vec<Status>,
) -> Result<(Vec<Status>, Option<i64>), ApiError> {
    let parent = q.parent.as_deref().map(number).transpose()?;
    Ok(match (parent, q.status.is_none()) {
        (Some(_), true) => (Status::ALL.to_vec(), parent),
        _ => (statuses, parent),
    })
}

fn related(r: Related) -> RelatedTicket {
    RelatedTicket {
        number: r.number,
        title: r.title,
        status: r.status.as_str().into(),
        requester: r.requester,
    }
}

/// Ticket `n`'s merges, followers, parent and children.
pub(super) async fn relations(s: &Shared, n: i64) -> Result<TicketRelations, ApiError> {
    let r = s.store.ticket_relations(n).await?;
    Ok(TicketRelations {
        merged_into: r.merged_into,
        parent: r.parent.map(related),
        children: r.children.into_iter().map(related).collect(),
        merged: r.merged.into_iter().map(related).collect(),
        followers: r
            .followers
            .into_iter()
            .map(|f| FollowerView {
                requester: f.follower.requester,
                account: f.follower.account,
                from_ticket: f.follower.from_ticket,
                added_at: rfc3339(f.added_at),
            })
            .collect(),
    })
}

fn result(dry_run: bool, done: Vec<Done>) -> MassResult {
    MassResult {
        dry_run,
        results: done
            .into_iter()
            .map(|d| {
                let (outcome, message) = match d.outcome {
                    Outcome::Changed(m) => ("changed", m),
                    Outcome::WouldChange(m) => ("would change", m),
                    Outcome::Refused(m) => ("refused", m),
                };
                TicketOutcome {
                    number: d.number,
                    outcome: outcome.into(),
                    message,
                }
            })
            .collect(),
    }
}

/// Checks a list of ticket numbers: some, not too many, each once.
fn numbers(what: &str, list: &[i64]) -> Result<Vec<i64>, ApiError> {
    if list.is_empty() {
        return Err(ApiError::bad_request(format!("name at least one {what}")));
    }
    if list.len() > MAX_NAMED {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_NAMED} tickets at once; send them in parts"
        )));
    }
    let mut out: Vec<i64> = Vec::new();
    for &n in list {
        if n <= 0 {
            return Err(ApiError::bad_request(format!("{n} is not a ticket number")));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/merge",
    tag = "tickets",
    summary = "merge duplicates into this ticket",
    params(("number" = String, Path, description = "the ticket that goes on: 42, #42 or T42")),
    request_body = MergeRequest,
    responses(
        (status = 200, description = "each duplicate's outcome: merged, or why not", body = MassResult),
        (status = 400, description = "no tickets named, or the note is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn merge_tickets(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<MergeRequest>,
) -> ApiResult<MassResult> {
    op.require(Role::Technician)?;
    let into = number(&n)?;
    let sources = numbers("ticket to merge", &req.tickets)?;
    let note = field("the note", &req.note, 2000, false, false)?;
    let done = s
        .store
        .merge_tickets(into, sources, note, op.0.name.clone(), unix_now())
        .await?;
    Ok(Json(result(false, done)))
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/children",
    tag = "tickets",
    summary = "link child tickets under this one",
    params(("number" = String, Path, description = "the parent: 42, #42 or T42")),
    request_body = ChildrenRequest,
    responses(
        (status = 200, description = "each child's outcome: linked, or why not", body = MassResult),
        (status = 400, description = "no children named", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn link_children(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<ChildrenRequest>,
) -> ApiResult<MassResult> {
    op.require(Role::Technician)?;
    let parent = number(&n)?;
    let children = numbers("child", &req.children)?;
    let done = s
        .store
        .link_children(parent, children, op.0.name.clone(), unix_now())
        .await?;
    Ok(Json(result(false, done)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tickets/{number}/children/{child}",
    tag = "tickets",
    summary = "unlink a child ticket",
    params(
        ("number" = String, Path, description = "the parent: 42, #42 or T42"),
        ("child" = String, Path, description = "the child: 42, #42 or T42"),
    ),
    responses(
        (status = 204, description = "unlinked"),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket, or not its child", body = ErrorBody),
        (status = 409, description = "the child is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn unlink_child(
    State(s): State<Shared>,
    op: Authed,
    Path((n, child)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store
        .unlink_child(number(&n)?, number(&child)?, op.0.name.clone(), unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/bulk",
    tag = "tickets",
    summary = "resolve, comment on or assign every ticket a filter selects",
    request_body = BulkRequest,
    responses(
        (status = 200, description = "each ticket's outcome: changed (or would be, in a dry run), or why not", body = MassResult),
        (status = 400, description = "the filter or the action is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "the filter names no such team", body = ErrorBody),
        (status = 409, description = "the filter matches more than 500 tickets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(in crate::api) async fn bulk_tickets(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<BulkRequest>,
) -> ApiResult<MassResult> {
    op.require(Role::Technician)?;
    let filter_text = field("the filter", &req.filter, 1000, true, true)?;
    let filter = BulkFilter::parse(&filter_text).map_err(ApiError::bad_request)?;
    for team in &filter.teams {
        // An unknown team is a typo, not an empty selection.
        s.store.team(team.clone()).await?;
    }
    let note = field("the note", &req.note, 20_000, false, false)?;
    let text = field("the text", &req.text, 20_000, false, false)?;
    let to = match req.to.as_deref() {
        Some(t) => Some(field("the technician", t, 200, false, true)?),
        None => None,
    };
    let action = BulkAction::parse(&req.action, &note, &text, req.internal, to.as_deref())
        .map_err(ApiError::bad_request)?;
    let done = s
        .store
        .bulk_change(filter, action, op.0.name.clone(), unix_now(), req.dry_run)
        .await?;
    Ok(Json(result(req.dry_run, done)))
}
