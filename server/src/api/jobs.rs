//! Packages, scripts, content and jobs over the API.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use deskhand_shared::jobs::ItemKind;
use serde::Deserialize;

mod view;

use self::view::{detail, job_view};
use super::error::{ApiError, ApiResult};
use super::params::duration_secs;
use super::select::asset_rows;
use super::{Authed, Shared};
use crate::store::{ContentItem, NewJob, Role};
use crate::{rfc3339, unix_now};
use deskhand_api_types::assets::AssetQuery;
pub use deskhand_api_types::jobs::{
    ContentInfo, ItemView, JobCreated, JobDetail, JobView, ListQuery, PublishItem, RunJob,
    TargetView,
};
use deskhand_api_types::server::ErrorBody;

/// Largest artifact accepted.
pub const MAX_ARTIFACT_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// A job's deadline when none is given.
pub const DEFAULT_DEADLINE: &str = "7d";
/// A target's timeout when none is given.
pub const DEFAULT_TIMEOUT: &str = "30m";

/// The job routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/content/{sha256}",
            put(upload_content)
                .get(content_info)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/api/v1/packages", get(list_packages).post(publish_package))
        .route("/api/v1/packages/{name}", get(show_package))
        .route("/api/v1/scripts", get(list_scripts).post(publish_script))
        .route("/api/v1/scripts/{name}", get(show_script))
        .route("/api/v1/jobs", get(list_jobs).post(run_job))
        .route("/api/v1/jobs/{id}", get(show_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
}

#[utoipa::path(
    put,
    path = "/api/v1/content/{sha256}",
    tag = "content",
    summary = "upload a package or script's bytes",
    params(("sha256" = String, Path, description = "SHA-256 of the bytes, lower-case hex")),
    request_body(content = [u8], content_type = "application/octet-stream", description = "the bytes, at most 4 GiB; their SHA-256 must be the path's"),
    responses(
        (status = 200, description = "stored", body = ContentInfo),
        (status = 400, description = "the bytes do not match the hash, or are too many", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn upload_content(
    State(s): State<Shared>,
    op: Authed,
    Path(sha256): Path<String>,
    body: Body,
) -> ApiResult<ContentInfo> {
    op.require(Role::Admin)?;
    let size = s
        .content
        .put(&sha256, MAX_ARTIFACT_BYTES, body.into_data_stream())
        .await
        .map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    Ok(Json(ContentInfo { sha256, size }))
}

#[utoipa::path(
    get,
    path = "/api/v1/content/{sha256}",
    tag = "content",
    summary = "whether the server has these bytes",
    params(("sha256" = String, Path, description = "SHA-256 of the bytes, lower-case hex")),
    responses(
        (status = 200, description = "stored, with its size", body = ContentInfo),
        (status = 404, description = "no such content", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn content_info(
    State(s): State<Shared>,
    _: Authed,
    Path(sha256): Path<String>,
) -> ApiResult<ContentInfo> {
    let size = s
        .content
        .size(&sha256)
        .await
        .map_err(|e| ApiError::internal(format_args!("{e:#}")))?
        .ok_or_else(|| ApiError::not_found(format!("no content {sha256}")))?;
    Ok(Json(ContentInfo { sha256, size }))
}

fn item_view(i: ContentItem) -> ItemView {
    let m = i.manifest.parse_unverified().ok();
    ItemView {
        format: m
            .as_ref()
            .and_then(|m| m.artifact.as_ref().map(|a| a.format.clone())),
        install: m.as_ref().map(|m| m.install.clone()).unwrap_or_default(),
        uninstall: m.as_ref().map(|m| m.uninstall.clone()).unwrap_or_default(),
        workdir: m.as_ref().and_then(|m| m.workdir.clone()),
        params: m.map(|m| m.params).unwrap_or_default(),
        kind: i.kind,
        name: i.name,
        version: i.version,
        sha256: i.sha256,
        size: i.size,
        publisher: i.publisher,
        published_at: rfc3339(i.published_at),
        published_by: i.published_by,
    }
}

async fn publish(s: &Shared, op: Authed, req: PublishItem, kind: ItemKind) -> ApiResult<ItemView> {
    op.require(Role::Admin)?;
    let manifest = req
        .manifest
        .parse_unverified()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if manifest.kind != kind {
        return Err(ApiError::bad_request(format!(
            "this manifest describes a {}; publish it with `{}s publish`",
            manifest.kind.as_str(),
            manifest.kind.as_str()
        )));
    }
    if let Some(key) = &req.public_key {
        req.manifest
            .verify(std::slice::from_ref(key))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    }
    if let Some(a) = &manifest.artifact {
        let stored = s
            .content
            .size(&a.sha256)
            .await
            .map_err(|e| ApiError::internal(format_args!("{e:#}")))?;
        match stored {
            Some(size) if size == a.size => {}
            Some(size) => {
                return Err(ApiError::bad_request(format!(
                    "the stored content {} is {size} bytes, but the manifest says {}",
                    a.sha256, a.size
                )));
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "upload the content {} first (PUT /api/v1/content/{})",
                    a.sha256, a.sha256
                )));
            }
        }
    }
    let item = s
        .store
        .publish_item(req.manifest, op.0.name.clone(), unix_now())
        .await?;
    Ok(Json(item_view(item)))
}

#[utoipa::path(
    post,
    path = "/api/v1/packages",
    tag = "content",
    summary = "publish a package",
    request_body = PublishItem,
    responses(
        (status = 200, description = "the package as published", body = ItemView),
        (status = 400, description = "the manifest is not a valid signed package, or its content is not uploaded", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "that version is published with other content", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn publish_package(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<PublishItem>,
) -> ApiResult<ItemView> {
    publish(&s, op, req, ItemKind::Package).await
}

#[utoipa::path(
    post,
    path = "/api/v1/scripts",
    tag = "content",
    summary = "publish a script",
    request_body = PublishItem,
    responses(
        (status = 200, description = "the script as published", body = ItemView),
        (status = 400, description = "the manifest is not a valid signed script, or its content is not uploaded", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 409, description = "that version is published with other content", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn publish_script(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<PublishItem>,
) -> ApiResult<ItemView> {
    publish(&s, op, req, ItemKind::Script).await
}

async fn list_items(s: &Shared, kind: ItemKind) -> ApiResult<Vec<ItemView>> {
    let items = s.store.list_items(kind.as_str().to_string()).await?;
    Ok(Json(items.into_iter().map(item_view).collect()))
}

#[utoipa::path(
    get,
    path = "/api/v1/packages",
    tag = "content",
    summary = "signed packages",
    responses(
        (status = 200, description = "every published version", body = Vec<ItemView>),
    ),
    security(("bearer" = [])),
)]
async fn list_packages(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<ItemView>> {
    list_items(&s, ItemKind::Package).await
}

#[utoipa::path(
    get,
    path = "/api/v1/scripts",
    tag = "content",
    summary = "signed scripts",
    responses(
        (status = 200, description = "every published version", body = Vec<ItemView>),
    ),
    security(("bearer" = [])),
)]
async fn list_scripts(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<ItemView>> {
    list_items(&s, ItemKind::Script).await
}

/// `?version=` of an item's page; the newest if absent.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// The version to show; the newest published if absent.
    version: Option<String>,
}

async fn show_item(
    s: &Shared,
    kind: ItemKind,
    name: String,
    q: VersionQuery,
) -> ApiResult<ItemView> {
    let item = s
        .store
        .find_item(kind.as_str().to_string(), name, q.version)
        .await?;
    Ok(Json(item_view(item)))
}

#[utoipa::path(
    get,
    path = "/api/v1/packages/{name}",
    tag = "content",
    summary = "a package (?version=, else the newest): its commands and declared parameters",
    params(("name" = String, Path, description = "package name"), VersionQuery),
    responses(
        (status = 200, description = "the package", body = ItemView),
        (status = 404, description = "no such package or version", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_package(
    State(s): State<Shared>,
    _: Authed,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<ItemView> {
    show_item(&s, ItemKind::Package, name, q).await
}

#[utoipa::path(
    get,
    path = "/api/v1/scripts/{name}",
    tag = "content",
    summary = "a script (?version=, else the newest): its command and declared parameters",
    params(("name" = String, Path, description = "script name"), VersionQuery),
    responses(
        (status = 200, description = "the script", body = ItemView),
        (status = 404, description = "no such script or version", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn show_script(
    State(s): State<Shared>,
    _: Authed,
    Path(name): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<ItemView> {
    show_item(&s, ItemKind::Script, name, q).await
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    summary = "run a job on targets",
    request_body = RunJob,
    responses(
        (status = 200, description = "the job, queued for its targets", body = JobCreated),
        (status = 400, description = "the action, item, parameters, durations or targets are not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such item, asset, label or ticket", body = ErrorBody),
        (status = 409, description = "a target key matches several assets, or the ticket takes no attachment", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn run_job(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<RunJob>,
) -> ApiResult<JobCreated> {
    op.require(Role::Technician)?;
    let needs_item = match req.action.as_str() {
        "install" | "uninstall" => Some(ItemKind::Package),
        "script" => Some(ItemKind::Script),
        "inventory" | "diag" => None,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown job action `{}`: use install, uninstall, script, inventory or diag",
                crate::said(other)
            )));
        }
    };
    let diag_check = if req.action == "diag" {
        let check = req
            .item
            .clone()
            .ok_or_else(|| ApiError::bad_request("a diag job needs the check to run"))?;
        crate::jobs::diag_request(&check, &req.args).map_err(ApiError::bad_request)?;
        Some(check)
    } else {
        None
    };
    let item_id = match (needs_item, &req.item) {
        (Some(kind), Some(spec)) => {
            let (name, version) = match spec.split_once('@') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (spec.clone(), None),
            };
            let item = s
                .store
                .find_item(kind.as_str().to_string(), name, version)
                .await?;
            check_params(&req.action, &item, &req.args)?;
            Some(item.id)
        }
        (Some(kind), None) => {
            return Err(ApiError::bad_request(format!(
                "a {} job needs the {} to run",
                req.action,
                kind.as_str()
            )));
        }
        (None, _) => {
            if req.action == "inventory" && !req.args.is_empty() {
                return Err(ApiError::bad_request(
                    "an inventory job takes no parameters",
                ));
            }
            None
        }
    };
    let secs = |what: &str, text: &Option<String>, default: &str| {
        duration_secs(what, &Some(text.clone().unwrap_or_else(|| default.into())))
            .map(|d| d.unwrap_or(0))
    };
    let timeout_secs = secs("timeout", &req.timeout, DEFAULT_TIMEOUT)?;
    let deadline_secs = secs("deadline", &req.deadline, DEFAULT_DEADLINE)?;
    if timeout_secs < 1 {
        return Err(ApiError::bad_request("the timeout must be at least 1s"));
    }
    if let Some(ticket) = req.ticket {
        super::attach::check_attachable(&s, ticket).await?;
    }
    let (targets, skipped) =
        resolve_targets(&s.store, &req.targets, req.filter.as_deref(), req.all).await?;
    let online = targets
        .iter()
        .filter(|(_, agent, _)| s.presence.status(agent).is_some())
        .count();
    let agents: Vec<String> = targets.iter().map(|(_, a, _)| a.clone()).collect();
    let mut spec: Vec<String> = req.targets.clone();
    spec.extend(req.filter.iter().map(|f| format!("where {f}")));
    let now = unix_now();
    let what = format!(
        "{} job {}{}",
        req.action,
        req.item.as_deref().unwrap_or(""),
        if req.args.is_empty() {
            String::new()
        } else {
            format!(" {}", req.args.join(" "))
        }
    );
    let (id, row) = s
        .store
        .create_job(
            NewJob {
                action: req.action.clone(),
                item_id,
                diag_check,
                args: req.args,
                timeout_secs,
                deadline: now.saturating_add(deadline_secs),
                targets_spec: spec.join(", "),
                targets,
            },
            op.0.name.clone(),
            now,
        )
        .await?;
    if let Some(ticket) = req.ticket {
        let summary = format!("{what} on {} target(s), job {}", agents.len(), &id[..12]);
        s.store
            .change_ticket(
                ticket,
                crate::store::TicketChange::AttachJob {
                    kind: "job".into(),
                    id: row,
                    summary,
                },
                op.0.name.clone(),
                now,
            )
            .await?;
    }
    for agent in &agents {
        s.presence.poke_jobs(agent);
    }
    Ok(Json(JobCreated {
        id,
        targets: agents.len(),
        online,
        skipped,
    }))
}

/// Checks a job's `NAME=VALUE` values against the parameters its item's
/// manifest declares, so that a job its agents would refuse is refused
/// here, before it fans out. (The agents check again, against the
/// manifest they verified: that is the check that counts.)
pub(super) fn check_params(
    action: &str,
    item: &ContentItem,
    args: &[String],
) -> Result<(), ApiError> {
    let values = deskhand_shared::params::split_assignments(args).map_err(ApiError::bad_request)?;
    if action == "uninstall" {
        if values.is_empty() {
            return Ok(());
        }
        return Err(ApiError::bad_request(
            "an uninstall runs the package's signed uninstall command and takes no parameters",
        ));
    }
    let manifest = item
        .manifest
        .parse_unverified()
        .map_err(|e| ApiError::bad_request(format!("{} {}: {e}", item.name, item.version)))?;
    let label = format!("{} {}", item.name, item.version);
    deskhand_shared::params::resolve(&label, &manifest.params, &values)
        .map(drop)
        .map_err(ApiError::bad_request)
}

pub(super) type Targets = Vec<(String, String, String)>;

/// Resolves target words and a filter to (asset, agent, host name), in
/// order, without duplicates; assets without an agent are returned apart.
/// Targets chosen by `all`, a label or a filter that reach the whole
/// fleet need `all_confirmed`.
pub(super) async fn resolve_targets(
    store: &crate::store::Store,
    words: &[String],
    filter: Option<&str>,
    all_confirmed: bool,
) -> Result<(Targets, Vec<String>), ApiError> {
    if words.is_empty() && filter.is_none() {
        return Err(ApiError::bad_request(
            "name the targets: --target ASSET, --target label:NAME, --target all, or --where FILTER",
        ));
    }
    let mut ids: Vec<String> = Vec::new();
    for word in words {
        if let Some(label) = word.strip_prefix("label:") {
            let q = AssetQuery {
                label: Some(label.to_string()),
                ..AssetQuery::default()
            };
            ids.extend(asset_rows(store, &q).await?.into_iter().map(|a| a.id));
        } else if word == "all" {
            let rows = asset_rows(store, &AssetQuery::default()).await?;
            ids.extend(rows.into_iter().map(|a| a.id));
        } else {
            let a = store.find_asset(word.clone()).await?;
            if a.retired.is_some() {
                return Err(ApiError::bad_request(format!(
                    "{} is retired; put it back in service first (deskhand assets restore {})",
                    a.hostname, a.id
                )));
            }
            ids.push(a.id);
        }
    }
    if let Some(f) = filter {
        let q = super::parse_filter(f).map_err(ApiError::bad_request)?;
        ids.extend(asset_rows(store, &q).await?.into_iter().map(|a| a.id));
    }
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for (asset, agent, host) in store.asset_agents(ids).await? {
        match agent {
            Some(agent) => targets.push((asset, agent, host)),
            None => skipped.push(if host.is_empty() { asset } else { host }),
        }
    }
    if targets.is_empty() {
        return Err(ApiError::bad_request(if skipped.is_empty() {
            "no asset matches the targets".to_string()
        } else {
            format!(
                "none of the matching assets has an agent to run the job ({})",
                skipped.join(", ")
            )
        }));
    }
    let selected = filter.is_some() || words.iter().any(|w| w == "all" || w.starts_with("label:"));
    if selected && !all_confirmed {
        let everyone = asset_rows(store, &AssetQuery::default()).await?;
        let fleet = store
            .asset_agents(everyone.into_iter().map(|a| a.id).collect())
            .await?;
        let fleet: Vec<&str> = fleet
            .iter()
            .filter(|(_, agent, _)| agent.is_some())
            .map(|(asset, _, _)| asset.as_str())
            .collect();
        if covers_fleet(&targets, &fleet) {
            return Err(ApiError::bad_request(format!(
                "this job would run on every asset ({}); pass --all to confirm",
                targets.len()
            )));
        }
    }
    Ok((targets, skipped))
}

/// Whether the targets hold every asset of `fleet` (the in-service
/// assets with an agent): a job that would reach every machine.
fn covers_fleet(targets: &Targets, fleet: &[&str]) -> bool {
    let chosen: BTreeSet<&str> = targets.iter().map(|(asset, _, _)| asset.as_str()).collect();
    !fleet.is_empty() && fleet.iter().all(|a| chosen.contains(a))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    summary = "jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "the newest jobs", body = Vec<JobView>),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_jobs(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<JobView>> {
    let jobs = s
        .store
        .list_jobs(q.limit.unwrap_or(50).clamp(1, 10_000))
        .await?;
    Ok(Json(jobs.into_iter().map(job_view).collect()))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    summary = "a job and each target's state",
    params(("id" = String, Path, description = "job id or an unambiguous prefix")),
    responses(
        (status = 200, description = "the job", body = JobDetail),
        (status = 400, description = "no id", body = ErrorBody),
        (status = 404, description = "no such job", body = ErrorBody),
        (status = 409, description = "the prefix matches several jobs", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show_job(
    State(s): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> ApiResult<JobDetail> {
    if id.is_empty() {
        return Err(ApiError::bad_request("give a job id"));
    }
    Ok(Json(detail(s.store.get_job(id).await?)))
}

/// A job by its row number, for a ticket's timeline.
pub(super) async fn job_detail(store: &crate::store::Store, row: i64) -> Option<JobDetail> {
    let id = store.job_id_of_row(row).await.ok()?;
    Some(detail(store.get_job(id).await.ok()?))
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "jobs",
    summary = "cancel a job's pending targets",
    params(("id" = String, Path, description = "job id or an unambiguous prefix")),
    responses(
        (status = 202, description = "cancelling; agents are told"),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such job", body = ErrorBody),
        (status = 409, description = "the job has finished, or the prefix matches several jobs", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn cancel_job(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    let (job, _) = s.store.get_job(id).await?;
    let agents = s.store.cancel_job(job.id, op.0.name, unix_now()).await?;
    for agent in agents {
        s.presence.poke_jobs(&agent);
    }
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(assets: &[&str]) -> Targets {
        assets
            .iter()
            .map(|a| (a.to_string(), format!("agent-{a}"), format!("host-{a}")))
            .collect()
    }

    #[test]
    fn a_job_covers_the_fleet_only_when_it_reaches_every_machine() {
        let fleet = ["a", "b", "c"];
        assert!(covers_fleet(&targets(&["c", "a", "b"]), &fleet));
        assert!(!covers_fleet(&targets(&["a", "b"]), &fleet));
        // A fleet of one reached by a filter is the whole fleet.
        assert!(covers_fleet(&targets(&["a"]), &["a"]));
        // No fleet to speak of (no agent in service): nothing to confirm.
        assert!(!covers_fleet(&targets(&["a"]), &[]));
    }
}
