//! The help desk's pages: the ticket queue and a ticket's page - SLA
//! clocks, the timeline with attached diagnostic rows and jobs, linked
//! assets with their recent changes, and for technicians the forms of
//! `ticket_actions` (comment public or internal, assign, escalate,
//! status, link and unlink an asset, attach a diagnostic). A
//! requester's ticket shows its channel, the requester's OS account,
//! their replies marked as such and the attachments (`ticket_files`);
//! a resolved one offers to become an article (`kb_edit`).

use axum::extract::{Path, Query, State};
use deskhand_api_types::tickets::{JobRefView, LinkedAssetView, TicketQuery};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, csrf_field, page};
use crate::api::Shared;
use crate::store::Role;

/// Changes of a linked asset shown on the ticket's page (the API gives up
/// to 100 of the last 7 days).
const RECENT_CHANGES_SHOWN: usize = 5;

/// `?status=&priority=&mine=&breaching=&channel=&team=&unassigned=` of
/// the queue: a team's queue is `?team=desktop&unassigned=1`.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct QueueParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    breaching: Option<String>,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    unassigned: Option<String>,
}

pub(in crate::api) async fn tickets(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<QueueParams>,
) -> PageResult {
    let q = TicketQuery {
        status: Some(p.status.trim().to_string()).filter(|v| !v.is_empty()),
        priority: Some(p.priority.trim().to_string()).filter(|v| !v.is_empty()),
        mine: p.mine.as_ref().map(|_| true),
        breaching: p.breaching.as_ref().map(|_| true),
        channel: Some(p.channel.trim().to_string()).filter(|v| !v.is_empty()),
        team: Some(p.team.trim().to_string()).filter(|v| !v.is_empty()),
        unassigned: p.unassigned.as_ref().map(|_| true),
        ..TicketQuery::default()
    };
    let axum::Json(rows) =
        crate::api::tickets::list_tickets(State(s.clone()), user.authed(), Query(q)).await?;
    let statuses = ["", "new", "open", "pending", "resolved", "closed", "all"];
    let teams = s.store.teams().await?;
    page(
        &user,
        "Tickets",
        html! {
            h1 { "Tickets" }
            form.search method="get" action="/console/tickets" {
                select name="status" aria-label="status" {
                    @for st in statuses {
                        option value=(st) selected[st == p.status] { @if st.is_empty() { "active" } @else { (st) } }
                    }
                }
                input name="priority" value=(p.priority) placeholder="priority, e.g. urgent,high" aria-label="priority";
                select name="channel" aria-label="channel" {
                    @for ch in ["", "technician", "agent", "portal", "email"] {
                        option value=(ch) selected[ch == p.channel.trim()] { @if ch.is_empty() { "any channel" } @else { (ch) } }
                    }
                }
                select name="team" aria-label="team" {
                    option value="" selected[p.team.trim().is_empty()] { "any team" }
                    @for t in &teams {
                        option value=(t.name) selected[t.name == p.team.trim()] { (t.name) " (tier " (t.tier) ", " (t.unassigned) " waiting)" }
                    }
                }
                label { input type="checkbox" name="unassigned" value="1" checked[p.unassigned.is_some()]; " unassigned" }
                label { input type="checkbox" name="mine" value="1" checked[p.mine.is_some()]; " mine" }
                label { input type="checkbox" name="breaching" value="1" checked[p.breaching.is_some()]; " breaching" }
                button type="submit" { "Filter" }
            }
            table {
                tr { th { "#" } th { "Title" } th { "Status" } th { "Priority" } th.wide { "Channel" } th.wide { "Team" } th.wide { "Assignee" } th { "SLA" } }
                @for t in &rows {
                    tr {
                        td { a href=(format!("/console/tickets/{}", t.number)) { (t.number) } }
                        td { (t.title) }
                        td { (t.status) }
                        td { (t.priority) }
                        td.wide { (t.channel) }
                        td.wide { (t.team.clone().unwrap_or_default()) }
                        td.wide { (t.assignee.clone().unwrap_or_default()) }
                        td { @if t.breached { span.breached { "breached" } } @else if t.at_risk { span.at-risk { "at risk" } } @else { "ok" } }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No ticket matches." } }
        },
    )
}

pub(in crate::api) async fn ticket(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
) -> PageResult {
    let axum::Json(d) =
        crate::api::tickets::show_ticket(State(s.clone()), user.authed(), Path(n)).await?;
    let t = &d.ticket;
    let suggestions = crate::api::kb::suggestions(&s, t.number, 5).await?;
    let axum::Json(files) = crate::api::ticket_files::list_attachments(
        State(s.clone()),
        user.authed(),
        Path(t.number.to_string()),
    )
    .await?;
    let resolved = matches!(t.status.as_str(), "resolved" | "closed");
    let url = format!("/console/tickets/{}", t.number);
    page(
        &user,
        &format!("Ticket {}", t.number),
        html! {
            h1 { "#" (t.number) " " (t.title) }
            table {
                tr { th { "Status" } td { (t.status) } }
                tr { th { "Priority" } td { (t.priority) " (tier " (t.tier) ")" } }
                tr { th { "Team" } td { (t.team.clone().unwrap_or_else(|| "-".into())) } }
                tr { th { "Requester" } td { (t.requester) } }
                tr { th { "Channel" } td { (channel_label(&t.channel)) } }
                @if let Some(account) = &t.requester_account {
                    tr { th { "Requester's account" } td { code { (account) } } }
                }
                tr { th { "Assignee" } td { (t.assignee.clone().unwrap_or_else(|| "nobody".into())) } }
                tr { th { "First response" } td { (clock(&t.first_response)) } }
                tr { th { "Resolution" } td { (clock(&t.resolution)) } }
                tr { th { "Time logged" } td { (crate::tickets::effort::total_text(d.time_logged_secs, d.time_entries)) } }
            }
            @if !d.description.is_empty() { h2 { "Description" } pre { (d.description) } }
            (super::kb::suggested(&suggestions))
            @if resolved && user.may(Role::Technician) {
                form.inline method="get" action="/console/kb/new" {
                    input type="hidden" name="from_ticket" value=(t.number);
                    label { input type="checkbox" name="internal" value="1"; " quote internal notes" }
                    button type="submit" { "Turn into an article" }
                }
            }
            (super::ticket_files::section(&user, t.number, &files))
            h2 { "Linked assets" }
            @if d.linked_assets.is_empty() { p.muted { "None." } }
            @for l in &d.linked_assets { (linked_asset(&user, &url, t.number, l)) }
            @if user.may(Role::Technician) {
                form.inline method="post" action=(format!("{url}/link")) {
                    (csrf_field(&user))
                    input name="asset" placeholder="host name, id prefix or serial" aria-label="asset to link" required;
                    button.secondary type="submit" { "Link an asset" }
                }
                @if !d.linked_assets.is_empty() {
                    form.inline method="post" action=(format!("{url}/diag")) {
                        (csrf_field(&user))
                        select name="check" aria-label="diagnostic" {
                            @for c in attachable_checks() { option value=(c.name) title=(c.summary) { (c.name) } }
                        }
                        select name="asset" aria-label="on which asset" {
                            @for l in &d.linked_assets { option value=(l.asset.id) { (l.asset.hostname) } }
                        }
                        button.secondary type="submit" { "Attach a diagnostic" }
                    }
                }
            }
            h2 { "Timeline" }
            div.timeline {
                @for e in &d.timeline {
                    div.entry.internal[e.internal].reply[e.kind == "reply"] {
                        div.meta {
                            (e.at) " - " (e.author) " - "
                            @if e.kind == "reply" { strong { "requester reply" } } @else { (e.kind) }
                            @if e.internal { " (internal)" }
                        }
                        @if !e.body.is_empty() { div { (e.body) } }
                        @if let Some(id) = e.job.as_ref().filter(|j| j.kind == "article").map(|j| j.id) {
                            div { a href=(format!("/console/kb/{id}")) { "Read article " (id) } }
                        }
                        @if let (Some(old), Some(new)) = (&e.old_value, &e.new_value) { div.muted { (old) " -> " (new) } }
                        @if let Some(j) = &e.job { (attached(j)) }
                    }
                }
            }
            @if user.may(Role::Technician) {
                h2 { "Comment" }
                form method="post" action=(format!("{url}/comment")) {
                    (csrf_field(&user))
                    label { "Comment" textarea name="body" required {} }
                    label { input type="radio" name="internal" value="" checked; " public (the requester sees it)" }
                    label { input type="radio" name="internal" value="1"; " internal (technicians only)" }
                    button type="submit" { "Add comment" }
                }
                h2 { "Assign and escalate" }
                form.inline method="post" action=(format!("{url}/assign")) {
                    (csrf_field(&user))
                    input name="assignee" placeholder="technician (empty: nobody)" aria-label="assignee" value=(t.assignee.clone().unwrap_or_default());
                    button.secondary type="submit" { "Assign" }
                }
                form.inline method="post" action=(format!("{url}/escalate")) {
                    (csrf_field(&user))
                    input name="note" placeholder="why" aria-label="why escalate" required;
                    button.secondary type="submit" { "Escalate a tier" }
                }
                h2 { "Status" }
                form method="post" action=(format!("{url}/status")) {
                    (csrf_field(&user))
                    label { "New status"
                        select name="status" {
                            @for st in ["open", "pending", "resolved", "closed"] { option value=(st) { (st) } }
                        }
                    }
                    label { "Note (needed to resolve)" input name="note"; }
                    label { input type="checkbox" name="draft_article" value="1"; " and draft an article (when resolving)" }
                    button type="submit" { "Change status" }
                }
            }
        },
    )
}

/// Where a ticket came from, in words.
fn channel_label(channel: &str) -> &str {
    match channel {
        "agent" => "agent (deskhand-agent help on the requester's machine)",
        "portal" => "portal (the requester's own page)",
        "email" => "email",
        "technician" => "technician",
        _ => channel,
    }
}

fn clock(c: &deskhand_api_types::tickets::SlaClockView) -> Markup {
    html! {
        (c.state)
        @if let Some(due) = &c.due_at { ", due " (due) }
        @if c.breached { " " span.breached { "breached" } }
    }
}

/// A linked asset: its recent changes and, for technicians, unlink.
fn linked_asset(user: &ConsoleUser, url: &str, number: i64, l: &LinkedAssetView) -> Markup {
    html! {
        section.linked {
            h3 {
                a href=(format!("/console/assets/{}", l.asset.id)) { (l.asset.hostname) }
                " " span.muted { (changes(l.changes_last_7_days_total)) " in the last 7 days" }
            }
            @if !l.software_installed_since_opened.is_empty() {
                p { "Installed since the ticket was opened: "
                    (l.software_installed_since_opened.iter().map(|h| format!("{} {}", h.item, h.change)).collect::<Vec<_>>().join("; ")) }
            }
            @if !l.changed_last_7_days.is_empty() {
                table {
                    tr { th { "At" } th { "What" } th { "Change" } th.wide { "From" } th.wide { "To" } }
                    @for h in l.changed_last_7_days.iter().take(RECENT_CHANGES_SHOWN) {
                        tr {
                            td { (h.at) } td { (h.category) @if !h.item.is_empty() { ": " (h.item) } } td { (h.change) }
                            td.wide { (h.old_value.clone().unwrap_or_default()) }
                            td.wide { (h.new_value.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
            @if user.may(Role::Technician) {
                @if l.asset.online {
                    a.button.secondary href=(format!("/console/assets/{}/terminal?ticket={number}", l.asset.id)) { "Terminal" } " "
                    a.button.secondary href=(format!("/console/assets/{}/desktop?control=false&ticket={number}", l.asset.id)) { "Screen" } " "
                    a.button.secondary href=(format!("/console/assets/{}/files?ticket={number}", l.asset.id)) { "Files" } " "
                }
                form.inline method="post" action=(format!("{url}/unlink")) {
                    (csrf_field(user))
                    input type="hidden" name="asset" value=(l.asset.id);
                    button.secondary type="submit" { "Unlink " (l.asset.hostname) }
                }
            }
        }
    }
}

/// "1 change", "3 changes".
fn changes(n: usize) -> String {
    if n == 1 {
        "1 change".into()
    } else {
        format!("{n} changes")
    }
}

/// The checks a ticket can attach: a finished result, so no followed
/// checks, and none that needs an argument the form does not ask for.
fn attachable_checks() -> impl Iterator<Item = &'static deskhand_shared::diag::catalog::CheckSpec> {
    deskhand_shared::diag::catalog::catalog()
        .iter()
        .filter(|c| !c.follows && c.args.iter().all(|a| a.default.is_some()))
}

/// A result attached to the timeline: a diagnostic's rows, or a job and
/// how its machines stand.
fn attached(j: &JobRefView) -> Markup {
    html! {
        @if let Some(r) = &j.diag {
            section.diag {
                div.meta { "Diagnostic " (r.check) " (run " (r.id) ", " (r.started_at) ")" }
                @if let Some(e) = &r.error { p.error { (e) } }
                @for t in &r.tables {
                    h4 { (t.title) }
                    table {
                        tr { @for c in &t.columns { th { (c) } } }
                        @for row in &t.rows { tr { @for cell in row { td { (cell) } } } }
                    }
                }
                @if !r.text.is_empty() { pre { (r.text) } }
            }
        }
        @if let Some(job) = &j.job {
            div {
                "Job " a href=(format!("/console/jobs/{}", job.job.id)) { (job.job.id.get(..12).unwrap_or(&job.job.id)) }
                ": " (job.job.action) " " (job.job.item) " - "
                (job.job.states.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{attachable_checks, changes};

    #[test]
    fn counts_of_changes_read_as_english() {
        assert_eq!(changes(0), "0 changes");
        assert_eq!(changes(1), "1 change");
        assert_eq!(changes(7), "7 changes");
    }

    #[test]
    fn only_finished_checks_without_required_arguments_are_attachable() {
        let names: Vec<&str> = attachable_checks().map(|c| c.name).collect();
        assert!(names.contains(&"system-summary"), "{names:?}");
        let all = deskhand_shared::diag::catalog::catalog();
        for c in all.iter().filter(|c| c.follows) {
            assert!(!names.contains(&c.name), "{} follows", c.name);
        }
        for c in all
            .iter()
            .filter(|c| c.args.iter().any(|a| a.default.is_none()))
        {
            assert!(!names.contains(&c.name), "{} needs an argument", c.name);
        }
    }
}
