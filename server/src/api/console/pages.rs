//! The dashboard, the asset list and an asset's page.

use axum::Form;
use axum::extract::{Path, Query, State};
use deskhand_api_types::assets::{AssetQuery, ShowQuery};
use deskhand_api_types::tickets::TicketQuery;
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back, csrf_field, page};
use crate::api::Shared;
use crate::api::assets::asset_view;
use crate::api::select::asset_rows_matching;
use crate::store::Role;

/// Most rows the asset list shows per page.
const PAGE: usize = 100;

fn bytes(n: i64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if n <= 0 {
        "-".into()
    } else {
        format!("{:.1} GiB", n as f64 / GIB)
    }
}

pub(in crate::api) async fn dashboard(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let agents = s.store.list_agents().await?;
    let enrolled = agents.iter().filter(|a| a.revoked_at.is_none()).count();
    let online = s.presence.online_count();
    let assets = asset_rows_matching(&s.store, &AssetQuery::default())
        .await?
        .0
        .len();
    let axum::Json(mut tickets) = crate::api::tickets::list_tickets(
        State(s.clone()),
        user.authed(),
        Query(TicketQuery::default()),
    )
    .await?;
    let mut by_status: Vec<(String, usize)> = Vec::new();
    for t in &tickets {
        match by_status.iter_mut().find(|(k, _)| *k == t.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((t.status.clone(), 1)),
        }
    }
    // About to breach first, then breached, then the rest by number.
    tickets.retain(|t| t.at_risk || t.breached);
    tickets.sort_by_key(|t| (t.breached, t.number));
    let mut rollouts = Vec::new();
    for rec in s.store.rollouts(true, 10).await? {
        rollouts.push(crate::api::rollouts::view(&s.store, rec, None).await?);
    }
    page(
        &user,
        "Dashboard",
        html! {
            h1 { "Dashboard" }
            div #counts.cards hx-get="/console/" hx-select="#counts" hx-trigger="every 10s" hx-swap="outerHTML" {
                div.card { div.n { (online) " / " (enrolled) } div.k { "agents online" } }
                div.card { div.n { (assets) } div.k { "assets in service" } }
                @for (status, n) in &by_status {
                    div.card { div.n { (n) } div.k { "tickets " (status) } }
                }
            }
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
        },
    )
}

