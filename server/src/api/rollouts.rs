//! Staged rollouts over the API: create, preview, list, show (the progress
//! document) and the operators' commands. Creating and commanding go
//! through the conductor (`crate::conductor`), the one task that changes
//! rollouts; reading is straight from the store.
//!
//! Roles: viewers look (list, show, preview); technicians create, pause
//! and abort (abort stops harm, so whoever can start a rollout can stop
//! it); admins also approve waves and resume a paused rollout, the two
//! decisions that let it go further.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use deskhand_shared::jobs::ItemKind;

use super::error::{ApiError, ApiResult};
use super::jobs::{DEFAULT_TIMEOUT, check_params, resolve_targets};
use super::params::duration_secs;
use super::{Authed, Shared};
use crate::conductor::step::output_tail;
use crate::conductor::{ConductorError, Create, Resolve, check_of_manifest, installed_map};
use crate::rollouts::plan::{ItemRef, parse_percentages};
use crate::rollouts::window::{MachineZone, Window};
use crate::rollouts::{Event, Phase, RolloutAction, RolloutSettings, RolloutSpec};
use crate::store::{Role, RolloutRecord, Store};
use crate::{rfc3339, unix_now};
pub use deskhand_api_types::rollouts::{
    NewRollout, PreviewMachine, PreviewWave, RolloutMachineView, RolloutPreview, RolloutQuery,
    RolloutSettingsView, RolloutView, WaveCountsView, WaveView,
};
use deskhand_api_types::server::ErrorBody;

/// Waves when none are given.
pub const DEFAULT_WAVES: &str = "5%,25%,100%";
/// How long a rollout may run when no deadline is given.
pub const DEFAULT_DEADLINE: &str = "14d";
/// Machines running at once when not given.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 100;
/// Most rollouts a list shows.
const LIST_LIMIT: i64 = 200;

/// The rollout routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/rollouts", get(list).post(create))
        .route("/api/v1/rollouts/preview", post(preview))
        .route("/api/v1/rollouts/{id}", get(show))
        .route("/api/v1/rollouts/{id}/{command}", post(command))
}

/// A request made ready: the spec to plan and what the record keeps.
struct Prepared {
    spec: RolloutSpec,
    record: RolloutRecord,
    check: ItemRef,
    skipped: Vec<String>,
    hosts: HashMap<String, String>,
}

