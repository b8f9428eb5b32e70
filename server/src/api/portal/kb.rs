//! The knowledge base as requesters see it: articles visible to
//! requesters only. While a requester types a ticket's title, htmx (the
//! console's vendored copy) fetches `/portal/kb/suggest?title=` and shows
//! the matching articles; an article's page renders its Markdown with the
//! console's safe renderer and offers "this solved it", which records a
//! deflection and opens no ticket.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse};
use maud::html;
use serde::Deserialize;

use super::{PageResult, PortalError, Requester, csrf_field, page};
use crate::api::Shared;
use crate::api::console::markdown;
use crate::kb::{Audience, Visibility};
use crate::unix_now;

/// Most suggestions shown.
const SUGGESTIONS: usize = 5;
/// Longest query used (and stored with a deflection).
const MAX_QUERY: usize = 200;

/// `?q=` (or the title field's own name, as htmx sends it).
#[derive(Deserialize, Default)]
pub(super) struct SuggestQuery {
    #[serde(default, alias = "title")]
    q: String,
}

/// The query, bounded, one line.
fn bounded(q: &str) -> String {
    q.chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUERY)
        .collect::<String>()
        .trim()
        .to_string()
}

/// `GET /portal/kb/suggest?q=`: a fragment listing matching articles.
pub(super) async fn suggest(
    State(s): State<Shared>,
    _who: Requester,
    Query(p): Query<SuggestQuery>,
) -> PageResult {
    let q = bounded(&p.q);
    let found = if q.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        Vec::new()
    } else {
        s.store
            .suggest_articles(
                q.clone(),
                Vec::new(),
                Vec::new(),
                Audience::Requesters,
                SUGGESTIONS,
            )
            .await?
    };
    let body = html! {
        @if !found.is_empty() {
            div.suggestions {
                p { "These articles may answer it:" }
                ul {
                    @for (a, _) in &found {
                        li { a href=(format!("/portal/kb/{}?q={}", a.id, crate::api::console::enc(&q))) target="_blank" { (a.content.title) } }
                    }
                }
            }
        }
    };
    Ok(crate::api::console::secured(Html(body.into_string())))
}

/// An article a requester may read, else not found.
async fn readable(s: &Shared, id: &str) -> Result<crate::store::Article, PortalError> {
    let id: i64 = id.parse().map_err(|_| PortalError::NotFound)?;
    let a = s.store.get_article(id).await?;
    if a.content.visibility != Visibility::Requesters {
        return Err(PortalError::NotFound);
    }
    Ok(a)
}

/// `GET /portal/kb/{id}?q=`: the article, and "this solved it".
pub(super) async fn article(
    State(s): State<Shared>,
    who: Requester,
    Path(id): Path<String>,
    Query(p): Query<SuggestQuery>,
) -> PageResult {
    let a = readable(&s, &id).await?;
    page(
        &who,
        &a.content.title,
        html! {
            h1 { (a.content.title) }
            article.kb { (markdown::render(&a.content.body)) }
            form method="post" action=(format!("/portal/kb/{}/solved", a.id)) {
                (csrf_field(&who))
                input type="hidden" name="q" value=(bounded(&p.q));
                button type="submit" { "This solved it" }
            }
            p { a href="/portal" { "It did not: back to ask for help" } }
        },
    )
}

#[derive(Deserialize)]
pub(super) struct SolvedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
}

/// `POST /portal/kb/{id}/solved`: records a deflection; no ticket.
pub(super) async fn solved(
    State(s): State<Shared>,
    who: Requester,
    Path(id): Path<String>,
    Form(f): Form<SolvedForm>,
) -> PageResult {
    let a = readable(&s, &id).await?;
    who.check(&f.csrf)?;
    s.store
        .record_deflection(a.id, who.account.clone(), bounded(&f.q), unix_now())
        .await?;
    let body = page(
        &who,
        "Glad it helped",
        html! {
            h1 { "Glad it helped" }
            p { "No ticket was opened. " a href="/portal" { "Back to my tickets" } }
        },
    )?;
    Ok(body.into_response())
}
