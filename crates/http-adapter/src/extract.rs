//! Configuration of actix's extractors so that their failures answer in the envelope
//! with a clear message instead of actix's plain-text defaults.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError, UrlencodedError};
use actix_web::{HttpRequest, web};

use crate::error::{ApiError, FieldError};

/// Turns a serde message into a field error where the message names the field.
fn serde_field_error(message: &str, fallback_field: &str) -> FieldError {
    let named = |marker: &str| {
        message.find(marker).and_then(|start| {
            let rest = &message[start + marker.len()..];
            rest.find('`').map(|end| rest[..end].to_owned())
        })
    };
    let clean = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    if let Some(field) = named("unknown field `") {
        return FieldError::new(field, "unknown field", "unknown_field");
    }
    if let Some(field) = named("missing field `") {
        return FieldError::new(field, "field required", "missing");
    }
    FieldError::new(fallback_field, clean, "invalid")
}

/// A JSON body that could not be read.
pub fn json_error(error: &JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("Content-Type must be application/json".into())
        }
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge(format!("Request body exceeds {limit} bytes"))
        }
        JsonPayloadError::Deserialize(inner) if inner.is_data() => {
            ApiError::Validation(vec![serde_field_error(&inner.to_string(), "__all__")])
        }
        JsonPayloadError::Deserialize(inner) => ApiError::BadRequest {
            code: "BAD_REQUEST",
            message: format!("Malformed JSON: {inner}"),
        },
        other => ApiError::BadRequest {
            code: "BAD_REQUEST",
            message: format!("Cannot read the request body: {other}"),
        },
    }
}

/// A query string that does not fit the operation's parameters.
pub fn query_error(error: &QueryPayloadError) -> ApiError {
    match error {
        QueryPayloadError::Deserialize(inner) => {
            ApiError::Validation(vec![serde_field_error(&inner.to_string(), "query")])
        }
        other => ApiError::invalid_field("query", other.to_string(), "invalid"),
    }
}

/// A path segment that does not parse (an id that is not a positive integer, ...).
pub fn path_error(error: &PathError) -> ApiError {
    match error {
        PathError::Deserialize(inner) => {
            ApiError::Validation(vec![serde_field_error(&inner.to_string(), "path")])
        }
        other => ApiError::invalid_field("path", other.to_string(), "invalid"),
    }
}

/// A form body (OAuth2 password form) that could not be read.
pub fn form_error(error: &UrlencodedError) -> ApiError {
    match error {
        UrlencodedError::ContentType => ApiError::UnsupportedMediaType(
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ),
        UrlencodedError::Overflow { limit, .. } => {
            ApiError::PayloadTooLarge(format!("Request body exceeds {limit} bytes"))
        }
        UrlencodedError::Parse(inner) => {
            ApiError::Validation(vec![serde_field_error(&inner.to_string(), "__all__")])
        }
        other => ApiError::BadRequest {
            code: "BAD_REQUEST",
            message: format!("Cannot read the form: {other}"),
        },
    }
}

/// Registers the extractor configurations on an app.
pub fn configure(cfg: &mut web::ServiceConfig, max_json_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_json_bytes)
            .error_handler(|e, _: &HttpRequest| json_error(&e).into()),
    )
    .app_data(
        web::QueryConfig::default().error_handler(|e, _: &HttpRequest| query_error(&e).into()),
    )
    .app_data(web::PathConfig::default().error_handler(|e, _: &HttpRequest| path_error(&e).into()))
    .app_data(
        web::FormConfig::default()
            .limit(max_json_bytes)
            .error_handler(|e, _: &HttpRequest| form_error(&e).into()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_their_field() {
        let unknown = serde_field_error(
            "unknown field `role`, expected `name` at line 1 column 7",
            "__all__",
        );
        assert_eq!(
            unknown,
            FieldError::new("role", "unknown field", "unknown_field")
        );
        let missing = serde_field_error("missing field `email`", "__all__");
        assert_eq!(missing.field, "email");
        assert_eq!(missing.code, "missing");
        let other = serde_field_error(
            "invalid type: string \"x\", expected u64 at line 1 column 3",
            "query",
        );
        assert_eq!(other.field, "query");
        assert_eq!(other.message, "invalid type: string \"x\", expected u64");
    }
}
