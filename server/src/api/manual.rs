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