/// `?q=&software=&os=&label=&offset=` of the asset list.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    software: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    offset: usize,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(in crate::api) async fn assets(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<ListParams>,
) -> PageResult {
    let q = AssetQuery {
        search: some(&p.q),
        software: some(&p.software),
        os: some(&p.os),
        label: some(&p.label),
        ..AssetQuery::default()
    };
    let (rows, _) = asset_rows_matching(&s.store, &q).await?;
    let total = rows.len();
    let shown: Vec<_> = rows
        .into_iter()
        .skip(p.offset)
        .take(PAGE)
        .map(|a| asset_view(a, &s.presence))
        .collect();
    let next = p.offset + PAGE;
    page(
        &user,
        "Assets",
        html! {
            h1 { "Assets" }
            form.search method="get" action="/console/assets" role="search" {
                input name="q" value=(p.q) placeholder="host name, serial, user" aria-label="search";
                input name="software" value=(p.software) placeholder="software, e.g. openssl@<3.0.13" aria-label="software";
                input name="os" value=(p.os) placeholder="OS" aria-label="OS";
                input name="label" value=(p.label) placeholder="label" aria-label="label";
                button type="submit" { "Search" }
            }
            p.muted { (total) " assets" @if total > PAGE { ", " (p.offset + 1) "-" (next.min(total)) " shown" } }
            table {
                tr { th { "Host" } th { "OS" } th.wide { "Model" } th.wide { "User" } th { "Seen" } }
                @for a in &shown {
                    tr {
                        td { a href=(format!("/console/assets/{}", a.id)) { (a.hostname) } }
                        td { (a.os) }
                        td.wide { (a.model) }
                        td.wide { (a.user) }
                        td { @if a.online { span.online { "online" } } @else { span.offline { (a.last_seen.as_deref().unwrap_or("never")) } } }
                    }
                }
            }
            @if next < total {
                p { a href=(format!("/console/assets?q={}&software={}&os={}&label={}&offset={next}",
                    enc(&p.q), enc(&p.software), enc(&p.os), enc(&p.label))) { "Next page" } }
            }
        },
    )
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?software=` of an asset's page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct AssetParams {
    #[serde(default)]
    software: String,
    /// A diagnostic run to show at the top.
    #[serde(default)]
    diag: Option<i64>,
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
        Some(id) => Some(crate::api::diag::diag_run_view(
            s.store.get_diag_run(id).await?,
        ))
        .filter(|r| r.agent_id == a.id),
        None => None,
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
                form.inline method="post" action=(format!("/console/assets/{}/diag", a.id)) {
                    (csrf_field(&user))
                    select name="check" aria-label="diagnostic" {
                        @for c in checks.iter().filter(|c| !c.follows && c.args.iter().all(|x| x.default.is_some())) {
                            option value=(c.name) title=(c.summary) { (c.name) }
                        }
                    }
                    button.secondary type="submit" { "Run diagnostic" }
                }
            }
            @if let Some(r) = &run { (diag_tables(r)) }
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
            h2 { "Software (" (d.software.len()) ")" }
            form.search method="get" action=(format!("/console/assets/{}", a.id)) {
                input name="software" value=(p.software) placeholder="filter by name" aria-label="filter software";
                button type="submit" { "Filter" }
            }
            table {
                tr { th { "Name" } th { "Version" } th.wide { "Vendor" } th { "Source" } }
                @for pkg in &d.software { tr { td { (pkg.name) } td { (pkg.version) } td.wide { (pkg.vendor) } td { (pkg.source) } } }
            }
            h2 { "Tickets" }
            (ticket_rows(&d.tickets))
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

fn diag_tables(r: &deskhand_api_types::diag::DiagRunView) -> Markup {
    html! {
        section.diag {
            h2 { "Diagnostic " (r.check) " - " (r.started_at) " by " (r.operator) }
            @if let Some(e) = &r.error { p.error { (e) } }
            @for t in &r.tables {
                h3 { (t.title) }
                table {
                    tr { @for c in &t.columns { th { (c) } } }
                    @for row in &t.rows { tr { @for cell in row { td { (cell) } } } }
                }
            }
            @if !r.text.is_empty() { pre { (r.text) } }
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

#[derive(Deserialize)]
pub(in crate::api) struct CsrfOnly {
    csrf: String,
}

pub(in crate::api) async fn refresh(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    user.check(&f.csrf)?;
    let a = s.store.find_asset(key).await?;
    crate::api::assets::refresh_asset(State(s.clone()), user.authed(), Path(a.id.clone())).await?;
    back(&format!("/console/assets/{}", a.id))
}

#[derive(Deserialize)]
pub(in crate::api) struct DiagForm {
    csrf: String,
    check: String,
}

/// Runs a diagnostic on the asset's agent and shows its rows on the page.
pub(in crate::api) async fn diag(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Form(f): Form<DiagForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let a = s.store.find_asset(key).await?;
    let req = deskhand_api_types::diag::RunDiag {
        check: f.check,
        args: Vec::new(),
        follow: false,
        ticket: None,
    };
    let resp = crate::api::diag::run_diag(
        State(s.clone()),
        user.authed(),
        Path(a.id.clone()),
        axum::Json(req),
    )
    .await?;
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(crate::api::error::ApiError::internal)?;
    let run: deskhand_api_types::diag::DiagRunView =
        serde_json::from_slice(&bytes).map_err(crate::api::error::ApiError::internal)?;
    back(&format!("/console/assets/{}?diag={}", a.id, run.id))
}

#[derive(Deserialize)]
pub(in crate::api) struct TicketForm {
    csrf: String,
    title: String,
    requester: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    description: String,
}

/// Opens a ticket linked to the asset.
pub(in crate::api) async fn open_ticket(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Form(f): Form<TicketForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let a = s.store.find_asset(key).await?;
    let req = deskhand_api_types::tickets::CreateTicket {
        title: f.title,
        description: f.description,
        requester: f.requester,
        priority: some(&f.priority),
        assets: vec![a.id],
        ..Default::default()
    };
    let (_, axum::Json(created)) =
        crate::api::tickets::create_ticket(State(s.clone()), user.authed(), axum::Json(req))
            .await?;
    back(&format!("/console/tickets/{}", created.number))
}
