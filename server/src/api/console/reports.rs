//! The supervisors' page: the ticket report (volume and backlog, first
//! response and resolution p50/p90, SLA met %, satisfaction, per
//! technician) and the inventory report (software changes per period),
//! each chart beside its numbers, and both as CSV.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use deskhand_api_types::tickets::{ReportQuery, TimesView};
use maud::html;
use serde::Deserialize;

use super::charts::{Series, bars, lines};
use super::{ConsoleUser, PageResult, page};
use crate::api::Shared;

/// `?period=&from=&to=&csv=` of the reports page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct ReportParams {
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `tickets` or `inventory`: the periods as CSV.
    #[serde(default)]
    csv: Option<String>,
}

fn hours(secs: Option<i64>) -> Option<f64> {
    secs.map(|s| s as f64 / 3600.0)
}

fn short(stamp: &str) -> String {
    stamp.get(..10).unwrap_or(stamp).to_string()
}

fn times(t: &TimesView) -> String {
    match (t.median_secs, t.p90_secs) {
        (Some(m), Some(p)) => format!("{:.1} h / {:.1} h", m as f64 / 3600.0, p as f64 / 3600.0),
        _ => "-".into(),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

pub(in crate::api) async fn reports(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<ReportParams>,
) -> PageResult {
    let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let q = || ReportQuery {
        period: some(&p.period),
        from: some(&p.from),
        to: some(&p.to),
        by: None,
    };
    let axum::Json(t) =
        crate::api::reports::ticket_report(State(s.clone()), user.authed(), Query(q())).await?;
    let axum::Json(inv) =
        crate::api::reports::inventory_report(State(s.clone()), user.authed(), Query(q())).await?;
    if let Some(which) = p.csv.as_deref() {
        let mut out = String::new();
        if which == "inventory" {
            out.push_str("start,end,added,retired,installed,removed,upgraded,downgraded\n");
            for r in &inv.periods {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{}\n",
                    r.start,
                    r.end,
                    r.added,
                    r.retired,
                    r.installed,
                    r.removed,
                    r.upgraded,
                    r.downgraded
                ));
            }
        } else {
            out.push_str("start,end,opened,resolved,backlog,first_response_p50_s,first_response_p90_s,resolution_p50_s,resolution_p90_s,sla_met_percent,satisfaction,ratings\n");
            let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            let f = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
            for r in &t.periods {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    r.start,
                    r.end,
                    r.opened,
                    r.resolved,
                    r.backlog,
                    n(r.first_response.median_secs),
                    n(r.first_response.p90_secs),
                    n(r.resolution.median_secs),
                    n(r.resolution.p90_secs),
                    f(r.sla_compliance_percent),
                    f(r.satisfaction),
                    r.ratings
                ));
            }
        }
        let name = format!(
            "deskhand-{}-report.csv",
            if which == "inventory" {
                "inventory"
            } else {
                "tickets"
            }
        );
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
            ],
            out,
        )
            .into_response());
    }
    let labels: Vec<String> = t.periods.iter().map(|r| short(&r.start)).collect();
    let count =
        |f: &dyn Fn(&deskhand_api_types::tickets::PeriodReportView) -> usize| -> Vec<Option<f64>> {
            t.periods.iter().map(|r| Some(f(r) as f64)).collect()
        };
    let volume = [
        Series {
            name: "opened",
            values: count(&|r| r.opened),
        },
        Series {
            name: "resolved",
            values: count(&|r| r.resolved),
        },
        Series {
            name: "backlog",
            values: count(&|r| r.backlog),
        },
    ];
    let speed = [
        Series {
            name: "first response p50",
            values: t
                .periods
                .iter()
                .map(|r| hours(r.first_response.median_secs))
                .collect(),
        },
        Series {
            name: "first response p90",
            values: t
                .periods
                .iter()
                .map(|r| hours(r.first_response.p90_secs))
                .collect(),
        },
        Series {
            name: "resolution p50",
            values: t
                .periods
                .iter()
                .map(|r| hours(r.resolution.median_secs))
                .collect(),
        },
        Series {
            name: "resolution p90",
            values: t
                .periods
                .iter()
                .map(|r| hours(r.resolution.p90_secs))
                .collect(),
        },
    ];
    let sla = [Series {
        name: "SLA met",
        values: t.periods.iter().map(|r| r.sla_compliance_percent).collect(),
    }];
    let csat = [Series {
        name: "satisfaction",
        values: t.periods.iter().map(|r| r.satisfaction).collect(),
    }];
    let inv_labels: Vec<String> = inv.periods.iter().map(|r| short(&r.start)).collect();
    let changes = [
        Series {
            name: "installed",
            values: inv
                .periods
                .iter()
                .map(|r| Some(r.installed as f64))
                .collect(),
        },
        Series {
            name: "upgraded",
            values: inv
                .periods
                .iter()
                .map(|r| Some(r.upgraded as f64))
                .collect(),
        },
        Series {
            name: "removed",
            values: inv.periods.iter().map(|r| Some(r.removed as f64)).collect(),
        },
    ];
    page(
        &user,
        "Reports",
        html! {
            h1 { "Reports" }
            form.search method="get" action="/console/reports" {
                select name="period" aria-label="period" {
                    @for per in ["week", "day", "month"] { option value=(per) selected[p.period == per] { (per) } }
                }
                input name="from" value=(p.from) placeholder="from, e.g. 2026-10-01" aria-label="from";
                input name="to" value=(p.to) placeholder="to" aria-label="to";
                button type="submit" { "Show" }
                button.secondary type="submit" name="csv" value="tickets" { "Tickets CSV" }
                button.secondary type="submit" name="csv" value="inventory" { "Inventory CSV" }
            }
            p.muted { (t.period) " from " (t.from) " to " (t.to) }
            h2 { "Tickets" }
            div.pair {
                (bars("Ticket volume and backlog", &labels, &volume, None, ""))
                (lines("First response and resolution (hours)", &labels, &speed, None, " h"))
            }
            div.pair {
                (bars("SLA met", &labels, &sla, Some(100.0), "%"))
                (lines("Satisfaction (1-5)", &labels, &csat, Some(5.0), ""))
            }
            table {
                tr { th { "Period" } th { "Opened" } th { "Resolved" } th { "Backlog" } th { "First response p50 / p90" } th { "Resolution p50 / p90" } th { "SLA met %" } th { "Satisfaction" } }
                @for r in &t.periods {
                    tr { td { (short(&r.start)) } td { (r.opened) } td { (r.resolved) } td { (r.backlog) }
                         td { (times(&r.first_response)) } td { (times(&r.resolution)) }
                         td { (opt(r.sla_compliance_percent)) } td { (opt(r.satisfaction)) } }
                }
            }
            h2 { "By technician" }
            table {
                tr { th { "Technician" } th { "Open now" } th { "Resolved" } th { "First response p50 / p90" } th { "Resolution p50 / p90" } th { "SLA met %" } th { "Satisfaction" } }
                @for x in &t.technicians {
                    tr { td { (x.technician) } td { (x.open_now) } td { (x.resolved) } td { (times(&x.first_response)) }
                         td { (times(&x.resolution)) } td { (opt(x.sla_compliance_percent)) } td { (opt(x.satisfaction)) } }
                }
            }
            h2 { "By channel" }
            table {
                tr { th { "Channel" } th { "Opened" } th { "Resolved" } th { "Resolution p50 / p90" } th { "Satisfaction" } th { "Ratings" } }
                @for x in &t.channels {
                    tr { td { (x.channel) } td { (x.opened) } td { (x.resolved) } td { (times(&x.resolution)) }
                         td { (opt(x.satisfaction)) } td { (x.ratings) } }
                }
            }
            @let q = &t.requesters;
            p { "Requesters' own satisfaction " (opt(q.satisfaction)) " from " (q.ratings) " ratings; surveys answered "
                (q.surveys_answered) " of " (q.surveys_sent) " (" (opt(q.response_rate_percent)) " %); deflected by the knowledge base "
                (q.deflected) " (" (opt(q.deflection_rate_percent)) " %)." }
            h2 { "Inventory" }
            p { (inv.fleet.in_service) " assets in service, " (inv.fleet.online_now) " online now, "
                (inv.fleet.warranty_ended) " out of warranty." }
            (bars("Software changes", &inv_labels, &changes, None, ""))
            table {
                tr { th { "Period" } th { "Added" } th { "Retired" } th { "Installed" } th { "Upgraded" } th { "Removed" } }
                @for r in &inv.periods {
                    tr { td { (short(&r.start)) } td { (r.added) } td { (r.retired) } td { (r.installed) } td { (r.upgraded) } td { (r.removed) } }
                }
            }
        },
    )
}
