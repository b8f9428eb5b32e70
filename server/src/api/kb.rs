//! The knowledge base API: `/api/v1/kb` (articles, their search) and
//! `/api/v1/tickets/{number}/kb` (the articles suggested for a ticket:
//! its words, its software, the software on its machines) and
//! `/api/v1/tickets/{number}/article-draft` (an article drafted from a
//! resolved ticket, to review and post back with its `source_ticket`).
//!
//! Any role reads; writing needs a technician and is audited by the
//! store. Operators see every article, whatever its visibility.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{ApiError, ApiResult};
use super::tickets::field;
use super::{Authed, Shared};
use crate::kb::draft::{DraftInput, TimelineNote, draft};
use crate::kb::{Audience, MAX_RESULTS, Suggestion, Visibility};
use crate::store::{Article, ArticleEdit, NewArticle, Role};
use crate::tickets::parse_number;
use crate::{rfc3339, unix_now};
use deskhand_api_types::kb::{
    ArticleCreated, ArticleDraft, ArticleSummary, ArticleView, CreateArticle, DraftQuery,
    ListQuery, SearchQuery, SuggestedArticle, UpdateArticle,
};
use deskhand_api_types::server::ErrorBody;

/// The longest title, in characters.
const MAX_TITLE: usize = 200;
/// The longest body, in characters.
const MAX_BODY: usize = 100_000;
/// The most tags or names an article has, and their longest.
const MAX_ITEMS: usize = 30;
const MAX_ITEM_CHARS: usize = 100;
/// Results of a search when the query does not say.
const DEFAULT_SEARCH_LIMIT: usize = 20;
/// Articles suggested for a ticket when the query does not say.
const DEFAULT_SUGGESTIONS: usize = 5;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/kb", get(list_articles).post(create_article))
        .route("/api/v1/kb/search", get(search_articles))
        .route(
            "/api/v1/kb/{id}",
            get(show_article).put(update_article).delete(delete_article),
        )
        .route("/api/v1/tickets/{number}/kb", get(ticket_articles))
        .route(
            "/api/v1/tickets/{number}/article-draft",
            get(ticket_article_draft),
        )
}

// ---- views and input ----------------------------------------------------------

pub(super) fn article_view(a: Article) -> ArticleView {
    ArticleView {
        id: a.id,
        title: a.content.title,
        body: a.content.body,
        tags: a.content.tags,
        applies_to: a.content.applies_to,
        visibility: a.content.visibility.as_str().into(),
        author: a.author,
        created_at: rfc3339(a.created_at),
        updated_at: rfc3339(a.updated_at),
        source_ticket: a.source_ticket,
    }
}

pub(super) fn article_summary(a: Article) -> ArticleSummary {
    ArticleSummary {
        id: a.id,
        title: a.content.title,
        tags: a.content.tags,
        applies_to: a.content.applies_to,
        visibility: a.content.visibility.as_str().into(),
        updated_at: rfc3339(a.updated_at),
    }
}

/// Why an article is suggested, in words.
fn why(s: &Suggestion, ticket_software: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.ticket_software {
        out.push(format!("about {}", ticket_software.trim()));
    }
    if s.text_rank.is_some() {
        out.push("matches the ticket's words".to_string());
    }
    if !s.installed.is_empty() {
        out.push(format!(
            "for software installed: {}",
            s.installed.join(", ")
        ));
    }
    out
}

fn article_id(text: &str) -> Result<i64, ApiError> {
    let t = text.trim().trim_start_matches('#');
    t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`{text}` is not an article number; give one as `deskhand kb list` shows it, e.g. 12"
        ))
    })
}

/// Tags or names: each one line, trimmed, the empty ones dropped, each
/// once.
fn items(name: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let v = field(name, v, MAX_ITEM_CHARS, false, true)?;
        if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&v)) {
            out.push(v);
        }
    }
    if out.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(format!(
            "an article has at most {MAX_ITEMS} {name}s"
        )));
    }
    Ok(out)
}

fn visibility(text: &str) -> Result<Visibility, ApiError> {
    Visibility::parse(text).map_err(ApiError::bad_request)
}

fn title(text: &str) -> Result<String, ApiError> {
    field("title", text, MAX_TITLE, true, true)
}

fn body(text: &str) -> Result<String, ApiError> {
    field("body", text, MAX_BODY, false, false)
}

