//! Enrolled agents and the enrollment tokens that let new ones in.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::presence::Presence;
use crate::store::{AgentRecord, Role};
use crate::{rfc3339, secrets, unix_now};
use deskhand_api_types::agents::{AgentView, CreateToken, TokenCreated, TokenView};
use deskhand_api_types::server::ErrorBody;

/// Largest enrollment token use count.
const MAX_TOKEN_USES: u32 = 1_000_000;
/// Longest enrollment token lifetime: one year.
const MAX_TOKEN_LIFETIME_SECS: u64 = 366 * 86400;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/agents", get(list_agents))
        .route("/api/v1/agents/{key}", get(show_agent))
        .route("/api/v1/agents/{key}/revoke", post(revoke_agent))
        .route(
            "/api/v1/enrollment-tokens",
            get(list_tokens).post(create_token),
        )
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

#[utoipa::path(
    get,
    path = "/api/v1/agents",
    tag = "agents",
    summary = "enrolled agents",
    responses(
        (status = 200, description = "every agent, revoked ones too", body = Vec<AgentView>),
    ),
    security(("bearer" = [])),
)]
async fn list_agents(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<AgentView>> {
    let agents = s.store.list_agents().await?;
    Ok(Json(
        agents
            .into_iter()
            .map(|a| agent_view(a, &s.presence))
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/agents/{key}",
    tag = "agents",
    summary = "one agent (id, prefix or host name)",
    params(("key" = String, Path, description = "agent id, id prefix or host name")),
    responses(
        (status = 200, description = "the agent", body = AgentView),
        (status = 404, description = "no such agent", body = ErrorBody),
        (status = 409, description = "the key matches several agents", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_agent(
    State(s): State<Shared>,
    _: Authed,
    Path(key): Path<String>,
) -> ApiResult<AgentView> {
    let a = s.store.find_agent(key).await?;
    Ok(Json(agent_view(a, &s.presence)))
}

#[utoipa::path(
    post,
    path = "/api/v1/agents/{key}/revoke",
    tag = "agents",
    summary = "revoke an agent, at once",
    params(("key" = String, Path, description = "agent id, id prefix or host name")),
    responses(
        (status = 200, description = "the agent, revoked", body = AgentView),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such agent", body = ErrorBody),
        (status = 409, description = "the key matches several agents", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
    // Its session may be on another node sharing the database.
    s.relay.revoke(&a.id).await;
    tracing::info!(agent_id = %a.id, operator = %op.0.name, "agent revoked");
    let a = s.store.find_agent(a.id).await?;
    Ok(Json(agent_view(a, &s.presence)))
}

#[utoipa::path(
    post,
    path = "/api/v1/enrollment-tokens",
    tag = "agents",
    summary = "create an enrollment token",
    request_body = CreateToken,
    responses(
        (status = 200, description = "the token, shown once, with the commands that enroll an agent", body = TokenCreated),
        (status = 400, description = "the request is not valid; the error says which field", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_token(
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

#[utoipa::path(
    get,
    path = "/api/v1/enrollment-tokens",
    tag = "agents",
    summary = "enrollment tokens",
    responses(
        (status = 200, description = "every enrollment token, without its secret", body = Vec<TokenView>),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_tokens(State(s): State<Shared>, op: Authed) -> ApiResult<Vec<TokenView>> {
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
