//! The help desk's and the rollouts' pages: the ticket queue and a
//! ticket's page with its actions (comment, status); the rollouts and a
//! rollout's page with pause, resume, approve and abort. Every action
//! goes through the API's own handler, so the same roles and checks apply.

use axum::Form;
use axum::extract::{Path, Query, State};
use deskhand_api_types::rollouts::{RolloutQuery, RolloutView};
use deskhand_api_types::tickets::{CommentRequest, StatusRequest, TicketQuery};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back, bar, csrf_field, page};
use crate::api::Shared;
use crate::store::Role;

/// `?status=&mine=&breaching=` of the queue.
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
        ..TicketQuery::default()
    };
    let axum::Json(rows) =
        crate::api::tickets::list_tickets(State(s.clone()), user.authed(), Query(q)).await?;
    let statuses = ["", "new", "open", "pending", "resolved", "closed", "all"];
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
                label { input type="checkbox" name="mine" value="1" checked[p.mine.is_some()]; " mine" }
                label { input type="checkbox" name="breaching" value="1" checked[p.breaching.is_some()]; " breaching" }
                button type="submit" { "Filter" }
            }
            table {
                tr { th { "#" } th { "Title" } th { "Status" } th { "Priority" } th.wide { "Assignee" } th { "SLA" } }
                @for t in &rows {
                    tr {
                        td { a href=(format!("/console/tickets/{}", t.number)) { (t.number) } }
                        td { (t.title) }
                        td { (t.status) }
                        td { (t.priority) }
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
    let url = format!("/console/tickets/{}", t.number);
    page(
        &user,
        &format!("Ticket {}", t.number),
        html! {
            h1 { "#" (t.number) " " (t.title) }
            table {
                tr { th { "Status" } td { (t.status) } }
                tr { th { "Priority" } td { (t.priority) " (tier " (t.tier) ")" } }
                tr { th { "Requester" } td { (t.requester) } }
                tr { th { "Assignee" } td { (t.assignee.clone().unwrap_or_else(|| "nobody".into())) } }
                tr { th { "First response" } td { (clock(&t.first_response)) } }
                tr { th { "Resolution" } td { (clock(&t.resolution)) } }
            }
            @if !d.description.is_empty() { h2 { "Description" } pre { (d.description) } }
            h2 { "Linked assets" }
            @if d.linked_assets.is_empty() { p.muted { "None." } }
            ul {
                @for l in &d.linked_assets {
                    li {
                        a href=(format!("/console/assets/{}", l.asset.id)) { (l.asset.hostname) }
                        " - " (l.changes_last_7_days_total) " changes in the last 7 days"
                        @if !l.software_installed_since_opened.is_empty() {
                            ", installed since the ticket was opened: "
                            (l.software_installed_since_opened.iter().map(|h| format!("{} {}", h.item, h.change)).collect::<Vec<_>>().join("; "))
                        }
                    }
                }
            }
            h2 { "Timeline" }
            div.timeline {
                @for e in &d.timeline {
                    div.entry.internal[e.internal] {
                        div.meta { (e.at) " - " (e.author) " - " (e.kind) @if e.internal { " (internal)" } }
                        @if !e.body.is_empty() { div { (e.body) } }
                        @if let (Some(old), Some(new)) = (&e.old_value, &e.new_value) { div.muted { (old) " -> " (new) } }
                    }
                }
            }
            @if user.may(Role::Technician) {
                h2 { "Comment" }
                form method="post" action=(format!("{url}/comment")) {
                    (csrf_field(&user))
                    label { "Comment" textarea name="body" required {} }
                    label { input type="checkbox" name="internal" value="1"; " internal (not for the requester)" }
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
                    button type="submit" { "Change status" }
                }
            }
        },
    )
}

fn clock(c: &deskhand_api_types::tickets::SlaClockView) -> Markup {
    html! {
        (c.state)
        @if let Some(due) = &c.due_at { ", due " (due) }
        @if c.breached { " " span.breached { "breached" } }
    }
}

#[derive(Deserialize)]
pub(in crate::api) struct CommentForm {
    csrf: String,
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

pub(in crate::api) async fn comment(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<CommentForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = CommentRequest {
        body: f.body,
        internal: f.internal.is_some(),
    };
    crate::api::tickets::comment(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct StatusForm {
    csrf: String,
    status: String,
    #[serde(default)]
    note: String,
}

pub(in crate::api) async fn status(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<StatusForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = StatusRequest {
        status: f.status,
        note: f.note,
    };
    crate::api::tickets::set_status(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct AssignForm {
    csrf: String,
    #[serde(default)]
    assignee: String,
}

pub(in crate::api) async fn assign(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<AssignForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = deskhand_api_types::tickets::AssignRequest {
        assignee: Some(f.assignee.trim().to_string()).filter(|a| !a.is_empty()),
    };
    crate::api::tickets::assign(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct EscalateForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(in crate::api) async fn escalate(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<EscalateForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = deskhand_api_types::tickets::EscalateRequest {
        to: None,
        note: f.note,
    };
    crate::api::tickets::escalate(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

/// A rollout's machines as one bar.
pub(super) fn rollout_bar(r: &RolloutView) -> Markup {
    let mut sum = deskhand_api_types::rollouts::WaveCountsView::default();
    for w in &r.waves {
        let c = &w.counts;
        sum.succeeded += c.succeeded + c.compliant;
        sum.failed += c.failed;
        sum.in_flight += c.in_flight;
        sum.pending += c.pending;
        sum.skipped += c.skipped + c.expired + c.rolled_back;
    }
    counts_bar(&sum)
}

fn counts_bar(c: &deskhand_api_types::rollouts::WaveCountsView) -> Markup {
    bar(
        &[
            ("succeeded", c.succeeded + c.compliant),
            ("failed", c.failed),
            ("in_flight", c.in_flight),
            ("skipped", c.skipped + c.expired + c.rolled_back),
            ("pending", c.pending),
        ],
        240,
    )
}

pub(in crate::api) async fn rollouts(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let axum::Json(rows) = crate::api::rollouts::list(State(s.clone()), user.authed()).await?;
    page(
        &user,
        "Rollouts",
        html! {
            h1 { "Rollouts" }
            p.muted { "Create them with " code { "deskhand rollouts create" } "; follow and steer them here." }
            table {
                tr { th { "#" } th { "Action" } th { "Item" } th { "Phase" } th { "Wave" } th { "Progress" } th.wide { "Created" } }
                @for r in &rows {
                    tr {
                        td { a href=(format!("/console/rollouts/{}", r.id)) { (r.id) } }
                        td { (r.action) } td { (r.item) } td { (r.phase) }
                        td { (r.wave) " of " (r.waves.len().saturating_sub(1)) }
                        td { (rollout_bar(r)) }
                        td.wide { (r.created_at) " by " (r.created_by) }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No rollout yet." } }
        },
    )
}

pub(in crate::api) async fn rollout(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    let axum::Json(r) = crate::api::rollouts::show(
        State(s.clone()),
        user.authed(),
        Path(id),
        Query(RolloutQuery {
            machines: Some("failed".into()),
        }),
    )
    .await?;
    let url = format!("/console/rollouts/{}", r.id);
    let commands: Vec<(&str, Role)> = vec![
        ("pause", Role::Technician),
        ("resume", Role::Admin),
        ("approve", Role::Admin),
        ("abort", Role::Technician),
    ];
    page(
        &user,
        &format!("Rollout {}", r.id),
        html! {
            h1 { "Rollout " (r.id) ": " (r.action) " " (r.item) }
            div #progress hx-get=(url) hx-select="#progress" hx-trigger="every 2s" hx-swap="outerHTML" {
                p { "Phase: " strong { (r.phase) }
                    @if let Some(why) = &r.paused_reason { " - " span.failed { (why) } }
                    @if let Some(until) = &r.soak_until { " until " (until) } }
                table {
                    tr { th { "Wave" } th { "Machines" } th { "Progress" } th { "Succeeded" } th { "Failed" } th { "In flight" } th { "Pending" } }
                    @for w in &r.waves {
                        tr {
                            td { (w.name) @if !w.started { span.muted { " (not started)" } } }
                            td { (w.counts.total) }
                            td { (counts_bar(&w.counts)) }
                            td { (w.counts.succeeded + w.counts.compliant) }
                            td { (w.counts.failed) }
                            td { (w.counts.in_flight) }
                            td { (w.counts.pending) }
                        }
                    }
                }
                @if !r.machines.is_empty() {
                    h2 { "Failed machines" }
                    table {
                        tr { th { "Host" } th { "Wave" } th { "Exit code" } th { "Message" } th.wide { "Output" } }
                        @for m in &r.machines {
                            tr {
                                td { a href=(format!("/console/assets/{}", m.asset_id)) { (m.hostname) } }
                                td { (m.wave) }
                                td { (m.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                                td { (m.message) }
                                td.wide { pre { (m.output_tail) } }
                            }
                        }
                    }
                }
            }
            @if !r.tickets.is_empty() {
                p { "Tickets it opened: "
                    @for t in &r.tickets { a href=(format!("/console/tickets/{t}")) { "#" (t) } " " } }
            }
            div {
                @for (verb, role) in &commands {
                    @if user.may(*role) {
                        form.inline method="post" action=(format!("{url}/{verb}")) {
                            (csrf_field(&user))
                            button.secondary type="submit" { (verb) }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct CommandForm {
    csrf: String,
}

pub(in crate::api) async fn command(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path((id, verb)): Path<(String, String)>,
    Form(f): Form<CommandForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let _now =
        crate::api::rollouts::command(State(s.clone()), user.authed(), Path((id.clone(), verb)))
            .await?;
    back(&format!("/console/rollouts/{}", id.trim()))
}
