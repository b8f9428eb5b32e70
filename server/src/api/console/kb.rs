//! The knowledge base's pages: the articles (or a search's results) and
//! an article with its Markdown body rendered by `markdown` (escaped
//! throughout), with links to `kb_edit`'s forms for technicians; a
//! ticket's page shows its suggestions with [`suggested`].

use axum::extract::{Path, Query, State};
use deskhand_api_types::kb::{ListQuery, SearchQuery, SuggestedArticle};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, markdown, page};
use crate::api::Shared;
use crate::store::Role;

/// `?q=` of the articles' page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct KbParams {
    #[serde(default)]
    q: String,
}

pub(in crate::api) async fn articles(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<KbParams>,
) -> PageResult {
    let q = p.q.trim().to_string();
    let axum::Json(rows) = if q.is_empty() {
        crate::api::kb::list_articles(State(s), user.authed(), Query(ListQuery::default())).await?
    } else {
        crate::api::kb::search_articles(
            State(s),
            user.authed(),
            Query(SearchQuery {
                q: q.clone(),
                limit: Some(50),
            }),
        )
        .await?
    };
    page(
        &user,
        "Knowledge base",
        html! {
            h1 { "Knowledge base" }
            @if user.may(Role::Technician) {
                p { a.button href="/console/kb/new" { "New article" } }
            }
            form.search method="get" action="/console/kb" {
                input name="q" value=(q) placeholder="words to search for" aria-label="search";
                button type="submit" { "Search" }
            }
            table {
                tr { th { "#" } th { "Title" } th { "Applies to" } th { "Visibility" } th.wide { "Updated" } }
                @for a in &rows {
                    tr {
                        td { a href=(format!("/console/kb/{}", a.id)) { (a.id) } }
                        td { a href=(format!("/console/kb/{}", a.id)) { (a.title) } }
                        td { (a.applies_to.join(", ")) }
                        td { (a.visibility) }
                        td.wide { (a.updated_at) }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No article. Add one with New article or `deskhand kb add`." } }
        },
    )
}

pub(in crate::api) async fn article(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    let axum::Json(a) = crate::api::kb::show_article(State(s), user.authed(), Path(id)).await?;
    page(
        &user,
        &format!("Article {}", a.id),
        html! {
            h1 { (a.title) }
            p.muted {
                "Article " (a.id) " by " (a.author) ", updated " (a.updated_at)
                " - visible to " (a.visibility)
                @if !a.applies_to.is_empty() { " - applies to " (a.applies_to.join(", ")) }
                @if !a.tags.is_empty() { " - tags: " (a.tags.join(", ")) }
                @if let Some(n) = a.source_ticket {
                    " - written from " a href=(format!("/console/tickets/{n}")) { "ticket " (n) }
                }
            }
            div.article { (markdown::render(&a.body)) }
            p {
                @if user.may(Role::Technician) {
                    a.button href=(format!("/console/kb/{}/edit", a.id)) { "Edit" }
                    " "
                    a.button.secondary href=(format!("/console/kb/{}/delete", a.id)) { "Remove" }
                    " "
                }
                a href="/console/kb" { "All articles" }
            }
        },
    )
}

/// A ticket's suggested articles, for its page.
pub(super) fn suggested(rows: &[SuggestedArticle]) -> Markup {
    html! {
        h2 { "Knowledge base" }
        @if rows.is_empty() { p.muted { "No article matches this ticket." } }
        ul {
            @for s in rows {
                li {
                    a href=(format!("/console/kb/{}", s.article.id)) { (s.article.title) }
                    span.muted { " - " (s.why.join("; ")) }
                }
            }
        }
    }
}
