//! The web console: server-rendered HTML (maud, which escapes every value
//! it is given) over the same handler functions as the JSON API, so a page
//! shows exactly what the API answers and an action goes through the same
//! role checks and validation. A small vendored htmx (served from the
//! binary under a content-hashed path, with its licence) refreshes the
//! live parts.
//!
//! - `mod.rs`: routes, the logged-in operator (`ConsoleUser`, from the
//!   session cookie), CSRF checks, errors as pages, the layout, static
//!   files and the security headers every page carries.
//! - `login`: the login form, sessions and logout.
//! - `dashboard`: counts and aggregates, the counts section re-fetched
//!   every 10 s; `pages`: the asset list; `asset_page`: an asset's page,
//!   its live software filter; `diag_live`: a diagnostic's rows on the
//!   page as they stream in.
//! - `tickets` and `ticket_actions`: the ticket queue, a ticket's page,
//!   and its actions (comment, assign, escalate, status, link an asset,
//!   attach a diagnostic); `ticket_files`: its attachments, downloaded
//!   through the API's handler and uploaded by technicians.
//! - `remote_files`: a machine's files (a directory's listing, a file's
//!   download and an upload), each a remote session like the CLI's.
//! - `kb` and `markdown`: the knowledge base's articles, a search, an
//!   article's page (its Markdown rendered with everything escaped), and
//!   the articles a ticket's page suggests; `kb_edit`: the new, edit
//!   (with a preview) and remove forms, and a draft from a resolved
//!   ticket.
//! - `work` and `rollout_form`: the rollouts with the "new rollout" form
//!   (preview, create), and a rollout's page with its polled progress and
//!   pause, resume, approve and abort.
//! - `jobs`: the jobs and a job's page, its machines polled while it runs.
//! - `fragment`: what a fragment route (one htmx fetches or polls) answers:
//!   no layout; errors htmx can show; an ended session reloads the whole
//!   page to the login form.
//! - `admin`: operators, enrollment tokens, publisher keys and the audit
//!   log (with a CSV download); `operators`: add and remove operators,
//!   set passwords.
//! - `remote_term`: a machine's terminal (xterm.js) over a WebSocket
//!   bridged to a remote session; `remote_sessions`: the session list,
//!   kills, a recording played back, and an asset's "Remote access"
//!   section; `remote_desktop`: a machine's screen (noVNC) over the
//!   same bridge, seen or controlled once its user allowed it.
//! - `reports` and `charts`: the ticket and inventory reports with SVG
//!   charts drawn here, their tables and CSV.

mod admin;
mod asset_page;
mod charts;
mod dashboard;
mod diag_live;
mod fragment;
mod goals;
mod jobs;
mod kb;
mod kb_edit;
mod login;
pub(in crate::api) mod markdown;
mod operators;
mod pages;
mod remote_files;
pub(in crate::api) use pages::enc;
mod remote_desktop;
mod remote_sessions;
mod remote_term;
mod reports;
mod rollout_form;
mod teams;
mod ticket_actions;
mod ticket_files;
mod tickets;
mod work;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};

use super::Shared;
use super::auth::Authed;
use super::error::ApiError;
use crate::passwords;
use crate::store::{Operator, Role};
use crate::unix_now;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "deskhand_session";

const HTMX: &[u8] = include_bytes!("static/htmx-2.0.11.min.js");
const HTMX_LICENSE: &[u8] = include_bytes!("static/htmx-LICENSE.txt");
const CSS: &[u8] = include_bytes!("static/console.css");
const XTERM: &[u8] = include_bytes!("static/xterm-6.0.0.min.js");
const XTERM_CSS: &[u8] = include_bytes!("static/xterm-6.0.0.css");
const XTERM_FIT: &[u8] = include_bytes!("static/xterm-addon-fit-0.11.0.min.js");
const XTERM_LICENSE: &[u8] = include_bytes!("static/xterm-LICENSE.txt");
const REMOTE_JS: &[u8] = include_bytes!("static/remote.js");
const NOVNC: &[u8] = include_bytes!("static/novnc-1.7.0.min.js");
const NOVNC_LICENSE: &[u8] = include_bytes!("static/novnc-LICENSE.txt");
const DESKTOP_JS: &[u8] = include_bytes!("static/desktop.js");

