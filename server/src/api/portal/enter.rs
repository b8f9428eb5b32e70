//! `GET /portal/enter/{token}`: a link minted for an agent's user opens
//! a requester session, once. The link is used by one conditional update
//! (`Store::use_portal_link`), so of two uses racing one wins; a used,
//! late, unknown or revoked link is refused with a page saying what to do.
//! The token itself is never logged.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tracing::info;

use super::{COOKIE, PageResult, PortalError, message_page};
use crate::api::Shared;
use crate::passwords;
use crate::unix_now;

/// The longest token accepted (a minted one is 64 hex digits).
const MAX_TOKEN: usize = 128;

pub(super) async fn enter(State(s): State<Shared>, Path(token): Path<String>) -> PageResult {
    let now = unix_now();
    let refused = |why: crate::portal::LinkRefusal| -> Response {
        message_page(StatusCode::FORBIDDEN, "Get IT help", why.message())
    };
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(refused(crate::portal::LinkRefusal::Unknown));
    }
    let account = match s
        .store
        .use_portal_link(crate::secrets::hash_token(&token), now)
        .await?
    {
        Ok(a) => a,
        Err(why) => {
            info!(reason = ?why, "refused a portal link");
            return Ok(refused(why));
        }
    };
    let cookie = passwords::secret()
        .map_err(|e| PortalError::from(crate::api::error::ApiError::internal(e.to_string())))?;
    let csrf = passwords::secret()
        .map_err(|e| PortalError::from(crate::api::error::ApiError::internal(e.to_string())))?;
    info!(account = %account.key(), "a requester signed in to the portal");
    s.store
        .open_portal_session(crate::secrets::hash_token(&cookie), account, csrf, now)
        .await?;
    let secure = if s.console_secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let set = format!(
        "{COOKIE}={cookie}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        passwords::MAX_SECS
    );
    Ok(([(header::SET_COOKIE, set)], Redirect::to("/portal")).into_response())
}
