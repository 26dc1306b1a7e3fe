//! Request validation, every problem reported at once: a JSON body (or a form, a query
//! string, the path) is first checked field by field against the DTO's own schema (the
//! one the OpenAPI document shows), each missing, unknown or wrongly typed field getting
//! its entry and a placeholder; serde then builds the DTO, and garde checks the fields
//! that parsed. Everything goes into one 422.
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
use paperclip::v2::models::{DataType, DataTypeFormat, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

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

/// Which names a schema walk accepts beyond the schema's own properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Report each one as `unknown_field` (JSON bodies: no silent mass assignment).
    Refuse,
    /// Drop them silently (query strings and the OAuth2 form, whose clients add fields).
    Ignore,
}

/// How many serde failures past the schema check are repaired before giving up on
/// building the value (each repair reports one more field).
const MAX_REPAIRS: usize = 32;

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn field_or_all(path: &str) -> String {
    if path.is_empty() || path == "." {
        "__all__".to_owned()
    } else {
        path.to_owned()
    }
}

/// The values of a closed set, for a message.
fn allowed_values(schema: &DefaultSchemaRaw) -> String {
    schema
        .enum_
        .iter()
        .map(|value| {
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `value` does not fit `schema`'s type, if it does not.
fn mismatch(schema: &DefaultSchemaRaw, value: &Value) -> Option<String> {
    if !schema.enum_.is_empty() {
        return (!schema.enum_.contains(value))
            .then(|| format!("must be one of: {}", allowed_values(schema)));
    }
    let (fits, expected) = match schema.data_type? {
        DataType::String => (value.is_string(), "a string"),
        DataType::Integer => (value.is_i64() || value.is_u64(), "an integer"),
        DataType::Number => (value.is_number(), "a number"),
        DataType::Boolean => (value.is_boolean(), "a boolean"),
        DataType::Array => (value.is_array(), "an array"),
        DataType::Object => (value.is_object(), "an object"),
        DataType::File => (true, "a file"),
    };
    (!fits).then(|| format!("must be {expected}"))
}

/// A value that fits `schema`'s type, standing in for a field that was missing or
/// wrong so the rest of the request can still be built and checked. Its own rules are
/// never reported (the field already has its entry).
fn placeholder(schema: &DefaultSchemaRaw) -> Value {
    if let Some(first) = schema.enum_.first() {
        return first.clone();
    }
    match schema.data_type {
        Some(DataType::String) => Value::String(
            match schema.format {
                Some(DataTypeFormat::Date) => "2000-01-01",
                Some(DataTypeFormat::DateTime) => "2000-01-01T00:00:00Z",
                Some(DataTypeFormat::Uuid) => "00000000-0000-0000-0000-000000000000",
                _ => "",
            }
            .to_owned(),
        ),
        Some(DataType::Integer | DataType::Number) => Value::from(0),
        Some(DataType::Boolean) => Value::Bool(false),
        Some(DataType::Array) => Value::Array(Vec::new()),
        Some(DataType::Object) | None if !schema.properties.is_empty() => Value::Object(
            schema
                .properties
                .iter()
                .filter(|(name, _)| schema.required.contains(*name))
                .map(|(name, property)| (name.clone(), placeholder(property)))
                .collect(),
        ),
        Some(DataType::Object) => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

/// Checks `value` against an object schema, field by field: each unknown, missing or
/// wrongly typed field gets its entry, and is dropped or replaced by a placeholder.
fn walk(
    schema: &DefaultSchemaRaw,
    value: &mut Value,
    prefix: &str,
    extra: Extra,
    errors: &mut Vec<FieldError>,
) {
    let Some(object) = value.as_object_mut() else {
        errors.push(FieldError::new(
            field_or_all(prefix),
            "must be an object",
            "type",
        ));
        *value = placeholder(schema);
        return;
    };
    let unknown: Vec<String> = object
        .keys()
        .filter(|name| !schema.properties.contains_key(*name))
        .cloned()
        .collect();
    for name in unknown {
        object.remove(&name);
        if extra == Extra::Refuse {
            errors.push(FieldError::new(
                join(prefix, &name),
                "unknown field",
                "unknown_field",
            ));
        }
    }
    for (name, property) in &schema.properties {
        let path = join(prefix, name);
        let required = schema.required.contains(name);
        let Some(field) = object.get_mut(name) else {
            if required {
                errors.push(FieldError::new(path, "field required", "missing"));
                object.insert(name.clone(), placeholder(property));
            }
            continue;
        };
        if field.is_null() && !required {
            continue;
        }
        if let Some(message) = mismatch(property, field) {
            errors.push(FieldError::new(path, message, "type"));
            if required {
                *field = placeholder(property);
            } else {
                object.remove(name);
            }
        } else if !property.properties.is_empty() {
            walk(property, field, &path, extra, errors);
        }
    }
}

/// Drops or replaces the field at a dotted `path` after serde refused it.
fn repair(schema: &DefaultSchemaRaw, value: &mut Value, path: &str) -> bool {
    let mut schema = schema;
    let mut value = value;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        let Some(object) = value.as_object_mut() else {
            return false;
        };
        let property = schema.properties.get(name);
        if names.peek().is_none() {
            match property {
                Some(property) if schema.required.contains(name) => {
                    object.insert(name.to_owned(), placeholder(property));
                }
                _ => {
                    object.remove(name);
                }
            }
            return true;
        }
        let (Some(property), Some(inner)) = (property, object.get_mut(name)) else {
            return false;
        };
        schema = property;
        value = inner;
    }
    false
}

/// A serde failure as a field error: unknown and missing fields by name, anything else
/// a type error of the field at `path`.
fn serde_failure(path: &str, message: &str) -> FieldError {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    let named = |marker: &str| {
        message
            .strip_prefix(marker)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    let prefix = if path == "." { "" } else { path };
    if let Some(name) = named("unknown field `") {
        let field = if prefix == name || prefix.ends_with(&format!(".{name}")) {
            prefix.to_owned()
        } else {
            join(prefix, &name)
        };
        return FieldError::new(field, "unknown field", "unknown_field");
    }
    if let Some(name) = named("missing field `") {
        return FieldError::new(join(prefix, &name), "field required", "missing");
    }
    FieldError::new(field_or_all(prefix), message, "type")
}

/// `value` checked against `T`'s schema, every problem at once, and `T` itself built
/// from the value with every failing field dropped or replaced, when it can be.
pub fn collect<T: DeserializeOwned + Apiv2Schema>(
    mut value: Value,
    extra: Extra,
) -> (Option<T>, Vec<FieldError>) {
    let schema = T::raw_schema();
    let mut errors = Vec::new();
    walk(&schema, &mut value, "", extra, &mut errors);
    for _ in 0..MAX_REPAIRS {
        let failure = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(parsed) => return (Some(parsed), errors),
            Err(failure) => failure,
        };
        let error = serde_failure(&failure.path().to_string(), &failure.inner().to_string());
        // A placeholder serde refuses, or a field that cannot be repaired: the entries
        // so far are all there is to say.
        if errors.iter().any(|known| known.field == error.field) {
            return (None, errors);
        }
        let repaired = repair(&schema, &mut value, &error.field);
        errors.push(error);
        if !repaired {
            return (None, errors);
        }
    }
    (None, errors)
}

/// The shape errors of a request followed by the rule errors of every field that has
/// no entry yet, in one ordered list. A rule on the whole body (`__all__`) is dropped
/// once a field is wrong: it would compare placeholders.
pub fn merge(
    shape_errors: Vec<FieldError>,
    rule_errors: impl IntoIterator<Item = FieldError>,
) -> Vec<FieldError> {
    let broken = !shape_errors.is_empty();
    let covered = |field: &str| {
        shape_errors
            .iter()
            .any(|e| field == e.field || field.starts_with(&format!("{}.", e.field)))
    };
    let extra: Vec<FieldError> = rule_errors
        .into_iter()
        .filter(|e| !(covered(&e.field) || (broken && e.field == "__all__")))
        .collect();
    let mut errors = shape_errors;
    errors.extend(extra);
    order(&mut errors);
    errors
}

/// The shape errors of a request and, when its value could be built anyway, the rule
/// errors of every field that has no entry yet: one list, one 422.
///
/// # Errors
/// 422 with every entry when anything is wrong.
pub fn all_errors<T: Validated>(
    (parsed, errors): (Option<T>, Vec<FieldError>),
) -> Result<T, ApiError> {
    match parsed {
        Some(value) => {
            let errors = merge(errors, value.field_errors());
            if errors.is_empty() {
                Ok(value)
            } else {
                Err(ApiError::Validation(errors))
            }
        }
        None => Err(ApiError::Validation(merge(errors, []))),
    }
}

/// Puts entries in the order a client reads them best: the problems of the values it
/// sent, by field, then the fields it left out.
fn order(errors: &mut [FieldError]) {
    errors.sort_by(|a, b| (a.code == "missing", &a.field).cmp(&(b.code == "missing", &b.field)));
}

/// Reads `bytes` as one JSON value.
///
/// # Errors
/// 400 for malformed JSON (syntax, truncation, trailing data).
pub fn json_value(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| ApiError::BadRequest {
        code: "BAD_REQUEST",
        message: format!("Malformed JSON: {error}"),
    })
}

/// Deserializes `bytes` as JSON into `T`, reporting every unknown, missing and wrongly
/// typed field at once.
///
/// # Errors
/// 400 for malformed JSON; 422 listing every field whose shape is wrong.
pub fn parse_json<T: DeserializeOwned + Apiv2Schema>(bytes: &[u8]) -> Result<T, ApiError> {
    match collect::<T>(json_value(bytes)?, Extra::Refuse) {
        (Some(value), errors) if errors.is_empty() => Ok(value),
        (_, mut errors) => {
            order(&mut errors);
            Err(ApiError::Validation(errors))
        }
    }
}

/// A query string or path parameter as JSON, typed as its schema says so that a number
/// is compared as a number (anything unparsable stays text and fails the type check).
pub fn typed_parameter(schema: Option<&DefaultSchemaRaw>, raw: &str) -> Value {
    let text = || Value::String(raw.to_owned());
    match schema.and_then(|s| s.data_type) {
        Some(DataType::Integer) => raw
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| raw.parse::<u64>().map(Value::from))
            .unwrap_or_else(|_| text()),
        Some(DataType::Number) => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(text, Value::Number),
        Some(DataType::Boolean) => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text(),
        },
        _ => text(),
    }
}

/// Name/value pairs (a query string, a form, a path) as a JSON object typed by `T`'s
/// schema; a repeated name keeps its last value.
pub fn parameters_value<T: Apiv2Schema>(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Value {
    let schema = T::raw_schema();
    Value::Object(
        pairs
            .into_iter()
            .map(|(name, raw)| {
                let value = typed_parameter(schema.properties.get(&name).map(|s| &**s), &raw);
                (name, value)
            })
            .collect(),
    )
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

/// Reads a JSON body: the content type, the size limit, then the JSON value itself.
fn read_json(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Pin<Box<dyn Future<Output = Result<Value, ApiError>>>> {
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
        json_value(&body)
    })
}

/// What [`ValidJson`] makes of a body once it is read as JSON: `T` when it has no
/// unknown field and passes every rule. Public for the fuzz targets, which feed it
/// arbitrary bytes through [`json_value`] without a request around them.
///
/// # Errors
/// 422 listing every unknown, missing or wrongly typed field and every broken rule of
/// the fields that did parse.
pub fn valid_json<T>(value: Value) -> Result<T, ApiError>
where
    T: DeserializeOwned + Apiv2Schema + Validated,
{
    all_errors(collect::<T>(value, Extra::Refuse))
}

/// A JSON body that deserialized with no unknown field and passed every rule; when it
/// did not, one 422 lists every unknown, missing or wrongly typed field and every broken
/// rule of the fields that did parse.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T> ValidJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> FromRequest for ValidJson<T>
where
    T: DeserializeOwned + Apiv2Schema + Validated + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move { valid_json(body.await?).map(Self) })
    }
}

