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
    /// actix or a middleware answered without an envelope).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, message) = match status.as_u16() {
            400 => ("BAD_REQUEST", "Bad request"),
            401 => ("UNAUTHORIZED", "Authentication required"),
            403 => ("FORBIDDEN", "Forbidden"),
            404 => ("NOT_FOUND", "Resource not found"),
            405 => ("METHOD_NOT_ALLOWED", "Method not allowed"),
            406 => ("NOT_ACCEPTABLE", "Not acceptable"),
            408 => ("REQUEST_TIMEOUT", "Request timeout"),
            409 => ("CONFLICT", "Conflict"),
            411 => ("LENGTH_REQUIRED", "Length required"),
            413 => ("PAYLOAD_TOO_LARGE", "Payload too large"),
            414 => ("URI_TOO_LONG", "URI too long"),
            415 => ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
            416 => ("RANGE_NOT_SATISFIABLE", "Range not satisfiable"),
            422 => ("VALIDATION_ERROR", "Validation error"),
            429 => ("RATE_LIMITED", "Too many requests"),
            431 => (
                "REQUEST_HEADER_FIELDS_TOO_LARGE",
                "Request header fields too large",
            ),
            503 => ("SERVICE_UNAVAILABLE", "Service unavailable"),
            s if s >= 500 => ("INTERNAL_ERROR", "Internal server error"),
            _ => ("BAD_REQUEST", "Bad request"),
        };
        Self::new(status, code, message)
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
                Problem::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message.clone())
            }
            Self::Forbidden(message) => {
                Problem::new(StatusCode::FORBIDDEN, "FORBIDDEN", message.clone())
            }
            Self::NotFound(message) => {
                Problem::new(StatusCode::NOT_FOUND, "NOT_FOUND", message.clone())
            }
            Self::Conflict { code, message } => {
                Problem::new(StatusCode::CONFLICT, code, message.clone())
            }
            Self::PayloadTooLarge(message) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                message.clone(),
            ),
            Self::UnsupportedMediaType(message) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message.clone(),
            ),
            Self::RateLimited { .. } => Problem::for_status(StatusCode::TOO_MANY_REQUESTS),
            Self::ServiceUnavailable(message) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                message.clone(),
            ),
            Self::Overloaded { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The service is busy; retry after the time in Retry-After",
            ),
            Self::Internal(_) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
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
        if let Self::Internal(source) = self {
            tracing::error!(error = %CauseChain(source.as_ref()), "request failed");
        }
        let mut response = self.problem().to_response();
        match self {
            Self::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited {
                retry_after_seconds,
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
