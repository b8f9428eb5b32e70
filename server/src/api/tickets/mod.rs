//! The tickets API: `/api/v1/tickets` and `/api/v1/reports/tickets`.
//!
//! Reading needs any role; every change needs a technician, is checked
//! against the status machine in the store's transaction, and is audited.
//! SLA clocks are evaluated at the time of the request with the targets
//! the ticket got at creation and the warning window of the server's
//! [`TicketSettings`](crate::tickets::TicketSettings). `effort`: time logged.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

pub(in crate::api) mod mass;

use super::assets::asset_view;
use super::diag::diag_run_view;
use super::error::{ApiError, ApiResult};
use super::{ApiState, Authed, Shared};
use crate::store::{NewTicket, Role, TicketChange, TicketFilter};
use crate::tickets::{Priority, Status, parse_number, parse_tier};
use crate::{rfc3339, unix_now};
use deskhand_api_types::assets::HistoryView;
use deskhand_api_types::server::ErrorBody;
pub use deskhand_api_types::tickets::{
    AssignRequest, BacklogAgeView, CommentRequest, CreateTicket, EscalateRequest, JobRefView,
    LinkRequest, LinkedAssetView, PeriodReportView, RateRequest, ReportQuery, SlaClockView,
    StatusRequest, TechnicianReportView, TicketCreated, TicketDetail, TicketQuery, TicketReport,
    TicketView, TimelineEntryView, TimesView, TopView, UpdateTicket,
};

pub(super) mod effort;
mod view;

use view::ticket_view;

/// How long a resolved ticket stays on its assets' pages.
const RECENT_ON_ASSET_SECS: i64 = 30 * 86400;

/// The routes, merged into the API router.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/tickets", get(list_tickets).post(create_ticket))
        .route(
            "/api/v1/tickets/{number}",
            get(show_ticket).patch(update_ticket),
        )
        .route("/api/v1/tickets/{number}/comments", post(comment))
        .route("/api/v1/tickets/{number}/status", post(set_status))
        .route("/api/v1/tickets/{number}/assign", post(assign))
        .route("/api/v1/tickets/{number}/escalate", post(escalate))
        .route("/api/v1/tickets/{number}/assets", post(link_asset))
        .route(
            "/api/v1/tickets/{number}/assets/{asset}",
            delete(unlink_asset),
        )
        .route("/api/v1/tickets/{number}/rating", post(rate))
        .merge(effort::routes())
        .merge(mass::routes())
}

// ---- input checks -------------------------------------------------------------

/// Trims a text field and checks it by [`crate::text`]'s rule (one-line
/// fields refuse line breaks too) and its length.
pub(super) fn field(
    name: &str,
    value: &str,
    max: usize,
    required: bool,
    one_line: bool,
) -> Result<String, ApiError> {
    let v = value.trim().to_string();
    let shape = crate::text::Shape::lines_if(!one_line);
    if required {
        crate::text::check_required(name, &v, shape)
    } else {
        crate::text::check(name, &v, shape)
    }
    .map_err(ApiError::bad_request)?;
    if v.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{name} is longer than {max} characters"
        )));
    }
    Ok(v)
}

pub(super) fn number(text: &str) -> Result<i64, ApiError> {
    parse_number(text).map_err(ApiError::bad_request)
}

pub(super) fn list<T>(
    text: &Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ApiError> {
    text.iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| parse(t).map_err(ApiError::bad_request))
        .collect()
}

// ---- handlers -----------------------------------------------------------------

