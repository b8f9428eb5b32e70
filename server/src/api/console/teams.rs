//! The help desk's teams: each team's tier, calendar, queue (a link to the
//! ticket list filtered to it) and the week's shifts as a grid, members
//! by day, in the team calendar's zone; `?week=2026-W50` shows another
//! week.

use axum::extract::{Path, Query, State};
use deskhand_api_types::shifts::{WeekQuery, WeekView};
use maud::{Markup, html};

use super::{ConsoleUser, PageResult, page};
use crate::api::Shared;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub(in crate::api) async fn teams(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let teams = s.store.teams().await?;
    page(
        &user,
        "Teams",
        html! {
            h1 { "Teams" }
            table {
                tr { th { "Team" } th { "Tier" } th.wide { "Calendar" } th.wide { "Assignment" } th { "Members" } th { "Active" } th { "Queue" } }
                @for t in &teams {
                    tr {
                        td { a href=(format!("/console/teams/{}", t.name)) { (t.name) } }
                        td { (t.tier) }
                        td.wide { (t.calendar.clone().unwrap_or_else(|| "24/7".into())) }
                        td.wide { (t.assign) }
                        td { (t.members.join(", ")) }
                        td { a href=(format!("/console/tickets?team={}", t.name)) { (t.active) } }
                        td { a href=(format!("/console/tickets?team={}&unassigned=1", t.name)) { (t.unassigned) } }
                    }
                }
            }
            @if teams.is_empty() { p.muted { "No team yet: `deskhand teams create desktop --members alice,bob --tier 1`." } }
        },
    )
}

pub(in crate::api) async fn team(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(name): Path<String>,
    Query(q): Query<WeekQuery>,
) -> PageResult {
    let t = s.store.team(name.clone()).await?;
    let axum::Json(week) =
        crate::api::shifts::show_week(State(s.clone()), user.authed(), Path(name), Query(q))
            .await?;
    page(
        &user,
        &format!("Team {}", t.name),
        html! {
            h1 { "Team " (t.name) }
            p {
                "Tier " (t.tier) ", "
                (t.calendar.as_deref().map_or("no calendar (clocks run 24/7)".to_string(), |c| format!("calendar {c}")))
                ", assignment " (t.assign) ". "
                a href=(format!("/console/tickets?team={}&unassigned=1", t.name)) { (t.unassigned) " waiting in the queue" }
                " of " (t.active) " active."
            }
            h2 { "Shifts, week " (week.week) " (" (week.zone) ")" }
            (grid(&week))
            @if !week.unscheduled.is_empty() {
                p.muted { "No shifts at all, so on shift during the calendar's hours: " (week.unscheduled.join(", ")) }
            }
        },
    )
}

/// Members down, days across, each cell the local hours of that day.
fn grid(week: &WeekView) -> Markup {
    let cell = |member: &str, day: &str| {
        week.hours
            .iter()
            .filter(|h| h.operator == member && h.day == day)
            .map(|h| h.hours.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    html! {
        table.shifts {
            tr { th { "Member" } @for d in DAYS { th { (d) } } }
            @for m in &week.members {
                tr {
                    td { (m) }
                    @for d in DAYS { td { (cell(m, d)) } }
                }
            }
        }
    }
}
