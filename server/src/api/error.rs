//! The API's errors: `{"error": "..."}` with a fitting status code, and
//! what a store error becomes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;
use deskhand_api_types::server::ErrorBody;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    /// The status code.
    pub(crate) status: StatusCode,
    /// What went wrong and what to do.
    pub(crate) message: String,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    /// With a `Retry-After` header of `secs`.
    pub(crate) fn retry_after(self, secs: u64) -> Self {
        Self {
            retry_after: Some(secs),
            ..self
        }
    }
    pub(crate) fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub(crate) fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    /// The server's own failure: logged, and the client told where to look.
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use crate::store::Fault;
        // The server's own state, which an operator can mend: said, not
        // left as an internal error.
        let unavailable = e.fault().map(|fault| match fault {
            Fault::DiskFull => {
                "the server's disk is full: nothing new is stored until there is room \
                 (GET /api/v1/health says when writes work again)"
            }
            Fault::Damaged => {
                "the server's database is damaged: stop the server and restore a copy made by \
                 `deskhand backup` (the server log has the database's words)"
            }
            Fault::Unavailable => {
                "the server could not read or write its database (an I/O error, a read-only or \
                 busy file, a database server that is down); see the server log"
            }
        });
        match (e, unavailable) {
            (e, Some(what)) => {
                tracing::error!(error = %e, "API request failed");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, what)
            }
            (StoreError::NotFound(m), None) => Self::not_found(m),
            (StoreError::Refused(m), None) => Self::new(StatusCode::CONFLICT, m),
            (other, None) => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

pub(crate) type ApiResult<T> = Result<Json<T>, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use axum::http::StatusCode;

    #[test]
    fn a_full_disk_or_a_damaged_database_is_said_as_such() {
        let sqlite = |code| {
            ApiError::from(StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            )))
        };
        let full = sqlite(rusqlite::ffi::SQLITE_FULL);
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(full.message.contains("disk is full"), "{}", full.message);
        let damaged = sqlite(rusqlite::ffi::SQLITE_CORRUPT);
        assert_eq!(damaged.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            damaged.message.contains("deskhand backup"),
            "{}",
            damaged.message
        );
        let io = sqlite(rusqlite::ffi::SQLITE_IOERR);
        assert!(io.message.contains("I/O error"), "{}", io.message);
        // Anything else stays the server's own, in its log.
        let other = sqlite(rusqlite::ffi::SQLITE_CONSTRAINT);
        assert_eq!(other.status, StatusCode::INTERNAL_SERVER_ERROR);
        let missing = ApiError::from(StoreError::NotFound("no asset x".into()));
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}
