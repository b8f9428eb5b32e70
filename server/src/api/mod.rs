//! The operator HTTP API: JSON under `/api/v1`, bearer tokens with roles.
//!
//! Architecture invariant: only this module knows JSON. Its request and
//! response types are the API's contract; the CLI in [`crate::cli`] uses
//! the same types, so the two cannot drift apart. Errors are
//! `{"error": "..."}` with a fitting status code.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::presence::Presence;

pub mod jobs;
use crate::store::{AgentRecord, Operator, Role, Store, StoreError};
use crate::{rfc3339, secrets, unix_now};
use deskhand_api_types::SortOrder;
pub use deskhand_api_types::assets::{
    AddAsset, AssetCreated, AssetDetail, AssetEdited, AssetQuery, AssetView, CountBy, CountView,
    HistoryQuery, HistoryView, InterfaceView, MatchedPackage, RetireAsset, RetiredView, ShowQuery,
    SoftwareView, StaleView, StatusChanged, StorageView, TOTAL_COUNT,
};
pub use deskhand_api_types::assets::{AssetEdit, AssetSort, AssetStatus, FieldChange};
pub use deskhand_api_types::software::SoftwareSort;
pub mod params;
pub use deskhand_api_types::agents::{AgentView, CreateToken, TokenCreated, TokenView};
pub use deskhand_api_types::changes::{CHANGES_LIMIT, ChangeGroupView, ChangeView, ChangesQuery};
pub use deskhand_api_types::diag::{
    CheckArgView, CheckView, DiagEventView, DiagRunView, DiagTableView, RunDiag,
};
pub use deskhand_api_types::labels::{CreateLabel, LabelAsset, LabelView};
pub use deskhand_api_types::operators::{
    AddOperator, AuditQuery, AuditView, OperatorCreated, OperatorView,
};
pub use deskhand_api_types::server::{DatabaseHealth, ErrorBody, ServerInfo};
pub use deskhand_api_types::software::{SoftwareCountView, SoftwareQuery};
pub use params::parse_filter;
use params::{enum_param, enum_value};

pub mod auth;
pub mod auth_limit;
pub mod body_limit;
pub mod import;
pub mod index;
pub mod reports;
pub mod tickets;
pub use import::{ImportError, ImportReport, ImportRow, parse_import};

pub use auth::Authed;

/// How often a followed diagnostic's stream carries a keep-alive line.
const FOLLOW_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// Largest enrollment token use count.
const MAX_TOKEN_USES: u32 = 1_000_000;
/// Longest enrollment token lifetime: one year.
const MAX_TOKEN_LIFETIME_SECS: u64 = 366 * 86400;

/// What every handler can reach.
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// Live agent sessions.
    pub presence: Arc<Presence>,
    /// The CA fingerprint agents pin.
    pub ca_fingerprint: String,
    /// The agent endpoint address agents should dial, `HOST:PORT`.
    pub agents_endpoint: String,
    /// Published artifacts.
    pub content: Arc<crate::content::ContentStore>,
    /// Ticket SLA targets and escalation.
    pub tickets: crate::tickets::TicketSettings,
    /// Failed authentications per client address.
    pub auth_limit: std::sync::Mutex<auth_limit::AuthLimiter>,
}

type Shared = Arc<ApiState>;

/// The API router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1", get(index::list))
        .route("/api/v1/server", get(server_info))
        .route("/api/v1/health", get(health))
        .route("/api/v1/agents", get(list_agents))
        .route("/api/v1/agents/{key}", get(show_agent))
        .route("/api/v1/agents/{key}/revoke", post(revoke_agent))
        .route(
            "/api/v1/enrollment-tokens",
            get(list_tokens).post(create_token),
        )
        .route("/api/v1/operators", get(list_operators).post(add_operator))
        .route("/api/v1/operators/{name}", delete(remove_operator))
        .route("/api/v1/audit", get(list_audit))
        .route("/api/v1/diag/checks", get(diag_checks))
        .route("/api/v1/diag/runs/{id}", get(diag_run))
        .route("/api/v1/agents/{key}/diag", post(run_diag))
        .route("/api/v1/assets", get(list_assets).post(add_asset))
        .route("/api/v1/assets/{key}", get(show_asset).patch(edit_asset))
        .route("/api/v1/assets/{key}/history", get(asset_history))
        .route("/api/v1/assets/{key}/refresh", post(refresh_asset))
        .route("/api/v1/assets/{key}/retire", post(retire_asset))
        .route("/api/v1/assets/{key}/restore", post(restore_asset))
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/changes/summary", get(change_summary))
        .route("/api/v1/asset-counts/{by}", get(count_assets))
        .route("/api/v1/software", get(list_software))
        .route("/api/v1/labels", get(list_labels).post(create_label))
        .route("/api/v1/labels/{name}", delete(delete_label))
        .route("/api/v1/assets/{key}/labels", post(label_asset))
        .route("/api/v1/assets/{key}/labels/{label}", delete(unlabel_asset))
        .merge(jobs::routes())
        .merge(tickets::routes())
        .merge(reports::routes())
        .merge(import::routes())
        .fallback(|| async { ApiError::not_found("no such API endpoint; GET /api/v1 lists them") })
        .layer(axum::extract::DefaultBodyLimit::max(
            body_limit::DEFAULT_BODY_LIMIT,
        ))
        .layer(axum::middleware::from_fn(body_limit::answer_oversized))
        .with_state(state)
}

// ---- errors ---------------------------------------------------------------

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    /// With a `Retry-After` header of `secs`.
    fn retry_after(self, secs: u64) -> Self {
        Self {
            retry_after: Some(secs),
            ..self
        }
    }
    fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    /// The server's own failure: logged, and the client told where to look.
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use rusqlite::ErrorCode;
        // The server's own state, which an operator can mend: said, not
        // left as an internal error.
        let unavailable = e.is_environmental().then(|| match e.sqlite_code() {
            Some(ErrorCode::DiskFull) => {
                "the server's disk is full: nothing new is stored until there is room \
                 (GET /api/v1/health says when writes work again)"
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                "the server's database is damaged: stop the server and restore a copy made by \
                 `deskhand backup` (the server log has SQLite's words)"
            }
            _ => {
                "the server could not read or write its database (an I/O error, a read-only or \
                 busy file); see the server log"
            }
        });
        match (e, unavailable) {
            (e, Some(what)) => {
                tracing::error!(error = %e, "API request failed");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, what)
            }
            (StoreError::NotFound(m), None) => Self::not_found(m),
            (StoreError::Refused(m), None) => Self::new(StatusCode::CONFLICT, m),
            (other, None) => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A JSON array, each item made as it is written, into a buffer sized for
/// `bytes_each` per item. For the long lists (10,000 assets are 3.7 MB of
/// JSON): axum's `Json` takes a whole `Vec` of views, made first, and
/// writes into a buffer that starts at 128 bytes and doubles, copying
/// what it has each time and faulting in fresh pages.
fn json_list<T: Serialize>(
    items: impl ExactSizeIterator<Item = T>,
    bytes_each: usize,
) -> Result<Response, ApiError> {
    use serde::Serializer as _;
    let mut body = Vec::with_capacity(items.len().saturating_mul(bytes_each).saturating_add(2));
    serde_json::Serializer::new(&mut body)
        .collect_seq(items)
        .map_err(ApiError::internal)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

// ---- server -----------------------------------------------------------------

impl From<crate::store::WriteHealth> for DatabaseHealth {
    fn from(h: crate::store::WriteHealth) -> Self {
        DatabaseHealth {
            writes: if h.failing_since.is_some() {
                "failing"
            } else {
                "ok"
            }
            .into(),
            failing_since: h.failing_since.map(rfc3339),
            error: h.error,
        }
    }
}

async fn server_info(State(s): State<Shared>, Authed(op): Authed) -> ApiResult<ServerInfo> {
    Ok(Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        ca_fingerprint: s.ca_fingerprint.clone(),
        agents_endpoint: s.agents_endpoint.clone(),
        agents_online: s.presence.online_count(),
        operator: op.name,
        database: s.store.write_health(unix_now()).into(),
    }))
}

