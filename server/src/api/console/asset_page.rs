//! An asset's page: hardware, OS, network, disks, its software (filtered
//! as one types, from a fragment route), history, tickets and jobs; the
//! buttons that refresh its inventory and run a diagnostic (whose rows
//! `diag_live` shows as they come).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use deskhand_api_types::asset_page::AssetJobView;
use deskhand_api_types::assets::{HistoryQuery, HistoryView, ShowQuery, SoftwareView};
use maud::{Markup, html};
use serde::Deserialize;

use super::fragment::{fragment_error, from_htmx};
use super::{ConsoleError, ConsoleUser, PageResult, csrf_field, page, secured};
use crate::api::Shared;
use crate::store::Role;

/// Changes shown before the "more" expander.
const HISTORY_FIRST: usize = 10;
/// Most events the full history shows.
const HISTORY_ALL_CAP: usize = 1000;

fn bytes(n: i64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if n <= 0 {
        "-".into()
    } else {
        format!("{:.1} GiB", n as f64 / GIB)
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `?software=&diag=&history=` of an asset's page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct AssetParams {
    /// Only packages whose name contains this.
    #[serde(default)]
    software: String,
    /// A diagnostic run to show at the top.
    #[serde(default)]
    diag: Option<i64>,
    /// `all`: the whole history, not only the last 7 days.
    #[serde(default)]
    history: String,
}

pub(in crate::api) async fn asset(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(p): Query<AssetParams>,
) -> PageResult {
    let axum::Json(d) = crate::api::asset_page::show_asset(
        State(s.clone()),
        user.authed(),
        Path(key),
        Query(ShowQuery {
            software: some(&p.software),
        }),
    )
    .await?;
    let a = &d.asset;
    let run = match p.diag {
        Some(id) => Some(s.store.get_diag_run(id).await?).filter(|r| r.agent_id == a.id),
        None => None,
    };
    let all_history = p.history == "all";
    let (history, history_total) = if all_history {
        let axum::Json(all) = crate::api::assets::asset_history(
            State(s.clone()),
            user.authed(),
            Path(a.id.clone()),
            Query(HistoryQuery::default()),
        )
        .await?;
        let total = all.len();
        (all.into_iter().take(HISTORY_ALL_CAP).collect(), total)
    } else {
        (d.changed_last_7_days.clone(), d.changes_last_7_days_total)
    };
    let checks = deskhand_shared::diag::catalog::catalog();
    let facts: Vec<(&str, String)> = vec![
        ("Host name", a.hostname.clone()),
        ("OS", a.os.clone()),
        ("Kernel", d.kernel.clone()),
        ("Model", a.model.clone()),
        ("Serial", a.serial.clone()),
        ("CPU", format!("{} ({} cores)", d.cpu_model, d.cpu_cores)),
        ("Memory", bytes(a.memory_bytes)),
        ("User", a.user.clone()),
        ("Location", a.location.clone()),
        ("Time zone", d.time_zone.clone().unwrap_or_default()),
        ("Last inventory", a.last_inventory_at.clone()),
        ("Warranty until", a.warranty_until.clone()),
    ];
    let remote =
        super::remote_sessions::asset_section(&s, &user, &a.id, a.online, d.remote.as_ref())
            .await?;
    let diag_action = format!("/console/assets/{}/diag", a.id);
    page(
        &user,
        &a.hostname,
        html! {
            h1 { (a.hostname) " " @if a.online { span.online { "online" } } @else { span.offline { "offline" } } }
            @if user.may(Role::Technician) {
                form.inline method="post" action=(format!("/console/assets/{}/refresh", a.id)) {
                    (csrf_field(&user))
                    button.secondary type="submit" { "Refresh inventory" }
                }
                form.inline method="post" action=(diag_action) hx-post=(diag_action) hx-target="#diag-result" hx-swap="innerHTML" {
                    (csrf_field(&user))
                    select name="check" aria-label="diagnostic" {
                        @for c in checks.iter().filter(|c| !c.follows && c.args.iter().all(|x| x.default.is_some())) {
                            option value=(c.name) title=(c.summary) { (c.name) }
                        }
                    }
                    button.secondary type="submit" { "Run diagnostic" }
                }
            }
            div #diag-result aria-live="polite" {
                @if let Some(r) = run { (super::diag_live::run_fragment(&a.id, r, crate::unix_now())) }
            }
            table { @for (k, v) in &facts { @if !v.trim().is_empty() { tr { th { (k) } td { (v) } } } } }
            @if !d.labels.is_empty() { p { "Labels: " (d.labels.join(", ")) } }
            h2 { "Network" }
            table {
                tr { th { "Interface" } th { "MAC" } th { "Addresses" } th { "State" } }
                @for i in &d.interfaces { tr { td { (i.name) } td { (i.mac.clone().unwrap_or_default()) } td { (i.addresses.join(", ")) } td { (i.state.clone().unwrap_or_default()) } } }
            }
            h2 { "Disks" }
            table {
                tr { th { "Disk" } th { "Model" } th { "Size" } }
                @for disk in &d.disks { tr { td { (disk.name) } td { (disk.kind) } td { (bytes(i64::try_from(disk.size_bytes).unwrap_or(i64::MAX))) } } }
            }
            h2 { "Software (" (a.software_count) ")" }
            form.search method="get" action=(format!("/console/assets/{}", a.id)) role="search" {
                input type="search" name="software" value=(p.software) placeholder="filter by name" aria-label="filter software"
                    hx-get=(format!("/console/assets/{}/software", a.id)) hx-trigger="keyup changed delay:300ms, search"
                    hx-target="#software-list" hx-swap="outerHTML";
                button type="submit" { "Filter" }
            }
            (software_list(&d.software, &p.software))
            h2 #history { "History" }
            (history_section(&a.id, &history, history_total, all_history))
            h2 { "Tickets" }
            (ticket_rows(&d.tickets))
            h2 { "Jobs" }
            (job_rows(&d.jobs, d.jobs_total))
            (remote)
            @if user.may(Role::Technician) {
                h2 { "Open a ticket about this machine" }
                form method="post" action=(format!("/console/assets/{}/ticket", a.id)) {
                    (csrf_field(&user))
                    label { "Title" input name="title" required; }
                    label { "Requester" input name="requester" value=(a.user) required; }
                    label { "Priority"
                        select name="priority" {
                            @for pr in ["normal", "urgent", "high", "low"] { option value=(pr) { (pr) } }
                        }
                    }
                    label { "Description" textarea name="description" {} }
                    button type="submit" { "Open ticket" }
                }
            }
        },
    )
}

