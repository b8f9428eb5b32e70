//! What a fragment route (one htmx fetches or polls to swap part of a
//! page) answers: the fragment alone, without the layout; or, when it has
//! none to give, an answer htmx can act on.
//!
//! htmx swaps nothing on an error status, so to htmx an error comes as its
//! message with 200, and an ended session as `HX-Redirect` to the login
//! form, which reloads the whole page (following a 303 would swap the
//! login page into the fragment's place). A request not from htmx gets
//! the console's usual redirect or error page.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::{ConsoleError, secured};

/// Whether a request came from htmx.
pub(super) fn from_htmx(headers: &HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
}

/// A fragment, or what its error answers (see [`fragment_error`]).
pub(super) fn answer(headers: &HeaderMap, result: Result<Markup, ConsoleError>) -> Response {
    match result {
        Ok(m) => secured(Html(m.into_string())),
        Err(e) => fragment_error(e, from_htmx(headers)),
    }
}

/// The answer to a fragment request that failed with `e`.
pub(super) fn fragment_error(e: ConsoleError, htmx: bool) -> Response {
    if !htmx {
        return e.into_response();
    }
    let message = match e {
        ConsoleError::Login => {
            let mut r = Html("").into_response();
            r.headers_mut()
                .insert("hx-redirect", HeaderValue::from_static("/console/login"));
            return r;
        }
        ConsoleError::Csrf => {
            "this form is from another session or page: reload the page and try again".to_string()
        }
        ConsoleError::Api(e) => e.message,
    };
    secured(Html(
        html! { p.error role="alert" { (message) } }.into_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn only_htmx_requests_count_as_htmx() {
        let mut h = HeaderMap::new();
        assert!(!from_htmx(&h));
        h.insert("hx-request", HeaderValue::from_static("true"));
        assert!(from_htmx(&h));
        h.insert("hx-request", HeaderValue::from_static("false"));
        assert!(!from_htmx(&h));
    }

    #[test]
    fn a_fragment_has_no_layout_but_the_security_headers() {
        let r = answer(&HeaderMap::new(), Ok(html! { div #targets { "x" } }));
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().contains_key("content-security-policy"));
    }

    #[test]
    fn htmx_gets_errors_it_shows_and_others_the_usual_answers() {
        let login = fragment_error(ConsoleError::Login, true);
        assert_eq!(login.status(), StatusCode::OK);
        assert_eq!(
            login.headers().get("hx-redirect").map(|v| v.as_bytes()),
            Some(&b"/console/login"[..])
        );
        assert!(
            login.headers().get("location").is_none(),
            "nothing to follow"
        );
        let plain = fragment_error(ConsoleError::Login, false);
        assert_eq!(plain.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            fragment_error(ConsoleError::Csrf, true).status(),
            StatusCode::OK
        );
        assert_eq!(
            fragment_error(ConsoleError::Csrf, false).status(),
            StatusCode::FORBIDDEN
        );
    }
}
