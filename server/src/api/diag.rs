//! Live diagnostics: the catalog, a run on an agent (whole, or followed
//! as NDJSON), and a stored run.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::Role;
use crate::{rfc3339, unix_now};
use deskhand_api_types::diag::{
    CheckArgView, CheckView, DiagEventView, DiagRunView, DiagTableView, RunDiag,
};
use deskhand_api_types::server::ErrorBody;

/// How often a followed diagnostic's stream carries a keep-alive line.
const FOLLOW_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/diag/checks", get(diag_checks))
        .route("/api/v1/diag/runs/{id}", get(diag_run))
        .route("/api/v1/agents/{key}/diag", post(run_diag))
}

#[utoipa::path(
    get,
    path = "/api/v1/diag/checks",
    tag = "diag",
    summary = "the diagnostics catalog",
    responses(
        (status = 200, description = "every check with its arguments", body = Vec<CheckView>),
    ),
    security(("bearer" = [])),
)]
async fn diag_checks(_: Authed) -> ApiResult<Vec<CheckView>> {
    Ok(Json(
        deskhand_shared::diag::catalog::catalog()
            .iter()
            .map(|c| CheckView {
                name: c.name.into(),
                summary: c.summary.into(),
                args: c
                    .args
                    .iter()
                    .map(|a| CheckArgView {
                        name: a.name.into(),
                        help: a.help.into(),
                        default: a.default.map(Into::into),
                    })
                    .collect(),
                follows: c.follows,
            })
            .collect(),
    ))
}

fn table_view(t: deskhand_shared::diag::DiagTable) -> DiagTableView {
    DiagTableView {
        title: t.title,
        columns: t.columns,
        rows: t.rows,
    }
}