/// The static files: (name, bytes, content type). `desktop.js` imports
/// `./novnc.js` (an ES module), so the two keep these names side by side.
const STATIC: [(&str, &[u8], &str); 11] = [
    ("htmx.min.js", HTMX, "text/javascript; charset=utf-8"),
    (
        "htmx-LICENSE.txt",
        HTMX_LICENSE,
        "text/plain; charset=utf-8",
    ),
    ("console.css", CSS, "text/css; charset=utf-8"),
    ("xterm.js", XTERM, "text/javascript; charset=utf-8"),
    ("xterm.css", XTERM_CSS, "text/css; charset=utf-8"),
    ("addon-fit.js", XTERM_FIT, "text/javascript; charset=utf-8"),
    (
        "xterm-LICENSE.txt",
        XTERM_LICENSE,
        "text/plain; charset=utf-8",
    ),
    ("remote.js", REMOTE_JS, "text/javascript; charset=utf-8"),
    ("novnc.js", NOVNC, "text/javascript; charset=utf-8"),
    (
        "novnc-LICENSE.txt",
        NOVNC_LICENSE,
        "text/plain; charset=utf-8",
    ),
    ("desktop.js", DESKTOP_JS, "text/javascript; charset=utf-8"),
];

/// The content hash that prefixes every static file's path: a new build
/// with other files gets other paths, so browsers may cache them forever.
fn static_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut all = Vec::new();
        for (_, bytes, _) in STATIC {
            all.extend_from_slice(bytes);
        }
        deskhand_shared::fingerprint::sha256_hex(&all)[..16].to_string()
    })
}

/// The path a static file is served at.
pub(in crate::api) fn static_path(name: &str) -> String {
    format!("/console/static/{}/{name}", static_hash())
}

