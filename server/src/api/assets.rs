//! Assets: the list, its counts, an asset's history, and asking an
//! agent for a fresh inventory. One asset's page is `asset_page`; assets
//! entered by hand are `manual`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::params::{enum_value, json_list, point_in_time, with_total};
use super::select::{asset_order, asset_rows, asset_rows_matching};
use super::{Authed, Shared};
use crate::presence::Presence;
use crate::store::{Role, Store};
use crate::{rfc3339, unix_now};
use deskhand_api_types::assets::{
    AssetQuery, AssetView, CountBy, CountView, HistoryQuery, HistoryView, MatchedPackage,
    RetiredView,
};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/assets", get(list_assets))
        .route("/api/v1/assets/{key}/history", get(asset_history))
        .route("/api/v1/assets/{key}/refresh", post(refresh_asset))
        .route("/api/v1/asset-counts/{by}", get(count_assets))
}

/// How far back an asset's page (and a ticket's linked assets) list its
/// changes.
const CHANGES_WINDOW_SECS: i64 = 7 * 86400;

/// Most changes listed there.
const MAX_CHANGES_SHOWN: usize = 100;

/// An asset's changes in the last 7 days, newest first, at most 100 of
/// them, and how many there were.
pub(super) async fn recent_changes(
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

/// The list form of an asset; takes the row, whose strings it keeps.
pub(super) fn asset_view(a: crate::store::AssetRow, presence: &Presence) -> AssetView {
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

#[utoipa::path(
    get,
    path = "/api/v1/assets",
    tag = "assets",
    summary = "assets, filtered (search, software: NAME[@CONSTRAINT] with * in NAME for any text, os, model, seen_within, not_seen_for, label, status, warranty_ends_within, out_of_warranty), sorted (sort, order) and paged (limit, offset, X-Total-Count)",
    description = "With a software filter, each asset carries the matching packages it has. The X-Total-Count header says how many assets matched before limit and offset.",
    params(AssetQuery),
    responses(
        (status = 200, description = "the page of matching assets", body = Vec<AssetView>, headers(("x-total-count" = usize, description = "how many assets matched, before limit and offset"))),
        (status = 400, description = "a filter, sort or order is not valid", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_assets(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<AssetQuery>,
) -> Result<Response, ApiError> {
    let (views, total) = asset_page(&s, &q).await?;
    Ok(with_total(json_list(views.into_iter(), 400)?, total))
}

/// The page of assets a query asks for (filtered, sorted, `offset` and
/// `limit`), and how many matched in all: the API's list and the
/// console's.
pub(super) async fn asset_page(
    s: &Shared,
    q: &AssetQuery,
) -> Result<(Vec<AssetView>, usize), ApiError> {
    let (mut rows, found) = asset_rows_matching(&s.store, q).await?;
    let order = asset_order(q)?;
    if let Some(secs) = super::params::duration_secs("not_seen_for", &q.not_seen_for)? {
        // The store knows when an agent was last seen as of the last
        // flush of live times (none yet for one that just enrolled): one
        // heard from since is not "not seen".
        s.presence.freshen_last_seen(&mut rows);
        let cutoff = unix_now().saturating_sub(secs);
        rows.retain(|a| a.last_seen.is_none_or(|t| t < cutoff));
    }
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
    let views = page
        .into_iter()
        .map(|a| AssetView {
            matched_software: matched.next().unwrap_or_default(),
            ..asset_view(a, &s.presence)
        })
        .collect();
    Ok((views, total))
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}/history",
    tag = "assets",
    summary = "its history (since, category)",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number"), HistoryQuery),
    responses(
        (status = 200, description = "its changes, newest first", body = Vec<HistoryView>),
        (status = 400, description = "since or category is not valid", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn asset_history(
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
pub(super) fn history_category(category: Option<String>) -> Result<Option<String>, ApiError> {
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

pub(super) fn history_view((at, e): (i64, crate::inventory::AssetEvent)) -> HistoryView {
    HistoryView {
        at: rfc3339(at),
        category: e.category,
        item: e.item,
        change: e.change,
        old_value: e.old_value,
        new_value: e.new_value,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/assets/{key}/refresh",
    tag = "assets",
    summary = "ask its agent for an inventory now",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number")),
    responses(
        (status = 202, description = "asked; the agent reports when it has collected"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the asset has no agent, or its agent is offline", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn refresh_asset(
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
pub(super) fn join(x: &str, y: &str) -> String {
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
#[utoipa::path(
    get,
    path = "/api/v1/asset-counts/{by}",
    tag = "assets",
    summary = "assets counted by model, manufacturer, os, kind or location (the list's filters)",
    params(("by" = CountBy, Path, description = "what to count by"), AssetQuery),
    responses(
        (status = 200, description = "the groups, most assets first", body = Vec<CountView>),
        (status = 400, description = "unknown grouping, a filter not valid, or a list-only parameter", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
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
pub(super) fn count_by(by: CountBy, rows: &[crate::store::AssetRow]) -> Vec<CountView> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