pub(super) fn diag_run_view(r: crate::store::DiagRun) -> DiagRunView {
    DiagRunView {
        id: r.id,
        agent_id: r.agent_id,
        check: r.check,
        args: r.args,
        operator: r.operator,
        started_at: rfc3339(r.started_at),
        ok: r.result.ok,
        error: r.result.error,
        duration_ms: r.result.micros as f64 / 1000.0,
        tables: r.result.tables.into_iter().map(table_view).collect(),
        text: r.result.text,
        finished: r.finished,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/diag/runs/{id}",
    tag = "diag",
    summary = "a diagnostic run and its result",
    params(("id" = i64, Path, description = "the run's id")),
    responses(
        (status = 200, description = "the stored run", body = DiagRunView),
        (status = 400, description = "the id is not a number", body = ErrorBody),
        (status = 404, description = "no such diagnostic run", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn diag_run(
    State(s): State<Shared>,
    _: Authed,
    Path(id): Path<i64>,
) -> ApiResult<DiagRunView> {
    Ok(Json(diag_run_view(s.store.get_diag_run(id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{key}/diag",
    tag = "diag",
    summary = "run a diagnostic on the agent's machine",
    params(("key" = String, Path, description = "agent id, id prefix or host name")),
    request_body = RunDiag,
    responses(
        (status = 200, description = "the result; with follow, NDJSON lines (a table, text, then done) until the client goes away, an empty line every 2 s", content((DiagRunView = "application/json"), (DiagEventView = "application/x-ndjson"))),
        (status = 400, description = "unknown check or argument, or a ticket with follow", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such agent or ticket", body = ErrorBody),
        (status = 409, description = "the agent is offline, or the ticket takes no attachment", body = ErrorBody),
        (status = 502, description = "the agent could not start the check, or the node holding its session could not be reached", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn run_diag(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<RunDiag>,
) -> Result<Response, ApiError> {
    use deskhand_shared::diag::DiagEvent;
    op.require(Role::Technician)?;
    if let Some(ticket) = req.ticket {
        if req.follow {
            return Err(ApiError::bad_request(
                "--ticket attaches a finished result; drop --follow",
            ));
        }
        super::attach::check_attachable(&s, ticket).await?;
    }
    let started_at = unix_now();
    let (agent, mut events) = open_diag(&s, &op, key, &req).await?;
    if req.follow {
        // An empty line every few seconds lets the server notice a client
        // that went away (and cancel on the agent) even when the check is
        // silent, as a followed log often is.
        let stream = futures_util::stream::unfold(events, |mut rx| async move {
            let event = match tokio::time::timeout(FOLLOW_KEEPALIVE, rx.recv()).await {
                Err(_) => return Some((Ok(b"\n".to_vec()), rx)),
                Ok(event) => event?,
            };
            let view = match event {
                DiagEvent::Table(t) => DiagEventView::Table(table_view(t)),
                DiagEvent::Text(t) => DiagEventView::Text(t),
                DiagEvent::Done(d) => DiagEventView::Done {
                    ok: d.ok,
                    error: d.error,
                },
            };
            let mut line = serde_json::to_vec(&view).unwrap_or_default();
            line.push(b'\n');
            Some((Ok::<_, std::convert::Infallible>(line), rx))
        });
        return Ok((
            [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
            axum::body::Body::from_stream(stream),
        )
            .into_response());
    }
    let result = collect_run(&mut events).await;
    let run = crate::store::DiagRun {
        id: 0,
        agent_id: agent.id,
        args: args_text(&req),
        check: req.check,
        operator: op.0.name,
        started_at,
        result,
        finished: true,
    };
    let id = s.store.record_diag_run(run.clone()).await?;
    let run = crate::store::DiagRun { id, ..run };
    if let Some(ticket) = req.ticket {
        super::attach::attach_diag(&s, ticket, &run, run.operator.clone()).await?;
    }
    Ok(Json(diag_run_view(run)).into_response())
}

/// Checks that `op` may run `req` on the agent `key` and that it is
/// connected (here, or to another node, which relays it), then starts the
/// check there: the agent and its events.
async fn open_diag(
    s: &Shared,
    op: &Authed,
    key: String,
    req: &RunDiag,
) -> Result<(crate::store::AgentRecord, DiagEvents), ApiError> {
    op.require(Role::Technician)?;
    let agent = s.store.find_agent(key).await?;
    let request = deskhand_shared::diag::DiagRequest {
        check: req.check.clone(),
        args: req.args.clone(),
        follow: req.follow,
    };
    deskhand_shared::diag::catalog::validate(&request).map_err(ApiError::bad_request)?;
    // Here if this node holds the session, else through the node that
    // does.
    let events = s
        .relay
        .diag(&agent.id, request)
        .await
        .map_err(|e| match e {
            crate::relay::RelayError::Offline => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "agent {} ({}) is offline; live diagnostics need it connected",
                    agent.id, agent.hostname
                ),
            ),
            other => ApiError::new(StatusCode::BAD_GATEWAY, other.to_string()),
        })?;
    Ok((agent, events))
}

/// What an agent streams back for one diagnostic.
type DiagEvents = tokio::sync::mpsc::Receiver<deskhand_shared::diag::DiagEvent>;

/// A run's arguments as stored: `--name value` joined by spaces.
fn args_text(req: &RunDiag) -> String {
    req.args
        .iter()
        .map(|(k, v)| format!("--{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Ends a result the agent did not finish in time.
/// A whole run's result from its events, failed when the agent does not
/// finish within [`crate::diag::RUN_TIMEOUT`].
pub(crate) async fn collect_run(events: &mut DiagEvents) -> deskhand_shared::diag::DiagResult {
    let mut result = deskhand_shared::diag::DiagResult::default();
    let collect = async {
        while let Some(event) = events.recv().await {
            if result.absorb(event) {
                break;
            }
        }
    };
    if tokio::time::timeout(crate::diag::RUN_TIMEOUT, collect)
        .await
        .is_err()
    {
        timed_out(&mut result);
    }
    result
}

fn timed_out(result: &mut deskhand_shared::diag::DiagResult) {
    result.ok = false;
    result.error = Some(format!(
        "the agent did not finish within {} s",
        crate::diag::RUN_TIMEOUT.as_secs()
    ));
}

/// Starts a diagnostic (whole, not followed, attached to no ticket) and
/// records it as its rows come in, for a page to show them before the
/// end: the run is stored at once, unfinished; its result is rewritten
/// after each burst of events; it is finished by the agent's end or after
/// [`crate::diag::RUN_TIMEOUT`]. Returns the run's id and the recording
/// task, which ends when the run is finished and stored.
pub(super) async fn start_recorded_diag(
    s: &Shared,
    op: &Authed,
    key: String,
    req: RunDiag,
) -> Result<(i64, tokio::task::JoinHandle<()>), ApiError> {
    if req.follow || req.ticket.is_some() {
        return Err(ApiError::bad_request(
            "a recorded diagnostic is a whole run on its own: drop --follow and --ticket",
        ));
    }
    let started_at = unix_now();
    let (agent, mut events) = open_diag(s, op, key, &req).await?;
    let run = crate::store::DiagRun {
        id: 0,
        agent_id: agent.id,
        args: args_text(&req),
        check: req.check,
        operator: op.0.name.clone(),
        started_at,
        result: Default::default(),
        finished: false,
    };
    let id = s.store.record_diag_run(run).await?;
    let store = s.store.clone();
    let task = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + crate::diag::RUN_TIMEOUT;
        let mut result = deskhand_shared::diag::DiagResult::default();
        let mut done = false;
        while !done {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => {
                    done = result.absorb(event);
                    // What else already came goes into the same write.
                    while !done {
                        match events.try_recv() {
                            Ok(event) => done = result.absorb(event),
                            Err(_) => break,
                        }
                    }
                }
                Ok(None) => {
                    // `diag::start` always ends with a `Done`; this is a
                    // guard, not a path.
                    result.ok = false;
                    result.error = Some("the diagnostic ended without a result".into());
                    done = true;
                }
                Err(_) => {
                    timed_out(&mut result);
                    done = true;
                }
            }
            if let Err(e) = store
                .update_diag_run(id, result.clone(), done, unix_now())
                .await
            {
                tracing::warn!(run = id, error = %e, "storing a diagnostic's rows failed");
            }
        }
    });
    Ok((id, task))
}