#[utoipa::path(
    post,
    path = "/api/v1/tickets",
    tag = "tickets",
    summary = "open a ticket",
    request_body = CreateTicket,
    responses(
        (status = 201, description = "the ticket", body = TicketCreated),
        (status = 400, description = "a field is missing or not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "created but not assigned, or an asset key matches several", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_ticket(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateTicket>,
) -> Result<(StatusCode, Json<TicketCreated>), ApiError> {
    op.require(Role::Technician)?;
    let priority = match &req.priority {
        Some(p) => Priority::parse(p).map_err(ApiError::bad_request)?,
        None => Priority::Normal,
    };
    let mut assets = Vec::new();
    for key in &req.assets {
        assets.push(s.store.find_asset(key.clone()).await?.id);
    }
    let t = NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title: field("title", &req.title, 200, true, true)?,
        description: field("description", &req.description, 20_000, false, false)?,
        requester: field("requester", &req.requester, 200, true, true)?,
        category: field("category", &req.category, 60, false, true)?,
        software: field("software", &req.software, 200, false, true)?,
        priority,
        targets: s.tickets.sla.targets(priority),
        assets,
    };
    let title = t.title.clone();
    let now = unix_now();
    let number = s.store.create_ticket(t, op.0.name.clone(), now).await?;
    if let Some(name) = req.assignee.filter(|a| !a.trim().is_empty()) {
        super::routing::assign_created(&s, number, name.trim(), op.0.name, now).await?;
    }
    Ok((StatusCode::CREATED, Json(TicketCreated { number, title })))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "tickets",
    summary = "tickets, filtered",
    params(TicketQuery),
    responses(
        (status = 200, description = "the matching tickets", body = Vec<TicketView>),
        (status = 400, description = "a status, priority or channel is not valid, or mine with assignee", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_tickets(
    State(s): State<Shared>,
    Authed(op): Authed,
    Query(q): Query<TicketQuery>,
) -> ApiResult<Vec<TicketView>> {
    let statuses = if q.status.as_deref().map(str::trim) == Some("all") {
        Status::ALL.to_vec()
    } else {
        list(&q.status, Status::parse)?
    };
    let assignee = match (q.mine.unwrap_or(false), &q.assignee) {
        (true, Some(_)) => {
            return Err(ApiError::bad_request("give --mine or --assignee, not both"));
        }
        (true, None) => Some(op.name.clone()),
        (false, a) => a.clone().filter(|a| !a.is_empty()),
    };
    let asset = match q.asset.as_deref().filter(|a| !a.is_empty()) {
        Some(key) => Some(s.store.find_asset(key.to_string()).await?.id),
        None => None,
    };
    let (statuses, parent) = mass::children_of(&q, statuses)?;
    let filter = TicketFilter {
        statuses,
        parent,
        priorities: list(&q.priority, Priority::parse)?,
        assignee,
        asset,
        channels: list(&q.channel, crate::tickets::Channel::parse)?,
        team: q.team.clone().filter(|t| !t.trim().is_empty()),
        unassigned: q.unassigned.unwrap_or(false),
    };
    if filter.unassigned && filter.assignee.is_some() {
        return Err(ApiError::bad_request(
            "give --unassigned or --assignee (or --mine), not both",
        ));
    }
    let now = unix_now();
    let rows = s.store.list_tickets(filter).await?;
    Ok(Json(
        rows.iter()
            .map(|t| ticket_view(t, &s.tickets.sla, now))
            .filter(|v| !q.breaching.unwrap_or(false) || v.at_risk)
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    summary = "a ticket with its timeline and linked assets",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    responses(
        (status = 200, description = "the ticket in full", body = TicketDetail),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show_ticket(
    State(s): State<Shared>,
    _: Authed,
    Path(n): Path<String>,
) -> ApiResult<TicketDetail> {
    let t = s.store.get_ticket(number(&n)?).await?;
    let now = unix_now();
    let mut timeline = Vec::new();
    for e in s.store.ticket_events(t.number).await? {
        let job = match (e.ref_kind.as_deref(), e.ref_id) {
            (Some(kind), Some(id)) => Some(JobRefView {
                kind: kind.to_string(),
                id,
                diag: match kind {
                    "diag" => s.store.get_diag_run(id).await.ok().map(diag_run_view),
                    _ => None,
                },
                job: match kind {
                    "job" => super::jobs::job_detail(&s.store, id).await,
                    _ => None,
                },
            }),
            _ => None,
        };
        timeline.push(TimelineEntryView {
            at: rfc3339(e.at),
            author: e.author,
            kind: e.kind,
            internal: e.internal,
            body: e.body,
            old_value: e.old_value,
            new_value: e.new_value,
            job,
        });
    }
    let mut linked_assets = Vec::new();
    for id in &t.assets {
        let Ok(a) = s.store.find_asset(id.clone()).await else {
            continue;
        };
        let (changed_last_7_days, changes_last_7_days_total) =
            super::assets::recent_changes(&s.store, &a.id, now).await?;
        let installed: Vec<HistoryView> = s
            .store
            .asset_history(a.id.clone(), t.created_at, Some("software".into()))
            .await?
            .into_iter()
            .filter(|(_, e)| matches!(e.change.as_str(), "installed" | "upgraded"))
            .map(super::assets::history_view)
            .collect();
        linked_assets.push(LinkedAssetView {
            asset: asset_view(a, &s.presence),
            changes_last_7_days_total,
            changed_last_7_days,
            software_installed_since_opened: installed,
        });
    }
    let (time_logged_secs, time_entries) = s.store.time_logged(t.number).await?;
    Ok(Json(TicketDetail {
        time_logged_secs,
        time_entries,
        ticket: ticket_view(&t, &s.tickets.sla, now),
        description: t.description,
        timeline,
        linked_assets,
        relations: mass::relations(&s, t.number).await?,
    }))
}

/// Applies `c` to ticket `n` as `op`. Each handler that calls it checks
/// the role first too, before it reads the request, so that a viewer is
/// told they may not, rather than what is wrong with what they sent.
pub(super) async fn change(
    s: &ApiState,
    op: &Authed,
    n: &str,
    c: TicketChange,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store
        .change_ticket(number(n)?, c, op.0.name.clone(), unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/comments",
    operation_id = "comment_ticket",
    tag = "tickets",
    summary = "comment",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = CommentRequest,
    responses(
        (status = 204, description = "commented"),
        (status = 400, description = "the request is not valid; the error says which field", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or canned reply", body = ErrorBody),
        (status = 409, description = "the ticket is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn comment(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<CommentRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let body = super::replies::comment_body(&s, &op, &n, &req).await?;
    change(
        &s,
        &op,
        &n,
        TicketChange::Comment {
            body,
            internal: req.internal,
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/status",
    operation_id = "set_ticket_status",
    tag = "tickets",
    summary = "open, pending, resolve, close, reopen",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = StatusRequest,
    responses(
        (status = 204, description = "changed"),
        (status = 400, description = "unknown status, or resolving without a note", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the status machine does not allow that change", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn set_status(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<StatusRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let to = Status::parse(&req.status).map_err(ApiError::bad_request)?;
    let note = field("the note", &req.note, 20_000, to == Status::Resolved, false).map_err(
        |e| match to {
            Status::Resolved if req.note.trim().is_empty() => ApiError::bad_request(
                "resolving needs a note that says what fixed it (--note \"...\")",
            ),
            _ => e,
        },
    )?;
    change(&s, &op, &n, TicketChange::Status { to, note }).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/assign",
    operation_id = "assign_ticket",
    tag = "tickets",
    summary = "assign or unassign",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = AssignRequest,
    responses(
        (status = 204, description = "assigned"),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or operator", body = ErrorBody),
        (status = 409, description = "the ticket is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn assign(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<AssignRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let to = req
        .assignee
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    change(&s, &op, &n, TicketChange::Assign { to }).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/escalate",
    operation_id = "escalate_ticket",
    tag = "tickets",
    summary = "escalate",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = EscalateRequest,
    responses(
        (status = 204, description = "escalated"),
        (status = 400, description = "no such tier, or the note is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or operator", body = ErrorBody),
        (status = 409, description = "the ticket is at the highest tier or closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn escalate(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<EscalateRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let note = field("the note", &req.note, 20_000, false, false)?;
    let (tier, technician) = match req.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => (None, None),
        Some(to) => match parse_tier(to) {
            Some(tier) if tier > s.tickets.max_tier => {
                return Err(ApiError::bad_request(format!(
                    "there is no tier {tier}: the highest is {} (tickets.max_tier)",
                    s.tickets.max_tier
                )));
            }
            Some(tier) => (Some(tier), None),
            None if to.to_ascii_lowercase().starts_with("tier") => {
                return Err(ApiError::bad_request(format!(
                    "`{}` is not a tier; write tier2 or 2",
                    crate::said(to)
                )));
            }
            None => (None, Some(to.to_string())),
        },
    };
    change(
        &s,
        &op,
        &n,
        TicketChange::Escalate {
            tier,
            technician,
            note,
            max_tier: s.tickets.max_tier,
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/assets",
    tag = "tickets",
    summary = "link an asset",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = LinkRequest,
    responses(
        (status = 204, description = "linked"),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or asset", body = ErrorBody),
        (status = 409, description = "already linked, or the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn link_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<LinkRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let a = s.store.find_asset(req.asset).await?;
    change(
        &s,
        &op,
        &n,
        TicketChange::Link {
            asset_id: a.id,
            name: a.hostname,
        },
    )
    .await
}

#[utoipa::path(
    delete,
    path = "/api/v1/tickets/{number}/assets/{asset}",
    tag = "tickets",
    summary = "unlink an asset",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42"), ("asset" = String, Path, description = "asset id, id prefix, host name or serial number")),
    responses(
        (status = 204, description = "unlinked"),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket or asset", body = ErrorBody),
        (status = 409, description = "not linked, or the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn unlink_asset(
    State(s): State<Shared>,
    op: Authed,
    Path((n, asset)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let a = s.store.find_asset(asset).await?;
    change(
        &s,
        &op,
        &n,
        TicketChange::Unlink {
            asset_id: a.id,
            name: a.hostname,
        },
    )
    .await
}

#[utoipa::path(
    patch,
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    summary = "update its fields",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = UpdateTicket,
    responses(
        (status = 204, description = "updated"),
        (status = 400, description = "the request is not valid; the error says which field", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket is closed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn update_ticket(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<UpdateTicket>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let opt_field = |name: &str, v: &Option<String>, max: usize, required: bool, one_line: bool| {
        v.as_deref()
            .map(|v| field(name, v, max, required, one_line))
            .transpose()
    };
    let priority = match &req.priority {
        Some(p) => {
            let p = Priority::parse(p).map_err(ApiError::bad_request)?;
            Some((p, s.tickets.sla.targets(p)))
        }
        None => None,
    };
    let update = TicketChange::Update {
        title: opt_field("title", &req.title, 200, true, true)?,
        description: opt_field("description", &req.description, 20_000, false, false)?,
        category: opt_field("category", &req.category, 60, false, true)?,
        software: opt_field("software", &req.software, 200, false, true)?,
        priority,
    };
    change(&s, &op, &n, update).await
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/rating",
    operation_id = "rate_ticket",
    tag = "tickets",
    summary = "the requester's satisfaction",
    params(("number" = String, Path, description = "ticket number: 42, #42 or T42")),
    request_body = RateRequest,
    responses(
        (status = 204, description = "rated"),
        (status = 400, description = "the score is not 1 to 5", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket is not resolved", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn rate(
    State(s): State<Shared>,
    op: Authed,
    Path(n): Path<String>,
    Json(req): Json<RateRequest>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    if !(1..=5).contains(&req.score) {
        return Err(ApiError::bad_request(format!(
            "a rating is 1 (very unhappy) to 5 (very happy), not {}",
            req.score
        )));
    }
    let comment = field("the comment", &req.comment, 2000, false, false)?;
    change(
        &s,
        &op,
        &n,
        TicketChange::Rate {
            score: req.score,
            comment,
        },
    )
    .await
}

/// An asset's open tickets and those changed in the last 30 days.
pub(super) async fn asset_tickets(
    s: &ApiState,
    asset_id: &str,
) -> Result<Vec<TicketView>, ApiError> {
    let now = unix_now();
    let rows = s
        .store
        .tickets_of_asset(asset_id.to_string(), now - RECENT_ON_ASSET_SECS, 50)
        .await?;
    Ok(rows
        .iter()
        .map(|t| ticket_view(t, &s.tickets.sla, now))
        .collect())
}
