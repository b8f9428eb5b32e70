//! The inventory report: `GET /api/v1/reports/inventory`. The fleet now
//! (in service, online, not seen, warranty) and what changed in it per
//! period (assets added and retired, software installed, removed,
//! upgraded), for operations and supervisors.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

use super::tickets::{ReportQuery, Span, report_span};
use super::{ApiResult, Authed, CountBy, Shared, change_group_view, count_by};
use crate::store::{AssetFilter, AssetRow, AssetStatus, ChangeQuery, Store, day_of};
use crate::{rfc3339, unix_now};
pub use deskhand_api_types::reports::{FleetView, InventoryPeriodView, InventoryReport};

/// A computer not heard from for this long is counted as not seen.
const NOT_SEEN_SECS: i64 = 30 * 86_400;
/// A warranty ending within this long is counted as ending.
const WARRANTY_SOON_SECS: i64 = 90 * 86_400;
/// Rows in each of the report's top lists.
const TOP: usize = 10;

/// The report's routes.
pub fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/reports/inventory", get(inventory_report))
}

/// The fleet's figures at `now` from every asset's row; `online` says
/// whether an asset has a live connection.
pub fn fleet(rows: &[AssetRow], now: i64, online: impl Fn(&AssetRow) -> bool) -> FleetView {
    let today = day_of(now);
    let soon = day_of(now.saturating_add(WARRANTY_SOON_SECS));
    let mut f = FleetView::default();
    for a in rows {
        if a.retired.is_some() {
            f.retired += 1;
            continue;
        }
        f.in_service += 1;
        match a.warranty_until.as_str() {
            "" => f.warranty_unknown += 1,
            w if w < today.as_str() => f.warranty_ended += 1,
            w if w <= soon.as_str() => f.warranty_ends_90d += 1,
            _ => {}
        }
        if a.kind != "computer" {
            f.by_hand += 1;
            continue;
        }
        f.computers += 1;
        if online(a) {
            f.online_now += 1;
        } else if a.last_seen.is_none_or(|t| t < now - NOT_SEEN_SECS) {
            f.not_seen_30d += 1;
        }
    }
    f
}

/// What changed in `[start, end)`: assets added and retired (from their
/// rows), software changes (counted in the history).
async fn period(
    store: &Store,
    rows: &[AssetRow],
    (start, end): (i64, i64),
) -> Result<InventoryPeriodView, super::ApiError> {
    let within = |t: i64| (start..end).contains(&t);
    let mut p = InventoryPeriodView {
        start: rfc3339(start),
        end: rfc3339(end),
        added: rows.iter().filter(|a| within(a.first_inventory_at)).count(),
        retired: rows
            .iter()
            .filter(|a| a.retired.as_ref().is_some_and(|r| within(r.at)))
            .count(),
        ..InventoryPeriodView::default()
    };
    for (change, n) in store.change_counts("software", start, end).await? {
        match change.as_str() {
            "installed" => p.installed += n,
            "removed" => p.removed += n,
            "upgraded" => p.upgraded += n,
            "downgraded" => p.downgraded += n,
            _ => {}
        }
    }
    Ok(p)
}

async fn inventory_report(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ReportQuery>,
) -> ApiResult<InventoryReport> {
    let now = unix_now();
    let Span {
        period: length,
        periods,
        ..
    } = report_span(&q, now)?;
    let (first, last) = match (periods.first(), periods.last()) {
        (Some(f), Some(l)) => (f.0, l.1),
        _ => return Err(super::ApiError::bad_request("the report covers no period")),
    };
    let all = AssetFilter {
        status: AssetStatus::All,
        ..AssetFilter::default()
    };
    let rows = s.store.list_assets(all, now).await?;
    let fleet = fleet(&rows, now, |a| s.presence.status(&a.id).is_some());
    let mut views = Vec::with_capacity(periods.len());
    for span in &periods {
        views.push(period(&s.store, &rows, *span).await?);
    }
    // The periods partition the span: its counts are their sums.
    let total = views.iter().fold(
        InventoryPeriodView {
            start: rfc3339(first),
            end: rfc3339(last),
            ..InventoryPeriodView::default()
        },
        |mut t, p| {
            t.added += p.added;
            t.retired += p.retired;
            t.installed += p.installed;
            t.removed += p.removed;
            t.upgraded += p.upgraded;
            t.downgraded += p.downgraded;
            t
        },
    );
    let software = ChangeQuery {
        since: first,
        until: Some(last),
        category: Some("software".into()),
        ..ChangeQuery::default()
    };
    let mut top_software_changes = s.store.change_summary(software).await?;
    top_software_changes.truncate(TOP);
    let in_service: Vec<AssetRow> = rows.into_iter().filter(|a| a.retired.is_none()).collect();
    let top = |by| {
        let mut v = count_by(by, &in_service);
        v.truncate(TOP);
        v
    };
    Ok(Json(InventoryReport {
        period: length.as_str().into(),
        from: rfc3339(first),
        to: rfc3339(last),
        generated_at: rfc3339(now),
        fleet,
        periods: views,
        total,
        by_os: top(CountBy::Os),
        by_model: top(CountBy::Model),
        top_software_changes: top_software_changes
            .into_iter()
            .map(change_group_view)
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Retirement;

    fn row(id: &str, kind: &str, last_seen: Option<i64>, warranty: &str) -> AssetRow {
        AssetRow {
            id: id.into(),
            kind: kind.into(),
            last_seen,
            warranty_until: warranty.into(),
            ..AssetRow::default()
        }
    }

    #[test]
    fn fleet_figures_count_each_asset_where_it_belongs() {
        let now = 1_764_000_000; // 2025-11-24T16:00:00Z
        let day = 86_400;
        let mut retired = row("r", "computer", None, "2020-01-01");
        retired.retired = Some(Retirement {
            at: now - day,
            by: "admin".into(),
            reason: String::new(),
        });
        let rows = [
            row("live", "computer", Some(now - 40 * day), "2027-01-01"),
            row("seen", "computer", Some(now - 29 * day), "2025-11-23"),
            row("gone", "computer", Some(now - 31 * day), "2025-11-24"),
            row("never", "computer", None, "2026-02-22"),
            row("printer", "printer", None, ""),
            retired,
        ];
        let f = fleet(&rows, now, |a| a.id == "live");
        assert_eq!(
            f,
            FleetView {
                in_service: 5,
                computers: 4,
                by_hand: 1,
                online_now: 1,
                not_seen_30d: 2,
                retired: 1,
                // 2025-11-23 ended yesterday; 2025-11-24 runs out today.
                warranty_ended: 1,
                // today, and 2026-02-22 (90 days on).
                warranty_ends_90d: 2,
                warranty_unknown: 1,
            }
        );
    }
}
