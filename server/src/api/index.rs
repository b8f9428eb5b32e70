//! `GET /api/v1`: every endpoint of the API, for people writing scripts
//! against it: each path with its methods and what they do, read from the
//! OpenAPI document ([`super::openapi`]), so there is one list.

use axum::Json;

use super::Authed;
pub use deskhand_api_types::server::EndpointView;

/// Every path of the document, in its order, with its methods and their
/// summaries (`GET POST`, `labels; create a label ...`).
pub fn endpoints(doc: &utoipa::openapi::OpenApi) -> Vec<EndpointView> {
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let (methods, about): (Vec<&str>, Vec<&str>) = super::openapi::operations(item)
                .map(|(method, op)| (method, op.summary.as_deref().unwrap_or_default()))
                .unzip();
            EndpointView {
                methods: methods.join(" "),
                path: path.clone(),
                about: about.join("; "),
            }
        })
        .collect()
}

/// `GET /api/v1`.
#[utoipa::path(
    get,
    path = "/api/v1",
    operation_id = "list_endpoints",
    tag = "server",
    summary = "this list: each path with its methods and what they do (the OpenAPI document, in brief)",
    responses(
        (status = 200, description = "every path of the API", body = Vec<EndpointView>),
    ),
    security(("bearer" = [])),
)]
pub async fn list(_: Authed) -> Json<Vec<EndpointView>> {
    Json(endpoints(super::openapi::openapi()))
}