/// `GET /api/v1/health`, without a token, for monitoring: 200 while the
/// database takes writes, 503 while it refuses them (a refusal in the
/// last minute). What SQLite said is in the server's log and in
/// `GET /api/v1/server`, not here.
async fn health(State(s): State<Shared>) -> (StatusCode, Json<serde_json::Value>) {
    match s.store.write_health(unix_now()).failing_since {
        None => (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))),
        Some(since) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "failing",
                "reason": "the database refuses writes; see the server log",
                "since": rfc3339(since),
            })),
        ),
    }
}

// ---- agents -----------------------------------------------------------------

fn agent_view(a: AgentRecord, presence: &Presence) -> AgentView {
    let live = presence.status(&a.id);
    let last_seen = live.as_ref().map(|l| l.0).max(a.last_seen);
    AgentView {
        os: format!("{} {}", a.os_name, a.os_version).trim().to_string(),
        online: live.is_some(),
        last_seen: last_seen.map(rfc3339),
        enrolled_at: rfc3339(a.enrolled_at),
        cert_expires_at: rfc3339(a.cert_not_after),
        revoked_at: a.revoked_at.map(rfc3339),
        id: a.id,
        hostname: a.hostname,
        kernel: a.kernel_version,
        arch: a.arch,
        agent_version: a.agent_version,
        last_addr: live.map(|l| l.1).or(a.last_addr),
    }
}

async fn list_agents(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<AgentView>> {
    let agents = s.store.list_agents().await?;
    Ok(Json(
        agents
            .into_iter()
            .map(|a| agent_view(a, &s.presence))
            .collect(),
    ))
}

async fn show_agent(
    State(s): State<Shared>,
    _: Authed,
    Path(key): Path<String>,
) -> ApiResult<AgentView> {
    let a = s.store.find_agent(key).await?;
    Ok(Json(agent_view(a, &s.presence)))
}

async fn revoke_agent(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
) -> ApiResult<AgentView> {
    op.require(Role::Admin)?;
    let a = s.store.find_agent(key).await?;
    s.store
        .revoke_agent(a.id.clone(), op.0.name.clone(), unix_now())
        .await?;
    s.presence.revoke(&a.id);
    tracing::info!(agent_id = %a.id, operator = %op.0.name, "agent revoked");
    let a = s.store.find_agent(a.id).await?;
    Ok(Json(agent_view(a, &s.presence)))
}

// ---- enrollment tokens ------------------------------------------------------

async fn create_token(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateToken>,
) -> ApiResult<TokenCreated> {
    op.require(Role::Admin)?;
    crate::text::check("the token's label", &req.label, crate::text::Shape::Line)
        .map_err(ApiError::bad_request)?;
    if req.uses == 0 || req.uses > MAX_TOKEN_USES {
        return Err(ApiError::bad_request(format!(
            "uses must be between 1 and {MAX_TOKEN_USES}"
        )));
    }
    if req.expires_in_secs == 0 || req.expires_in_secs > MAX_TOKEN_LIFETIME_SECS {
        return Err(ApiError::bad_request(
            "expiry must be between 1 second and 366 days",
        ));
    }
    let token = secrets::new_token(secrets::ENROLLMENT_PREFIX)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let now = unix_now();
    let expires_at = now.saturating_add(i64::try_from(req.expires_in_secs).unwrap_or(i64::MAX));
    let row = s
        .store
        .create_enrollment_token(
            secrets::hash_token(&token),
            req.label,
            req.uses.into(),
            expires_at,
            op.0.name,
            now,
        )
        .await?;
    Ok(Json(TokenCreated {
        enroll_command: format!(
            "deskhand-agent enroll --server {} --token {} --ca-fingerprint {}",
            s.agents_endpoint, token, s.ca_fingerprint
        ),
        install_command: format!(
            "sudo sh install-agent.sh --server {} --token {} --ca-fingerprint {}",
            s.agents_endpoint, token, s.ca_fingerprint
        ),
        install_command_windows: format!(
            "powershell -ExecutionPolicy Bypass -File install-agent.ps1 -Server {} -Token {} -CaFingerprint {}",
            s.agents_endpoint, token, s.ca_fingerprint
        ),
        token,
        id: row.id,
        uses: row.uses_total,
        expires_at: rfc3339(expires_at),
        ca_fingerprint: s.ca_fingerprint.clone(),
        server: s.agents_endpoint.clone(),
    }))
}

async fn list_tokens(State(s): State<Shared>, op: Authed) -> ApiResult<Vec<TokenView>> {
    op.require(Role::Admin)?;
    let now = unix_now();
    let rows = s.store.list_enrollment_tokens().await?;
    Ok(Json(
        rows.into_iter()
            .map(|t| TokenView {
                id: t.id,
                label: t.label,
                uses_total: t.uses_total,
                uses_left: t.uses_left,
                expires_at: rfc3339(t.expires_at),
                expired: t.expires_at <= now,
                created_by: t.created_by,
            })
            .collect(),
    ))
}

// ---- operators --------------------------------------------------------------

fn operator_view(o: Operator) -> OperatorView {
    OperatorView {
        name: o.name,
        role: o.role.as_str().into(),
        created_at: rfc3339(o.created_at),
    }
}

async fn add_operator(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<AddOperator>,
) -> ApiResult<OperatorCreated> {
    op.require(Role::Admin)?;
    crate::text::check_operator_name(&req.name).map_err(ApiError::bad_request)?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown role `{}`: use admin, technician or viewer",
            req.role
        ))
    })?;
    let token = secrets::new_token(secrets::OPERATOR_PREFIX)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let created = s
        .store
        .add_operator(
            req.name,
            role,
            secrets::hash_token(&token),
            op.0.name,
            unix_now(),
        )
        .await?;
    Ok(Json(OperatorCreated {
        name: created.name,
        role: created.role.as_str().into(),
        token,
    }))
}

async fn list_operators(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<OperatorView>> {
    let ops = s.store.list_operators().await?;
    Ok(Json(ops.into_iter().map(operator_view).collect()))
}

async fn remove_operator(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Admin)?;
    s.store.remove_operator(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- audit ------------------------------------------------------------------

async fn list_audit(
    State(s): State<Shared>,
    op: Authed,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Vec<AuditView>> {
    op.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let rows = s.store.list_audit(limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| AuditView {
                at: rfc3339(e.at),
                operator: e.operator,
                action: e.action,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
    ))
}

// ---- diagnostics --------------------------------------------------------------

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

fn diag_run_view(r: crate::store::DiagRun) -> DiagRunView {
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
    }
}

async fn diag_run(
    State(s): State<Shared>,
    _: Authed,
    Path(id): Path<i64>,
) -> ApiResult<DiagRunView> {
    Ok(Json(diag_run_view(s.store.get_diag_run(id).await?)))
}

async fn run_diag(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<RunDiag>,
) -> Result<Response, ApiError> {
    use deskhand_shared::diag::{DiagEvent, DiagRequest, DiagResult};
    op.require(Role::Technician)?;
    let agent = s.store.find_agent(key).await?;
    let request = DiagRequest {
        check: req.check.clone(),
        args: req.args.clone(),
        follow: req.follow,
    };
    deskhand_shared::diag::catalog::validate(&request).map_err(ApiError::bad_request)?;
    if let Some(ticket) = req.ticket {
        if req.follow {
            return Err(ApiError::bad_request(
                "--ticket attaches a finished result; drop --follow",
            ));
        }
        tickets::check_attachable(&s, ticket).await?;
    }
    let conn = s.presence.connection(&agent.id).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "agent {} ({}) is offline; live diagnostics need it connected",
                agent.id, agent.hostname
            ),
        )
    })?;
    let started_at = unix_now();
    let mut events = crate::diag::start(&conn, request)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, format!("{e:#}")))?;
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
    let mut result = DiagResult::default();
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
        result.ok = false;
        result.error = Some(format!(
            "the agent did not finish within {} s",
            crate::diag::RUN_TIMEOUT.as_secs()
        ));
    }
    let args = req
        .args
        .iter()
        .map(|(k, v)| format!("--{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let run = crate::store::DiagRun {
        id: 0,
        agent_id: agent.id,
        check: req.check,
        args,
        operator: op.0.name,
        started_at,
        result,
    };
    let id = s.store.record_diag_run(run.clone()).await?;
    let run = crate::store::DiagRun { id, ..run };
    if let Some(ticket) = req.ticket {
        tickets::attach_diag(&s, ticket, &run, run.operator.clone()).await?;
    }
    Ok(Json(diag_run_view(run)).into_response())
}

