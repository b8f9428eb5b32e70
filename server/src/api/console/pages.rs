//! The asset list, and an asset page's forms: refresh its inventory,
//! open a ticket about it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use deskhand_api_types::assets::AssetQuery;
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back, page};
use crate::api::Shared;
use crate::api::assets::asset_page;

/// Most rows the asset list shows per page.
const PAGE: usize = 100;

/// The asset list's query: the search box and the CLI's filters, the
/// sort, the page.
#[derive(Debug, Default, Clone, Deserialize)]
pub(in crate::api) struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    software: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    label: String,
    /// e.g. `30d`.
    #[serde(default)]
    not_seen_for: String,
    /// Warranty ending within, e.g. `90d`.
    #[serde(default)]
    warranty: String,
    #[serde(default)]
    out_of_warranty: Option<String>,
    /// `name`, `os`, `model`, `user`, `last-seen`, ... (`AssetSort`).
    #[serde(default)]
    sort: String,
    /// `asc` or `desc`.
    #[serde(default)]
    order: String,
    #[serde(default)]
    offset: usize,
}

impl ListParams {
    /// The API's query for this page.
    fn query(&self) -> AssetQuery {
        AssetQuery {
            search: some(&self.q),
            software: some(&self.software),
            os: some(&self.os),
            label: some(&self.label),
            not_seen_for: some(&self.not_seen_for),
            warranty_ends_within: some(&self.warranty),
            out_of_warranty: self.out_of_warranty.as_ref().map(|_| "true".to_string()),
            sort: some(&self.sort),
            order: some(&self.order),
            limit: Some(PAGE),
            offset: Some(self.offset),
            ..AssetQuery::default()
        }
    }

    /// The list's address with the same filters, sorted by `sort` in
    /// `order`, from `offset`.
    fn link(&self, sort: &str, order: &str, offset: usize) -> String {
        let mut url = format!("/console/assets?offset={offset}");
        for (k, v) in [
            ("q", self.q.as_str()),
            ("software", &self.software),
            ("os", &self.os),
            ("label", &self.label),
            ("not_seen_for", &self.not_seen_for),
            ("warranty", &self.warranty),
            ("sort", sort),
            ("order", order),
        ] {
            if !v.trim().is_empty() {
                url.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        if self.out_of_warranty.is_some() {
            url.push_str("&out_of_warranty=1");
        }
        url
    }

    /// A column heading that sorts by `key`: ascending first, the other
    /// way when it already sorts by it.
    fn heading(&self, key: &str, title: &str) -> Markup {
        let current = self.sort == key || (self.sort.is_empty() && key == "name");
        let desc = self.order == "desc";
        let next = if current && !desc { "desc" } else { "asc" };
        let sorted = match (current, desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        html! {
            a href=(self.link(key, next, 0)) aria-sort=(sorted) {
                (title) @if current { @if desc { " ▼" } @else { " ▲" } }
            }
        }
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(in crate::api) async fn assets(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<ListParams>,
) -> PageResult {
    // A filter the API refuses (`30 days` for a duration) is said above
    // the form, which keeps what was typed.
    let (shown, total, refused) = match asset_page(&s, &p.query()).await {
        Ok((shown, total)) => (shown, total, None),
        Err(e) if e.status == StatusCode::BAD_REQUEST => (Vec::new(), 0, Some(e.message)),
        Err(e) => return Err(e.into()),
    };
    let next = p.offset + PAGE;
    let with_software = !p.software.trim().is_empty();
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
                input name="not_seen_for" value=(p.not_seen_for) placeholder="not seen for, e.g. 30d" aria-label="not seen for";
                input name="warranty" value=(p.warranty) placeholder="warranty ends within, e.g. 90d" aria-label="warranty ends within";
                label { input type="checkbox" name="out_of_warranty" value="1" checked[p.out_of_warranty.is_some()]; " out of warranty" }
                input type="hidden" name="sort" value=(p.sort);
                input type="hidden" name="order" value=(p.order);
                button type="submit" { "Search" }
            }
            @if let Some(why) = &refused { p.error role="alert" { (why) } }
            p.muted { (total) " assets" @if total > PAGE { ", " (p.offset.min(total) + 1) "-" (next.min(total)) " shown" } }
            table {
                tr {
                    th { (p.heading("name", "Host")) }
                    th { (p.heading("os", "OS")) }
                    th.wide { (p.heading("model", "Model")) }
                    th.wide { (p.heading("user", "User")) }
                    @if with_software { th { "Matching software" } }
                    th { (p.heading("last-seen", "Seen")) }
                }
                @for a in &shown {
                    tr {
                        td { a href=(format!("/console/assets/{}", a.id)) { (a.hostname) } }
                        td { (a.os) }
                        td.wide { (a.model) }
                        td.wide { (a.user) }
                        @if with_software {
                            td { @for m in &a.matched_software { (m.name) " " (m.version) br; } }
                        }
                        td { @if a.online { span.online { "online" } } @else { span.offline { (a.last_seen.as_deref().unwrap_or("never")) } } }
                    }
                }
            }
            p {
                @if p.offset > 0 {
                    a href=(p.link(&p.sort, &p.order, p.offset.saturating_sub(PAGE))) { "Previous page" } " "
                }
                @if next < total { a href=(p.link(&p.sort, &p.order, next)) { "Next page" } }
            }
        },
    )
}

/// Percent-encodes a query value.
pub(in crate::api) fn enc(s: &str) -> String {
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
