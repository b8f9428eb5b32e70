//! The dashboard's goals: each team's and technician's figures of the
//! current ISO week so far beside their goals, green when met, red when
//! missed (`deskhand goals set` makes them).

use maud::{Markup, html};

use crate::api::Shared;
use crate::api::goals::group_report;
use crate::store::StoreError;
use crate::tickets::report::groups::GroupBy;
use crate::tickets::report::{Period, period_start};
use deskhand_api_types::goals::{GroupReportView, JudgedView};
use deskhand_cli::reports::groups::{compact_duration, number};

/// One figure with its goal, coloured by its verdict.
fn cell(j: &JudgedView, seconds: bool) -> Markup {
    let show = |v: f64| {
        if seconds {
            compact_duration(v.round() as i64)
        } else {
            number(v)
        }
    };
    let value = j.value.map_or_else(|| "-".to_string(), show);
    html! {
        @match (j.goal, j.met) {
            (None, _) => { span.muted { (value) } }
            (Some(g), Some(true)) => { span.goal-met { (value) " ✓" } " " span.muted { "(goal " (show(g)) ")" } }
            (Some(g), Some(false)) => { span.goal-missed { (value) " ✗" } " " span.muted { "(goal " (show(g)) ")" } }
            (Some(g), None) => { span { (value) } " " span.muted { "(goal " (show(g)) ")" } }
        }
    }
}

fn has_goal(g: &GroupReportView) -> bool {
    [
        &g.resolved_per_day,
        &g.first_response_p90_secs,
        &g.oldest_backlog_secs,
        &g.satisfaction,
    ]
    .iter()
    .any(|j| j.goal.is_some())
}

/// The goals section at `now`: nothing to show without goals.
pub(super) async fn goals_section(s: &Shared, now: i64) -> Result<Markup, StoreError> {
    let from = period_start(Period::Weekly, now);
    let to = from + 7 * 86_400;
    let mut rows = Vec::new();
    for by in [GroupBy::Team, GroupBy::Technician] {
        let view = group_report(&s.store, &s.tickets.sla, by, from, to, now).await?;
        rows.extend(
            view.groups
                .into_iter()
                .filter(has_goal)
                .map(|g| (by.as_str(), g)),
        );
    }
    Ok(html! {
        @if !rows.is_empty() {
            h2 { "Goals this week" }
            table {
                tr {
                    th { "" } th { "Name" } th { "Resolved/day" } th { "First response p90" }
                    th { "Oldest backlog" } th { "Satisfaction" }
                }
                @for (scope, g) in &rows {
                    tr {
                        td.muted { (scope) }
                        td { (g.group) }
                        td { (cell(&g.resolved_per_day, false)) }
                        td { (cell(&g.first_response_p90_secs, true)) }
                        td { (cell(&g.oldest_backlog_secs, true)) }
                        td { (cell(&g.satisfaction, false)) }
                    }
                }
            }
        }
    })
}
