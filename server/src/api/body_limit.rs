//! How large a request body may be, and the answer when one is larger.
//!
//! Every route reads its body under a limit ([`body_limit`]):
//! [`DEFAULT_BODY_LIMIT`] for the JSON requests, [`IMPORT_BODY_LIMIT`] for
//! a CSV import (its route sets that limit with axum's
//! `DefaultBodyLimit`), none for a package's content, which streams to
//! disk under a cap of its own. [`answer_oversized`], a middleware around
//! the whole API, makes every 413 the API's JSON error, naming the limit
//! and what to do: a body whose declared length is over the limit is
//! refused before any handler runs (so before authentication: nothing of
//! it is kept), and a 413 from a handler's extractor (a chunked body that
//! grew past the limit) gets the same JSON in place of axum's plain text.
//! A refused body of at most [`DRAIN_LIMIT`] bytes is read to its end and
//! dropped before the answer, so a client still sending it gets the
//! answer rather than a reset connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::ApiError;

use deskhand_api_types::limits::MIB;
pub use deskhand_api_types::limits::{
    BodyLimit, DEFAULT_BODY_LIMIT, IMPORT_BODY_LIMIT, body_limit,
};

/// The longest refused body read to its end so that its client gets the
/// answer; a longer one's connection is closed after the answer.
pub const DRAIN_LIMIT: u64 = 256 * MIB as u64;

/// How long reading a refused body may take.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// What to do with a request, from its path and declared length.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Hand it to its route.
    Pass,
    /// Refuse it now, after reading and dropping its body (`true`) or
    /// without (too long to wait for).
    Refuse(BodyLimit, bool),
}

/// Whether a request to `path` declaring `length` bytes goes to its
/// route. Pure.
fn admit(path: &str, length: Option<u64>) -> Admission {
    match (body_limit(path), length) {
        (Some(limit), Some(n)) if n > limit.bytes as u64 => {
            Admission::Refuse(limit, n <= DRAIN_LIMIT)
        }
        _ => Admission::Pass,
    }
}

/// The API's JSON 413 for `limit`.
fn too_large(limit: &BodyLimit) -> Response {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, limit.message()).into_response()
}

/// Middleware: refuses a body declared over its route's limit with the
/// JSON 413, and turns a 413 a handler's extractor answered in plain text
/// into that JSON.
pub async fn answer_oversized(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match admit(&path, length) {
        Admission::Refuse(limit, drain) => {
            if drain {
                drop_body(req.into_body()).await;
            }
            too_large(&limit)
        }
        Admission::Pass => {
            let response = next.run(req).await;
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            match body_limit(&path) {
                Some(limit) if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json => {
                    too_large(&limit)
                }
                _ => response,
            }
        }
    }
}

/// Reads a refused body to its end (at most [`DRAIN_LIMIT`] bytes, for at
/// most [`DRAIN_TIME`]) and drops it.
async fn drop_body(body: Body) {
    let mut stream = body.into_data_stream();
    let mut read = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskhand_api_types::limits::size;

    #[test]
    fn each_route_has_its_limit_and_the_message_names_it() {
        let import = body_limit("/api/v1/assets/import").expect("limited");
        assert_eq!(import.bytes, IMPORT_BODY_LIMIT);
        assert_eq!(
            import.message(),
            "the request body is over the 64 MiB limit for imports; split the file"
        );
        let json = body_limit("/api/v1/assets").expect("limited");
        assert_eq!(
            json.message(),
            "the request body is over the 2 MiB limit for this endpoint; send a smaller request"
        );
        assert_eq!(body_limit("/api/v1/content/ab12"), None, "streamed");
        assert_eq!(size(512 * 1024), "512 KiB");
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_the_route() {
        let json = body_limit("/api/v1/tickets").expect("limited");
        assert_eq!(admit("/api/v1/tickets", None), Admission::Pass, "chunked");
        assert_eq!(
            admit("/api/v1/tickets", Some(DEFAULT_BODY_LIMIT as u64)),
            Admission::Pass
        );
        assert_eq!(
            admit("/api/v1/tickets", Some(DEFAULT_BODY_LIMIT as u64 + 1)),
            Admission::Refuse(json, true)
        );
        assert_eq!(
            admit("/api/v1/assets/import", Some(30 * MIB as u64)),
            Admission::Pass,
            "100,000 rows fit"
        );
        assert_eq!(
            admit("/api/v1/tickets", Some(DRAIN_LIMIT + 1)),
            Admission::Refuse(json, false),
            "too long to read to its end"
        );
        assert_eq!(admit("/api/v1/content/ab", Some(u64::MAX)), Admission::Pass);
    }
}
