//! `ApiError` and the error envelope: the one place where failures become HTTP answers.
//!
//! Every 4xx and 5xx leaves the service as an RFC 9457 problem document that also carries
//! the envelope members of the contract (`success`, `message`, `error_code`, ...). Handlers
//! return `ApiError`; actix's own errors (unknown route, bad JSON, ...) are turned into the
//! same envelope by [`crate::middleware::envelope`].

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use vidgen_application::storage::caused_by_outage;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One failing field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the field (`address.zip_code`), or `__all__` for body-level rules.
    pub field: String,
    pub message: String,
    /// Stable machine-readable code of the rule that failed.
    pub code: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        code: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            code: code.into(),
        }
    }
}

/// The `error_code` and default message of each status the service answers with, the
/// one place these codes are written (a few 400s, 403s and 409s carry a more specific
/// code, see [`ApiError::BadRequest`], [`ApiError::ForbiddenWith`], [`ApiError::Conflict`]). Other 5xx are `INTERNAL_ERROR`, other 4xx `BAD_REQUEST`.
pub const ERROR_CODES: &[(u16, &str, &str)] = &[
    (400, "BAD_REQUEST", "Bad request"),
    (401, "UNAUTHORIZED", "Authentication required"),
    (403, "FORBIDDEN", "Forbidden"),
    (404, "NOT_FOUND", "Resource not found"),
    (405, "METHOD_NOT_ALLOWED", "Method not allowed"),
    (406, "NOT_ACCEPTABLE", "Not acceptable"),
    (408, "REQUEST_TIMEOUT", "Request timeout"),
    (409, "CONFLICT", "Conflict"),
    (411, "LENGTH_REQUIRED", "Length required"),
    (413, "PAYLOAD_TOO_LARGE", "Payload too large"),
    (414, "URI_TOO_LONG", "URI too long"),
    (415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
    (416, "RANGE_NOT_SATISFIABLE", "Range not satisfiable"),
    (422, "VALIDATION_ERROR", "Validation error"),
    (429, "RATE_LIMITED", "Too many requests"),
    (
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "Request header fields too large",
    ),
    (500, "INTERNAL_ERROR", "Internal server error"),
    (503, "SERVICE_UNAVAILABLE", "Service unavailable"),
];

/// The error body, before the request-specific members (`instance`, `request_id`,
/// `timestamp`) are filled in by the envelope middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub error_code: &'static str,
    pub message: String,
    pub details: Option<Vec<FieldError>>,
}

impl Problem {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
            details: None,
        }
    }

    /// The generic problem for a status that carries no other information (used when
    /// actix or a middleware answered without an envelope, and as the base of every
    /// [`ApiError`]'s problem): the status's code from [`ERROR_CODES`].
    pub fn for_status(status: StatusCode) -> Self {
        let wanted = status.as_u16();
        let fallback = if wanted >= 500 { 500 } else { 400 };
        let entry = |status: u16| ERROR_CODES.iter().find(|(listed, _, _)| *listed == status);
        let (_, code, message) = entry(wanted)
            .or_else(|| entry(fallback))
            .copied()
            .unwrap_or(ERROR_CODES[0]);
        Self::new(status, code, message)
    }

    /// The same problem with another message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The full JSON body for this problem on the given request.
    pub fn to_body(&self, instance: &str, request_id: &str) -> serde_json::Value {
        let title = self.status.canonical_reason().unwrap_or("Error");
        serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.message,
            "instance": instance,
            "success": false,
            "message": self.message,
            "error_code": self.error_code,
            "error_details": self.details,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "request_id": request_id,
        })
    }

    /// A complete response for this problem. The envelope middleware fills `instance`
    /// and `request_id` from the request; the response also stands alone without it.
    pub fn to_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status)
            .content_type(PROBLEM_JSON)
            .body(self.to_body("", "").to_string());
        response.extensions_mut().insert(self.clone());
        response
    }
}

