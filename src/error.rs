//! The one error type of the API and its status table.
//!
//! Every handler and service returns [`ApiError`]. Client errors carry the sentence shown to
//! the person; internal errors carry the cause, which is logged once at the edge and never
//! sent to the client. The `error` codes and the fixed sign-in messages are part of the wire
//! contract and live here, in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// Sign-in messages that clients in the field match to the letter.
pub mod messages {
    pub const MISSING_CREDENTIALS: &str = "You must provide a username and password.";
    pub const INVALID_CREDENTIALS: &str = "Invalid username or password.";
    pub const MISSING_AUTH_CODE: &str = "Missing auth_code parameter";
    pub const INVALID_AUTH_CODE: &str = "Invalid authentication code.";
    pub const LOCKED_OUT: &str =
        "Account temporarily locked due to repeated failed login attempts.";
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing or malformed; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A chunk of a chunked upload sent at the wrong offset; `expected` is the right one.
    #[error("The offset must be {expected}: the number of bytes received so far.")]
    WrongOffset { expected: i64 },
    /// No usable credentials: no token, an unknown, expired or revoked one, a failed sign-in.
    #[error("{0}")]
    Unauthorized(String),
    /// The password was right but the second sign-in step is still owed.
    #[error("missing auth_code parameter")]
    TwoStepRequired { mode: &'static str },
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist or is invisible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method; the methods it takes, for `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A listing has more entries than the caller's `file_limit`.
    #[error("{0}")]
    TooManyEntries(String),
    /// The target exists, or the object changed since the caller last saw it.
    #[error("{0}")]
    Conflict(String),
    /// A share link that expired or is used up.
    #[error("{0}")]
    Gone(String),
    /// A body larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// Too many attempts; try again after the given number of seconds.
    #[error("{message}")]
    RateLimited { message: String, retry_after_seconds: i64 },
    /// The write would pass a quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A service the request depends on (mail, SMS) cannot be reached right now.
    #[error("{0}")]
    Unavailable(String),
    /// A database failure.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// No database connection could be had.
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    /// A failure of the server itself.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Shorthand for service and handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 naming the offending parameter.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::Invalid(message.into())
    }

    /// A 400 for a required parameter that was not given.
    pub fn missing(parameter: &str) -> ApiError {
        ApiError::Invalid(format!("The parameter '{parameter}' is required."))
    }

    /// A 404 for an object of the given kind.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("{what} not found."))
    }

    /// A 403 with the given sentence.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Forbidden(message.into())
    }

    /// A 409 with the given sentence.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::Conflict(message.into())
    }

    /// The HTTP status and the stable `error` code of this error: the one status table.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Invalid(_) | ApiError::WrongOffset { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            ApiError::Unauthorized(_) | ApiError::TwoStepRequired { .. } => {
                (StatusCode::UNAUTHORIZED, "access_denied")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooManyEntries(_) => (StatusCode::NOT_ACCEPTABLE, "too_many_entries"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::QuotaExceeded(_) => (StatusCode::INSUFFICIENT_STORAGE, "quota_exceeded"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Database(_) | ApiError::Pool(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        }
    }

    /// The sentence for the person at the other end. Internal causes stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::TwoStepRequired { .. } => messages::MISSING_AUTH_CODE.to_string(),
            ApiError::MethodNotAllowed(_) => "This method is not allowed on this URL.".to_string(),
            ApiError::Database(_) | ApiError::Pool(_) | ApiError::Internal(_) => {
                "The server failed to handle the request; the failure has been logged.".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.status_and_code();
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %format!("{self:#}"), "request failed");
        }
        let mut body = json!({
            "success": false,
            "error": code,
            "message": self.public_message(),
        });
        if let ApiError::TwoStepRequired { mode } = self {
            body["two_step_mode"] = json!(mode);
        }
        if let ApiError::WrongOffset { expected } = self {
            body["offset"] = json!(expected);
        }
        let mut response = HttpResponse::build(status);
        if let ApiError::RateLimited { retry_after_seconds, .. } = self {
            let seconds = (*retry_after_seconds).max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.insert_header((header::RETRY_AFTER, value));
            }
        }
        if let ApiError::MethodNotAllowed(allow) = self {
            response.insert_header((header::ALLOW, *allow));
        }
        response.json(body)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> ApiError {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> ApiError {
        ApiError::Internal(anyhow::Error::new(error))
    }
}

/// Maps SQLite unique-constraint violations on a named column to a client error.
pub trait ResultExt<T> {
    /// Turns a unique violation on `table.column` into the error `make` builds.
    fn on_unique(self, column: &str, make: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T> ResultExt<T> for Result<T, rusqlite::Error> {
    fn on_unique(self, column: &str, make: impl FnOnce() -> ApiError) -> ApiResult<T> {
        match self {
            Err(rusqlite::Error::SqliteFailure(code, Some(message)))
                if code.code == rusqlite::ErrorCode::ConstraintViolation
                    && message.contains("UNIQUE")
                    && message.contains(column) =>
            {
                Err(make())
            }
            other => other.map_err(ApiError::from),
        }
    }
}
