//! The requester portal: the end user's side of the help desk, under
//! `/portal`, signed in from their own PC through a single-use link their
//! agent minted (`crate::portal`).
//!
//! Architecture invariant: requesters are not operators. A requester is
//! known only by the portal cookie ([`COOKIE`], `Path=/portal`), which
//! names an OS account `AGENT_ID/USER`; nothing here reads a bearer token
//! or the console's cookie, and neither the API nor the console reads
//! this cookie. A requester sees only the tickets whose
//! `requester_account` is theirs (any other number answers 404, as an
//! unknown one does), only the public timeline and public attachments,
//! and only articles visible to requesters.
//!
//! - `mod.rs`: routes, the signed-in requester ([`Requester`]), CSRF,
//!   errors as pages, the layout (the console's stylesheet and htmx).
//! - `enter`: a link opens a session.
//! - `tickets`: my tickets, a ticket's public page, opening one (with an
//!   attachment), reply, reopen, rate.
//! - `kb`: suggestions while typing a title, an article, "this solved it".

mod enter;
mod evidence;
mod kb;
mod tickets;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::Shared;
use super::console::{bare, secured};
use super::error::ApiError;
use crate::passwords;
use crate::tickets::Account;
use crate::unix_now;

/// The requester session cookie's name (the console's is another).
pub(crate) const COOKIE: &str = "deskhand_portal";

/// The portal's routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/portal", get(tickets::home))
        .route("/portal/", get(|| async { Redirect::to("/portal") }))
        .route("/portal/enter/{token}", get(enter::enter))
        .route("/portal/tickets", post(tickets::open))
        .route("/portal/tickets/{number}", get(tickets::ticket))
        .route(
            "/portal/tickets/{number}/attachments/{id}",
            get(tickets::attachment),
        )
        .route("/portal/tickets/{number}/reply", post(tickets::reply))
        .route("/portal/tickets/{number}/reopen", post(tickets::reopen))
        .route("/portal/tickets/{number}/rate", post(tickets::rate))
        .route("/portal/kb/suggest", get(kb::suggest))
        .route("/portal/kb/{id}", get(kb::article))
        .route("/portal/kb/{id}/solved", post(kb::solved))
        .layer(axum::extract::DefaultBodyLimit::max(
            deskhand_api_types::limits::ATTACHMENT_BODY_LIMIT,
        ))
}

/// The signed-in requester, from the portal cookie.
pub(super) struct Requester {
    account: Account,
    csrf: String,
}

impl Requester {
    /// Refuses a form whose CSRF token is not this session's.
    fn check(&self, presented: &str) -> Result<(), PortalError> {
        if passwords::same_secret(presented, &self.csrf) {
            Ok(())
        } else {
            Err(PortalError::Csrf)
        }
    }

    /// The stored form of their account.
    fn key(&self) -> String {
        self.account.key()
    }

    /// What the timeline and the audit say did it.
    fn author(&self) -> String {
        format!("requester:{}", self.key())
    }
}

/// The portal session token a request carries, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    crate::api::console::cookie(headers, COOKIE)
}

impl FromRequestParts<Shared> for Requester {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, PortalError> {
        let token = session_cookie(&parts.headers).ok_or(PortalError::SignedOut)?;
        let hash = crate::secrets::hash_token(&token);
        let Some(found) = s.store.portal_session(hash.clone()).await? else {
            return Err(PortalError::SignedOut);
        };
        let now = unix_now();
        if !found.agent_ok || !passwords::session_alive(found.created_at, found.last_seen, now) {
            s.store.close_portal_session(hash, now).await?;
            return Err(PortalError::SignedOut);
        }
        if now - found.last_seen >= 60 {
            s.store.touch_portal_session(hash, now).await?;
        }
        Ok(Requester {
            account: found.account,
            csrf: found.csrf,
        })
    }
}

/// What a portal request can end in besides its page.
#[derive(Debug)]
pub(super) enum PortalError {
    /// No session, or it ended.
    SignedOut,
    /// A form without this session's CSRF token.
    Csrf,
    /// Not theirs, or not there: the same answer.
    NotFound,
    /// Said to the requester with this status.
    Said(StatusCode, String),
}

impl From<ApiError> for PortalError {
    fn from(e: ApiError) -> Self {
        PortalError::Said(e.status, e.message)
    }
}

impl From<crate::store::StoreError> for PortalError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::NotFound(_) => PortalError::NotFound,
            other => ApiError::from(other).into(),
        }
    }
}

/// A page with a message and a status.
fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = bare(
        title,
        html! {
            main.narrow {
                h1 { (title) }
                p.error role="alert" { (message) }
            }
        },
    );
    (status, secured(Html(body.into_string()))).into_response()
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        match self {
            PortalError::SignedOut => message_page(
                StatusCode::UNAUTHORIZED,
                "Get IT help",
                "you are not signed in to the help portal (or your session ended): open \"Get IT help\" on your computer, or run `deskhand-agent help --open`",
            ),
            PortalError::Csrf => message_page(
                StatusCode::FORBIDDEN,
                "Error",
                "this form is from another session or page: reload the page and try again",
            ),
            PortalError::NotFound => message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "there is no such ticket or article among yours",
            ),
            PortalError::Said(status, m) => message_page(status, "Error", &m),
        }
    }
}

/// A page's result.
type PageResult = Result<Response, PortalError>;

/// A portal page: who is signed in, the content.
fn page(who: &Requester, title: &str, content: Markup) -> PageResult {
    let body = bare(
        title,
        html! {
            header.top {
                a.brand href="/portal" { "IT help" }
                nav { a href="/portal" { "My tickets" } }
                span.who { (who.account.user) " on this computer" }
            }
            main { (content) }
        },
    );
    Ok(secured(Html(body.into_string())))
}

/// The hidden CSRF field every form carries.
fn csrf_field(who: &Requester) -> Markup {
    html! { input type="hidden" name="csrf" value=(who.csrf); }
}

/// After a form: to `to` (303, so a reload does not post again).
fn back(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

#[cfg(test)]
mod tests;
