//! Writing the knowledge base from the console (technicians and up): the
//! "new article" form (blank, or drafted from a resolved ticket), the
//! "edit" form, both with a preview the server renders through
//! `markdown` (escaped throughout), and removal behind a confirmation.
//! Every form carries the session's CSRF token and goes through the
//! API's own handlers, so the roles, checks and audit entries are the
//! API's.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use deskhand_api_types::kb::{ArticleView, CreateArticle, UpdateArticle};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleError, ConsoleUser, PageResult, back, csrf_field, markdown, page};
use crate::api::Shared;
use crate::store::Role;

/// `?from_ticket=&internal=` of the "new article" page.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct NewParams {
    #[serde(default)]
    from_ticket: String,
    #[serde(default)]
    internal: Option<String>,
}

/// The article form's fields, as posted.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct ArticleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    applies_to: String,
    #[serde(default)]
    visibility: String,
    #[serde(default)]
    source_ticket: String,
    /// `preview` or `save`.
    #[serde(default)]
    action: String,
}

/// A comma-separated field as a list (the API trims and checks each).
fn listed(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The ticket number a form names, if any.
fn ticket_of(text: &str) -> Result<Option<i64>, ConsoleError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    crate::tickets::parse_number(t)
        .map(Some)
        .map_err(|e| ConsoleError::Api(crate::api::error::ApiError::bad_request(e)))
}

/// Refuses a viewer before they see a form they could not send.
fn technician(user: &ConsoleUser) -> Result<(), ConsoleError> {
    user.authed().require(Role::Technician)?;
    Ok(())
}

/// The form, filled with `f`; `action` is where it posts; `preview` the
/// rendered body when asked; `error` what the API refused.
fn form_page(
    user: &ConsoleUser,
    heading: &str,
    action: &str,
    f: &ArticleForm,
    preview: bool,
    error: Option<&str>,
) -> PageResult {
    let visibility = if f.visibility.is_empty() {
        "technicians"
    } else {
        f.visibility.as_str()
    };
    page(
        user,
        heading,
        html! {
            h1 { (heading) }
            @if let Some(n) = ticket_of(&f.source_ticket).ok().flatten() {
                p.muted { "Drafted from " a href=(format!("/console/tickets/{n}")) { "ticket " (n) } ": review it before saving; the ticket's timeline will name the article." }
            }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action=(action) {
                (csrf_field(user))
                input type="hidden" name="source_ticket" value=(f.source_ticket);
                label { "Title" input name="title" value=(f.title) required maxlength="200"; }
                label { "Body (Markdown)" textarea name="body" rows="18" { (f.body) } }
                label { "Tags (comma-separated)" input name="tags" value=(f.tags); }
                label { "Applies to (software or hardware, comma-separated)" input name="applies_to" value=(f.applies_to); }
                label { "Visible to"
                    select name="visibility" {
                        @for v in ["technicians", "requesters"] {
                            option value=(v) selected[v == visibility] {
                                @if v == "technicians" { "technicians only" } @else { "requesters too" }
                            }
                        }
                    }
                }
                button.secondary type="submit" name="action" value="preview" { "Preview" }
                " "
                button type="submit" name="action" value="save" { "Save" }
            }
            @if preview { (preview_block(&f.title, &f.body)) }
        },
    )
}

/// The body as the article's page will show it.
fn preview_block(title: &str, body: &str) -> Markup {
    html! {
        section.preview {
            h2 { "Preview" }
            h1 { (title) }
            div.article { (markdown::render(body)) }
        }
    }
}

/// The form's fields from an article.
fn form_of(a: &ArticleView) -> ArticleForm {
    ArticleForm {
        title: a.title.clone(),
        body: a.body.clone(),
        tags: a.tags.join(", "),
        applies_to: a.applies_to.join(", "),
        visibility: a.visibility.clone(),
        source_ticket: a.source_ticket.map(|n| n.to_string()).unwrap_or_default(),
        ..ArticleForm::default()
    }
}

/// A refusal the form can show (what was sent was not valid), or the
/// error as its own page.
fn shown(e: ConsoleError) -> Result<String, ConsoleError> {
    match e {
        ConsoleError::Api(e) if e.status == StatusCode::BAD_REQUEST => Ok(e.message),
        e => Err(e),
    }
}