/// Every error a handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Validation error")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A 403 with a more specific code than `FORBIDDEN` (`EMAIL_NOT_VERIFIED`).
    #[error("{message}")]
    ForbiddenWith { code: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Too many requests")]
    RateLimited { retry_after_seconds: u64 },
    /// A per-user cap (such as active jobs) is reached: 429 with a message saying which.
    #[error("{message}")]
    LimitReached {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A capacity-bound resource (the password-hashing queue) is full: 503 with
    /// `Retry-After`, answered at once.
    #[error("Service unavailable")]
    Overloaded { retry_after_seconds: u64 },
    /// Anything the client cannot act on. Logged with its cause chain, answered opaquely.
    #[error("Internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 422 for a single field.
    pub fn invalid_field(
        field: impl Into<String>,
        message: impl Into<String>,
        code: impl Into<String>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, message, code)])
    }

    pub fn not_found() -> Self {
        Self::NotFound("Resource not found".into())
    }

    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    /// The response for this error (consuming it).
    pub fn error_response_owned(self) -> HttpResponse {
        ResponseError::error_response(&self)
    }

    /// The problem document this error is answered with.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Validation(details) => Problem {
                details: Some(details.clone()),
                ..Problem::for_status(StatusCode::UNPROCESSABLE_ENTITY)
            },
            Self::BadRequest { code, message } => {
                Problem::new(StatusCode::BAD_REQUEST, code, message.clone())
            }
            Self::Unauthorized(message) => {
                Problem::for_status(StatusCode::UNAUTHORIZED).with_message(message.clone())
            }
            Self::Forbidden(message) => {
                Problem::for_status(StatusCode::FORBIDDEN).with_message(message.clone())
            }
            Self::ForbiddenWith { code, message } => {
                Problem::new(StatusCode::FORBIDDEN, code, message.clone())
            }
            Self::NotFound(message) => {
                Problem::for_status(StatusCode::NOT_FOUND).with_message(message.clone())
            }
            Self::Conflict { code, message } => {
                Problem::new(StatusCode::CONFLICT, code, message.clone())
            }
            Self::PayloadTooLarge(message) => {
                Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE).with_message(message.clone())
            }
            Self::UnsupportedMediaType(message) => {
                Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                    .with_message(message.clone())
            }
            Self::RateLimited { .. } => Problem::for_status(StatusCode::TOO_MANY_REQUESTS),
            Self::LimitReached { message, .. } => {
                Problem::for_status(StatusCode::TOO_MANY_REQUESTS).with_message(message.clone())
            }
            Self::ServiceUnavailable(message) => {
                Problem::for_status(StatusCode::SERVICE_UNAVAILABLE).with_message(message.clone())
            }
            Self::Internal(source) if caused_by_outage(source.as_ref()) => {
                Problem::for_status(StatusCode::SERVICE_UNAVAILABLE)
                    .with_message("A service this request needs is unavailable; try again shortly")
            }
            Self::Overloaded { .. } => Problem::for_status(StatusCode::SERVICE_UNAVAILABLE)
                .with_message("The service is busy; retry after the time in Retry-After"),
            Self::Internal(_) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// Seconds a client is asked to wait when a dependency is down.
pub const OUTAGE_RETRY_AFTER_SECONDS: u32 = 5;

/// How often an ongoing outage is logged: once per interval, not once per request.
const OUTAGE_LOG_INTERVAL_SECONDS: i64 = 10;

/// Logs a dependency outage at most once per [`OUTAGE_LOG_INTERVAL_SECONDS`], with the
/// number of requests it refused since the last line.
fn log_outage(source: &(dyn std::error::Error + 'static)) {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    static LAST_LOGGED: AtomicI64 = AtomicI64::new(i64::MIN);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = chrono::Utc::now().timestamp();
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= OUTAGE_LOG_INTERVAL_SECONDS
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        REFUSED.fetch_sub(refused, Ordering::Relaxed);
        tracing::warn!(
            error = %CauseChain(source),
            refused_requests = refused,
            "a dependency is unavailable; answering 503"
        );
    }
}

/// Formats an error with its whole `source()` chain, for logs.
#[derive(Debug)]
pub struct CauseChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem().status
    }

    fn error_response(&self) -> HttpResponse {
        let outage = matches!(self, Self::Internal(source) if caused_by_outage(source.as_ref()));
        if let Self::Internal(source) = self {
            if outage {
                log_outage(source.as_ref());
            } else {
                tracing::error!(error = %CauseChain(source.as_ref()), "request failed");
            }
        }
        let mut response = self.problem().to_response();
        if outage {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(OUTAGE_RETRY_AFTER_SECONDS),
            );
        }
        match self {
            Self::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited {
                retry_after_seconds,
            }
            | Self::LimitReached {
                retry_after_seconds,
                ..
            }
            | Self::Overloaded {
                retry_after_seconds,
            } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
            }
            _ => {}
        }
        response
    }
}

impl paperclip::v2::schema::Apiv2Errors for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(response: HttpResponse) -> serde_json::Value {
        let bytes = response
            .into_body()
            .try_into_bytes()
            .unwrap_or_else(|_| panic!("body is not in memory"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("body is not JSON: {e}"))
    }

