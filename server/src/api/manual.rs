//! Assets entered by hand (printers, monitors, phones): adding one,
//! editing any asset's fields, retiring and restoring.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{patch, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::store::Role;
use crate::unix_now;
use deskhand_api_types::assets::{
    AddAsset, AssetCreated, AssetEdit, AssetEdited, AssetStatus, RetireAsset, StatusChanged,
};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/assets", post(add_asset))
        .route("/api/v1/assets/{key}", patch(edit_asset))
        .route("/api/v1/assets/{key}/retire", post(retire_asset))
        .route("/api/v1/assets/{key}/restore", post(restore_asset))
}

/// Checks and converts one manual asset; the message names the field.
pub(super) fn manual_asset(a: AddAsset) -> Result<crate::store::ManualAsset, String> {
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

#[utoipa::path(
    post,
    path = "/api/v1/assets",
    tag = "assets",
    summary = "add an asset by hand",
    request_body = AddAsset,
    responses(
        (status = 201, description = "the asset", body = AssetCreated),
        (status = 400, description = "a field is missing or not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "another asset has that serial number", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    patch,
    path = "/api/v1/assets/{key}",
    tag = "assets",
    summary = "edit its fields",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number")),
    request_body = AssetEdit,
    responses(
        (status = 200, description = "what changed", body = AssetEdited),
        (status = 400, description = "nothing to change, or a field not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the field cannot change on this asset, or the serial is taken", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/assets/{key}/retire",
    tag = "assets",
    summary = "take it out of service",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number")),
    request_body = RetireAsset,
    responses(
        (status = 200, description = "its status now", body = StatusChanged),
        (status = 400, description = "the reason is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn retire_asset(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    Json(req): Json<RetireAsset>,
) -> ApiResult<StatusChanged> {
    set_status(s, op, key, Some(req.reason.trim().to_string())).await
}

/// `POST /api/v1/assets/{key}/restore`: puts a retired asset back in service.
#[utoipa::path(
    post,
    path = "/api/v1/assets/{key}/restore",
    tag = "assets",
    summary = "put it back in service",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number")),
    responses(
        (status = 200, description = "its status now", body = StatusChanged),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
