//! What changed across the fleet in a time window: each event, or a
//! summary by change.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use super::assets::{history_category, history_view};
use super::error::ApiError;
use super::params::{filter_text, json_list, label_param, point_in_time};
use super::select::asset_rows;
use super::{Authed, Shared};
use crate::store::Store;
use crate::{rfc3339, unix_now};
use deskhand_api_types::assets::AssetQuery;
use deskhand_api_types::changes::{CHANGES_LIMIT, ChangeGroupView, ChangeView, ChangesQuery};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/changes/summary", get(change_summary))
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

#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "changes",
    summary = "events across the fleet, newest first (since, until, category, item, label, limit)",
    params(ChangesQuery),
    responses(
        (status = 200, description = "the events", body = Vec<ChangeView>),
        (status = 400, description = "a time, category, item or label is not valid", body = ErrorBody),
        (status = 404, description = "no such label", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/changes/summary",
    tag = "changes",
    summary = "the same, grouped by change with the number of assets",
    params(ChangesQuery),
    responses(
        (status = 200, description = "the changes, on the most assets first", body = Vec<ChangeGroupView>),
        (status = 400, description = "a time, category, item or label is not valid, or a limit", body = ErrorBody),
        (status = 404, description = "no such label", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn change_summary(
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

pub(super) fn change_group_view(g: crate::store::ChangeGroup) -> ChangeGroupView {
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