async fn prepare(s: &Shared, req: NewRollout, by: &str, now: i64) -> Result<Prepared, ApiError> {
    let action = RolloutAction::parse(&req.action).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown rollout action `{}`: use install, uninstall or script",
            crate::said(&req.action)
        ))
    })?;
    let kind = match action {
        RolloutAction::Script => ItemKind::Script,
        _ => ItemKind::Package,
    };
    // `NAME` alone is the newest published version, as for jobs; the
    // rollout records which one that was.
    let (name, version) = match req.item.trim().rsplit_once('@') {
        Some((n, v)) => (n.trim().to_string(), Some(v.trim().to_string())),
        None => (req.item.trim().to_string(), None),
    };
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "name the package or script: NAME@VERSION, e.g. firefox@128.0",
        ));
    }
    let found = s
        .store
        .find_item(kind.as_str().to_string(), name, version)
        .await?;
    let item = ItemRef {
        name: found.name.clone(),
        version: found.version.clone(),
    };
    check_params(action.as_str(), &found, &req.args)?;
    let check = check_of_manifest(&item, &found.manifest);
    let secs = |what: &str, text: &Option<String>, default: &str| {
        duration_secs(what, &Some(text.clone().unwrap_or_else(|| default.into())))
            .map(|d| d.unwrap_or(0))
    };
    let soak_secs = secs("soak", &req.soak, "0s")?;
    let deadline_secs = secs("deadline", &req.deadline, DEFAULT_DEADLINE)?;
    let timeout_secs = secs("timeout", &req.timeout, DEFAULT_TIMEOUT)?;
    if timeout_secs < 1 {
        return Err(ApiError::bad_request("the timeout must be at least 1s"));
    }
    let waves = parse_percentages(req.waves.as_deref().unwrap_or(DEFAULT_WAVES))
        .map_err(ApiError::bad_request)?;
    let failure_threshold_pct = match req.pause_if_failures_exceed.as_deref() {
        None => 0,
        Some(t) => {
            let p = t.trim();
            p.strip_suffix('%')
                .unwrap_or(p)
                .trim()
                .parse::<u32>()
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "`{}` is not a percentage: write it as 5%",
                        crate::said(t)
                    ))
                })?
        }
    };
    let on_abort_uninstall = match req.on_abort.as_deref() {
        None | Some("leave") => false,
        Some("uninstall") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "--on-abort `{}`: use uninstall or leave",
                crate::said(other)
            )));
        }
    };
    if let Some(w) = &req.window {
        Window::parse(w).map_err(ApiError::bad_request)?;
    }
    let settings = RolloutSettings {
        waves,
        min_wave_size: req.min_wave_size.unwrap_or(1) as usize,
        failure_threshold_pct,
        soak_secs,
        max_in_flight: req.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT) as usize,
        deadline: now.saturating_add(deadline_secs),
        approve_waves: req.approve_waves,
        on_abort_uninstall,
        pause_if_tickets_exceed: req.pause_if_tickets_exceed,
    };
    let mut hosts = HashMap::new();
    let mut skipped = Vec::new();
    let mut targets = Vec::new();
    if !req.targets.is_empty() || req.filter.is_some() {
        let (found, left) =
            resolve_targets(&s.store, &req.targets, req.filter.as_deref(), req.all).await?;
        skipped.extend(left);
        for (asset, _, host) in found {
            hosts.insert(asset.clone(), host);
            targets.push(asset);
        }
    }
    let mut canary = Vec::new();
    if !req.canary.is_empty() {
        let (found, left) = resolve_targets(&s.store, &req.canary, None, true).await?;
        skipped.extend(left);
        for (asset, _, host) in found {
            hosts.insert(asset.clone(), host);
            canary.push(asset);
        }
    }
    let spec = RolloutSpec {
        action,
        item: check.clone(),
        targets,
        canary,
        settings: settings.clone(),
    };
    spec.validate(now).map_err(ApiError::bad_request)?;
    let mut words = req.targets.clone();
    words.extend(req.filter.iter().map(|f| format!("where {f}")));
    let record = RolloutRecord {
        state: crate::rollouts::Rollout::unstarted(settings),
        action,
        item_id: found.id,
        item: format!("{}@{}", item.name, item.version),
        args: req.args,
        targets: req.targets,
        filter: req.filter,
        canary: req.canary,
        window: req.window,
        timeout_secs,
        job_id: String::new(),
        rollback_job_id: None,
        ticket_mark: 0,
        tickets: Vec::new(),
        created_at: now,
        created_by: by.to_string(),
    };
    Ok(Prepared {
        spec,
        record,
        check,
        skipped,
        hosts,
    })
}

