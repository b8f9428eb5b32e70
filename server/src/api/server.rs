//! `/api/v1/server`, `/api/v1/health` and `/api/v1/nodes`: who the server
//! is, whether its database takes writes, and the nodes sharing it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiResult;
use super::{Authed, Shared};
use crate::{rfc3339, unix_now};
use deskhand_api_types::server::{DatabaseHealth, Health, NodeView, ServerInfo};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/server", get(server_info))
        .route("/api/v1/health", get(health))
        .route("/api/v1/nodes", get(list_nodes))
}

#[utoipa::path(
    get,
    path = "/api/v1/nodes",
    tag = "server",
    summary = "the server nodes sharing the database: alive or not, their agents, their last heartbeat",
    responses(
        (status = 200, description = "every node that ever ran, alive ones first", body = Vec<NodeView>),
    ),
    security(("bearer" = [])),
)]
async fn list_nodes(State(s): State<Shared>, Authed(_): Authed) -> ApiResult<Vec<NodeView>> {
    let nodes = s.store.list_nodes(unix_now()).await?;
    Ok(Json(
        nodes
            .into_iter()
            .map(|n| NodeView {
                this_node: n.name == s.node_name,
                name: n.name,
                api: n.api,
                agents_endpoint: n.agents_addr,
                alive: n.alive,
                agents: n.agents,
                started_at: rfc3339(n.started_at),
                heartbeat_at: rfc3339(n.heartbeat_at),
            })
            .collect(),
    ))
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
