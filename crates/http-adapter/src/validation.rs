//! Request validation: JSON bodies deserialized with the path of any failing field, then
//! checked with garde, every failure reported per field in the envelope.
//!
//! garde errors carry only a message; validators here prefix it with a stable code and
//! a separator ([`rule`]), which [`report_to_field_errors`] splits off again.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::StreamExt;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::DefaultOperationRaw;
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

const SEPARATOR: char = '\u{1f}';

/// A garde error carrying a machine-readable code.
pub fn rule(code: &str, message: impl std::fmt::Display) -> garde::Error {
    garde::Error::new(format!("{code}{SEPARATOR}{message}"))
}

/// A garde rule for any one-line text field: the domain's control-character rule.
pub fn single_line(value: &str, _: &()) -> garde::Result {
    vidgen_domain::text::check_single_line(value).map_err(|e| rule(e.code(), e))
}

/// Field errors from a garde report, in a stable order.
pub fn report_to_field_errors(report: &garde::Report) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = report
        .iter()
        .map(|(path, error)| {
            let message = error.message();
            let (code, message) = message
                .split_once(SEPARATOR)
                .map_or(("invalid", message), |(code, message)| (code, message));
            let field = path.to_string();
            FieldError::new(
                if field.is_empty() {
                    "__all__".to_owned()
                } else {
                    field
                },
                message,
                code,
            )
        })
        .collect();
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors
}

/// The field errors of a value's garde rules (none when it is valid).
pub fn garde_errors<T: garde::Validate<Context = ()>>(value: &T) -> Vec<FieldError> {
    value
        .validate()
        .err()
        .map(|report| report_to_field_errors(&report))
        .unwrap_or_default()
}

/// A request body that knows how to check itself: garde rules per field plus rules on
/// the whole body (reported under `__all__`).
pub trait Validated {
    fn field_errors(&self) -> Vec<FieldError>;
}

/// Deserializes `bytes` as JSON, naming the failing field on a type error.
///
/// # Errors
/// 400 for malformed JSON; 422 with the field's path for a wrong shape or unknown field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    if parsed.is_ok()
        && let Err(trailing) = deserializer.end()
    {
        return Err(ApiError::BadRequest {
            code: "BAD_REQUEST",
            message: format!("Malformed JSON: {trailing}"),
        });
    }
    parsed.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::BadRequest {
                code: "BAD_REQUEST",
                message: format!("Malformed JSON: {inner}"),
            };
        }
        let message = inner.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let join = |name: &str| {
            if path == "." || path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        let field_error = match (unknown, missing) {
            (Some(name), _) => {
                let field = if path == name || path.ends_with(&format!(".{name}")) {
                    path.clone()
                } else {
                    join(name)
                };
                FieldError::new(field, "unknown field", "unknown_field")
            }
            (_, Some(name)) => FieldError::new(join(name), "field required", "missing"),
            _ => FieldError::new(
                if path == "." || path.is_empty() {
                    "__all__".to_owned()
                } else {
                    path
                },
                message,
                "type",
            ),
        };
        ApiError::Validation(vec![field_error])
    })
}

/// Largest JSON body read by [`ValidJson`], set from the settings as app data.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

impl JsonLimit {
    /// The limit when the app sets none (the settings' default is the same number).
    pub const DEFAULT_BYTES: usize = vidgen_domain::requests::DEFAULT_MAX_JSON_BYTES;
}

/// Reads the body up to `limit` bytes.
///
/// # Errors
/// 413 beyond the limit; 400 when the connection fails mid-body.
pub async fn read_body(payload: &mut Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = actix_web::web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            code: "BAD_REQUEST",
            message: format!("Cannot read the request body: {e}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "Request body exceeds {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Whether the request declares a JSON body.
pub fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"))
}

/// Reads a JSON body: the content type, the size limit, then deserialization naming the
/// failing field.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Pin<Box<dyn Future<Output = Result<T, ApiError>>>> {
    let limit = req
        .app_data::<JsonLimit>()
        .map_or(JsonLimit::DEFAULT_BYTES, |limit| limit.0);
    let json = is_json(req);
    let too_long = declared_length(req).is_some_and(|length| length > limit);
    let mut payload = payload.take();
    Box::pin(async move {
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type must be application/json".into(),
            ));
        }
        if too_long {
            return Err(ApiError::PayloadTooLarge(format!(
                "Request body exceeds {limit} bytes"
            )));
        }
        let body = read_body(&mut payload, limit).await?;
        parse_json(&body)
    })
}