/// `?software=` of the software fragment.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct SoftwareParams {
    #[serde(default)]
    software: String,
}

/// `GET /console/assets/{key}/software?software=`: the software list
/// alone, filtered, for the filter box's live search.
pub(in crate::api) async fn software(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(p): Query<SoftwareParams>,
) -> Response {
    let list = async {
        user?;
        let a = s.store.find_asset(key).await?;
        Ok::<_, ConsoleError>(
            crate::api::asset_page::asset_software(&s, &a.id, Some(&p.software)).await?,
        )
    }
    .await;
    match list {
        Ok(list) => secured(Html(software_list(&list, &p.software).into_string())),
        Err(e) => fragment_error(e, from_htmx(&headers)),
    }
}

fn software_list(software: &[SoftwareView], filter: &str) -> Markup {
    html! {
        div #software-list {
            @if !filter.trim().is_empty() {
                p.muted { (software.len()) " match " span.filter { "\u{201c}" (filter.trim()) "\u{201d}" } }
            }
            table {
                tr { th { "Name" } th { "Version" } th.wide { "Vendor" } th { "Source" } }
                @for pkg in software { tr { td { (pkg.name) } td { (pkg.version) } td.wide { (pkg.vendor) } td { (pkg.source) } } }
            }
        }
    }
}

/// How an asset's history splits: the first rows shown at once, the rest
/// behind an expander, and whether older events exist beyond the rows.
fn history_split(rows: usize, total: usize) -> (usize, usize, bool) {
    let first = rows.min(HISTORY_FIRST);
    (first, rows - first, total > rows)
}

