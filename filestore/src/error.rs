//! The crate's one error type. Errors describe bad input or a failing environment (disk,
//! database); each maps to an HTTP status so handlers can answer with `?`. Never used for our
//! own bugs: those panic with the invariant named.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(#[from] proto::config::ConfigError),
    #[error("configuration: {0}")]
    BadSetting(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("database task has stopped")]
    DbGone,
    /// No token, or a token that does not verify (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token that has run out (401, with a body saying so).
    #[error("token expired: ask signal for a fresh room token")]
    TokenExpired,
    /// A valid token for another room or another participant (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    /// tus: `Upload-Offset` does not match the stored offset.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// tus checksum extension: the chunk's checksum does not match (460).
    #[error("checksum mismatch: the chunk was discarded")]
    ChecksumMismatch,
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    #[error("{0}")]
    Timeout(String),
    /// Too many connections already (503).
    #[error("{0}")]
    Busy(String),
    /// tus: a request without `Tus-Resumable: 1.0.0` (412).
    #[error("{0}")]
    Precondition(String),
}

impl Error {
    /// The disk holding uploads, or the database, has no room left: the client can resume
    /// once an admin (or retention) frees space, so it gets 507 and a reason, not a bare 500.
    fn is_storage_full(&self) -> bool {
        match self {
            Error::Io(e) => matches!(e.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded),
            Error::Db(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::DiskFull,
            _ => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        if self.is_storage_full() {
            return StatusCode::INSUFFICIENT_STORAGE;
        }
        match self {
            Error::Unauthorized(_) | Error::TokenExpired => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Gone(_) => StatusCode::GONE,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::ChecksumMismatch => StatusCode::from_u16(460).expect("460 is within the valid status code range"),
            Error::Locked(_) => StatusCode::LOCKED,
            Error::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Error::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Precondition(_) => StatusCode::PRECONDITION_FAILED,
            Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::BadSetting(_) | Error::Io(_) | Error::Db(_) | Error::DbGone => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status == StatusCode::INSUFFICIENT_STORAGE {
            tracing::error!(error = %self, "storage is full: uploads cannot go on until space is freed");
            "the server's storage is full: nothing past the stored offset was kept; resume when space has been freed\n"
                .to_string()
        } else if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal error\n".to_string()
        } else {
            format!("{self}\n")
        };
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert("tus-resumable", HeaderValue::from_static(crate::files::TUS_VERSION));
        if status == StatusCode::PRECONDITION_FAILED {
            h.insert("tus-version", HeaderValue::from_static(crate::files::TUS_VERSION));
        }
        if status == StatusCode::UNAUTHORIZED {
            let v = match self {
                Error::TokenExpired => r#"Bearer error="invalid_token", error_description="token expired""#,
                _ => r#"Bearer error="invalid_token""#,
            };
            h.insert("www-authenticate", HeaderValue::from_static(v));
        }
        resp
    }
}
