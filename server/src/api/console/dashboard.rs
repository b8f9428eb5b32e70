//! The dashboard: agents online and offline, tickets by status with the
//! ones about to breach, the goals of the week met (green) or missed
//! (red), rollouts in progress, inventory totals and what
//! changed in the last 24 hours. Every figure is a count or an aggregate
//! in the store (no scan of the assets per request); the counts section
//! refreshes itself every 10 s from its own fragment route. The 24-hour
//! change summary is read with the page, not polled: on a busy day it
//! groups 100,000 events (about 80 ms at 10,000 assets), which every open
//! dashboard would repeat every 10 s for figures that move slowly.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use deskhand_api_types::tickets::TicketQuery;
use maud::{Markup, html};

use super::fragment::{fragment_error, from_htmx};
use super::{ConsoleError, ConsoleUser, PageResult, page, secured};
use crate::api::Shared;
use crate::store::{AssetTotals, ChangeKind, ChangeQuery};
use crate::tickets::Status;
use crate::unix_now;

/// The window "changes in the last 24 hours" covers.
const DAY_SECS: i64 = 86_400;
/// Most OS names the inventory totals list.
const TOP_OS: usize = 5;
/// Most changes (and new assets) the dashboard lists one by one.
const LATEST: usize = 20;
/// Most rollouts in progress shown.
const ROLLOUTS: i64 = 10;
/// Categories whose changes are hardware changes.
const HARDWARE: &[&str] = &[
    "memory",
    "cpu",
    "disks",
    "memory_modules",
    "displays",
    "gpus",
    "devices",
];

/// What the counts section shows, read in one trip to the store.
struct Counts {
    enrolled: usize,
    online: usize,
    tickets: Vec<(Status, usize)>,
    totals: AssetTotals,
    os: Vec<(String, usize)>,
}

async fn counts_now(s: &Shared, now: i64) -> Result<Counts, crate::store::StoreError> {
    let since = now - DAY_SECS;
    let (enrolled, tickets, totals, os) = s
        .store
        .read(move |r| {
            Ok((
                r.enrolled_agents()?,
                r.ticket_counts()?,
                r.asset_totals(since)?,
                r.os_counts(TOP_OS)?,
            ))
        })
        .await?;
    Ok(Counts {
        enrolled,
        online: s.presence.online_count(),
        tickets,
        totals,
        os,
    })
}

/// One line of the 24-hour change summary.
#[derive(Debug, PartialEq, Eq)]
struct ChangeLine {
    /// What changed, e.g. `packages installed`.
    what: String,
    /// How many events.
    events: usize,
    /// On how many assets, when that can be said (one kind of change).
    assets: Option<usize>,
}

/// The 24-hour summary: software by change (installed, removed,
/// upgraded, ...), every hardware category as one line, then each other
/// category; in that order, software's most frequent first.
fn change_lines(kinds: &[ChangeKind]) -> Vec<ChangeLine> {
    let mut out: Vec<ChangeLine> = kinds
        .iter()
        .filter(|k| k.category == "software")
        .map(|k| ChangeLine {
            what: format!("packages {}", k.change),
            events: k.events,
            assets: Some(k.assets),
        })
        .collect();
    let hardware: Vec<&ChangeKind> = kinds
        .iter()
        .filter(|k| HARDWARE.contains(&k.category.as_str()))
        .collect();
    if !hardware.is_empty() {
        out.push(ChangeLine {
            what: "hardware changes".into(),
            events: hardware.iter().map(|k| k.events).sum(),
            // The same machine may count under several categories.
            assets: None,
        });
    }
    let mut others: Vec<ChangeLine> = Vec::new();
    for k in kinds
        .iter()
        .filter(|k| k.category != "software" && !HARDWARE.contains(&k.category.as_str()))
    {
        let what = format!("{} changes", k.category.replace('_', " "));
        match others.iter_mut().find(|l| l.what == what) {
            Some(l) => {
                l.events += k.events;
                l.assets = None;
            }
            None => others.push(ChangeLine {
                what,
                events: k.events,
                assets: Some(k.assets),
            }),
        }
    }
    out.extend(others);
    out
}

fn counts_section(c: &Counts) -> Markup {
    let offline = c.enrolled.saturating_sub(c.online);
    html! {
        section #counts hx-get="/console/dashboard/counts" hx-trigger="every 10s" hx-swap="outerHTML" {
            div.cards {
                div.card { div.n { (c.online) } div.k { "agents online" } }
                div.card { div.n { (offline) } div.k { "agents offline" } }
                div.card { div.n { (c.totals.in_service) } div.k { "assets in service" } }
                div.card { div.n { (c.totals.new_since) } div.k { "new assets, 24 h" } }
                @for (status, n) in &c.tickets {
                    div.card { div.n { (n) } div.k { "tickets " (status.as_str()) } }
                }
            }
            h2 { "Inventory" }
            table {
                tr { th { "Computers (with an agent)" } td { (c.totals.computers) } }
                tr { th { "Other assets in service" } td { (c.totals.in_service.saturating_sub(c.totals.computers)) } }
                tr { th { "Retired" } td { (c.totals.retired) } }
                tr { th { "Installed packages" } td { (c.totals.packages) } }
                @for (os, n) in &c.os {
                    tr { th { @if os.is_empty() { "OS unknown" } @else { (os) } } td { (n) } }
                }
            }
        }
    }
}

fn change_summary(kinds: &[ChangeKind]) -> Markup {
    let lines = change_lines(kinds);
    html! {
        @if lines.is_empty() {
            p.muted { "Nothing changed in the last 24 hours." }
        } @else {
            table {
                tr { th { "Change" } th { "Events" } th { "Assets" } }
                @for l in &lines {
                    tr { td { (l.what) } td { (l.events) } td { @if let Some(a) = l.assets { (a) } @else { "-" } } }
                }
            }
        }
    }
}