// ---- assets and software ------------------------------------------------------

/// How far back an asset's page (and a ticket's linked assets) list its
/// changes.
const CHANGES_WINDOW_SECS: i64 = 7 * 86400;
/// Most changes listed there.
const MAX_CHANGES_SHOWN: usize = 100;

/// An asset's changes in the last 7 days, newest first, at most 100 of
/// them, and how many there were.
async fn recent_changes(
    store: &Store,
    asset_id: &str,
    now: i64,
) -> Result<(Vec<HistoryView>, usize), ApiError> {
    let recent = store
        .asset_history(asset_id.to_string(), now - CHANGES_WINDOW_SECS, None)
        .await?;
    let total = recent.len();
    let shown = recent
        .into_iter()
        .take(MAX_CHANGES_SHOWN)
        .map(history_view)
        .collect();
    Ok((shown, total))
}

fn duration_secs(what: &str, text: &Option<String>) -> Result<Option<i64>, ApiError> {
    text.as_deref()
        .map(|t| {
            humantime::parse_duration(t)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "{what}: `{}` is not a duration such as 30m, 12h, 7d or 2w",
                        crate::said(t)
                    ))
                })
        })
        .transpose()
}

/// A point in time as operators write it: a duration back from `now`
/// (`7d`, `12h`); a day by name, its midnight (UTC): `today`,
/// `yesterday`, or a weekday (`tuesday`, `tue`: the latest one, today
/// if it is that day); or a UTC date or time as report bounds are
/// written (`2026-11-24`, its midnight; `2026-11-24T09:00`).
pub fn point_in_time(what: &str, text: Option<&str>, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(Some(
            now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        ));
    }
    if let Some(days_back) = days_back(t, now) {
        let midnight =
            crate::tickets::report::period_start(crate::tickets::report::Period::Daily, now);
        return Ok(Some(midnight - days_back * 86_400));
    }
    crate::tickets::report::parse_day(t).map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "{what}: `{}` is neither a duration back from now (30m, 12h, 7d, 2w), a day (today, yesterday, tuesday) nor a UTC date or time (2026-11-24, 2026-11-24T09:00)",
            crate::said(t)
        ))
    })
}

/// How many days before `now`'s (UTC) day the day named `name` is:
/// `today`, `yesterday`, or the latest of a weekday.
fn days_back(name: &str, now: i64) -> Option<i64> {
    const WEEK: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "today" => return Some(0),
        "yesterday" => return Some(1),
        _ => {}
    }
    let wanted = WEEK
        .iter()
        .position(|d| name.len() >= 3 && d.starts_with(&name))?;
    let today = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()?
        .weekday()
        .number_days_from_monday();
    Some((i64::from(today) - wanted as i64).rem_euclid(7))
}

/// The list form of an asset; takes the row, whose strings it keeps.
fn asset_view(a: crate::store::AssetRow, presence: &Presence) -> AssetView {
    let live = presence.status(&a.id);
    AssetView {
        os: count_value(CountBy::Os, &a),
        model: count_value(CountBy::Model, &a),
        online: live.is_some(),
        last_seen: live.map(|l| l.0).max(a.last_seen).map(rfc3339),
        last_inventory_at: rfc3339(a.last_inventory_at),
        retired: a.retired.map(|r| RetiredView {
            at: rfc3339(r.at),
            by: r.by,
            reason: r.reason,
        }),
        id: a.id,
        kind: a.kind,
        location: a.location,
        hostname: a.hostname,
        serial: a.serial,
        user: a.user,
        ipv4: a.ipv4,
        memory_bytes: a.memory_bytes,
        software_count: a.software_count,
        warranty_until: a.warranty_until,
        matched_software: Vec::new(),
    }
}

/// Whether a list's `order` asks for largest, latest or last first.
fn descending(order: Option<&str>) -> Result<bool, ApiError> {
    Ok(enum_param::<SortOrder>("order", order)? == SortOrder::Desc)
}

/// The order a query asks for.
fn asset_order(q: &AssetQuery) -> Result<crate::store::AssetOrder, ApiError> {
    Ok(crate::store::AssetOrder {
        by: enum_param::<AssetSort>("sort", q.sort.as_deref())?.into(),
        descending: descending(q.order.as_deref())?,
    })
}

/// The store filter for a query, without its label.
async fn store_filter(
    store: &Store,
    q: &AssetQuery,
) -> Result<crate::store::AssetFilter, ApiError> {
    Ok(store_filter_matching(store, q).await?.0)
}

/// `store_filter`, and the catalog rows its software filter matched
/// (none without one), each with its name and version.
async fn store_filter_matching(
    store: &Store,
    q: &AssetQuery,
) -> Result<(crate::store::AssetFilter, Vec<(i64, MatchedPackage)>), ApiError> {
    let mut filter = crate::store::AssetFilter {
        static_label: None,
        search: filter_text("search", &q.search)?,
        os: filter_text("os", &q.os)?,
        model: filter_text("model", &q.model)?,
        seen_within: duration_secs("seen_within", &q.seen_within)?,
        not_seen_for: duration_secs("not_seen_for", &q.not_seen_for)?,
        software_ids: None,
        warranty_ends_within: duration_secs("warranty_ends_within", &q.warranty_ends_within)?,
        out_of_warranty: match q.out_of_warranty.as_deref() {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "out_of_warranty is true or false, not `{}`",
                    crate::said(other)
                )));
            }
        },
        status: enum_param::<AssetStatus>("status", q.status.as_deref())?.into(),
        order: asset_order(q)?,
    };
    let mut matched = Vec::new();
    if let Some(spec) = filter_text("software", &q.software)? {
        matched = software_matches(store, &spec).await?;
        filter.software_ids = Some(matched.iter().map(|(id, _)| *id).collect());
    }
    Ok((filter, matched))
}

/// The longest text a filter takes (search, OS, model, software name):
/// far past any real value, and well inside SQLite's limit on a LIKE
/// pattern (50,000 bytes), past which a query fails.
const MAX_FILTER_TEXT: usize = 1_000;

/// A filter's text: none if empty; refused if longer than any real
/// value, blank, or holding a character [`crate::text`] refuses (a NUL
/// once made a filter that matched every asset).
fn filter_text(what: &str, text: &Option<String>) -> Result<Option<String>, ApiError> {
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) if t.len() > MAX_FILTER_TEXT => Err(ApiError::bad_request(format!(
            "{what} is at most {MAX_FILTER_TEXT} bytes long, not {}",
            t.len()
        ))),
        Some(t) => {
            crate::text::check_required(what, t, crate::text::Shape::Line)
                .map_err(ApiError::bad_request)?;
            Ok(Some(t.to_string()))
        }
    }
}

/// A label named in a query: none if empty, refused as [`filter_text`]
/// refuses.
fn label_param(label: Option<&str>) -> Result<Option<&str>, ApiError> {
    match label {
        None | Some("") => Ok(None),
        Some(l) => {
            crate::text::check_required("label", l, crate::text::Shape::Line)
                .map_err(ApiError::bad_request)?;
            Ok(Some(l))
        }
    }
}

/// The assets a query selects; a dynamic label's filter is evaluated
/// now, against the latest inventories.
pub async fn asset_rows(
    store: &Store,
    q: &AssetQuery,
) -> Result<Vec<crate::store::AssetRow>, ApiError> {
    Ok(asset_rows_matching(store, q).await?.0)
}

/// `asset_rows`, and the catalog rows the query's software filter matched.
async fn asset_rows_matching(
    store: &Store,
    q: &AssetQuery,
) -> Result<(Vec<crate::store::AssetRow>, Vec<(i64, MatchedPackage)>), ApiError> {
    let now = unix_now();
    let (mut filter, mut matched) = store_filter_matching(store, q).await?;
    let Some(name) = label_param(q.label.as_deref())? else {
        return Ok((store.list_assets(filter, now).await?, matched));
    };
    let label = store.get_label(name.to_string()).await?;
    let rows = match &label.filter {
        None => {
            filter.static_label = Some(label.name);
            store.list_assets(filter, now).await?
        }
        Some(text) => {
            let (members, label_matched) =
                dynamic_members_matching(store, &label.name, text).await?;
            // The label's software filter says what its members have of
            // it, as the query's own would.
            for found in label_matched {
                if !matched.iter().any(|(id, _)| *id == found.0) {
                    matched.push(found);
                }
            }
            let rows = store.list_assets(filter, now).await?;
            rows.into_iter()
                .filter(|a| members.contains(&a.id))
                .collect()
        }
    };
    Ok((rows, matched))
}

