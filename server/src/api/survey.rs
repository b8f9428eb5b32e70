//! The satisfaction survey a resolved mail links to: `GET
//! /survey/{token}` is a form (a score from 1 to 5 and a comment), `POST`
//! records it as the requester's rating through the ticket rules.
//!
//! The random token in the link is the only credential: only its hash is
//! stored, it answers once, and the page shows nothing of the ticket but
//! its number and title. A bad or used token gets a page that says so
//! (never a 500). No cookie is involved, so there is no session to ride:
//! a forged cross-site form would need the token itself. Pages are sent
//! with `Referrer-Policy: no-referrer`, so the token never leaves in a
//! Referer header, and a CSP that allows no script.

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::Shared;
use crate::store::StoreError;
use crate::unix_now;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/survey/{token}", get(form).post(answer))
}

/// Longest comment kept, in characters.
const MAX_COMMENT: usize = 2000;

fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
            }
            body { main { (body) } }
        }
    };
    let mut r = (status, Html(doc.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn not_valid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Survey not found",
        html! {
            h1 { "This survey link is not valid" }
            p { "Check that the whole link from the mail was opened, or reply to the mail instead." }
        },
    )
}

fn answered() -> Response {
    page(
        StatusCode::OK,
        "Thank you",
        html! {
            h1 { "Thank you" }
            p { "Your answer has been recorded. This survey takes one answer." }
        },
    )
}

/// A token as links carry it: hex, bounded.
fn plausible(token: &str) -> bool {
    (16..=128).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn form(State(s): State<Shared>, Path(token): Path<String>) -> Response {
    if !plausible(&token) {
        return not_valid();
    }
    match s.store.survey(token).await {
        Ok(Some(sv)) if sv.answered_at.is_some() => answered(),
        Ok(Some(sv)) => page(
            StatusCode::OK,
            "How did we do?",
            html! {
                h1 { "How did we do?" }
                p { "Ticket " (sv.ticket) ": " (sv.title) }
                form method="post" {
                    fieldset {
                        legend { "Your rating (1 = poor, 5 = excellent)" }
                        @for n in 1..=5 {
                            label { input type="radio" name="score" value=(n) required; " " (n) " " }
                        }
                    }
                    p { label { "A comment (optional)" br; textarea name="comment" rows="4" cols="60" maxlength=(MAX_COMMENT) {} } }
                    button type="submit" { "Send" }
                }
            },
        ),
        Ok(None) => not_valid(),
        Err(e) => unavailable(&e),
    }
}

fn unavailable(e: &StoreError) -> Response {
    tracing::warn!(error = %e, "the survey page could not read the database");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        html! { h1 { "The help desk cannot take your answer right now" } p { "Please try again in a few minutes." } },
    )
}

/// The form as posted.
#[derive(Debug, Deserialize)]
struct Answer {
    score: String,
    #[serde(default)]
    comment: String,
}

async fn answer(
    State(s): State<Shared>,
    Path(token): Path<String>,
    Form(a): Form<Answer>,
) -> Response {
    if !plausible(&token) {
        return not_valid();
    }
    let Some(score) = a
        .score
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=5).contains(n))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Choose a rating",
            html! { h1 { "Choose a rating from 1 to 5" } p { "Go back and pick one." } },
        );
    };
    let comment: String = crate::text::scrub(a.comment.trim(), crate::text::Shape::Lines)
        .chars()
        .take(MAX_COMMENT)
        .collect();
    match s
        .store
        .answer_survey(token, score, comment, unix_now())
        .await
    {
        Ok(_) => answered(),
        Err(StoreError::NotFound(_)) => not_valid(),
        Err(StoreError::Refused(m)) => page(
            StatusCode::CONFLICT,
            "Already answered",
            html! { h1 { "This survey cannot take an answer" } p { (m) } },
        ),
        Err(e) => unavailable(&e),
    }
}