// ---- handlers -----------------------------------------------------------------

#[utoipa::path(
    get,
    path = "/api/v1/kb",
    tag = "kb",
    summary = "knowledge-base articles, last changed first",
    params(ListQuery),
    responses(
        (status = 200, description = "the articles, without their bodies", body = Vec<ArticleSummary>),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_articles(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<ArticleSummary>> {
    let limit = q.limit.unwrap_or(MAX_RESULTS).min(1000);
    let rows = s.store.list_articles(Audience::Operators, limit).await?;
    Ok(Json(rows.into_iter().map(article_summary).collect()))
}

#[utoipa::path(
    post,
    path = "/api/v1/kb",
    tag = "kb",
    summary = "write a knowledge-base article",
    request_body = CreateArticle,
    responses(
        (status = 201, description = "the article", body = ArticleCreated),
        (status = 400, description = "a field is missing or not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such source ticket", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn create_article(
    State(s): State<Shared>,
    op: Authed,
    Json(req): Json<CreateArticle>,
) -> Result<(StatusCode, Json<ArticleCreated>), ApiError> {
    op.require(Role::Technician)?;
    let a = NewArticle {
        title: title(&req.title)?,
        body: body(&req.body)?,
        tags: items("tag", &req.tags)?,
        applies_to: items("applies-to name", &req.applies_to)?,
        visibility: match &req.visibility {
            Some(v) => visibility(v)?,
            None => Visibility::Technicians,
        },
    };
    let title = a.title.clone();
    let id = match req.source_ticket {
        Some(n) if n > 0 => {
            s.store
                .create_article_from_ticket(a, n, op.0.name, unix_now())
                .await?
        }
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "source_ticket {n} is not a ticket number; give one as `deskhand tickets list` shows it"
            )));
        }
        None => s.store.create_article(a, op.0.name, unix_now()).await?,
    };
    Ok((StatusCode::CREATED, Json(ArticleCreated { id, title })))
}

#[utoipa::path(
    get,
    path = "/api/v1/kb/search",
    tag = "kb",
    summary = "search articles: every word must match, title matches first",
    params(SearchQuery),
    responses(
        (status = 200, description = "the matching articles, best first", body = Vec<ArticleSummary>),
        (status = 400, description = "the query has no word in it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn search_articles(
    State(s): State<Shared>,
    _: Authed,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Vec<ArticleSummary>> {
    let limit = q.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
    let rows = s
        .store
        .search_articles(q.q, Audience::Operators, limit)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Refused(m) => ApiError::bad_request(m),
            e => e.into(),
        })?;
    Ok(Json(rows.into_iter().map(article_summary).collect()))
}