    #[test]
    fn each_error_maps_to_its_status_and_code() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::invalid_field("email", "bad", "email"),
                422,
                "VALIDATION_ERROR",
            ),
            (
                ApiError::BadRequest {
                    code: "INVALID_HOST",
                    message: "Invalid host header".into(),
                },
                400,
                "INVALID_HOST",
            ),
            (ApiError::Unauthorized("no".into()), 401, "UNAUTHORIZED"),
            (ApiError::Forbidden("no".into()), 403, "FORBIDDEN"),
            (ApiError::not_found(), 404, "NOT_FOUND"),
            (
                ApiError::Conflict {
                    code: "EMAIL_TAKEN",
                    message: "taken".into(),
                },
                409,
                "EMAIL_TAKEN",
            ),
            (
                ApiError::PayloadTooLarge("big".into()),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                ApiError::UnsupportedMediaType("xml".into()),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (
                ApiError::RateLimited {
                    retry_after_seconds: 3,
                },
                429,
                "RATE_LIMITED",
            ),
            (
                ApiError::LimitReached {
                    message: "five videos are still rendering".into(),
                    retry_after_seconds: 30,
                },
                429,
                "RATE_LIMITED",
            ),
            (
                ApiError::ServiceUnavailable("db".into()),
                503,
                "SERVICE_UNAVAILABLE",
            ),
            (
                ApiError::internal(std::io::Error::other("disk on fire")),
                500,
                "INTERNAL_ERROR",
            ),
        ];
        for (error, status, code) in cases {
            let label = format!("{error:?}");
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status, "{label}");
            assert_eq!(
                response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(PROBLEM_JSON.as_bytes()),
                "{label}"
            );
            let json = body(response);
            assert_eq!(json["error_code"], code, "{label}");
            assert_eq!(json["status"], status, "{label}");
            assert_eq!(json["success"], false, "{label}");
            assert_eq!(json["detail"], json["message"], "{label}");
            assert_eq!(json["type"], "about:blank", "{label}");
        }
    }

    #[test]
    fn a_dependency_outage_is_a_503_with_retry_after_not_a_500() {
        use vidgen_application::storage::RepositoryError;
        let down = RepositoryError::unavailable(std::io::Error::other("connection refused"));
        let response = ApiError::Internal(Box::new(down)).error_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(OUTAGE_RETRY_AFTER_SECONDS.to_string().as_bytes())
        );
        let json = body(response);
        assert_eq!(json["error_code"], "SERVICE_UNAVAILABLE");
        assert!(!json.to_string().contains("refused"), "{json}");
    }

    #[test]
    fn unlisted_statuses_fall_back_to_the_generic_codes() {
        let teapot = Problem::for_status(StatusCode::IM_A_TEAPOT);
        assert_eq!(teapot.error_code, "BAD_REQUEST");
        let gateway = Problem::for_status(StatusCode::BAD_GATEWAY);
        assert_eq!(gateway.error_code, "INTERNAL_ERROR");
        assert_eq!(gateway.message, "Internal server error");
        let forbidden = ApiError::Forbidden("Only admins".into()).problem();
        assert_eq!(forbidden.error_code, "FORBIDDEN");
        assert_eq!(forbidden.message, "Only admins");
    }

    #[test]
    fn internal_errors_never_reveal_their_cause() {
        let error = ApiError::internal(std::io::Error::other("SELECT * FROM secrets"));
        let json = body(error.error_response());
        assert_eq!(json["message"], "Internal server error");
        assert!(!json.to_string().contains("secrets"));
    }

    #[test]
    fn validation_errors_list_each_field() {
        let error = ApiError::Validation(vec![
            FieldError::new("password", "too short", "length"),
            FieldError::new("__all__", "passwords differ", "password_mismatch"),
        ]);
        let json = body(error.error_response());
        assert_eq!(json["error_details"][0]["field"], "password");
        assert_eq!(json["error_details"][1]["code"], "password_mismatch");
        let plain = body(ApiError::not_found().error_response());
        assert!(plain["error_details"].is_null());
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token_and_429_says_when_to_retry() {
        let response = ApiError::Unauthorized("token expired".into()).error_response();
        assert_eq!(
            response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        let response = ApiError::RateLimited {
            retry_after_seconds: 7,
        }
        .error_response();
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"7"[..])
        );
    }

    #[test]
    fn overload_is_a_503_that_says_when_to_retry() {
        let response = ApiError::Overloaded {
            retry_after_seconds: 2,
        }
        .error_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"2"[..])
        );
        assert_eq!(body(response)["error_code"], "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn cause_chains_are_printed_whole() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(CauseChain(&error).to_string(), "outer: inner");
    }
}