/// A JSON body whose rules need the application too: built even when some fields were
/// wrong (those hold placeholders), with the shape errors beside it, so that its
/// conversion reports the shape errors, the field rules and the application's rules
/// together, in one 422. A body that cannot be built at all is refused here.
#[derive(Debug)]
pub struct JsonBody<T> {
    value: T,
    shape_errors: Vec<FieldError>,
}

impl<T> JsonBody<T> {
    /// The body and the entries of its fields that were missing, unknown or mistyped.
    pub fn into_parts(self) -> (T, Vec<FieldError>) {
        (self.value, self.shape_errors)
    }
}

impl<T> FromRequest for JsonBody<T>
where
    T: DeserializeOwned + Apiv2Schema + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move {
            match collect::<T>(body.await?, Extra::Refuse) {
                (Some(value), shape_errors) => Ok(Self {
                    value,
                    shape_errors,
                }),
                (None, errors) => Err(ApiError::Validation(merge(errors, []))),
            }
        })
    }
}

/// Query parameters checked against `T`'s schema and rules, every bad parameter named
/// in one 422 (unknown parameters are ignored).
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T> ValidQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> FromRequest for ValidQuery<T>
where
    T: DeserializeOwned + Apiv2Schema + Validated + 'static,
{
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map_err(|e| ApiError::invalid_field("__all__", e.to_string(), "invalid"))
            .and_then(|pairs| {
                all_errors(collect::<T>(parameters_value::<T>(pairs), Extra::Ignore))
            });
        std::future::ready(parsed.map(Self))
    }
}

