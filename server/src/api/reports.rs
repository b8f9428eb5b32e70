//! Reports for operations and supervisors. The inventory report (`GET
//! /api/v1/reports/inventory`): the fleet now (in service, online, not
//! seen, warranty) and what changed in it per period (assets added and
//! retired, software installed, removed, upgraded). The ticket report
//! (`GET /api/v1/reports/tickets`): volumes, response and resolution
//! times, SLA and satisfaction per period, technician, asset and software.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

use super::assets::count_by;
use super::changes::change_group_view;
use super::error::{ApiError, ApiResult};
use super::{ApiState, Authed, Shared};
use crate::store::TicketRecord;
use crate::store::{AssetFilter, AssetRow, AssetStatus, ChangeQuery, Store, day_of};
use crate::tickets::Status;
use crate::tickets::report::{self, Period, TicketFacts};
use crate::{rfc3339, unix_now};
use deskhand_api_types::assets::CountBy;
pub use deskhand_api_types::reports::{FleetView, InventoryPeriodView, InventoryReport};
use deskhand_api_types::server::ErrorBody;
use deskhand_api_types::tickets::{
    BacklogAgeView, ChannelReportView, PeriodReportView, ReportQuery, RequesterReportView,
    TechnicianReportView, TicketReport, TimesView, TopView,
};

/// A computer not heard from for this long is counted as not seen.
const NOT_SEEN_SECS: i64 = 30 * 86_400;
/// A warranty ending within this long is counted as ending.
const WARRANTY_SOON_SECS: i64 = 90 * 86_400;
/// Rows in each of the report's top lists.
const TOP: usize = 10;

