//! The operator HTTP API: JSON under `/api/v1`, bearer tokens with roles.
//!
//! Architecture invariant: only this module knows JSON. Its request and
//! response types are the API's contract; the CLI in [`crate::cli`] uses
//! the same types, so the two cannot drift apart. Errors are
//! `{"error": "..."}` with a fitting status code.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::presence::Presence;
use crate::store::{AgentRecord, Operator, Role, Store, StoreError};
use crate::{rfc3339, secrets, unix_now};

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
}

type Shared = Arc<ApiState>;

/// The API router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/server", get(server_info))
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
        .fallback(|| async { ApiError::not_found("no such API endpoint; see /api/v1") })
        .with_state(state)
}

// ---- errors ---------------------------------------------------------------

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Self::not_found(m),
            StoreError::Refused(m) => Self::new(StatusCode::CONFLICT, m),
            other => {
                tracing::error!(error = %other, "API request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

// ---- authentication ---------------------------------------------------------

/// The operator a request is made by.
pub struct Authed(pub Operator);

impl Authed {
    fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "operator `{}` is a {} and this needs the {} role",
                    self.0.name,
                    self.0.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing bearer token: pass --token or set DESKHAND_TOKEN",
                )
            })?;
        let token = header.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the Authorization header must be `Bearer TOKEN`",
            )
        })?;
        match state
            .store
            .operator_by_token(secrets::hash_token(token))
            .await?
        {
            Some(op) => Ok(Authed(op)),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid API token: ask an admin for one with `deskhand operators add`",
            )),
        }
    }
}

// ---- server -----------------------------------------------------------------

/// `GET /api/v1/server`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Server release.
    pub version: String,
    /// CA fingerprint agents pin.
    pub ca_fingerprint: String,
    /// Where agents connect.
    pub agents_endpoint: String,
    /// Agents connected now.
    pub agents_online: usize,
    /// Who is asking.
    pub operator: String,
}

async fn server_info(State(s): State<Shared>, Authed(op): Authed) -> ApiResult<ServerInfo> {
    Ok(Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        ca_fingerprint: s.ca_fingerprint.clone(),
        agents_endpoint: s.agents_endpoint.clone(),
        agents_online: s.presence.online_count(),
        operator: op.name,
    }))
}

// ---- agents -----------------------------------------------------------------

/// An agent as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentView {
    /// Server-assigned id.
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// OS name and version.
    pub os: String,
    /// Kernel version.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Agent release.
    pub agent_version: String,
    /// Connected now.
    pub online: bool,
    /// Last heard from, RFC 3339.
    pub last_seen: Option<String>,
    /// Last remote address.
    pub last_addr: Option<String>,
    /// Enrollment time, RFC 3339.
    pub enrolled_at: String,
    /// Certificate expiry, RFC 3339.
    pub cert_expires_at: String,
    /// Revocation time, RFC 3339, if revoked.
    pub revoked_at: Option<String>,
}

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

/// `POST /api/v1/enrollment-tokens`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// How many agents may enroll with it.
    pub uses: u32,
    /// Seconds until it expires.
    pub expires_in_secs: u64,
    /// Free text, e.g. the site or batch.
    #[serde(default)]
    pub label: String,
}

/// A newly created enrollment token: shown once, never stored in clear.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenCreated {
    /// The token.
    pub token: String,
    /// Row id.
    pub id: i64,
    /// Uses granted.
    pub uses: i64,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// CA fingerprint to pass to the agent.
    pub ca_fingerprint: String,
    /// The agent endpoint.
    pub server: String,
    /// The enrollment command, ready to paste on a PC.
    pub enroll_command: String,
    /// One line that installs, enrolls and starts the agent on Linux, run
    /// next to `packaging/install-agent.sh` and the agent's package.
    #[serde(default)]
    pub install_command: String,
    /// The same for Windows, run next to the agent's zip contents.
    #[serde(default)]
    pub install_command_windows: String,
}

