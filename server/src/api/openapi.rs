//! `GET /api/v1/openapi.json`: the API as an OpenAPI 3.1 document,
//! generated from the code: each handler's `#[utoipa::path]` (method,
//! path, parameters, body, responses, token, summary) and the JSON types
//! of `deskhand-api-types` (its `openapi` feature). `GET /api/v1`
//! ([`super::index`]) lists the same operations, read from this document,
//! so there is one list; a test holds it to the routers.
//!
//! What every operation shares is added here once ([`conventions`],
//! named under `components/responses`), as the code decides it once: the
//! 401 and 429 of the bearer token (the [`Authed`](super::Authed)
//! extractor), the 500 and 503 any request can meet (the server's own
//! failure, the database refusing), the 413 of a body over its limit
//! ([`super::body_limit`]), and axum's plain-text 400, 415 and 422 for a
//! body or query that does not parse.
//!
//! The document needs no token: it holds the API's shape, which is in
//! the source, and nothing of a server's data, and tools (client
//! generators, schemathesis) read it before they are given a token. Its
//! `info.version` is the API's (`1`, as in `/api/v1`), not the server's
//! release, which `GET /api/v1/server` tells an operator.

use std::sync::LazyLock;

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use super::{
    agents, asset_page, assets, changes, diag, goals, import, index, jobs, kb, labels, mail,
    manual, operators, remote, replies, report_schedules, reports, rollouts, routing, server,
    shifts, software, teams, ticket_files, tickets,
};

/// The name of the bearer-token security scheme the handlers require.
pub const BEARER: &str = "bearer";

/// The document as the handlers' annotations declare it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "deskhand API",
        version = "1",
        description = "The deskhand server's operator API: JSON under /api/v1, bearer tokens \
            with a role (viewer, technician, admin). Errors are {\"error\": \"...\"}, saying \
            what is wrong and what to do.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        index::list,
        document,
        server::server_info,
        server::health,
        server::list_nodes,
        agents::list_agents,
        agents::show_agent,
        agents::revoke_agent,
        agents::list_tokens,
        agents::create_token,
        operators::list_operators,
        operators::add_operator,
        operators::remove_operator,
        operators::set_password,
        operators::list_audit,
        diag::diag_checks,
        diag::diag_run,
        diag::run_diag,
        assets::list_assets,
        assets::asset_history,
        assets::refresh_asset,
        assets::count_assets,
        asset_page::show_asset,
        manual::add_asset,
        manual::edit_asset,
        manual::retire_asset,
        manual::restore_asset,
        import::import_assets,
        changes::list_changes,
        changes::change_summary,
        software::list_software,
        labels::list_labels,
        labels::create_label,
        labels::delete_label,
        labels::label_asset,
        labels::unlabel_asset,
        jobs::upload_content,
        jobs::content_info,
        jobs::list_packages,
        jobs::publish_package,
        jobs::show_package,
        jobs::list_scripts,
        jobs::publish_script,
        jobs::show_script,
        jobs::list_jobs,
        jobs::run_job,
        jobs::show_job,
        jobs::cancel_job,
        rollouts::list,
        rollouts::create,
        rollouts::preview,
        rollouts::show,
        rollouts::command,
        tickets::list_tickets,
        tickets::create_ticket,
        tickets::show_ticket,
        tickets::update_ticket,
        tickets::comment,
        tickets::set_status,
        tickets::assign,
        tickets::escalate,
        tickets::link_asset,
        tickets::unlink_asset,
        tickets::rate,
        tickets::effort::log_time,
        tickets::effort::list_time,
        tickets::effort::remove_time,
        replies::list_replies,
        replies::create_reply,
        replies::show_reply,
        replies::update_reply,
        replies::delete_reply,
        tickets::mass::merge_tickets,
        tickets::mass::link_children,
        tickets::mass::unlink_child,
        tickets::mass::bulk_tickets,
        ticket_files::list_attachments,
        ticket_files::add_attachment,
        ticket_files::download_attachment,
        mail::from_email,
        mail::mail_queue,
        mail::operator_email,
        kb::list_articles,
        kb::create_article,
        kb::search_articles,
        kb::show_article,
        kb::update_article,
        kb::delete_article,
        kb::ticket_articles,
        kb::ticket_article_draft,
        teams::list_calendars,
        teams::create_calendar,
        teams::show_calendar,
        teams::edit_calendar,
        teams::delete_calendar,
        teams::list_teams,
        teams::create_team,
        teams::show_team,
        teams::edit_team,
        teams::delete_team,
        teams::move_ticket,
        reports::ticket_report,
        reports::inventory_report,
        goals::list_goals,
        goals::set_goals,
        goals::clear_goals,
        report_schedules::list_schedules,
        report_schedules::create_schedule,
        report_schedules::delete_schedule,
        report_schedules::send_schedule,
        shifts::show_week,
        shifts::set_week,
        shifts::add_shift,
        shifts::list_absences,
        shifts::add_absence,
        routing::list_rules,
        routing::add_rule,
        routing::remove_rule,
        routing::move_rule,
        routing::test_routing,
        remote::open_remote,
        remote::list_sessions,
        remote::show_session,
        remote::recording,
        remote::kill_session,
        remote::set_allowed,
    ),
    // Named by parameters, which utoipa does not collect.
    components(schemas(
        deskhand_api_types::assets::CountBy,
        deskhand_api_types::assets::AssetSort,
        deskhand_api_types::assets::AssetStatus,
        deskhand_api_types::software::SoftwareSort,
    )),
    tags(
        (name = "server", description = "the API itself, the server and its health"),
        (name = "agents", description = "enrolled agents and enrollment tokens"),
        (name = "operators", description = "operators, their passwords and the audit log"),
        (name = "diag", description = "live diagnostics on an agent's machine"),
        (name = "assets", description = "the inventory: lists, counts, one asset, history, assets entered by hand"),
        (name = "changes", description = "what changed across the fleet"),
        (name = "software", description = "installed software across the fleet"),
        (name = "labels", description = "labels that group assets"),
        (name = "content", description = "signed packages and scripts, and their bytes"),
        (name = "jobs", description = "jobs that run packages, scripts, inventories and checks"),
        (name = "rollouts", description = "staged rollouts in waves"),
        (name = "tickets", description = "help-desk tickets"),
        (name = "teams", description = "teams, their members and tiers, and their business-hours calendars"),
        (name = "replies", description = "canned replies for ticket comments"),
        (name = "kb", description = "the knowledge base: articles, search, suggestions for a ticket"),
        (name = "reports", description = "reports for supervisors"),
        (name = "remote", description = "remote access: terminals, files and tunnels through the agent, recorded and audited"),
    ),
)]
struct ApiDoc;