/// A JSON body that deserialized with no unknown field and passed every rule.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> ValidJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Validated + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json::<T>(req, payload);
        Box::pin(async move {
            let value = body.await?;
            let errors = value.field_errors();
            if errors.is_empty() {
                Ok(Self(value))
            } else {
                Err(ApiError::Validation(errors))
            }
        })
    }
}

/// A JSON body that deserialized with no unknown field, its rules not checked yet: for
/// a request whose rules need the application too (its conversion reports the field
/// rules and the application's rules together, in one 422).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> FromRequest for JsonBody<T>
where
    T: DeserializeOwned + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json::<T>(req, payload);
        Box::pin(async move { body.await.map(Self) })
    }
}

macro_rules! documented_as_json {
    ($wrapper:ident) => {
        impl<T: Apiv2Schema> Apiv2Schema for $wrapper<T> {
            fn name() -> Option<String> {
                T::name()
            }

            fn description() -> &'static str {
                T::description()
            }

            fn raw_schema() -> paperclip::v2::models::DefaultSchemaRaw {
                T::raw_schema()
            }
        }

        impl<T: Apiv2Schema> OperationModifier for $wrapper<T> {
            fn update_parameter(op: &mut DefaultOperationRaw) {
                <paperclip::actix::web::Json<T> as OperationModifier>::update_parameter(op);
            }

            fn update_definitions(
                map: &mut std::collections::BTreeMap<
                    String,
                    paperclip::v2::models::DefaultSchemaRaw,
                >,
            ) {
                <paperclip::actix::web::Json<T> as OperationModifier>::update_definitions(map);
            }
        }
    };
}

documented_as_json!(ValidJson);
documented_as_json!(JsonBody);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        zip_code: u32,
    }

    fn details(result: Result<Body, ApiError>) -> Vec<FieldError> {
        match result {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn type_errors_name_their_field_path() {
        let errors = details(parse_json(br#"{"name": "a", "nested": {"zip_code": "x"}}"#));
        assert_eq!(errors[0].field, "nested.zip_code");
        assert_eq!(errors[0].code, "type");
        let errors = details(parse_json(br#"{"name": "a", "role": "admin"}"#));
        assert_eq!(
            errors[0],
            FieldError::new("role", "unknown field", "unknown_field")
        );
        let errors = details(parse_json(br#"{"nested": null}"#));
        assert_eq!(
            errors[0],
            FieldError::new("name", "field required", "missing")
        );
        let errors = details(parse_json(
            br#"{"name": "a", "nested": {"zip_code": 1, "x": 2}}"#,
        ));
        assert_eq!(errors[0].field, "nested.x");
        let errors = details(parse_json(br#""just text""#));
        assert_eq!(errors[0].field, "__all__");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for body in [&b"{"[..], b"", b"{\"name\": \"a\"} trailing", b"nul"] {
            let result: Result<Body, ApiError> = parse_json(body);
            assert!(
                matches!(result, Err(ApiError::BadRequest { .. })),
                "{:?}: {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[derive(garde::Validate)]
    struct Checked {
        #[garde(custom(|v: &str, _: &()| if v.is_empty() { Err(rule("too_short", "must not be empty")) } else { Ok(()) }))]
        title: String,
        #[garde(length(chars, max = 2))]
        tag: String,
    }

    #[test]
    fn garde_reports_become_field_errors_with_codes() {
        use garde::Validate;
        let report = Checked {
            title: String::new(),
            tag: "long".into(),
        }
        .validate()
        .expect_err("invalid");
        let errors = report_to_field_errors(&report);
        assert_eq!(
            errors[0],
            FieldError::new("tag", errors[0].message.clone(), "invalid")
        );
        assert_eq!(
            errors[1],
            FieldError::new("title", "must not be empty", "too_short")
        );
    }
}
