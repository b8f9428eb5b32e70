//! Labels that group assets: static ones put on by hand, dynamic ones a
//! filter evaluated now.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::params::parse_filter;
use super::select::{asset_rows, dynamic_members, store_filter};
use super::{Authed, Shared};
use crate::store::{Role, Store};
use crate::unix_now;
use deskhand_api_types::assets::AssetQuery;
use deskhand_api_types::labels::{CreateLabel, LabelAsset, LabelView};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/labels", get(list_labels).post(create_label))
        .route("/api/v1/labels/{name}", delete(delete_label))
        .route("/api/v1/assets/{key}/labels", post(label_asset))
        .route("/api/v1/assets/{key}/labels/{label}", delete(unlabel_asset))
}

/// An asset's static labels and the dynamic labels whose filter it matches.
pub(super) async fn labels_of(store: &Store, asset_id: &str) -> Result<Vec<String>, ApiError> {
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

#[utoipa::path(
    post,
    path = "/api/v1/labels",
    tag = "labels",
    summary = "create a label (static, or dynamic with a filter)",
    request_body = CreateLabel,
    responses(
        (status = 201, description = "created"),
        (status = 400, description = "the name or filter is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "a label of that name exists", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/labels/{name}",
    tag = "labels",
    summary = "delete a label",
    params(("name" = String, Path, description = "label name")),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such label", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn delete_label(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store.delete_label(name, op.0.name, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/labels",
    tag = "labels",
    summary = "labels",
    responses(
        (status = 200, description = "every label with how many assets carry it", body = Vec<LabelView>),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/assets/{key}/labels",
    tag = "labels",
    summary = "put a static label on it",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number")),
    request_body = LabelAsset,
    responses(
        (status = 204, description = "labelled"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset or label", body = ErrorBody),
        (status = 409, description = "the label is dynamic, or the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/assets/{key}/labels/{label}",
    tag = "labels",
    summary = "take a static label off it",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number"), ("label" = String, Path, description = "label name")),
    responses(
        (status = 204, description = "unlabelled"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset or label", body = ErrorBody),
        (status = 409, description = "the label is dynamic, or the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