/// Path parameters checked against `T`'s schema and rules, each bad one named.
#[derive(Debug)]
pub struct ValidPath<T>(pub T);

impl<T> ValidPath<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidPath<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> FromRequest for ValidPath<T>
where
    T: DeserializeOwned + Apiv2Schema + Validated + 'static,
{
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = req
            .match_info()
            .iter()
            .map(|(name, raw)| (name.to_owned(), raw.to_owned()))
            .collect::<Vec<_>>();
        let parsed = all_errors(collect::<T>(parameters_value::<T>(pairs), Extra::Ignore));
        std::future::ready(parsed.map(Self))
    }
}

macro_rules! documented_as {
    ($wrapper:ident, $actix:ident) => {
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
                <paperclip::actix::web::$actix<T> as OperationModifier>::update_parameter(op);
            }

            fn update_definitions(
                map: &mut std::collections::BTreeMap<
                    String,
                    paperclip::v2::models::DefaultSchemaRaw,
                >,
            ) {
                <paperclip::actix::web::$actix<T> as OperationModifier>::update_definitions(map);
            }
        }
    };
}

documented_as!(ValidQuery, Query);
documented_as!(ValidPath, Path);

documented_as!(ValidJson, Json);
documented_as!(JsonBody, Json);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, paperclip::actix::Apiv2Schema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize, paperclip::actix::Apiv2Schema)]
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

    #[derive(Debug, serde::Deserialize, paperclip::actix::Apiv2Schema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Wide {
        title: String,
        count: i64,
        ratio: f64,
        flag: bool,
        when: Option<chrono::NaiveDate>,
        place: Nested,
        kind: Option<Kind>,
    }

    #[derive(Debug, serde::Deserialize, paperclip::actix::Apiv2Schema)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Small,
        Large,
    }

    fn fields_and_codes(value: Value, extra: Extra) -> Vec<(String, String)> {
        let (_, mut errors) = collect::<Wide>(value, extra);
        order(&mut errors);
        errors.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn every_shape_error_of_a_body_is_collected() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
                .collect()
        };
        type Case = (&'static str, Value, Vec<(String, String)>);
        let cases: Vec<Case> = vec![
            (
                "empty",
                serde_json::json!({}),
                pairs(&[
                    ("count", "missing"),
                    ("flag", "missing"),
                    ("place", "missing"),
                    ("ratio", "missing"),
                    ("title", "missing"),
                ]),
            ),
            (
                "wrong types everywhere",
                serde_json::json!({
                    "title": 1, "count": 1.5, "ratio": "x", "flag": "yes",
                    "when": 3, "place": {"zip_code": "x"}, "kind": "huge"
                }),
                pairs(&[
                    ("count", "type"),
                    ("flag", "type"),
                    ("kind", "type"),
                    ("place.zip_code", "type"),
                    ("ratio", "type"),
                    ("title", "type"),
                    ("when", "type"),
                ]),
            ),
            (
                "unknown, nested unknown and missing together",
                serde_json::json!({
                    "title": "t", "count": 1, "ratio": 1, "flag": true,
                    "place": {"zip_code": 1, "street": "x"}, "role": "admin"
                }),
                pairs(&[("place.street", "unknown_field"), ("role", "unknown_field")]),
            ),
            (
                "nested object missing its field, top level missing one",
                serde_json::json!({"title": "t", "ratio": 0, "flag": false, "place": {}}),
                pairs(&[("count", "missing"), ("place.zip_code", "missing")]),
            ),
            (
                "serde stricter than the schema: a date that is no date",
                serde_json::json!({
                    "title": "t", "count": 1, "ratio": 1, "flag": true,
                    "place": {"zip_code": 1}, "when": "1950-02-30"
                }),
                pairs(&[("when", "type")]),
            ),
            (
                "serde stricter than the schema: out of range for u32",
                serde_json::json!({
                    "title": "t", "count": 1, "ratio": 1, "flag": true,
                    "place": {"zip_code": -1}
                }),
                pairs(&[("place.zip_code", "type")]),
            ),
            (
                "not an object",
                serde_json::json!([1]),
                pairs(&[("__all__", "type")]),
            ),
        ];
        for (label, value, expected) in cases {
            assert_eq!(fields_and_codes(value, Extra::Refuse), expected, "{label}");
        }
        assert_eq!(
            fields_and_codes(
                serde_json::json!({
                    "title": "t", "count": 1, "ratio": 1, "flag": true,
                    "place": {"zip_code": 1}, "grant_type": "password"
                }),
                Extra::Ignore
            ),
            Vec::<(String, String)>::new(),
            "ignored extras"
        );
    }

    #[test]
    fn closed_sets_name_their_values() {
        let (_, errors) = collect::<Wide>(serde_json::json!({"kind": "huge"}), Extra::Refuse);
        let kind = errors
            .iter()
            .find(|e| e.field == "kind")
            .expect("kind reported");
        assert_eq!(kind.message, "must be one of: small, large");
    }

    #[test]
    fn parameters_are_typed_by_the_schema() {
        let value = parameters_value::<Wide>([
            ("count".to_owned(), "-5".to_owned()),
            ("ratio".to_owned(), "0.5".to_owned()),
            ("flag".to_owned(), "true".to_owned()),
            ("title".to_owned(), "12".to_owned()),
            ("kind".to_owned(), "ten".to_owned()),
            ("count".to_owned(), "7".to_owned()),
        ]);
        assert_eq!(
            value,
            serde_json::json!({
                "count": 7, "ratio": 0.5, "flag": true, "title": "12", "kind": "ten"
            })
        );
        let value = parameters_value::<Wide>([("count".to_owned(), "ten".to_owned())]);
        assert_eq!(value, serde_json::json!({"count": "ten"}));
    }

    #[derive(Debug, serde::Deserialize, paperclip::actix::Apiv2Schema)]
    struct Pair {
        a: String,
        b: String,
    }

    impl Validated for Pair {
        fn field_errors(&self) -> Vec<FieldError> {
            let mut errors = Vec::new();
            if self.a.is_empty() {
                errors.push(FieldError::new("a", "must not be empty", "too_short"));
            }
            if self.b.is_empty() {
                errors.push(FieldError::new("b", "must not be empty", "too_short"));
            }
            if self.a != self.b {
                errors.push(FieldError::new("__all__", "must be equal", "mismatch"));
            }
            errors
        }
    }

    #[test]
    fn rules_run_on_the_fields_that_parsed() {
        let errors = |value: Value| match all_errors(collect::<Pair>(value, Extra::Refuse)) {
            Err(ApiError::Validation(errors)) => errors
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect::<Vec<_>>(),
            other => panic!("expected a 422: {other:?}"),
        };
        // `b` is missing: its placeholder's rules and the body rule stay silent.
        assert_eq!(
            errors(serde_json::json!({"a": ""})),
            [
                ("a".to_owned(), "too_short".to_owned()),
                ("b".to_owned(), "missing".to_owned())
            ]
        );
        assert_eq!(
            errors(serde_json::json!({"a": "x", "b": "y"})),
            [("__all__".to_owned(), "mismatch".to_owned())]
        );
        assert!(
            all_errors(collect::<Pair>(
                serde_json::json!({"a": "x", "b": "x"}),
                Extra::Refuse
            ))
            .is_ok()
        );
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
