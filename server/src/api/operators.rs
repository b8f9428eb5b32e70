//! Operators (admins add and remove them) and the audit log of what
//! operators did.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::{Operator, Role};
use crate::{rfc3339, secrets, unix_now};
use deskhand_api_types::operators::{
    AddOperator, AuditQuery, AuditView, OperatorCreated, OperatorView, PasswordSet, SetPassword,
};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/operators", get(list_operators).post(add_operator))
        .route("/api/v1/operators/{name}", delete(remove_operator))
        .route("/api/v1/operators/{name}/password", post(set_password))
        .route("/api/v1/audit", get(list_audit))
}

/// Sets an operator's console password: an admin for anyone, anyone for
/// themselves. Their console sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/operators/{name}/password",
    tag = "operators",
    summary = "set an operator's console password (generated when none is given)",
    params(("name" = String, Path, description = "operator name")),
    request_body = SetPassword,
    responses(
        (status = 200, description = "the password set; a generated one is shown once", body = PasswordSet),
        (status = 400, description = "the password is too short or not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn set_password(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<SetPassword>,
) -> ApiResult<PasswordSet> {
    if op.0.name != name {
        op.require(Role::Admin)?;
    }
    let (password, generated) = match req.password {
        Some(p) => {
            crate::passwords::check(&p).map_err(ApiError::bad_request)?;
            (p, false)
        }
        None => (
            crate::passwords::generate().map_err(ApiError::internal)?,
            true,
        ),
    };
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || crate::passwords::hash(&p))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?
    };
    s.store
        .set_password(name.clone(), hash, op.0.name, unix_now())
        .await?;
    Ok(Json(PasswordSet {
        name,
        password: generated.then_some(password),
    }))
}

fn operator_view(o: Operator, withdrawn: &[String]) -> OperatorView {
    OperatorView {
        remote_allowed: !withdrawn.contains(&o.name),
        name: o.name,
        role: o.role.as_str().into(),
        created_at: rfc3339(o.created_at),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/operators",
    tag = "operators",
    summary = "add an operator (returns its API token)",
    request_body = AddOperator,
    responses(
        (status = 200, description = "the operator with its API token, shown once", body = OperatorCreated),
        (status = 400, description = "the name or role is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "an operator of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn add_operator(
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

#[utoipa::path(
    get,
    path = "/api/v1/operators",
    tag = "operators",
    summary = "operators",
    responses(
        (status = 200, description = "every operator and their role", body = Vec<OperatorView>),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_operators(
    State(s): State<Shared>,
    _: Authed,
) -> ApiResult<Vec<OperatorView>> {
    let ops = s.store.list_operators().await?;
    let withdrawn = s.store.remote_withdrawn().await?;
    Ok(Json(
        ops.into_iter()
            .map(|o| operator_view(o, &withdrawn))
            .collect(),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/operators/{name}",
    tag = "operators",
    summary = "remove an operator",
    params(("name" = String, Path, description = "operator name")),
    responses(
        (status = 204, description = "removed"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
        (status = 409, description = "the last admin cannot be removed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn remove_operator(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Admin)?;
    s.store.remove_operator(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "operators",
    summary = "operators' actions, newest first",
    params(AuditQuery),
    responses(
        (status = 200, description = "the audit log, newest first", body = Vec<AuditView>),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_audit(
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