async fn list_assets(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<AssetQuery>,
) -> Result<Response, ApiError> {
    let (mut rows, found) = asset_rows_matching(&s.store, &q).await?;
    let order = asset_order(&q)?;
    if order.by == crate::store::AssetSort::LastSeen {
        // Sorted by what the list shows: a connected agent's live time,
        // newer than the stored one until the next flush.
        s.presence.freshen_last_seen(&mut rows);
        crate::store::sort_assets(&mut rows, order);
    }
    let total = rows.len();
    let page: Vec<crate::store::AssetRow> = rows
        .into_iter()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .collect();
    // With a software filter, the packages each asset has of it: what a
    // technician checks next (which openssl, on which machine).
    let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
    let package: std::collections::HashMap<i64, &MatchedPackage> =
        found.iter().map(|(id, p)| (*id, p)).collect();
    let nums: Vec<Option<u32>> = page.iter().map(|a| a.num).collect();
    let mut matched = s.store.holding(&nums, &ids).into_iter().map(|held| {
        held.iter()
            .filter_map(|id| Some((*package.get(id)?).clone()))
            .collect::<Vec<_>>()
    });
    let views = page.into_iter().map(|a| AssetView {
        matched_software: matched.next().unwrap_or_default(),
        ..asset_view(a, &s.presence)
    });
    Ok(with_total(json_list(views, 400)?, total))
}

/// A list answer with the `X-Total-Count` header.
fn with_total(mut resp: Response, total: usize) -> Response {
    resp.headers_mut()
        .insert(TOTAL_COUNT, axum::http::HeaderValue::from(total));
    resp
}

/// The most catalog rows a `*` in a software name may match: enough for
/// `*openssl*` over a fleet, and a bound on what a list asks of the index
/// per asset (`Store::holding`).
const MAX_WILDCARD_MATCHES: usize = 1_000;

/// Catalog rows matching `NAME[@CONSTRAINT]`, each version compared the
/// way its own package system orders versions; each with its name and
/// version.
async fn software_matches(
    store: &Store,
    spec: &str,
) -> Result<Vec<(i64, MatchedPackage)>, ApiError> {
    let (name, constraint) = match spec.split_once('@') {
        Some((n, c)) => (
            n.trim().to_string(),
            Some(crate::version::Constraint::parse(c).map_err(ApiError::bad_request)?),
        ),
        None => (spec.trim().to_string(), None),
    };
    if name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "`{}` names no package: write NAME or NAME@CONSTRAINT, e.g. openssl@<3.0.13",
            crate::said(spec)
        )));
    }
    let wildcard = name.contains('*');
    let versions = store.software_versions(name).await?;
    let matched: Vec<(i64, MatchedPackage)> = versions
        .into_iter()
        .filter(|(_, _, v, src)| {
            constraint
                .as_ref()
                .is_none_or(|c| c.matches(crate::version::Scheme::for_source(src), v))
        })
        .map(|(id, name, version, _)| (id, MatchedPackage { name, version }))
        .collect();
    if wildcard && matched.len() > MAX_WILDCARD_MATCHES {
        return Err(ApiError::bad_request(format!(
            "`{}` matches {} packages (names and versions); narrow it to at most {MAX_WILDCARD_MATCHES}",
            crate::said(spec),
            matched.len()
        )));
    }
    Ok(matched)
}

fn software_view(r: crate::inventory::SoftwareRow) -> SoftwareView {
    SoftwareView {
        install_date: r.install_date.map(rfc3339),
        name: r.name,
        version: r.version,
        vendor: r.vendor,
        source: r.source,
        arch: r.arch,
    }
}

async fn show_asset(
    State(s): State<Shared>,
    _: Authed,
    Path(key): Path<String>,
    Query(q): Query<ShowQuery>,
) -> ApiResult<AssetDetail> {
    let a = s.store.find_asset(key).await?;
    let mut software = s.store.asset_software(a.id.clone()).await?;
    if let Some(text) = q.software.filter(|t| !t.is_empty()) {
        let text = text.to_lowercase();
        software.retain(|p| p.name.to_lowercase().contains(&text));
    }
    let inv = s
        .store
        .stored_inventory(a.id.clone())
        .await?
        .and_then(|(b, _)| deskhand_shared::inventory::Inventory::from_wire(&b).ok())
        .unwrap_or_default();
    let (changed_last_7_days, changes_last_7_days_total) =
        recent_changes(&s.store, &a.id, unix_now()).await?;
    Ok(Json(AssetDetail {
        asset: asset_view(a.clone(), &s.presence),
        notes: a.notes,
        fqdn: a.fqdn,
        kernel: a.kernel,
        arch: a.arch,
        cpu_model: a.cpu_model,
        cpu_cores: a.cpu_cores,
        system_uuid: a.system_uuid,
        macs: a.macs,
        first_inventory_at: rfc3339(a.first_inventory_at),
        inventory_hash: a.inventory_hash,
        last_report_bytes: a.last_report_bytes,
        interfaces: inv
            .interfaces
            .iter()
            .map(|i| InterfaceView {
                name: i.name.clone(),
                mac: i.mac.clone(),
                addresses: i.ipv4.iter().chain(&i.ipv6).cloned().collect(),
                state: i.state.clone(),
            })
            .collect(),
        disks: inv
            .disks
            .iter()
            .map(|d| StorageView {
                name: d.name.clone(),
                kind: d.model.clone().unwrap_or_default(),
                size_bytes: d.size_bytes,
                free_bytes: None,
            })
            .collect(),
        volumes: inv
            .volumes
            .iter()
            .map(|v| StorageView {
                name: v.mount_point.clone(),
                kind: v.fs_type.clone().unwrap_or_default(),
                size_bytes: v.size_bytes,
                // Free space is volatile: the disk-usage diagnostic has it live.
                free_bytes: None,
            })
            .collect(),
        labels: labels_of(&s.store, &a.id).await?,
        tickets: tickets::asset_tickets(&s, &a.id).await?,
        software: software.into_iter().map(software_view).collect(),
        changed_last_7_days,
        changes_last_7_days_total,
        stale: s
            .store
            .asset_stale(a.id.clone())
            .await?
            .into_iter()
            .map(|c| StaleView {
                category: c.category,
                since: rfc3339(c.since),
                reason: c.reason,
            })
            .collect(),
    }))
}

/// An asset's static labels and the dynamic labels whose filter it matches.
async fn labels_of(store: &Store, asset_id: &str) -> Result<Vec<String>, ApiError> {
    let mut names = store.static_labels_of(asset_id.to_string()).await?;
    for label in store.list_labels().await? {
        let Some(text) = &label.filter else { continue };
        // A label whose filter no longer evaluates (stored by an older
        // version that accepted it) must not hide the asset: it is left
        // out, and `assets list --label` says what is wrong with it.
        match dynamic_members(store, &label.name, text).await {
            Ok(members) if members.contains(asset_id) => names.push(label.name),
            Ok(_) => {}
            Err(e) => pass_over(&label.name, e)?,
        }
    }
    names.sort();
    Ok(names)
}

/// Where labels are listed, a dynamic label whose filter no longer
/// evaluates is logged and passed over; any other error stands.
fn pass_over(label: &str, e: ApiError) -> Result<(), ApiError> {
    if e.status != StatusCode::BAD_REQUEST {
        return Err(e);
    }
    tracing::warn!(%label, error = %e.message, "a dynamic label's filter does not evaluate");
    Ok(())
}

/// The ids of the assets a dynamic label's filter selects now.
async fn dynamic_members(
    store: &Store,
    label: &str,
    filter: &str,
) -> Result<std::collections::HashSet<String>, ApiError> {
    Ok(dynamic_members_matching(store, label, filter).await?.0)
}

