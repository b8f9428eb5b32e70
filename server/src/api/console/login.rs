//! Logging in and out of the console. A login checks the password against
//! its argon2 hash (off the async threads), through the same per-address
//! limiter as wrong API tokens; a failure is logged and audited, and says
//! nothing about whether the name exists. A success opens a session: a
//! random cookie (HttpOnly, SameSite=Strict, Secure over TLS; only its
//! hash is stored) and a CSRF token for its forms.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tracing::warn;

use super::{COOKIE, ConsoleError, ConsoleUser, PageResult, bare, secured};
use crate::api::Shared;
use crate::api::auth_limit::Admission;
use crate::passwords;
use crate::unix_now;

/// A hash of a random password, checked when the name is unknown (or has
/// no password) so that a wrong name takes as long as a wrong password.
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        passwords::secret()
            .and_then(|p| passwords::hash(&p))
            .unwrap_or_default()
    })
    .clone()
}

fn login_page(message: Option<&str>) -> Response {
    let body = bare(
        "Log in",
        html! {
            main.narrow {
                h1 { "deskhand" }
                @if let Some(m) = message {
                    p.error role="alert" { (m) }
                }
                form method="post" action="/console/login" {
                    label { "Name" input name="name" autocomplete="username" required autofocus; }
                    label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { "Log in" }
                }
                p.hint {
                    "No password yet? An admin sets one with "
                    code { "deskhand operators passwd NAME" } "."
                }
            }
        },
    );
    secured(Html(body.into_string()))
}

pub(super) async fn form() -> Response {
    login_page(None)
}

#[derive(Deserialize)]
pub(super) struct Login {
    name: String,
    password: String,
}

pub(super) async fn submit(
    State(s): State<Shared>,
    ext: axum::http::Extensions,
    Form(f): Form<Login>,
) -> PageResult {
    let ip = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if let Some(ip) = ip {
        let admission = s
            .auth_limit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(ip, Instant::now());
        if let Admission::Wait(left) = admission {
            let secs = left.as_secs().max(1);
            let mut resp = login_page(Some(&format!(
                "too many failed logins from this address; try again in {secs} s"
            )));
            *resp.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
            return Ok(resp);
        }
    }
    let name = f.name.trim().to_string();
    let found = if name.is_empty() || name.len() > 64 {
        None
    } else {
        s.store.password_of(name.clone()).await?
    };
    let stored = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(dummy_hash);
    let password = f.password;
    let ok = tokio::task::spawn_blocking(move || passwords::verify(&password, &stored))
        .await
        .unwrap_or(false);
    let op = match (found, ok) {
        (Some((op, Some(_))), true) => op,
        _ => {
            if let Some(ip) = ip {
                let f = s
                    .auth_limit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .failed(ip, Instant::now());
                if f.log {
                    warn!(client = %ip, name = %crate::text::escaped(&name), "failed console login");
                }
            }
            let shown = crate::said(&name).chars().take(64).collect::<String>();
            let by = ip.map_or_else(|| "unknown".to_string(), |i| i.to_string());
            s.store
                .audit_event(by, "console.login_failed", shown, String::new(), unix_now())
                .await?;
            let mut resp = login_page(Some("wrong name or password"));
            *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Ok(resp);
        }
    };
    let token =
        passwords::secret().map_err(|e| crate::api::error::ApiError::internal(e.to_string()))?;
    let csrf =
        passwords::secret().map_err(|e| crate::api::error::ApiError::internal(e.to_string()))?;
    s.store
        .open_session(
            crate::secrets::hash_token(&token),
            op.name,
            csrf,
            unix_now(),
        )
        .await?;
    let secure = if s.console_secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        passwords::MAX_SECS
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/console/")).into_response())
}

#[derive(Deserialize)]
pub(super) struct Logout {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(
    State(s): State<Shared>,
    user: ConsoleUser,
    headers: axum::http::HeaderMap,
    Form(f): Form<Logout>,
) -> PageResult {
    user.check(&f.csrf)?;
    if let Some(token) = super::session_cookie(&headers) {
        s.store
            .close_session(
                crate::secrets::hash_token(&token),
                Some(user.op.name.clone()),
                unix_now(),
            )
            .await?;
    }
    let gone = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, gone)], Redirect::to("/console/login")).into_response())
}

impl From<tokio::task::JoinError> for ConsoleError {
    fn from(e: tokio::task::JoinError) -> Self {
        ConsoleError::Api(crate::api::error::ApiError::internal(e.to_string()))
    }
}