/// The report's routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/reports/inventory", get(inventory_report))
        .route("/api/v1/reports/tickets", get(ticket_report))
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
pub(super) async fn period(
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

#[utoipa::path(
    get,
    path = "/api/v1/reports/inventory",
    tag = "reports",
    summary = "the fleet now and its changes per period (period, from, to)",
    params(ReportQuery),
    responses(
        (status = 200, description = "the report", body = InventoryReport),
        (status = 400, description = "period, from or to is not valid", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn inventory_report(
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

// ---- tickets ------------------------------------------------------------------

fn times_view(t: &report::Times) -> TimesView {
    TimesView {
        count: t.count,
        median_secs: t.median,
        p90_secs: t.p90,
    }
}

fn period_view(r: &report::PeriodRow) -> PeriodReportView {
    PeriodReportView {
        start: rfc3339(r.start),
        end: rfc3339(r.end),
        opened: r.opened,
        resolved: r.resolved,
        backlog: r.backlog,
        first_response: times_view(&r.first_response),
        resolution: times_view(&r.resolution),
        sla_compliance_percent: r.sla_compliance,
        satisfaction: r.satisfaction,
        ratings: r.ratings,
    }
}

/// What the report needs of a ticket, with its clocks evaluated at `now`.
/// `operators` names everyone who may type a rating in for a requester:
/// a rating by anyone else is the requester's own.
pub fn facts(
    t: &TicketRecord,
    names: &std::collections::HashMap<String, String>,
    operators: &std::collections::HashSet<String>,
    policy: &crate::tickets::sla::SlaPolicy,
    now: i64,
) -> TicketFacts {
    let s = t.sla(policy, now);
    let resolved = matches!(t.status, Status::Resolved | Status::Closed);
    TicketFacts {
        number: t.number,
        created_at: t.created_at,
        first_response_at: t.first_response_at,
        response_secs: t.first_response_at.map(|_| s.first_response.elapsed),
        resolved_at: t.resolved_at.filter(|_| resolved),
        resolution_secs: resolved.then_some(s.resolution.elapsed),
        response_met: !s.first_response.breached,
        resolution_met: !s.resolution.breached,
        // The technician is the assignee, else whoever resolved it.
        assignee: t
            .assignee
            .clone()
            .or_else(|| t.resolved_by.clone().filter(|_| resolved)),
        rating: t.rating,
        rated_at: t.rated_at,
        rated_by_requester: t
            .rated_by
            .as_ref()
            .is_some_and(|by| !operators.contains(by)),
        channel: t.channel,
        assets: t
            .assets
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    names.get(id).cloned().unwrap_or_else(|| id.clone()),
                )
            })
            .collect(),
        software: t.software.clone(),
        active: t.status.is_active(),
    }
}

/// What a report covers.
struct Span {
    /// Period length.
    pub period: Period,
    /// The first day's start.
    pub from: i64,
    /// The last day's end.
    pub to: i64,
    /// The periods covering `[from, to)`, whole: the first may start
    /// before `from`, the last end after `to`.
    pub periods: Vec<(i64, i64)>,
}

/// A report's span from its query: weekly unless said, `to` the last day
/// included (today if absent), `from` a default span back from it.
fn report_span(q: &ReportQuery, now: i64) -> Result<Span, ApiError> {
    let period =
        Period::parse(q.period.as_deref().unwrap_or("weekly")).map_err(ApiError::bad_request)?;
    let day = |t: &Option<String>| {
        t.as_deref()
            .map(report::parse_day)
            .transpose()
            .map_err(ApiError::bad_request)
    };
    let to = day(&q.to)?.map_or(now, |d| d + 86400);
    let from = day(&q.from)?.unwrap_or(to - period.default_span());
    if from >= to {
        return Err(ApiError::bad_request("--from must be before --to"));
    }
    let periods = report::periods(period, from, to);
    if periods.len() >= 1000 {
        return Err(ApiError::bad_request(
            "that is more than 1,000 periods; use a longer period or a shorter span",
        ));
    }
    Ok(Span {
        period,
        from,
        to,
        periods,
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/reports/tickets",
    tag = "reports",
    summary = "the supervisors' ticket report (period, from, to)",
    params(ReportQuery),
    responses(
        (status = 200, description = "the report", body = TicketReport),
        (status = 400, description = "period, from or to is not valid", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn ticket_report(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ReportQuery>,
) -> ApiResult<TicketReport> {
    let now = unix_now();
    let Span {
        period,
        from,
        to,
        periods,
    } = report_span(&q, now)?;
    // The report covers whole periods: up to the end of the last one.
    let end = periods.last().map_or(to, |p| p.1);
    // Retired assets too: their tickets are part of the period's work.
    let all_assets = crate::store::AssetFilter {
        status: crate::store::AssetStatus::All,
        ..Default::default()
    };
    let names: std::collections::HashMap<String, String> = s
        .store
        .list_assets(all_assets, now)
        .await?
        .into_iter()
        .map(|a| (a.id, a.hostname))
        .collect();
    let operators: std::collections::HashSet<String> = s
        .store
        .list_operators()
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let rows = s.store.tickets_for_report(end).await?;
    let all: Vec<TicketFacts> = rows
        .iter()
        .map(|t| facts(t, &names, &operators, &s.tickets.sla, now))
        .collect();
    let start = periods.first().map_or(from, |p| p.0);
    let counts = requester_counts(&s, start, end).await?;
    let r = report::build(&all, counts, period, from, to, now);
    let top = |v: &[report::TopRow]| {
        v.iter()
            .map(|t| TopView {
                key: t.key.clone(),
                name: t.name.clone(),
                tickets: t.tickets,
            })
            .collect()
    };
    Ok(Json(TicketReport {
        period: period.as_str().into(),
        from: rfc3339(r.from),
        to: rfc3339(r.to),
        generated_at: rfc3339(now),
        periods: r.periods.iter().map(period_view).collect(),
        total: period_view(&r.total),
        technicians: r
            .technicians
            .iter()
            .map(|t| TechnicianReportView {
                technician: t.technician.clone(),
                open_now: t.open_now,
                resolved: t.resolved,
                first_response: times_view(&t.first_response),
                resolution: times_view(&t.resolution),
                sla_compliance_percent: t.sla_compliance,
                satisfaction: t.satisfaction,
            })
            .collect(),
        backlog_age: BacklogAgeView {
            count: r.backlog_age.count,
            median_secs: r.backlog_age.median,
            p90_secs: r.backlog_age.p90,
            oldest_secs: r.backlog_age.oldest,
            under_1d: r.backlog_age.buckets[0],
            from_1d_to_3d: r.backlog_age.buckets[1],
            from_3d_to_7d: r.backlog_age.buckets[2],
            over_7d: r.backlog_age.buckets[3],
        },
        top_assets: top(&r.top_assets),
        top_software: top(&r.top_software),
        channels: r
            .channels
            .iter()
            .map(|c| ChannelReportView {
                channel: c.channel.as_str().into(),
                opened: c.opened,
                resolved: c.resolved,
                resolution: times_view(&c.resolution),
                satisfaction: c.satisfaction,
                ratings: c.ratings,
            })
            .collect(),
        requesters: RequesterReportView {
            ratings: r.requesters.ratings,
            satisfaction: r.requesters.satisfaction,
            surveys_sent: r.requesters.surveys_sent,
            surveys_answered: r.requesters.surveys_answered,
            response_rate_percent: r.requesters.response_rate,
            deflected: r.requesters.deflected,
            deflection_rate_percent: r.requesters.deflection_rate,
        },
    }))
}

/// What the store counts of the requesters' side in `[from, to)`.
async fn requester_counts(
    s: &ApiState,
    from: i64,
    to: i64,
) -> Result<report::RequesterCounts, ApiError> {
    let (sent, answered) = s.store.surveys_in(from, to).await?;
    let deflected = s.store.count_deflections(from, to).await?;
    let count = |n: i64| usize::try_from(n).unwrap_or(0);
    Ok(report::RequesterCounts {
        surveys_sent: count(sent),
        surveys_answered: count(answered),
        deflected: count(deflected),
    })
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
