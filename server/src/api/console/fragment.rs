//! Fragments a page polls (`hx-trigger="every 2s"`): answered without the
//! layout; and once the session is gone, with `HX-Redirect`, so htmx
//! sends the whole page to the login form rather than swapping the form
//! into the fragment (what following a redirect would do).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::Markup;

use super::{ConsoleError, secured};

/// The header htmx follows with a full page load.
const HX_REDIRECT: &str = "hx-redirect";

/// A fragment, or what its error answers.
pub(super) fn answer(result: Result<Markup, ConsoleError>) -> Response {
    match result {
        Ok(m) => secured(Html(m.into_string())),
        Err(ConsoleError::Login) => (
            StatusCode::UNAUTHORIZED,
            [(HX_REDIRECT, "/console/login")],
            "the session ended: log in again",
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use maud::html;

    use super::{ConsoleError, answer};

    #[test]
    fn a_fragment_has_no_layout_and_an_ended_session_reloads_the_page() {
        let r = answer(Ok(html! { div #targets { "x" } }));
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().contains_key("content-security-policy"));
        let r = answer(Err(ConsoleError::Login));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers().get("hx-redirect").and_then(|v| v.to_str().ok()),
            Some("/console/login")
        );
        assert!(
            r.headers().get("location").is_none(),
            "no redirect to follow"
        );
    }
}