/// The console's routes.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(dashboard::dashboard))
        .route("/console/dashboard/counts", get(dashboard::counts))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/assets", get(pages::assets))
        .route("/console/assets/{key}", get(asset_page::asset))
        .route("/console/assets/{key}/software", get(asset_page::software))
        .route("/console/assets/{key}/refresh", post(pages::refresh))
        .route("/console/assets/{key}/diag", post(diag_live::diag))
        .route("/console/assets/{key}/diag/{run}", get(diag_live::diag_run))
        .route("/console/assets/{key}/ticket", post(pages::open_ticket))
        .route("/console/assets/{key}/terminal", get(remote_term::terminal))
        .route(
            "/console/assets/{key}/terminal/ws",
            get(remote_term::socket),
        )
        .route(
            "/console/assets/{key}/desktop",
            get(remote_desktop::desktop),
        )
        .route(
            "/console/assets/{key}/desktop/ws",
            get(remote_desktop::socket),
        )
        .route("/console/remote-sessions", get(remote_sessions::list))
        .route("/console/remote-sessions/{id}", get(remote_sessions::show))
        .route(
            "/console/remote-sessions/{id}/recording",
            get(remote_sessions::recording),
        )
        .route(
            "/console/remote-sessions/{id}/kill",
            post(remote_sessions::kill),
        )
        .route("/console/teams", get(teams::teams))
        .route("/console/teams/{name}", get(teams::team))
        .route("/console/tickets", get(tickets::tickets))
        .route("/console/tickets/{number}", get(tickets::ticket))
        .route(
            "/console/tickets/{number}/comment",
            post(ticket_actions::comment),
        )
        .route(
            "/console/tickets/{number}/status",
            post(ticket_actions::status),
        )
        .route(
            "/console/tickets/{number}/assign",
            post(ticket_actions::assign),
        )
        .route(
            "/console/tickets/{number}/escalate",
            post(ticket_actions::escalate),
        )
        .route("/console/tickets/{number}/link", post(ticket_actions::link))
        .route(
            "/console/tickets/{number}/unlink",
            post(ticket_actions::unlink),
        )
        .route(
            "/console/tickets/{number}/diag",
            post(ticket_actions::attach_diag),
        )
        .route(
            "/console/tickets/{number}/attachments",
            post(ticket_files::upload).layer(axum::extract::DefaultBodyLimit::max(
                deskhand_api_types::limits::ATTACHMENT_BODY_LIMIT,
            )),
        )
        .route(
            "/console/tickets/{number}/attachments/{id}",
            get(ticket_files::download),
        )
        .route("/console/kb", get(kb::articles))
        .route(
            "/console/kb/new",
            get(kb_edit::new_form).post(kb_edit::create),
        )
        .route("/console/kb/{id}", get(kb::article))
        .route(
            "/console/kb/{id}/edit",
            get(kb_edit::edit_form).post(kb_edit::update),
        )
        .route(
            "/console/kb/{id}/delete",
            get(kb_edit::delete_form).post(kb_edit::delete),
        )
        .route("/console/rollouts", get(work::rollouts).post(work::create))
        .route("/console/rollouts/{id}", get(work::rollout))
        .route(
            "/console/rollouts/{id}/progress",
            get(work::rollout_progress),
        )
        .route("/console/rollouts/{id}/{command}", post(work::command))
        .route("/console/jobs", get(jobs::jobs))
        .route("/console/jobs/{id}", get(jobs::job))
        .route("/console/jobs/{id}/targets", get(jobs::job_targets))
        .route("/console/reports", get(reports::reports))
        .route("/console/admin", get(admin::admin))
        .route("/console/admin/tokens", post(admin::create_token))
        .route("/console/admin/operators", post(operators::add))
        .route(
            "/console/admin/operators/password",
            post(operators::password),
        )
        .route("/console/admin/operators/remove", post(operators::remove))
        .route("/console/admin/operators/remote", post(operators::remote))
        .route("/console/admin/audit", get(admin::audit))
        .route("/console/static/{hash}/{name}", get(static_file))
        .merge(remote_files::routes())
}

async fn static_file(Path((hash, name)): Path<(String, String)>) -> Response {
    let found = STATIC.iter().find(|(n, _, _)| *n == name);
    match found {
        Some((_, bytes, kind)) if hash == static_hash() => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *bytes,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The operator a console request is made by, from the session cookie.
pub(super) struct ConsoleUser {
    op: Operator,
    csrf: String,
}

impl ConsoleUser {
    /// The same operator as the API sees them.
    fn authed(&self) -> Authed {
        Authed(self.op.clone())
    }

    /// Refuses a form whose CSRF token is not this session's.
    fn check(&self, presented: &str) -> Result<(), ConsoleError> {
        if passwords::same_secret(presented, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }

    /// Whether the operator's role is at least `role` (to show a button).
    fn may(&self, role: Role) -> bool {
        self.op.role >= role
    }
}

/// The console session token a request carries, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// The value of cookie `name` a request carries, if it is one a session
/// could have set (not empty, at most 128 bytes): the console's and the
/// portal's sessions each read their own by name.
pub(in crate::api) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

impl FromRequestParts<Shared> for ConsoleUser {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, ConsoleError> {
        let token = session_cookie(&parts.headers).ok_or(ConsoleError::Login)?;
        let hash = crate::secrets::hash_token(&token);
        let Some(found) = s.store.session(hash.clone()).await? else {
            return Err(ConsoleError::Login);
        };
        let now = unix_now();
        if !passwords::session_alive(found.created_at, found.last_seen, now) {
            s.store.close_session(hash, None, now).await?;
            return Err(ConsoleError::Login);
        }
        // A write per minute at most, not per page.
        if now - found.last_seen >= 60 {
            s.store.touch_session(hash, now).await?;
        }
        Ok(ConsoleUser {
            op: found.operator,
            csrf: found.csrf,
        })
    }
}

/// What a console request can end in besides its page.
#[derive(Debug)]
pub(super) enum ConsoleError {
    /// No session, or it expired: to the login page.
    Login,
    /// A form without this session's CSRF token.
    Csrf,
    /// What the API answered.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ConsoleError::Login => return Redirect::to("/console/login").into_response(),
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "this form is from another session or page: reload the page and try again"
                    .to_string(),
            ),
            ConsoleError::Api(e) => (e.status, e.message),
        };
        let body = bare(
            "Error",
            html! {
                main.narrow {
                    h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                    p.error { (message) }
                    p { a href="/console/" { "Back to the dashboard" } }
                }
            },
        );
        (status, secured(Html(body.into_string()))).into_response()
    }
}

