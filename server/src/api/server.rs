//! `/api/v1/server` and `/api/v1/health`: who the server is and whether
//! its database takes writes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiResult;
use super::{Authed, Shared};
use crate::{rfc3339, unix_now};
use deskhand_api_types::server::{DatabaseHealth, Health, ServerInfo};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/server", get(server_info))
        .route("/api/v1/health", get(health))
}

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

#[utoipa::path(
    get,
    path = "/api/v1/server",
    tag = "server",
    summary = "version, agent endpoint, CA fingerprint, whether the database takes writes",
    responses(
        (status = 200, description = "who the server is", body = ServerInfo),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "server",
    summary = "no token needed: 200 while the database takes writes, 503 while it refuses them",
    responses(
        (status = 200, description = "the database takes writes", body = Health),
        (status = 503, description = "the database refused a write in the last minute", body = Health),
    ),
)]
pub(super) async fn health(State(s): State<Shared>) -> (StatusCode, Json<Health>) {
    match s.store.write_health(unix_now()).failing_since {
        None => (
            StatusCode::OK,
            Json(Health {
                status: "ok".into(),
                reason: None,
                since: None,
            }),
        ),
        Some(since) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "failing".into(),
                reason: Some("the database refuses writes; see the server log".into()),
                since: Some(rfc3339(since)),
            }),
        ),
    }
}
