//! Bearer-token authentication of API requests: the thin driver around
//! [`super::auth_limit`].
//!
//! A request that needs a token is first asked of the limiter by its
//! client's address (the TCP peer: behind a reverse proxy, the proxy's),
//! then its token is hashed and looked up. A presented token that is
//! wrong (or an `Authorization` header that is not `Bearer TOKEN`) is a
//! failure: logged with the address and at most the token's first six
//! characters, never the whole token. A request without a header is
//! not a failure (it guessed nothing) and is answered 401.
//!
//! Tokens are looked up by their SHA-256 in an indexed column: the
//! database compares hashes of the guess, not the secret, so the time a
//! lookup takes says nothing usable about a stored token, and no token
//! is compared in memory.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use tracing::warn;

use super::Shared;
use super::auth_limit::Admission;
use super::error::ApiError;
use crate::secrets;
use crate::store::{Operator, Role};

/// How much of a wrong token the log shows.
const LOGGED_PREFIX_CHARS: usize = 6;

/// The operator a request is made by.
pub struct Authed(pub Operator);

impl Authed {
    /// Refuses an operator whose role is below `role`.
    pub(super) fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "operator `{}` is a {} and this needs the {} role",
                    self.0.name,
                    self.0.role.as_str(),
                    role.as_str()
                ),
            ))
        }
    }
}

/// The start of a presented token, as the log may show it.
fn logged_prefix(token: &str) -> String {
    let prefix: String = token.chars().take(LOGGED_PREFIX_CHARS).collect();
    crate::text::escaped(&prefix)
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(ip) = peer {
            let admission = state
                .auth_limit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .admit(ip, Instant::now());
            if let Admission::Wait(left) = admission {
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "too many failed authentications from {ip}; try again in {secs} s with a valid token"
                    ),
                )
                .retry_after(secs.max(1)));
            }
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "missing bearer token: pass --token or set DESKHAND_TOKEN",
                )
            })?;
        let presented = header.to_str().ok().and_then(|h| h.strip_prefix("Bearer "));
        let found = match presented {
            Some(token) => {
                state
                    .store
                    .operator_by_token(secrets::hash_token(token))
                    .await?
            }
            None => None,
        };
        if let Some(op) = found {
            return Ok(Authed(op));
        }
        let shown = presented.map_or_else(|| "(not `Bearer TOKEN`)".to_string(), logged_prefix);
        match peer {
            Some(ip) => {
                let f = state
                    .auth_limit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .failed(ip, Instant::now());
                if f.log {
                    warn!(
                        client = %ip,
                        token_prefix = %shown,
                        failures_in_window = f.failures,
                        not_logged_before = f.unlogged_before,
                        "failed API authentication"
                    );
                }
                if let Some(p) = f.penalty {
                    warn!(
                        client = %ip,
                        seconds = p.as_secs(),
                        "too many failed API authentications: requests from this address are answered 429 until the penalty ends"
                    );
                }
            }
            None => warn!(token_prefix = %shown, "failed API authentication"),
        }
        Err(match presented {
            Some(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid API token: ask an admin for one with `deskhand operators add`",
            ),
            None => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the Authorization header must be `Bearer TOKEN`",
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_shows_a_short_escaped_prefix_only() {
        let token = "dho_0123456789abcdef0123456789abcdef";
        assert_eq!(logged_prefix(token), "dho_01");
        assert_eq!(logged_prefix("a\nb"), "a\\u{a}b");
        assert_eq!(logged_prefix("ab"), "ab");
    }
}