/// A page's result.
pub(super) type PageResult = Result<Response, ConsoleError>;

/// Adds the headers every console response carries: no inline script or
/// style, no framing, no sniffing, no referrer outside the console.
pub(in crate::api) fn secured(body: Html<String>) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A page without the navigation (login, errors).
pub(in crate::api) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
                title { (title) " - deskhand" }
                link rel="stylesheet" href=(static_path("console.css"));
                script src=(static_path("htmx.min.js")) defer {}
            }
            body { (body) }
        }
    }
}

/// A page of the console: navigation, who is logged in, the content.
fn page(user: &ConsoleUser, title: &str, content: Markup) -> PageResult {
    let nav = [
        ("/console/", "Dashboard"),
        ("/console/assets", "Assets"),
        ("/console/tickets", "Tickets"),
        ("/console/teams", "Teams"),
        ("/console/kb", "Knowledge base"),
        ("/console/jobs", "Jobs"),
        ("/console/rollouts", "Rollouts"),
        ("/console/remote-sessions", "Sessions"),
        ("/console/reports", "Reports"),
        ("/console/admin", "Admin"),
    ];
    let body = bare(
        title,
        html! {
            header.top {
                a.brand href="/console/" { "deskhand" }
                nav {
                    @for (href, label) in nav {
                        a href=(href) { (label) }
                    }
                }
                form.logout method="post" action="/console/logout" {
                    span.who { (user.op.name) " (" (user.op.role.as_str()) ")" }
                    (csrf_field(user))
                    button type="submit" { "Log out" }
                }
            }
            main { (content) }
        },
    );
    Ok(secured(Html(body.into_string())))
}

/// The hidden CSRF field every form carries.
fn csrf_field(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// After a form: back to `to` (303, so a reload does not post again).
fn back(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

/// A stacked bar of counts (SVG: attributes, no inline style), with its
/// numbers as its title.
fn bar(parts: &[(&str, usize)], width: u32) -> Markup {
    let title = parts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let segments = segments(parts, width);
    html! {
        svg.bar width=(width) height="12" role="img" aria-label=(title) {
            title { (title) }
            rect class="bar-bg" x="0" y="0" width=(width) height="12" {}
            @for (kind, x, w) in &segments {
                rect class=(format!("bar-{kind}")) x=(x) y="0" width=(w) height="12" {}
            }
        }
    }
}

/// Where each non-empty part of a bar starts and how wide it is: in
/// proportion, at least 1 wide, never past `width` in all.
fn segments<'a>(parts: &[(&'a str, usize)], width: u32) -> Vec<(&'a str, u32, u32)> {
    let total: u64 = parts.iter().map(|(_, n)| *n as u64).sum();
    let mut out = Vec::new();
    let mut x = 0u32;
    for (kind, n) in parts {
        if total == 0 || *n == 0 || x >= width {
            continue;
        }
        let w = ((*n as u64 * u64::from(width)) / total).max(1) as u32;
        let w = w.min(width - x);
        out.push((*kind, x, w));
        x += w;
    }
    out
}

#[cfg(test)]
mod tests;
