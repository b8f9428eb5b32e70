//! The asset list, and an asset page's forms: refresh its inventory,
//! open a ticket about it.

use axum::Form;
use axum::extract::{Path, Query, State};
use deskhand_api_types::assets::AssetQuery;
use maud::html;
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back, page};
use crate::api::Shared;
use crate::api::assets::asset_view;
use crate::api::select::asset_rows_matching;

/// Most rows the asset list shows per page.
const PAGE: usize = 100;

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

#[derive(Deserialize)]
pub(in crate::api) struct CsrfOnly {
    #[serde(default)]
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
pub(in crate::api) struct TicketForm {
    #[serde(default)]
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