/// `GET /console/dashboard/counts`: the counts section alone, which the
/// dashboard re-fetches every 10 s.
pub(in crate::api) async fn counts(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    headers: HeaderMap,
) -> Response {
    let counts = async {
        user?;
        Ok::<_, ConsoleError>(counts_now(&s, unix_now()).await?)
    }
    .await;
    match counts {
        Ok(c) => secured(Html(counts_section(&c).into_string())),
        Err(e) => fragment_error(e, from_htmx(&headers)),
    }
}

pub(in crate::api) async fn dashboard(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let now = unix_now();
    let c = counts_now(&s, now).await?;
    let axum::Json(mut tickets) = crate::api::tickets::list_tickets(
        State(s.clone()),
        user.authed(),
        Query(TicketQuery {
            breaching: Some(true),
            ..TicketQuery::default()
        }),
    )
    .await?;
    // About to breach first (still time to act), then breached; oldest first.
    tickets.sort_by_key(|t| (t.breached, t.number));
    let mut rollouts = Vec::new();
    for rec in s.store.rollouts(true, ROLLOUTS).await? {
        rollouts.push(crate::api::rollouts::view(&s.store, rec, None).await?);
    }
    let since = now - DAY_SECS;
    let latest = s
        .store
        .changes(
            ChangeQuery {
                since,
                ..ChangeQuery::default()
            },
            LATEST,
        )
        .await?;
    let (kinds, new_assets) = s
        .store
        .read(move |r| Ok((r.change_kinds(since)?, r.new_assets(since, LATEST)?)))
        .await?;
    let goals = super::goals::goals_section(&s, now).await?;
    page(
        &user,
        "Dashboard",
        html! {
            h1 { "Dashboard" }
            (counts_section(&c))
            (goals)
            h2 { "Tickets about to breach or breached" }
            @if tickets.is_empty() {
                p.muted { "None: every active ticket is within its SLA." }
            } @else {
                table {
                    tr { th { "#" } th { "Title" } th { "Status" } th { "SLA" } }
                    @for t in &tickets {
                        tr {
                            td { a href=(format!("/console/tickets/{}", t.number)) { (t.number) } }
                            td { (t.title) }
                            td { (t.status) }
                            td { @if t.breached { span.breached { "breached" } } @else { span.at-risk { "at risk" } } }
                        }
                    }
                }
            }
            h2 { "Rollouts in progress" }
            @if rollouts.is_empty() {
                p.muted { "None." }
            } @else {
                table {
                    tr { th { "#" } th { "Item" } th { "Phase" } th { "Progress" } }
                    @for r in &rollouts {
                        tr {
                            td { a href=(format!("/console/rollouts/{}", r.id)) { (r.id) } }
                            td { (r.item) }
                            td { (r.phase) }
                            td { (super::work::rollout_bar(r)) }
                        }
                    }
                }
            }
            h2 { "Changes in the last 24 hours" }
            (change_summary(&kinds))
            @if !latest.is_empty() {
                h3 { "Latest" }
                table {
                    tr { th { "When" } th { "Host" } th { "What" } th { "Item" } th.wide { "From" } th.wide { "To" } }
                    @for ch in &latest {
                        tr {
                            td { (crate::rfc3339(ch.at)) }
                            td { a href=(format!("/console/assets/{}", ch.asset_id)) { (if ch.hostname.is_empty() { &ch.asset_id } else { &ch.hostname }) } }
                            td { (ch.event.category) " " (ch.event.change) }
                            td { (ch.event.item) }
                            td.wide { (ch.event.old_value.as_deref().unwrap_or("")) }
                            td.wide { (ch.event.new_value.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
            @if !new_assets.is_empty() {
                h2 { "New assets" }
                table {
                    tr { th { "Host" } th { "First inventory" } }
                    @for (id, host, at) in &new_assets {
                        tr {
                            td { a href=(format!("/console/assets/{id}")) { (host) } }
                            td { (crate::rfc3339(*at)) }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(category: &str, change: &str, events: usize, assets: usize) -> ChangeKind {
        ChangeKind {
            category: category.into(),
            change: change.into(),
            events,
            assets,
        }
    }

    fn line(what: &str, events: usize, assets: Option<usize>) -> ChangeLine {
        ChangeLine {
            what: what.into(),
            events,
            assets,
        }
    }

    #[test]
    fn software_by_change_then_hardware_as_one_line_then_the_rest() {
        let kinds = [
            kind("software", "upgraded", 40, 20),
            kind("memory", "changed", 2, 2),
            kind("identity", "changed", 3, 3),
            kind("software", "installed", 5, 4),
            kind("disks", "added", 1, 1),
            kind("memory_modules", "removed", 4, 1),
            kind("users", "added", 2, 2),
            kind("users", "removed", 1, 1),
        ];
        assert_eq!(
            change_lines(&kinds),
            [
                line("packages upgraded", 40, Some(20)),
                line("packages installed", 5, Some(4)),
                // 2 + 1 + 4 events; machines may repeat across categories.
                line("hardware changes", 7, None),
                line("identity changes", 3, Some(3)),
                // Two kinds of change in one category: events add up,
                // assets cannot.
                line("users changes", 3, None),
            ]
        );
    }

    #[test]
    fn a_quiet_day_has_no_lines() {
        assert!(change_lines(&[]).is_empty());
        let only_other = change_lines(&[kind("os", "changed", 1, 1)]);
        assert_eq!(only_other, [line("os changes", 1, Some(1))]);
    }
}