#[utoipa::path(
    post,
    path = "/api/v1/rollouts",
    operation_id = "create_rollout",
    tag = "rollouts",
    summary = "create a staged rollout (waves, gates, window)",
    request_body = NewRollout,
    responses(
        (status = 201, description = "the rollout", body = RolloutView),
        (status = 400, description = "a setting or the targets are not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such item, asset or label", body = ErrorBody),
        (status = 409, description = "the conductor refused it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<NewRollout>,
) -> Result<(StatusCode, Json<RolloutView>), ApiError> {
    op.require(Role::Technician)?;
    let p = prepare(&s, req, &op.0.name, unix_now()).await?;
    let id = s
        .conductor
        .create(Create {
            record: p.record,
            targets: p.spec.targets,
            canary: p.spec.canary,
            check: p.check,
        })
        .await
        .map_err(conductor_error)?;
    let rec = s.store.rollout(id).await?;
    Ok((StatusCode::CREATED, Json(view(&s.store, rec, None).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/rollouts/preview",
    operation_id = "preview_rollout",
    tag = "rollouts",
    summary = "what a rollout would do: waves, compliant machines, next windows",
    request_body = NewRollout,
    responses(
        (status = 200, description = "the plan, created now", body = RolloutPreview),
        (status = 400, description = "a setting or the targets are not valid", body = ErrorBody),
        (status = 404, description = "no such item, asset or label", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn preview(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<NewRollout>,
) -> ApiResult<RolloutPreview> {
    let now = unix_now();
    let p = prepare(&s, req, &op.0.name, now).await?;
    let id = s.store.next_rollout_number().await?;
    let (installed, scheme) = installed_map(&s.store, &p.check).await?;
    let plan = p.spec.plan(&id.to_string(), &installed, scheme);
    let window = p
        .record
        .window
        .as_deref()
        .and_then(|w| Window::parse(w).ok());
    let ids: Vec<String> = plan
        .waves
        .iter()
        .flatten()
        .map(|a| a.asset.clone())
        .collect();
    let zones: HashMap<String, (Option<String>, Option<i32>)> = s
        .store
        .machine_zones(ids)
        .await?
        .into_iter()
        .map(|(id, name, offset)| (id, (name, offset)))
        .collect();
    let settings = settings_view(&p.record);
    let waves = plan
        .waves
        .iter()
        .enumerate()
        .map(|(index, assets)| PreviewWave {
            index,
            name: wave_name(index, &p.record.state.settings.waves),
            machines: assets
                .iter()
                .map(|a| {
                    let (name, offset) = zones.get(&a.asset).cloned().unwrap_or((None, None));
                    let zone = MachineZone::from_report(name.as_deref(), offset);
                    let next_window = window.as_ref().and_then(|w| {
                        if w.is_open(now, &zone) {
                            None
                        } else {
                            w.next_open(now, &zone).map(rfc3339)
                        }
                    });
                    PreviewMachine {
                        asset_id: a.asset.clone(),
                        hostname: p.hosts.get(&a.asset).cloned().unwrap_or_default(),
                        compliant: a.compliant,
                        time_zone: Some(zone.resolved().to_string()),
                        next_window,
                    }
                })
                .collect(),
        })
        .collect();
    Ok(Json(RolloutPreview {
        id,
        action: p.record.action.as_str().to_string(),
        item: p.record.item,
        settings,
        waves,
        skipped: p.skipped,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/rollouts",
    operation_id = "list_rollouts",
    tag = "rollouts",
    summary = "staged rollouts",
    responses(
        (status = 200, description = "the newest rollouts", body = Vec<RolloutView>),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<RolloutView>> {
    let mut out = Vec::new();
    for rec in s.store.rollouts(false, LIST_LIMIT).await? {
        out.push(view(&s.store, rec, None).await?);
    }
    Ok(Json(out))
}

fn rollout_id(text: &str) -> Result<i64, ApiError> {
    text.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`{}` is not a rollout number; `deskhand rollouts list` shows them",
                crate::said(text)
            ))
        })
}

#[utoipa::path(
    get,
    path = "/api/v1/rollouts/{id}",
    operation_id = "show_rollout",
    tag = "rollouts",
    summary = "a rollout's progress per wave (?machines=all|failed)",
    params(("id" = String, Path, description = "rollout number: 42 or #42"), RolloutQuery),
    responses(
        (status = 200, description = "where it stands", body = RolloutView),
        (status = 400, description = "not a rollout number, or machines is not valid", body = ErrorBody),
        (status = 404, description = "no such rollout", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show(
    State(s): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
    Query(q): Query<RolloutQuery>,
) -> ApiResult<RolloutView> {
    let id = rollout_id(&id)?;
    let machines = match q.machines.as_deref() {
        None | Some("none") => None,
        Some("all") => Some(false),
        Some("failed") => Some(true),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "machines=`{}`: use all, failed or none",
                crate::said(other)
            )));
        }
    };
    let rec = s.store.rollout(id).await?;
    Ok(Json(view(&s.store, rec, machines).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/rollouts/{id}/{command}",
    operation_id = "command_rollout",
    tag = "rollouts",
    summary = "pause, resume, approve or abort a rollout",
    params(("id" = String, Path, description = "rollout number: 42 or #42"), ("command" = String, Path, description = "pause, resume, approve or abort")),
    responses(
        (status = 200, description = "where it stands after the command", body = RolloutView),
        (status = 400, description = "not a rollout number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such rollout or command", body = ErrorBody),
        (status = 409, description = "the rollout is not in a state the command applies to", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn command(
    State(s): State<Shared>,
    op: Authed,
    Path((id, verb)): Path<(String, String)>,
) -> ApiResult<RolloutView> {
    let id = rollout_id(&id)?;
    let by = op.0.name.clone();
    let event = match verb.as_str() {
        "pause" => {
            op.require(Role::Technician)?;
            Event::Pause { by }
        }
        "abort" => {
            op.require(Role::Technician)?;
            Event::Abort { by }
        }
        "resume" => {
            op.require(Role::Admin)?;
            Event::Resume { by }
        }
        "approve" => {
            op.require(Role::Admin)?;
            Event::Approve { by }
        }
        other => {
            return Err(ApiError::not_found(format!(
                "no rollout command `{}`: use pause, resume, approve or abort",
                crate::said(other)
            )));
        }
    };
    s.conductor
        .command(id, event)
        .await
        .map_err(conductor_error)?;
    let rec = s.store.rollout(id).await?;
    Ok(Json(view(&s.store, rec, None).await?))
}

fn conductor_error(e: ConductorError) -> ApiError {
    match e {
        ConductorError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
        ConductorError::Store(e) => e.into(),
        ConductorError::Stopped => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn wave_name(index: usize, waves: &[u32]) -> String {
    match index {
        0 => "canary".into(),
        k => format!("wave {k} ({}%)", waves.get(k - 1).copied().unwrap_or(100)),
    }
}

fn settings_view(r: &RolloutRecord) -> RolloutSettingsView {
    let s = &r.state.settings;
    RolloutSettingsView {
        waves: s.waves.clone(),
        min_wave_size: s.min_wave_size,
        failure_threshold_pct: s.failure_threshold_pct,
        soak_secs: s.soak_secs,
        max_in_flight: s.max_in_flight,
        deadline: rfc3339(s.deadline),
        timeout_secs: r.timeout_secs,
        approve_waves: s.approve_waves,
        on_abort_uninstall: s.on_abort_uninstall,
        pause_if_tickets_exceed: s.pause_if_tickets_exceed,
        window: r.window.clone(),
    }
}

/// The progress document; with machines (`Some(failed_only)`) when asked.
pub(super) async fn view(
    store: &Store,
    rec: RolloutRecord,
    machines: Option<bool>,
) -> Result<RolloutView, ApiError> {
    let st = &rec.state;
    let job = rec.job_id.clone();
    let rebooting = store.read(move |r| r.reboot_pending_assets(&job)).await?;
    let waves = (0..st.waves)
        .map(|index| {
            let c = st.counts(index);
            WaveView {
                index,
                name: wave_name(index, &st.settings.waves),
                started: index <= st.wave,
                counts: WaveCountsView {
                    total: c.open()
                        + c.succeeded
                        + c.failed
                        + c.expired
                        + c.skipped
                        + c.compliant
                        + c.rolled_back,
                    pending: c.pending,
                    in_flight: c.in_flight,
                    succeeded: c.succeeded,
                    awaiting_restart: st.awaiting_restart(index, &rebooting),
                    failed: c.failed,
                    expired: c.expired,
                    skipped: c.skipped,
                    compliant: c.compliant,
                    rolled_back: c.rolled_back,
                },
            }
        })
        .collect();
    let id = rec.number();
    let rows = match machines {
        None => Vec::new(),
        Some(failed_only) => {
            let job = rec.job_id.clone();
            let details = store
                .read(move |r| r.rollout_machine_details(id, &job, failed_only))
                .await?;
            details
                .into_iter()
                .filter_map(|d| {
                    let m = st.machine(&d.asset_id)?;
                    Some(RolloutMachineView {
                        wave: m.wave,
                        state: m.state.as_str().to_string(),
                        sent_at: m.sent_at.map(rfc3339),
                        output_tail: output_tail(&d),
                        asset_id: d.asset_id,
                        hostname: d.hostname,
                        exit_code: d.exit_code,
                        reboot_pending: d.reboot_pending,
                        message: d.message,
                        installed_version: d.installed_version,
                    })
                })
                .collect()
        }
    };
    let (paused_reason, soak_until) = match &st.phase {
        Phase::Paused(r) => (Some(r.to_string()), None),
        Phase::Soaking { until } => (None, Some(rfc3339(*until))),
        _ => (None, None),
    };
    Ok(RolloutView {
        id,
        action: rec.action.as_str().to_string(),
        item: rec.item.clone(),
        targets: {
            let mut w = rec.targets.clone();
            w.extend(rec.filter.iter().map(|f| format!("where {f}")));
            if !rec.canary.is_empty() {
                w.push(format!("canary {}", rec.canary.join(",")));
            }
            w.join(", ")
        },
        created_at: rfc3339(rec.created_at),
        created_by: rec.created_by.clone(),
        phase: st.phase.as_str().to_string(),
        paused_reason,
        soak_until,
        wave: st.wave,
        settings: settings_view(&rec),
        waves,
        job_id: Some(rec.job_id.clone()).filter(|j| !j.is_empty()),
        rollback_job_id: rec.rollback_job_id.clone(),
        tickets: rec.tickets.clone(),
        machines: rows,
    })
}

/// Target resolution for the conductor's late joiners: the assets with an
/// agent the words and filter select now.
pub fn resolver(store: Store) -> Resolve {
    Arc::new(move |words: Vec<String>, filter: Option<String>| {
        let store = store.clone();
        Box::pin(async move {
            match resolve_targets(&store, &words, filter.as_deref(), true).await {
                Ok((found, _)) => Ok(found.into_iter().map(|(a, _, _)| a).collect()),
                // Nothing matches now: no joiner, not an error.
                Err(e) if e.status == StatusCode::BAD_REQUEST => Ok(Vec::new()),
                Err(e) => Err(e.message),
            }
        })
    })
}
