//! `GET /api/v1/assets/{key}`: everything about one asset (hardware,
//! software, labels, tickets, recent changes, jobs, stale parts).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

use super::assets::{asset_view, recent_changes};
use super::error::{ApiError, ApiResult};
use super::labels::labels_of;
use super::software::software_view;
use super::{Authed, Shared};
use crate::{rfc3339, unix_now};
use deskhand_api_types::asset_page::{
    AssetDetail, AssetJobView, InterfaceView, StaleView, StorageView,
};
use deskhand_api_types::assets::{ShowQuery, SoftwareView};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/assets/{key}", get(show_asset))
}

#[utoipa::path(
    get,
    path = "/api/v1/assets/{key}",
    tag = "assets",
    summary = "one asset (id, prefix, host name or serial)",
    params(("key" = String, Path, description = "asset id, id prefix, host name or serial number"), ShowQuery),
    responses(
        (status = 200, description = "the asset in full", body = AssetDetail),
        (status = 404, description = "no such asset", body = ErrorBody),
        (status = 409, description = "the key matches several assets", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show_asset(
    State(s): State<Shared>,
    _: Authed,
    Path(key): Path<String>,
    Query(q): Query<ShowQuery>,
) -> ApiResult<AssetDetail> {
    let a = s.store.find_asset(key).await?;
    let software = asset_software(&s, &a.id, q.software.as_deref()).await?;
    // No stored form yet (never reported, or entered by hand) shows as an
    // empty inventory; one that cannot be decoded is an error naming it.
    let id = a.id.clone();
    let inv = s
        .store
        .read(move |r| r.stored_form(&id))
        .await?
        .unwrap_or_default();
    let (changed_last_7_days, changes_last_7_days_total) =
        recent_changes(&s.store, &a.id, unix_now()).await?;
    let id = a.id.clone();
    let (jobs, jobs_total) = s
        .store
        .read(move |r| r.asset_jobs(&id, MAX_JOBS_SHOWN))
        .await?;
    Ok(Json(AssetDetail {
        asset: asset_view(a.clone(), &s.presence),
        notes: a.notes,
        fqdn: a.fqdn,
        kernel: a.kernel,
        time_zone: inv.os.time_zone.clone(),
        utc_offset_secs: inv.os.utc_offset_secs,
        arch: a.arch,
        cpu_model: a.cpu_model,
        cpu_cores: a.cpu_cores,
        system_uuid: a.system_uuid,
        macs: a.macs,
        first_inventory_at: rfc3339(a.first_inventory_at),
        inventory_hash: a.inventory_hash,
        last_report_bytes: a.last_report_bytes,
        interfaces: inv
            .interfaces
            .iter()
            .map(|i| InterfaceView {
                name: i.name.clone(),
                mac: i.mac.clone(),
                addresses: i.ipv4.iter().chain(&i.ipv6).cloned().collect(),
                state: i.state.clone(),
            })
            .collect(),
        disks: inv
            .disks
            .iter()
            .map(|d| StorageView {
                name: d.name.clone(),
                kind: d.model.clone().unwrap_or_default(),
                size_bytes: d.size_bytes,
                free_bytes: None,
            })
            .collect(),
        volumes: inv
            .volumes
            .iter()
            .map(|v| StorageView {
                name: v.mount_point.clone(),
                kind: v.fs_type.clone().unwrap_or_default(),
                size_bytes: v.size_bytes,
                // Free space is volatile: the disk-usage diagnostic has it live.
                free_bytes: None,
            })
            .collect(),
        labels: labels_of(&s.store, &a.id).await?,
        tickets: super::tickets::asset_tickets(&s, &a.id).await?,
        software,
        changed_last_7_days,
        changes_last_7_days_total,
        stale: s
            .store
            .read({
                let id = a.id.clone();
                move |r| r.asset_stale(&id)
            })
            .await?
            .into_iter()
            .map(|c| StaleView {
                category: c.category,
                since: rfc3339(c.since),
                reason: c.reason,
            })
            .collect(),
        jobs: jobs.into_iter().map(asset_job_view).collect(),
        jobs_total,
        remote: super::remote::policy_view(&s.store, &a.id, unix_now()).await?,
    }))
}

/// An asset's packages, only those whose name contains `filter` (in any
/// case) when one is given.
pub(super) async fn asset_software(
    s: &Shared,
    asset_id: &str,
    filter: Option<&str>,
) -> Result<Vec<SoftwareView>, ApiError> {
    let id = asset_id.to_string();
    let mut software = s.store.read(move |r| r.asset_software(&id)).await?;
    if let Some(text) = filter.map(str::trim).filter(|t| !t.is_empty()) {
        let text = text.to_lowercase();
        software.retain(|p| p.name.to_lowercase().contains(&text));
    }
    Ok(software.into_iter().map(software_view).collect())
}

/// Most jobs an asset's page lists.
const MAX_JOBS_SHOWN: usize = 50;

fn asset_job_view(j: crate::store::AssetJob) -> AssetJobView {
    AssetJobView {
        job_id: j.job_id,
        action: j.action,
        item: j.item,
        created_at: rfc3339(j.created_at),
        state: j.state,
        exit_code: j.exit_code,
        reboot_pending: j.reboot_pending,
        finished_at: j.finished_at.map(rfc3339),
    }
}
