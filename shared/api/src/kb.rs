//! The knowledge base: articles, their search, and the articles
//! suggested for a ticket.

use serde::{Deserialize, Serialize};

/// An article in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleView {
    /// Its number.
    pub id: i64,
    /// One line.
    pub title: String,
    /// Markdown source.
    pub body: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// Software names (e.g. `cups`) or hardware and model words it applies to.
    pub applies_to: Vec<String>,
    /// `technicians` (operators only) or `requesters` (requesters too).
    pub visibility: String,
    /// The operator who wrote it.
    pub author: String,
    /// When it was written, RFC 3339.
    pub created_at: String,
    /// When it last changed, RFC 3339.
    pub updated_at: String,
    /// The ticket it was written from, if any.
    #[serde(default)]
    pub source_ticket: Option<i64>,
}

/// An article as listed or found: without its body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleSummary {
    /// Its number.
    pub id: i64,
    /// One line.
    pub title: String,
    /// Free tags.
    pub tags: Vec<String>,
    /// What it applies to.
    pub applies_to: Vec<String>,
    /// `technicians` or `requesters`.
    pub visibility: String,
    /// When it last changed, RFC 3339.
    pub updated_at: String,
}

/// An article suggested for a ticket, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestedArticle {
    /// The article.
    pub article: ArticleSummary,
    /// Why, e.g. `about cups`, `matches the ticket's words`,
    /// `for software installed: bash`.
    pub why: Vec<String>,
}

/// Body of `POST /api/v1/kb`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateArticle {
    /// One line, required.
    pub title: String,
    /// Markdown source.
    #[serde(default)]
    pub body: String,
    /// Free tags, one line each.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Software names or hardware words it applies to.
    #[serde(default)]
    pub applies_to: Vec<String>,
    /// `technicians` (the default) or `requesters`.
    pub visibility: Option<String>,
    /// The resolved ticket it is written from (see `GET
    /// /api/v1/tickets/{number}/article-draft`): recorded with the
    /// article, and the ticket's timeline names the article.
    #[serde(default)]
    pub source_ticket: Option<i64>,
}

/// Answer of `GET /api/v1/tickets/{number}/article-draft`: an article
/// to review, then send as a [`CreateArticle`] (it is one, with
/// `source_ticket` set).
pub type ArticleDraft = CreateArticle;

/// Query of `GET /api/v1/tickets/{number}/article-draft`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DraftQuery {
    /// Quote the ticket's internal notes too (left out if absent).
    pub internal: Option<bool>,
}

/// Body of `PUT /api/v1/kb/{id}`: the fields to change; absent ones
/// stay as they are, a list given replaces the old one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateArticle {
    /// A new title.
    pub title: Option<String>,
    /// A new body.
    pub body: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New names it applies to.
    pub applies_to: Option<Vec<String>>,
    /// `technicians` or `requesters`.
    pub visibility: Option<String>,
}

/// Answer of `POST /api/v1/kb`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleCreated {
    /// The new article's number.
    pub id: i64,
    /// Its title.
    pub title: String,
}

/// Query of `GET /api/v1/kb/search`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to search for; every one must match (punctuation is ignored).
    pub q: String,
    /// At most this many results (20 if absent, 100 at most).
    pub limit: Option<usize>,
}

/// Query of `GET /api/v1/kb` and `GET /api/v1/tickets/{number}/kb`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many (100 if absent for lists, 5 for a ticket's).
    pub limit: Option<usize>,
}