#[utoipa::path(
    get,
    path = "/api/v1/kb/{id}",
    tag = "kb",
    summary = "a knowledge-base article with its Markdown body",
    params(("id" = String, Path, description = "article number")),
    responses(
        (status = 200, description = "the article", body = ArticleView),
        (status = 400, description = "not an article number", body = ErrorBody),
        (status = 404, description = "no such article", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show_article(
    State(s): State<Shared>,
    _: Authed,
    Path(id): Path<String>,
) -> ApiResult<ArticleView> {
    let a = s.store.get_article(article_id(&id)?).await?;
    Ok(Json(article_view(a)))
}

#[utoipa::path(
    put,
    path = "/api/v1/kb/{id}",
    tag = "kb",
    summary = "change an article: the fields given",
    params(("id" = String, Path, description = "article number")),
    request_body = UpdateArticle,
    responses(
        (status = 200, description = "the article as it is now", body = ArticleView),
        (status = 400, description = "a field is not valid", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such article", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn update_article(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<String>,
    Json(req): Json<UpdateArticle>,
) -> ApiResult<ArticleView> {
    op.require(Role::Technician)?;
    let id = article_id(&id)?;
    let edit = ArticleEdit {
        title: req.title.as_deref().map(title).transpose()?,
        body: req.body.as_deref().map(body).transpose()?,
        tags: req.tags.as_deref().map(|t| items("tag", t)).transpose()?,
        applies_to: req
            .applies_to
            .as_deref()
            .map(|a| items("applies-to name", a))
            .transpose()?,
        visibility: req.visibility.as_deref().map(visibility).transpose()?,
    };
    let a = s
        .store
        .edit_article(id, edit, op.0.name, unix_now())
        .await?;
    Ok(Json(article_view(a)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/kb/{id}",
    tag = "kb",
    summary = "remove an article",
    params(("id" = String, Path, description = "article number")),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "not an article number", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such article", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn delete_article(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Technician)?;
    s.store
        .delete_article(article_id(&id)?, op.0.name, unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/kb",
    tag = "kb",
    summary = "articles for a ticket: its software, its words, its machines' software",
    params(
        ("number" = String, Path, description = "ticket number: 42, #42 or T42"),
        ListQuery,
    ),
    responses(
        (status = 200, description = "the suggested articles, best first, and why", body = Vec<SuggestedArticle>),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn ticket_articles(
    State(s): State<Shared>,
    _: Authed,
    Path(n): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<SuggestedArticle>> {
    let number = parse_number(&n).map_err(ApiError::bad_request)?;
    Ok(Json(
        suggestions(&s, number, q.limit.unwrap_or(DEFAULT_SUGGESTIONS)).await?,
    ))
}

/// The articles suggested for ticket `number`, best first.
pub(super) async fn suggestions(
    s: &Shared,
    number: i64,
    limit: usize,
) -> Result<Vec<SuggestedArticle>, ApiError> {
    let t = s.store.get_ticket(number).await?;
    let mut installed = Vec::new();
    for id in t.assets.clone() {
        let software = s.store.read(move |r| r.asset_software(&id)).await?;
        installed.extend(software.into_iter().map(|p| p.name));
    }
    installed.sort();
    installed.dedup();
    let text = format!("{}\n{}", t.title, t.description);
    let found = s
        .store
        .suggest_articles(
            text,
            vec![t.software.clone()],
            installed,
            Audience::Operators,
            limit,
        )
        .await?;
    Ok(found
        .into_iter()
        .map(|(a, sug)| SuggestedArticle {
            why: why(&sug, &t.software),
            article: article_summary(a),
        })
        .collect())
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/article-draft",
    tag = "kb",
    summary = "an article drafted from a resolved ticket, to review and post to /api/v1/kb",
    params(
        ("number" = String, Path, description = "ticket number: 42, #42 or T42"),
        DraftQuery,
    ),
    responses(
        (status = 200, description = "the draft: title, Markdown body, tags, applies-to, visibility technicians, source_ticket", body = CreateArticle),
        (status = 400, description = "not a ticket number", body = ErrorBody),
        (status = 404, description = "no such ticket", body = ErrorBody),
        (status = 409, description = "the ticket is not resolved yet", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn ticket_article_draft(
    State(s): State<Shared>,
    _: Authed,
    Path(n): Path<String>,
    Query(q): Query<DraftQuery>,
) -> ApiResult<ArticleDraft> {
    let number = parse_number(&n).map_err(ApiError::bad_request)?;
    Ok(Json(
        article_draft(&s, number, q.internal.unwrap_or(false)).await?,
    ))
}

/// The article drafted from ticket `number` (see
/// [`crate::kb::draft::draft`]), as the API gives it.
pub(super) async fn article_draft(
    s: &Shared,
    number: i64,
    include_internal: bool,
) -> Result<ArticleDraft, ApiError> {
    let t = s.store.get_ticket(number).await?;
    let timeline = s
        .store
        .ticket_events(number)
        .await?
        .into_iter()
        .map(|e| TimelineNote {
            kind: e.kind,
            author: e.author,
            internal: e.internal,
            body: e.body,
            new_value: e.new_value,
        })
        .collect();
    let mut models = Vec::new();
    for id in &t.assets {
        if let Ok(a) = s.store.find_asset(id.clone()).await {
            let model = format!("{} {}", a.manufacturer.trim(), a.model.trim());
            models.push(model.trim().to_string());
        }
    }
    let input = DraftInput {
        timeline,
        models,
        include_internal,
    };
    let d = draft(&t, &input).map_err(|m| ApiError::new(StatusCode::CONFLICT, m))?;
    Ok(ArticleDraft {
        title: d.title,
        body: d.body,
        tags: d.tags,
        applies_to: d.applies_to,
        visibility: Some(d.visibility.as_str().into()),
        source_ticket: Some(d.source_ticket),
    })
}