/// An enrollment token as listed.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenView {
    /// Row id.
    pub id: i64,
    /// Free text.
    pub label: String,
    /// Uses granted.
    pub uses_total: i64,
    /// Uses left.
    pub uses_left: i64,
    /// Expiry, RFC 3339.
    pub expires_at: String,
    /// Whether it expired.
    pub expired: bool,
    /// Creator.
    pub created_by: String,
}

async fn create_token(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateToken>,
) -> ApiResult<TokenCreated> {
    op.require(Role::Admin)?;
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

/// `POST /api/v1/operators`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddOperator {
    /// Unique name.
    pub name: String,
    /// `admin`, `technician` or `viewer`.
    pub role: String,
}

/// An operator as listed.
#[derive(Debug, Serialize, Deserialize)]
pub struct OperatorView {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// A new operator with their API token, shown once.
#[derive(Debug, Serialize, Deserialize)]
pub struct OperatorCreated {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// The API token.
    pub token: String,
}

fn operator_view(o: Operator) -> OperatorView {
    OperatorView {
        name: o.name,
        role: o.role.as_str().into(),
        created_at: rfc3339(o.created_at),
    }
}

fn valid_operator_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

async fn add_operator(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<AddOperator>,
) -> ApiResult<OperatorCreated> {
    op.require(Role::Admin)?;
    if !valid_operator_name(&req.name) {
        return Err(ApiError::bad_request(
            "an operator name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`",
        ));
    }
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

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Most entries to return.
    pub limit: Option<i64>,
}

/// An audit log entry.
#[derive(Debug, Serialize, Deserialize)]
pub struct AuditView {
    /// Time, RFC 3339.
    pub at: String,
    /// Who.
    pub operator: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: String,
    /// Details.
    pub detail: String,
}

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

/// One argument of a check in the catalog.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckArgView {
    /// Name, `--name`.
    pub name: String,
    /// Meaning.
    pub help: String,
    /// Default, if it has one; otherwise it is required.
    pub default: Option<String>,
}

/// One check of the diagnostic catalog.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckView {
    /// Name.
    pub name: String,
    /// What it shows.
    pub summary: String,
    /// Arguments.
    pub args: Vec<CheckArgView>,
    /// Whether it supports `follow`.
    pub follows: bool,
}

async fn diag_checks(_: Authed) -> ApiResult<Vec<CheckView>> {
    Ok(Json(
        deskhand_agent::diag::catalog()
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

/// `POST /api/v1/agents/{key}/diag`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDiag {
    /// Check name.
    pub check: String,
    /// Arguments as name/value pairs.
    #[serde(default)]
    pub args: Vec<(String, String)>,
    /// Stream output as NDJSON until the client disconnects.
    #[serde(default)]
    pub follow: bool,
}

/// A table of a diagnostic result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagTableView {
    /// What the rows are.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// A diagnostic result.
#[derive(Debug, Serialize, Deserialize)]
pub struct DiagRunView {
    /// Stored run id.
    pub id: i64,
    /// Agent it ran on.
    pub agent_id: String,
    /// Check name.
    pub check: String,
    /// Arguments.
    pub args: String,
    /// Who ran it.
    pub operator: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Whether the check ran to completion.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// How long it ran on the agent, milliseconds.
    pub duration_ms: f64,
    /// Tables.
    pub tables: Vec<DiagTableView>,
    /// Text output.
    pub text: String,
}

/// One line of a followed diagnostic's NDJSON stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagEventView {
    /// Rows.
    Table(DiagTableView),
    /// Text.
    Text(String),
    /// The end.
    Done {
        /// Whether it ran to completion.
        ok: bool,
        /// Why not.
        error: Option<String>,
    },
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
    deskhand_agent::diag::validate(&request).map_err(ApiError::bad_request)?;
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
    Ok(Json(diag_run_view(crate::store::DiagRun { id, ..run })).into_response())
}
