//! Installed software across all assets, and a package as an asset's
//! page shows it.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use super::error::ApiError;
use super::params::{descending, enum_param, filter_text, json_list, with_total};
use super::{Authed, Shared};
use crate::rfc3339;
use deskhand_api_types::assets::SoftwareView;
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::software::{SoftwareCountView, SoftwareQuery, SoftwareSort};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/software", get(list_software))
}

pub(super) fn software_view(r: crate::inventory::SoftwareRow) -> SoftwareView {
    SoftwareView {
        install_date: r.install_date.map(rfc3339),
        name: r.name,
        version: r.version,
        vendor: r.vendor,
        source: r.source,
        arch: r.arch,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/software",
    tag = "software",
    summary = "each package with how many assets have it (name), sorted (sort=name|assets, order) and paged (limit, offset)",
    params(SoftwareQuery),
    responses(
        (status = 200, description = "the page of packages", body = Vec<SoftwareCountView>, headers(("x-total-count" = usize, description = "how many packages matched, before limit and offset"))),
        (status = 400, description = "the name, sort or order is not valid", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn list_software(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<SoftwareQuery>,
) -> Result<Response, ApiError> {
    let order = crate::store::SoftwareOrder {
        by: enum_param::<SoftwareSort>("sort", q.sort.as_deref())?.into(),
        descending: descending(q.order.as_deref())?,
    };
    let (rows, total) = s
        .store
        .software_page(
            filter_text("name", &q.name)?,
            order,
            q.offset.unwrap_or(0),
            q.limit,
        )
        .await?;
    let views = rows.into_iter().map(|(r, n)| SoftwareCountView {
        name: r.name,
        version: r.version,
        vendor: r.vendor,
        source: r.source,
        arch: r.arch,
        assets: n,
    });
    Ok(with_total(json_list(views, 120)?, total))
}