/// The document served, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(|| {
    let mut doc = ApiDoc::openapi();
    conventions(&mut doc);
    doc
});

/// The OpenAPI document of the API.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    &DOCUMENT
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi_document",
    tag = "server",
    summary = "no token needed: this API as an OpenAPI 3.1 document",
    responses(
        (status = 200, description = "the document", content_type = "application/json"),
    ),
)]
pub async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// The operations of a path, with their methods as the index spells them.
pub(crate) fn operations(
    item: &utoipa::openapi::PathItem,
) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| Some((method, op.as_ref()?)))
}

/// The responses many operations share, by their name under
/// `components/responses`: whether each is JSON (the API's error) and
/// what it says.
const SHARED: [(&str, bool, &str); 7] = [
    (
        "Unauthorized",
        true,
        "no bearer token, or one the server does not know: pass --token or set DESKHAND_TOKEN",
    ),
    (
        "TooManyFailures",
        true,
        "too many failed authentications from this address; Retry-After says when to try again",
    ),
    (
        "BodyTooLarge",
        true,
        "the body is over this route's limit; the error names it",
    ),
    (
        "NotJson",
        false,
        "the body is not sent as application/json (axum's plain-text answer)",
    ),
    (
        "NotOfShape",
        false,
        "the body is JSON but not of this request's shape (axum's plain-text answer)",
    ),
    ("ServerFailed", true, "the server failed; its log says why"),
    (
        "DatabaseUnavailable",
        true,
        "the database refuses writes or cannot be read (a full disk, damage); the error says what to do",
    ),
];

/// Adds what every operation shares (see the module's documentation).
fn conventions(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "an operator's API token (`deskhand operators add` prints one)",
                ))
                .build(),
        ),
    );
    for (name, json, description) in SHARED {
        let response = if json {
            error(description)
        } else {
            text(description)
        };
        components
            .responses
            .insert(name.to_string(), RefOr::T(response));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            shared_responses(path, op);
        }
    }
}

/// The responses an operation on `path` has for being an API request,
/// beside those its handler declares.
fn shared_responses(path: &str, op: &mut Operation) {
    let authed = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let json_body = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.contains_key("application/json"));
    let parses = json_body || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, name: &str| {
        responses
            .entry(status.to_string())
            .or_insert(RefOr::Ref(Ref::from_response_name(name)));
    };
    if authed {
        add("401", "Unauthorized");
        add("429", "TooManyFailures");
    }
    if op.request_body.is_some() && deskhand_api_types::limits::body_limit(path).is_some() {
        add("413", "BodyTooLarge");
    }
    if json_body {
        add("415", "NotJson");
        add("422", "NotOfShape");
    }
    add("500", "ServerFailed");
    add("503", "DatabaseUnavailable");
    if parses {
        // The handler's own 400s are JSON; those of axum's extractors (a
        // query or path that does not parse, JSON that is not JSON) are
        // plain text, under the same status.
        let plain = text("the request does not parse (axum's plain-text answer)");
        match responses
            .entry("400".to_string())
            .or_insert(RefOr::T(plain.clone()))
        {
            RefOr::T(r) => {
                for (kind, content) in plain.content {
                    r.content.entry(kind).or_insert(content);
                }
            }
            RefOr::Ref(_) => {}
        }
    }
}

/// A response with the API's JSON error.
fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// A response with a plain-text body (axum's extractor rejections).
fn text(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                )))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests;