/// `dynamic_members`, and the catalog rows the label's software filter
/// matched (none without one).
async fn dynamic_members_matching(
    store: &Store,
    label: &str,
    filter: &str,
) -> Result<
    (
        std::collections::HashSet<String>,
        Vec<(i64, MatchedPackage)>,
    ),
    ApiError,
> {
    let broken = |e: String| {
        ApiError::bad_request(format!(
            "label `{label}`: its filter `{}` does not evaluate ({e}); delete the label and create it again",
            crate::said(filter)
        ))
    };
    let mut q = parse_filter(filter).map_err(broken)?;
    // The query that uses the label says which assets it wants; the label
    // narrows them only if its own filter names a status.
    q.status.get_or_insert_with(|| "all".into());
    let (f, matched) = match store_filter_matching(store, &q).await {
        Ok(found) => found,
        Err(e) if e.status == StatusCode::BAD_REQUEST => return Err(broken(e.message)),
        Err(e) => return Err(e),
    };
    let members = store
        .list_assets(f, unix_now())
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    Ok((members, matched))
}

/// The store's form of a changes query: times resolved against `now`,
/// the label resolved to its assets.
async fn change_query(
    store: &Store,
    q: &ChangesQuery,
    now: i64,
) -> Result<crate::store::ChangeQuery, ApiError> {
    let category = history_category(q.category.clone())?;
    let since = point_in_time("since", q.since.as_deref(), now)?.unwrap_or(now - 86_400);
    let until = point_in_time("until", q.until.as_deref(), now)?;
    if let Some(until) = until
        && until <= since
    {
        return Err(ApiError::bad_request(format!(
            "until ({}) is not after since ({})",
            rfc3339(until),
            rfc3339(since)
        )));
    }
    let assets = match label_param(q.label.as_deref())? {
        None => None,
        Some(label) => {
            let scope = AssetQuery {
                label: Some(label.to_string()),
                status: Some("all".into()),
                ..AssetQuery::default()
            };
            let rows = asset_rows(store, &scope).await?;
            Some(rows.into_iter().map(|a| a.id).collect())
        }
    };
    Ok(crate::store::ChangeQuery {
        since,
        until,
        category,
        item: filter_text("item", &q.item)?,
        assets,
    })
}

async fn list_changes(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let query = change_query(&s.store, &q, unix_now()).await?;
    let rows = s
        .store
        .changes(query, q.limit.unwrap_or(CHANGES_LIMIT))
        .await?;
    let views = rows.into_iter().map(|c| ChangeView {
        asset_id: c.asset_id,
        hostname: c.hostname,
        event: history_view((c.at, c.event)),
    });
    json_list(views, 200)
}

async fn change_summary(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    if q.limit.is_some() {
        return Err(ApiError::bad_request(
            "a summary has no limit: it counts every change in the window",
        ));
    }
    let query = change_query(&s.store, &q, unix_now()).await?;
    let groups = s.store.change_summary(query).await?;
    json_list(groups.into_iter().map(change_group_view), 160)
}

fn change_group_view(g: crate::store::ChangeGroup) -> ChangeGroupView {
    ChangeGroupView {
        category: g.event.category,
        item: g.event.item,
        change: g.event.change,
        old_value: g.event.old_value,
        new_value: g.event.new_value,
        assets: g.assets,
        first_at: rfc3339(g.first_at),
        last_at: rfc3339(g.last_at),
    }
}

async fn asset_history(
    State(s): State<Shared>,
    _: Authed,
    Path(key): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Vec<HistoryView>> {
    let category = history_category(q.category)?;
    let a = s.store.find_asset(key).await?;
    let since = point_in_time("since", q.since.as_deref(), unix_now())?.unwrap_or(0);
    let rows = s.store.asset_history(a.id, since, category).await?;
    Ok(Json(rows.into_iter().map(history_view).collect()))
}

/// A category to filter history by: one of `inventory::CATEGORIES`.
fn history_category(category: Option<String>) -> Result<Option<String>, ApiError> {
    match category.filter(|c| !c.is_empty()) {
        Some(c) if !crate::inventory::CATEGORIES.contains(&c.as_str()) => {
            Err(ApiError::bad_request(format!(
                "unknown history category `{}`: use one of {}",
                crate::said(&c),
                crate::inventory::CATEGORIES.join(", ")
            )))
        }
        c => Ok(c),
    }
}

fn history_view((at, e): (i64, crate::inventory::AssetEvent)) -> HistoryView {
    HistoryView {
        at: rfc3339(at),
        category: e.category,
        item: e.item,
        change: e.change,
        old_value: e.old_value,
        new_value: e.new_value,
    }
}

async fn refresh_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let a = s.store.find_asset(key).await?;
    if a.kind != "computer" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{} ({}) was entered by hand and has no agent to ask",
                a.hostname, a.kind
            ),
        ));
    }
    if s.presence.send_control(
        &a.id,
        deskhand_shared::proto::ServerMessage::InventoryRequest { full: false },
    ) {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "asset {} ({}) is offline; it reports when it reconnects",
                a.id, a.hostname
            ),
        ))
    }
}

/// `x y` without spaces at either end, either part possibly empty (as
/// `format!("{x} {y}").trim()`, with one allocation: lists call it twice
/// per asset).
fn join(x: &str, y: &str) -> String {
    let (x, y) = (x.trim_start(), y.trim_end());
    match (x.is_empty(), y.is_empty()) {
        (true, _) => y.trim_start().to_string(),
        (false, true) => x.trim_end().to_string(),
        (false, false) => [x, y].join(" "),
    }
}

/// The asset's value of the field `by`, as lists show it.
fn count_value(by: CountBy, a: &crate::store::AssetRow) -> String {
    match by {
        CountBy::Model => join(&a.manufacturer, &a.model),
        CountBy::Manufacturer => a.manufacturer.clone(),
        CountBy::Os => join(&a.os_name, &a.os_version),
        CountBy::Kind => a.kind.clone(),
        CountBy::Location => a.location.clone(),
    }
}

/// `GET /api/v1/asset-counts/{by}?FILTERS`: the assets a list with the
/// same filters would give, counted by model, OS, ...; most first.
async fn count_assets(
    State(s): State<Shared>,
    _: Authed,
    Path(by): Path<String>,
    Query(q): Query<AssetQuery>,
) -> ApiResult<Vec<CountView>> {
    let by: CountBy = enum_value("grouping", &by)?;
    if q.sort.is_some() || q.order.is_some() || q.limit.is_some() || q.offset.is_some() {
        return Err(ApiError::bad_request(
            "sort, order, limit and offset are for lists; counts take the filters only",
        ));
    }
    Ok(Json(count_by(by, &asset_rows(&s.store, &q).await?)))
}

/// `rows` counted by one field, most first.
fn count_by(by: CountBy, rows: &[crate::store::AssetRow]) -> Vec<CountView> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for a in rows {
        *counts.entry(count_value(by, a)).or_default() += 1;
    }
    let mut out: Vec<CountView> = counts
        .into_iter()
        .map(|(value, assets)| CountView { value, assets })
        .collect();
    out.sort_by(|a, b| b.assets.cmp(&a.assets).then_with(|| a.value.cmp(&b.value)));
    out
}

async fn list_software(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<SoftwareQuery>,
) -> Result<Response, ApiError> {
    let order = crate::store::SoftwareOrder {
        by: enum_param::<SoftwareSort>("sort", q.sort.as_deref())?.into(),
        descending: descending(q.order.as_deref())?,
    };
    let (rows, total) = s
        .store
        .software_page(
            filter_text("name", &q.name)?,
            order,
            q.offset.unwrap_or(0),
            q.limit,
        )
        .await?;
    let views = rows.into_iter().map(|(r, n)| SoftwareCountView {
        name: r.name,
        version: r.version,
        vendor: r.vendor,
        source: r.source,
        arch: r.arch,
        assets: n,
    });
    Ok(with_total(json_list(views, 120)?, total))
}

// ---- labels -------------------------------------------------------------------