/// `GET /console/kb/new`: a blank form, or one drafted from a resolved
/// ticket (`?from_ticket=42`, `&internal=1` to quote internal notes).
pub(in crate::api) async fn new_form(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<NewParams>,
) -> PageResult {
    technician(&user)?;
    let f = match ticket_of(&p.from_ticket)? {
        None => ArticleForm::default(),
        Some(n) => {
            let internal = p.internal.is_some_and(|v| !v.is_empty());
            let d = crate::api::kb::article_draft(&s, n, internal).await?;
            ArticleForm {
                title: d.title,
                body: d.body,
                tags: d.tags.join(", "),
                applies_to: d.applies_to.join(", "),
                visibility: d.visibility.unwrap_or_default(),
                source_ticket: n.to_string(),
                ..ArticleForm::default()
            }
        }
    };
    form_page(&user, "New article", "/console/kb/new", &f, false, None)
}

/// `POST /console/kb/new`: preview, or write the article.
pub(in crate::api) async fn create(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<ArticleForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    technician(&user)?;
    if f.action == "preview" {
        return form_page(&user, "New article", "/console/kb/new", &f, true, None);
    }
    let req = CreateArticle {
        title: f.title.clone(),
        body: f.body.clone(),
        tags: listed(&f.tags),
        applies_to: listed(&f.applies_to),
        visibility: Some(f.visibility.clone()).filter(|v| !v.is_empty()),
        source_ticket: ticket_of(&f.source_ticket)?,
    };
    let done = crate::api::kb::create_article(State(s), user.authed(), axum::Json(req)).await;
    match done {
        Ok((_, axum::Json(a))) => back(&format!("/console/kb/{}", a.id)),
        Err(e) => {
            let message = shown(e.into())?;
            form_page(
                &user,
                "New article",
                "/console/kb/new",
                &f,
                false,
                Some(&message),
            )
        }
    }
}

/// `GET /console/kb/{id}/edit`.
pub(in crate::api) async fn edit_form(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    technician(&user)?;
    let axum::Json(a) = crate::api::kb::show_article(State(s), user.authed(), Path(id)).await?;
    let action = format!("/console/kb/{}/edit", a.id);
    form_page(
        &user,
        &format!("Edit article {}", a.id),
        &action,
        &form_of(&a),
        false,
        None,
    )
}

/// `POST /console/kb/{id}/edit`: preview, or save every field.
pub(in crate::api) async fn update(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<ArticleForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    technician(&user)?;
    let heading = format!("Edit article {}", id.trim());
    let action = format!("/console/kb/{}/edit", id.trim());
    if f.action == "preview" {
        return form_page(&user, &heading, &action, &f, true, None);
    }
    let req = UpdateArticle {
        title: Some(f.title.clone()),
        body: Some(f.body.clone()),
        tags: Some(listed(&f.tags)),
        applies_to: Some(listed(&f.applies_to)),
        visibility: Some(f.visibility.clone()),
    };
    let done =
        crate::api::kb::update_article(State(s), user.authed(), Path(id), axum::Json(req)).await;
    match done {
        Ok(axum::Json(a)) => back(&format!("/console/kb/{}", a.id)),
        Err(e) => {
            let message = shown(e.into())?;
            form_page(&user, &heading, &action, &f, false, Some(&message))
        }
    }
}

/// `GET /console/kb/{id}/delete`: are you sure?
pub(in crate::api) async fn delete_form(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    technician(&user)?;
    let axum::Json(a) = crate::api::kb::show_article(State(s), user.authed(), Path(id)).await?;
    page(
        &user,
        &format!("Remove article {}", a.id),
        html! {
            h1 { "Remove article " (a.id) "?" }
            p { "“" (a.title) "” will be gone for everyone; this cannot be undone." }
            form.inline method="post" action=(format!("/console/kb/{}/delete", a.id)) {
                (csrf_field(&user))
                button.danger type="submit" { "Remove it" }
            }
            " "
            a href=(format!("/console/kb/{}", a.id)) { "Keep it" }
        },
    )
}

/// The delete form's one field.
#[derive(Debug, Deserialize)]
pub(in crate::api) struct DeleteForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/kb/{id}/delete`.
pub(in crate::api) async fn delete(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(f): Form<DeleteForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    crate::api::kb::delete_article(State(s), user.authed(), Path(id)).await?;
    back("/console/kb")
}

#[cfg(test)]
mod tests;