fn history_table(rows: &[HistoryView]) -> Markup {
    html! {
        table {
            tr { th { "When" } th { "What" } th { "Item" } th.wide { "From" } th.wide { "To" } }
            @for h in rows {
                tr {
                    td { (h.at) }
                    td { (h.category) " " (h.change) }
                    td { (h.item) }
                    td.wide { (h.old_value.as_deref().unwrap_or("")) }
                    td.wide { (h.new_value.as_deref().unwrap_or("")) }
                }
            }
        }
    }
}

fn history_section(asset: &str, rows: &[HistoryView], total: usize, all: bool) -> Markup {
    let (first, rest, beyond) = history_split(rows.len(), total);
    html! {
        @if rows.is_empty() {
            p.muted { @if all { "No history." } @else { "Nothing changed in the last 7 days." } }
        } @else {
            p.muted {
                @if all { (total) " changes in all, newest first" } @else { (total) " changes in the last 7 days, newest first" }
            }
            (history_table(&rows[..first]))
            @if rest > 0 {
                details {
                    summary { (rest) " more" }
                    (history_table(&rows[first..]))
                }
            }
            @if beyond {
                p.muted { (total - rows.len()) " older changes not shown: " code { "deskhand assets history " (asset) } }
            }
        }
        @if !all {
            p { a href=(format!("/console/assets/{asset}?history=all#history")) { "Whole history" } }
        }
    }
}

fn ticket_rows(tickets: &[deskhand_api_types::tickets::TicketView]) -> Markup {
    html! {
        @if tickets.is_empty() { p.muted { "None." } } @else {
            table {
                tr { th { "#" } th { "Title" } th { "Status" } th { "Priority" } }
                @for t in tickets {
                    tr {
                        td { a href=(format!("/console/tickets/{}", t.number)) { (t.number) } }
                        td { (t.title) } td { (t.status) } td { (t.priority) }
                    }
                }
            }
        }
    }
}

fn job_rows(jobs: &[AssetJobView], total: usize) -> Markup {
    html! {
        @if jobs.is_empty() { p.muted { "None." } } @else {
            @if total > jobs.len() { p.muted { "The newest " (jobs.len()) " of " (total) "." } }
            table {
                tr { th { "Job" } th { "Kind" } th { "Package or script" } th { "State" } th { "Exit" } th.wide { "Finished" } }
                @for j in jobs {
                    tr {
                        td { a href=(format!("/console/jobs/{}", j.job_id)) { (j.job_id.get(..8).unwrap_or(&j.job_id)) } }
                        td { (j.action) }
                        td { (j.item) }
                        td { (j.state) @if j.reboot_pending { " " span.restart { "restart pending" } } }
                        td { @if let Some(c) = j.exit_code { (c) } }
                        td.wide { (j.finished_at.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_shows_ten_then_an_expander_then_says_what_is_older() {
        assert_eq!(history_split(0, 0), (0, 0, false));
        assert_eq!(history_split(4, 4), (4, 0, false));
        assert_eq!(history_split(10, 10), (10, 0, false));
        assert_eq!(history_split(11, 11), (10, 1, false));
        // The API lists 100 of 250: 10 at once, 90 behind "more", 150 older.
        assert_eq!(history_split(100, 250), (10, 90, true));
    }

    #[test]
    fn job_ids_are_shortened_only_where_they_can_be() {
        let job = |id: &str| AssetJobView {
            job_id: id.into(),
            action: "install".into(),
            item: "<b>pkg</b> 1.0".into(),
            created_at: String::new(),
            state: "succeeded".into(),
            exit_code: Some(0),
            reboot_pending: false,
            finished_at: None,
        };
        let html = job_rows(&[job("0123456789abcdef"), job("é")], 3).into_string();
        assert!(html.contains(r#"href="/console/jobs/0123456789abcdef">01234567<"#));
        assert!(html.contains(">é<"), "a short id is shown whole: {html}");
        assert!(html.contains("&lt;b&gt;pkg"), "item names are escaped");
        assert!(html.contains("The newest 2 of 3"));
        assert!(!html.contains("restart pending"), "{html}");
        let mut rebooting = job("fedcba9876543210");
        rebooting.reboot_pending = true;
        let html = job_rows(&[rebooting], 1).into_string();
        assert!(
            html.contains("succeeded <span class=\"restart\">restart pending</span>"),
            "{html}"
        );
    }
}