async fn create_label(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateLabel>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    crate::text::check_required("the label name", &req.name, crate::text::Shape::Line)
        .map_err(ApiError::bad_request)?;
    if req.name.is_empty()
        || req.name.len() > 64
        || req.name.contains(char::is_whitespace)
        || req.name.contains(':')
    {
        return Err(ApiError::bad_request(
            "a label name is 1 to 64 characters without spaces or `:`",
        ));
    }
    if let Some(f) = &req.filter {
        // Check the filter now, so a typo fails here and not at use.
        let q = parse_filter(f).map_err(ApiError::bad_request)?;
        store_filter(&s.store, &q).await?;
    }
    s.store
        .create_label(req.name, req.filter, op.0.name, unix_now())
        .await?;
    Ok(StatusCode::CREATED)
}

async fn delete_label(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store.delete_label(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_labels(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<LabelView>> {
    let mut out = Vec::new();
    for l in s.store.list_labels().await? {
        let q = AssetQuery {
            label: Some(l.name.clone()),
            ..AssetQuery::default()
        };
        // A dynamic label whose filter no longer evaluates is listed
        // (so it can be seen and deleted) with no assets.
        let assets = match asset_rows(&s.store, &q).await {
            Ok(rows) => rows.len(),
            Err(e) => {
                pass_over(&l.name, e)?;
                0
            }
        };
        out.push(LabelView {
            kind: if l.filter.is_some() {
                "dynamic"
            } else {
                "static"
            }
            .into(),
            name: l.name,
            filter: l.filter,
            assets,
            created_by: l.created_by,
        });
    }
    Ok(Json(out))
}

async fn label_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<LabelAsset>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let a = s.store.find_asset(key).await?;
    s.store
        .set_label(a.id, req.label, true, op.0.name, unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unlabel_asset(
    State(s): State<Shared>,
    op: Authed,
    Path((key, label)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let a = s.store.find_asset(key).await?;
    s.store
        .set_label(a.id, label, false, op.0.name, unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- manual assets --------------------------------------------------------------

/// Checks and converts one manual asset; the message names the field.
fn manual_asset(a: AddAsset) -> Result<crate::store::ManualAsset, String> {
    crate::store::ManualAsset {
        name: a.name,
        kind: a.kind,
        serial: a.serial,
        manufacturer: a.manufacturer,
        model: a.model,
        location: a.location,
        user: a.user,
        notes: a.notes,
        warranty_until: a.warranty_until,
    }
    .normalized()
}

async fn add_asset(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<AddAsset>,
) -> Result<(StatusCode, Json<AssetCreated>), ApiError> {
    op.require(Role::Technician)?;
    let m = manual_asset(req).map_err(ApiError::bad_request)?;
    let name = m.name.clone();
    let id = s.store.add_manual_asset(m, op.0.name, unix_now()).await?;
    Ok((StatusCode::CREATED, Json(AssetCreated { id, name })))
}

/// `PATCH /api/v1/assets/{key}`: changes the fields given.
async fn edit_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<AssetEdit>,
) -> Result<Json<AssetEdited>, ApiError> {
    op.require(Role::Technician)?;
    if req == AssetEdit::default() {
        return Err(ApiError::bad_request(
            "nothing to change: give at least one of name, kind, serial, manufacturer, model, location, user, notes, warranty_until",
        ));
    }
    let a = s.store.find_asset(key).await?;
    let changes = s
        .store
        .edit_asset(a.id.clone(), req.into(), op.0.name, unix_now())
        .await?;
    let name = changes
        .iter()
        .find(|c| c.field == "name")
        .map_or(a.hostname, |c| c.new.clone());
    Ok(Json(AssetEdited {
        id: a.id,
        name,
        changes: changes.into_iter().map(Into::into).collect(),
    }))
}

/// `POST /api/v1/assets/{key}/retire`: takes an asset out of service.
async fn retire_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<RetireAsset>,
) -> ApiResult<StatusChanged> {
    set_status(s, op, key, Some(req.reason.trim().to_string())).await
}

/// `POST /api/v1/assets/{key}/restore`: puts a retired asset back in service.
async fn restore_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
) -> ApiResult<StatusChanged> {
    set_status(s, op, key, None).await
}

async fn set_status(
    s: Shared,
    op: Authed,
    key: String,
    reason: Option<String>,
) -> ApiResult<StatusChanged> {
    op.require(Role::Technician)?;
    if let Some(r) = &reason {
        crate::text::check("the reason", r, crate::text::Shape::Line)
            .map_err(ApiError::bad_request)?;
    }
    let a = s.store.find_asset(key).await?;
    let status = match reason {
        Some(_) => AssetStatus::Retired,
        None => AssetStatus::InService,
    };
    let changed = s
        .store
        .set_retired(a.id.clone(), reason, op.0.name, unix_now())
        .await?;
    Ok(Json(StatusChanged {
        id: a.id,
        name: a.hostname,
        status,
        changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::plan_full;
    use crate::store::{AssetFilter, NewAgent};
    use deskhand_shared::inventory::{Inventory, Package, PackageSource};

    #[test]
    fn a_full_disk_or_a_damaged_database_is_said_as_such() {
        let sqlite = |code| {
            ApiError::from(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            )))
        };
        let full = sqlite(rusqlite::ffi::SQLITE_FULL);
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(full.message.contains("disk is full"), "{}", full.message);
        let damaged = sqlite(rusqlite::ffi::SQLITE_CORRUPT);
        assert_eq!(damaged.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            damaged.message.contains("deskhand backup"),
            "{}",
            damaged.message
        );
        let io = sqlite(rusqlite::ffi::SQLITE_IOERR);
        assert!(io.message.contains("I/O error"), "{}", io.message);
        // Anything else stays the server's own, in its log.
        let other = sqlite(rusqlite::ffi::SQLITE_CONSTRAINT);
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
        let missing = ApiError::from(StoreError::NotFound("no asset x".into()));
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn points_in_time_are_durations_back_or_utc_dates_and_times() {
        let now = 1_764_000_000; // 2025-11-24T16:00:00Z
        let at = |t: &str| point_in_time("since", Some(t), now);
        assert_eq!(at("7d").ok(), Some(Some(now - 7 * 86_400)));
        assert_eq!(at("90m").ok(), Some(Some(now - 5_400)));
        assert_eq!(at("2025-11-24").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at(" 2025-11-24 ").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("2025-11-24T09:00").ok(), Some(Some(1_763_974_800)));
        assert_eq!(at("2025-11-24 09:00").ok(), Some(Some(1_763_974_800)));
        assert_eq!(at("2025-11-24T09:00:30Z").ok(), Some(Some(1_763_974_830)));
        assert_eq!(at("2025-11-24 09:00:30").ok(), Some(Some(1_763_974_830)));
        // Days by name: midnight UTC; 2025-11-24 is a Monday.
        assert_eq!(at("today").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("Yesterday").ok(), Some(Some(1_763_942_400 - 86_400)));
        assert_eq!(at("monday").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("tue").ok(), Some(Some(1_763_942_400 - 6 * 86_400)));
        assert_eq!(at("Sunday").ok(), Some(Some(1_763_942_400 - 86_400)));
        assert_eq!(at("wednes").ok(), Some(Some(1_763_942_400 - 5 * 86_400)));
        assert_eq!(point_in_time("since", None, now).ok(), Some(None));
        assert_eq!(at("").ok(), Some(None));
        // A far duration is the epoch's side of now, not an overflow.
        assert!(at("100000000y").is_ok_and(|t| t.is_some_and(|t| t < 0)));
        for bad in [
            "tu",
            "tuesdays",
            "7 days ago",
            "2025-13-01",
            "2025-11-24T25:00",
            "24/11/2025",
            "2025-11-24+01:00",
            "-7d",
        ] {
            let e = at(bad).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.starts_with("since: `"), "{}", e.message);
            assert!(e.message.contains("2026-11-24T09:00"), "{}", e.message);
        }
    }

    #[test]
    fn join_is_the_trimmed_pair() {
        let parts = [
            "",
            " ",
            "  ",
            "HP",
            " HP",
            "HP ",
            " HP  ",
            "Elite Book",
            "\tx\t",
        ];
        for x in parts {
            for y in parts {
                let expected = format!("{x} {y}").trim().to_string();
                assert_eq!(join(x, y), expected, "{x:?} + {y:?}");
            }
        }
    }

    /// The catalog rows a software filter matches.
    async fn software_ids(store: &Store, spec: &str) -> Result<Vec<i64>, ApiError> {
        Ok(software_matches(store, spec)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    fn pkg(name: &str, version: &str, source: PackageSource) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            source,
            ..Package::default()
        }
    }

    /// A fleet whose openssl versions straddle the constraint's edges.
    async fn seeded() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db")).expect("open");
        store
            .create_enrollment_token("t".into(), String::new(), 100, i64::MAX, "admin".into(), 0)
            .await
            .expect("token");
        let fleet = [
            ("deb11", "openssl", "1.1.1w-0+deb11u1", PackageSource::Dpkg),
            (
                "deb12-old",
                "openssl",
                "3.0.11-1~deb12u2",
                PackageSource::Dpkg,
            ),
            (
                "deb12-edge",
                "openssl",
                "3.0.13-1~deb12u1",
                PackageSource::Dpkg,
            ),
            (
                "deb12-new",
                "openssl",
                "3.0.19-1~deb12u2",
                PackageSource::Dpkg,
            ),
            ("rhel", "openssl", "1:3.0.7-27.el9", PackageSource::Rpm),
            ("win", "OpenSSL", "3.0.9", PackageSource::WindowsMachine),
            ("none", "curl", "7.88.1-10", PackageSource::Dpkg),
        ];
        for (host, name, version, source) in fleet {
            store
                .enroll_agent(
                    "t".into(),
                    NewAgent {
                        id: host.into(),
                        hostname: host.into(),
                        cert_sha256: host.into(),
                        cert_not_after: 0,
                    },
                    1,
                )
                .await
                .expect("agent");
            let mut inv = Inventory::new();
            inv.identity.hostname = host.into();
            inv.software = vec![
                pkg(name, version, source),
                pkg("bash", "5.2", PackageSource::Dpkg),
            ];
            let plan = plan_full(None, &inv);
            store
                .ingest_inventory(host.into(), None, plan, 1, 1)
                .await
                .expect("ingest");
        }
        (dir, store)
    }

    async fn hosts(store: &Store, spec: &str) -> Vec<String> {
        let ids = software_ids(store, spec).await.expect("spec");
        let filter = AssetFilter {
            software_ids: Some(ids),
            ..AssetFilter::default()
        };
        let mut h: Vec<String> = store
            .list_assets(filter, 10)
            .await
            .expect("list")
            .into_iter()
            .map(|a| a.hostname)
            .collect();
        h.sort();
        h
    }

    #[tokio::test]
    async fn version_constraints_select_exactly_the_right_assets() {
        let (_d, store) = seeded().await;
        assert_eq!(
            hosts(&store, "openssl@>=3.0,<3.0.13").await,
            ["deb12-old", "rhel", "win"]
        );
        assert_eq!(
            hosts(&store, "openssl@<3.0.13").await,
            ["deb11", "deb12-old", "rhel", "win"]
        );
        assert_eq!(
            hosts(&store, "openssl@>=3.0.13").await,
            ["deb12-edge", "deb12-new"]
        );
        assert_eq!(hosts(&store, "openssl").await.len(), 6);
        assert_eq!(
            hosts(&store, "openssl@=3.0.19-1~deb12u2").await,
            ["deb12-new"]
        );
        assert!(hosts(&store, "nosuch").await.is_empty());
        // `*` matches any text, in any case; LIKE's own wildcards are text.
        assert_eq!(
            hosts(&store, "open*@<3.0.13").await,
            ["deb11", "deb12-old", "rhel", "win"]
        );
        assert_eq!(hosts(&store, "*SSL").await.len(), 6);
        assert_eq!(hosts(&store, "c*l@>=7").await, ["none"]);
        assert!(hosts(&store, "op_nssl").await.is_empty());
        assert!(hosts(&store, "%").await.is_empty());
        // The versions each selected asset has, from the index.
        let matches = software_matches(&store, "openssl@<3.0.13")
            .await
            .expect("spec");
        let ids: Vec<i64> = matches.iter().map(|(id, _)| *id).collect();
        let filter = AssetFilter {
            software_ids: Some(ids.clone()),
            ..AssetFilter::default()
        };
        let rows = store.list_assets(filter, 10).await.expect("list");
        let nums: Vec<Option<u32>> = rows.iter().map(|r| r.num).collect();
        let held: Vec<String> = rows
            .iter()
            .zip(store.holding(&nums, &ids))
            .map(|(r, ids)| {
                let versions: Vec<&str> = ids
                    .iter()
                    .filter_map(|id| matches.iter().find(|(m, _)| m == id))
                    .map(|(_, p)| p.version.as_str())
                    .collect();
                format!("{} {}", r.hostname, versions.join(" "))
            })
            .collect();
        assert_eq!(
            held,
            [
                "deb11 1.1.1w-0+deb11u1",
                "deb12-old 3.0.11-1~deb12u2",
                "rhel 1:3.0.7-27.el9",
                "win 3.0.9"
            ]
        );
        assert_eq!(store.holding(&[None], &ids), [Vec::<i64>::new()]);
        assert!(software_ids(&store, "openssl@>=").await.is_err());
        assert!(software_ids(&store, "openssl@>>3").await.is_err());
        let err = software_ids(&store, "@3").await.expect_err("no name");
        assert!(err.message.contains("names no package"), "{}", err.message);
        let counts = store
            .software_counts(Some("bash".into()))
            .await
            .expect("counts");
        assert_eq!(counts.len(), 1, "one catalog row shared by every asset");
        assert_eq!(counts[0].1, 7);
        // Sorted by how many have it: bash on all seven, the rest on one
        // each, in name and version order among themselves; paged.
        let page = |by, descending, offset, limit| {
            let store = &store;
            async move {
                let order = crate::store::SoftwareOrder { by, descending };
                let (rows, total) = store
                    .software_page(None, order, offset, limit)
                    .await
                    .expect("page");
                assert_eq!(total, 8, "every catalog row someone has");
                rows.iter()
                    .map(|(r, n)| format!("{} {} {n}", r.name, r.version))
                    .collect::<Vec<_>>()
            }
        };
        use crate::store::SoftwareSort;
        let by_name = page(SoftwareSort::Name, false, 0, None).await;
        assert_eq!(by_name.len(), 8, "{by_name:?}");
        assert_eq!(
            by_name[..3],
            ["OpenSSL 3.0.9 1", "bash 5.2 7", "curl 7.88.1-10 1"]
        );
        let mut reversed = page(SoftwareSort::Name, true, 0, None).await;
        reversed.reverse();
        assert_eq!(reversed, by_name);
        let most = page(SoftwareSort::Assets, true, 0, Some(3)).await;
        assert_eq!(most, ["bash 5.2 7", "OpenSSL 3.0.9 1", "curl 7.88.1-10 1"]);
        let fewest = page(SoftwareSort::Assets, false, 0, None).await;
        assert_eq!(fewest[..2], ["OpenSSL 3.0.9 1", "curl 7.88.1-10 1"]);
        assert_eq!(fewest[7], "bash 5.2 7");
        assert_eq!(
            page(SoftwareSort::Assets, false, 6, Some(5)).await,
            fewest[6..],
            "the last page"
        );
        assert!(page(SoftwareSort::Name, false, 8, Some(5)).await.is_empty());
        // A wildcard that matches more rows than a list may ask about is
        // refused, saying how many.
        store
            .enroll_agent(
                "t".into(),
                NewAgent {
                    id: "many".into(),
                    hostname: "many".into(),
                    cert_sha256: "many".into(),
                    cert_not_after: 0,
                },
                1,
            )
            .await
            .expect("agent");
        let mut inv = Inventory::new();
        inv.software = (0..=MAX_WILDCARD_MATCHES)
            .map(|i| pkg(&format!("lib-{i:04}"), "1.0", PackageSource::Dpkg))
            .collect();
        store
            .ingest_inventory("many".into(), None, plan_full(None, &inv), 1, 1)
            .await
            .expect("ingest");
        let err = software_ids(&store, "lib-*").await.expect_err("too many");
        assert!(
            err.message.contains("`lib-*` matches 1001 packages"),
            "{}",
            err.message
        );
        assert_eq!(
            software_ids(&store, "lib-00*").await.expect("some").len(),
            100
        );
        assert_eq!(
            software_ids(&store, "lib-0001").await.expect("one").len(),
            1
        );
    }

    async fn labelled(store: &Store, label: &str, os: Option<&str>) -> Vec<String> {
        let q = AssetQuery {
            label: Some(label.into()),
            os: os.map(Into::into),
            ..AssetQuery::default()
        };
        let mut h: Vec<String> = asset_rows(store, &q)
            .await
            .expect("rows")
            .into_iter()
            .map(|a| a.hostname)
            .collect();
        h.sort();
        h
    }

    #[tokio::test]
    async fn long_filters_and_keys_get_an_answer_not_a_database_error() {
        let (_d, store) = seeded().await;
        let query = |field: &str, text: String| {
            let mut q = AssetQuery::default();
            match field {
                "search" => q.search = Some(text),
                "os" => q.os = Some(text),
                "model" => q.model = Some(text),
                _ => q.software = Some(text),
            }
            q
        };
        // As long as a filter may be: a query SQLite runs.
        for field in ["search", "os", "model"] {
            let rows = asset_rows(&store, &query(field, "x".repeat(MAX_FILTER_TEXT)))
                .await
                .expect("rows");
            assert!(rows.is_empty(), "{field}");
        }
        // Longer: refused, saying the bound, where SQLite would have failed
        // the query (a LIKE pattern over 50,000 bytes is "too complex").
        for field in ["search", "os", "model", "software"] {
            let err = asset_rows(&store, &query(field, "x".repeat(60_000)))
                .await
                .expect_err("too long");
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{field}");
            assert_eq!(
                err.message,
                format!("{field} is at most 1000 bytes long, not 60000")
            );
        }
        // A bad value of any length is said back cut short.
        let q = AssetQuery {
            seen_within: Some("7".repeat(60_000)),
            ..AssetQuery::default()
        };
        let err = asset_rows(&store, &q).await.expect_err("not a duration");
        assert!(
            err.message.len() < 300 && err.message.contains("... (60000 bytes)"),
            "{}",
            err.message
        );
        assert_eq!(
            crate::said("é".repeat(100).as_str()),
            format!("{}... (200 bytes)", "é".repeat(64))
        );
        assert_eq!(crate::said("7d"), "7d");
        // An id prefix in any case; LIKE's `_` is not a wildcard in it; a
        // key of 60,000 bytes is not found, and said back shortened.
        let found = store.find_asset("DEB12-N".into()).await.expect("prefix");
        assert_eq!(found.hostname, "deb12-new");
        let err = store.find_asset("____".into()).await.expect_err("no id");
        assert!(
            matches!(&err, StoreError::NotFound(m) if m.contains("no asset matches `____`")),
            "{err}"
        );
        assert!(matches!(
            store.find_agent("deb1".into()).await,
            Err(StoreError::Refused(m)) if m.contains("matches 4 agents")
        ));
        let err = store
            .find_asset("f".repeat(60_000))
            .await
            .expect_err("no asset");
        assert!(
            matches!(&err, StoreError::NotFound(m) if m.len() < 200 && m.contains("(60000 bytes)")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn static_and_dynamic_labels_select_their_assets() {
        let (_d, store) = seeded().await;
        store
            .create_label("lab".into(), None, "admin".into(), 1)
            .await
            .expect("static");
        store
            .create_label(
                "old-openssl".into(),
                Some("software=openssl@<3.0.13".into()),
                "admin".into(),
                1,
            )
            .await
            .expect("dynamic");
        for host in ["deb11", "rhel"] {
            store
                .set_label(host.into(), "lab".into(), true, "admin".into(), 2)
                .await
                .expect("label");
        }
        assert_eq!(labelled(&store, "lab", None).await, ["deb11", "rhel"]);
        assert_eq!(
            labelled(&store, "old-openssl", None).await,
            ["deb11", "deb12-old", "rhel", "win"]
        );
        // Labels combine with the other filters.
        store
            .set_label("rhel".into(), "lab".into(), false, "admin".into(), 3)
            .await
            .expect("unlabel");
        assert_eq!(labelled(&store, "lab", None).await, ["deb11"]);
        let err = store
            .set_label("win".into(), "old-openssl".into(), true, "admin".into(), 3)
            .await;
        assert!(err.is_err(), "a dynamic label cannot be set by hand");
        assert!(
            asset_rows(
                &store,
                &AssetQuery {
                    label: Some("nope".into()),
                    ..AssetQuery::default()
                }
            )
            .await
            .is_err()
        );
        assert_eq!(
            labels_of(&store, "deb11").await.expect("labels"),
            ["lab", "old-openssl"]
        );
        // A filter stored by an older version that this one refuses
        // (`~` ranges were once taken as versions) hides no asset and no
        // label; using the label says what is wrong and what to do.
        store
            .create_label(
                "tilde".into(),
                Some("software=openssl@~3".into()),
                "admin".into(),
                4,
            )
            .await
            .expect("stored as an older version would have");
        assert_eq!(
            labels_of(&store, "deb11").await.expect("labels"),
            ["lab", "old-openssl"]
        );
        let err = asset_rows(
            &store,
            &AssetQuery {
                label: Some("tilde".into()),
                ..AssetQuery::default()
            },
        )
        .await
        .expect_err("a filter that does not evaluate");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.contains("delete the label"), "{}", err.message);
    }

    #[test]
    fn list_orders_parse_or_say_what_is_wrong() {
        use crate::store::{AssetOrder, AssetSort};
        let order = |sort: Option<&str>, order: Option<&str>| {
            asset_order(&AssetQuery {
                sort: sort.map(str::to_string),
                order: order.map(str::to_string),
                ..Default::default()
            })
            .map_err(|e| e.message)
        };
        assert_eq!(order(None, None), Ok(AssetOrder::default()));
        assert_eq!(
            order(Some("last-seen"), Some("desc")),
            Ok(AssetOrder {
                by: AssetSort::LastSeen,
                descending: true
            })
        );
        assert_eq!(
            order(Some("RAM"), Some("asc")),
            Ok(AssetOrder {
                by: AssetSort::Ram,
                descending: false
            })
        );
        let err = order(Some("colour"), None).expect_err("unknown key");
        assert!(
            err.contains("unknown sort `colour`: use one of name, id,")
                && err.contains("first-seen"),
            "{err}"
        );
        let err = enum_value::<CountBy>("grouping", "colour")
            .expect_err("unknown grouping")
            .message;
        assert_eq!(
            err,
            "unknown grouping `colour`: use one of model, manufacturer, os, kind, location"
        );
        let err = order(None, Some("down")).expect_err("unknown order");
        assert!(
            err.contains("unknown order `down`: use one of asc, desc"),
            "{err}"
        );
    }

    #[test]
    fn label_filters_parse_or_say_what_is_wrong() {
        let q = parse_filter("software=openssl@<3.0.13 os=Debian seen-within=7d").expect("parse");
        assert_eq!(q.software.as_deref(), Some("openssl@<3.0.13"));
        assert_eq!(q.seen_within.as_deref(), Some("7d"));
        assert!(
            parse_filter("colour=blue")
                .expect_err("unknown key")
                .contains("colour")
        );
        assert!(parse_filter("software").is_err());
        assert!(
            parse_filter("os=")
                .expect_err("empty value")
                .contains("no value")
        );
        assert!(parse_filter("  ").is_err());
        // Values with spaces need no quotes: a word without `=` goes on.
        let q = parse_filter("os=Windows  11 model=Dell Latitude 7440 status=all").expect("spaces");
        assert_eq!(q.os.as_deref(), Some("Windows 11"));
        assert_eq!(q.model.as_deref(), Some("Dell Latitude 7440"));
        assert_eq!(q.status.as_deref(), Some("all"));
        let q = parse_filter("os= Windows").expect("value after a space");
        assert_eq!(q.os.as_deref(), Some("Windows"));
        assert!(
            parse_filter("Windows os=11")
                .expect_err("no key first")
                .contains("`Windows` is not key=value")
        );
        assert!(
            parse_filter("os=Debian sofware=curl")
                .expect_err("a typo is still a key")
                .contains("`sofware`")
        );
    }
}
