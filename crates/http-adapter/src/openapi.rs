//! The OpenAPI 3 document: paperclip builds it from the routes, then a post-processing
//! step adds what paperclip loses on the way to v3 (field and parameter constraints, the
//! bearer security scheme, the error envelope and each operation's error responses).
//!
//! The facts added here come from the same constants the validators use: route modules
//! list their operations ([`OperationDoc`]) and DTO modules their constraints
//! ([`FieldDoc`]), so later capabilities only register their types.

use paperclip::actix::{OpenApiExt, web};
use serde_json::{Map, Value, json};

use crate::routes;

/// What the document must say about one operation beyond what paperclip records.
#[derive(Debug, Clone, Copy)]
pub struct OperationDoc {
    pub operation_id: &'static str,
    /// Requires `Authorization: Bearer <token>`.
    pub secured: bool,
    /// Error statuses this operation can answer with, besides the ones every operation
    /// can give (400 for an untrusted host, 500) and the ones implied by its shape
    /// (401 when secured; 422 when it has parameters or a body; 413/415 with a body).
    pub errors: &'static [u16],
    /// The JSON body may also be sent as `application/x-www-form-urlencoded`.
    pub form_body: bool,
    /// The success answer is a file of this media type (with ranges when `video/*`).
    pub binary: Option<&'static str>,
    /// Takes an optional `Idempotency-Key` header.
    pub idempotency_key: bool,
}

impl OperationDoc {
    pub const fn public(operation_id: &'static str, errors: &'static [u16]) -> Self {
        Self {
            operation_id,
            secured: false,
            errors,
            form_body: false,
            binary: None,
            idempotency_key: false,
        }
    }

    pub const fn secured(operation_id: &'static str, errors: &'static [u16]) -> Self {
        Self {
            operation_id,
            secured: true,
            errors,
            form_body: false,
            binary: None,
            idempotency_key: false,
        }
    }

    pub const fn with_idempotency_key(self) -> Self {
        Self {
            idempotency_key: true,
            ..self
        }
    }

    pub const fn with_binary(self, media_type: &'static str) -> Self {
        Self {
            binary: Some(media_type),
            ..self
        }
    }

    pub const fn with_form_body(self) -> Self {
        Self {
            form_body: true,
            ..self
        }
    }
}

/// A JSON-schema keyword to add to a field or parameter.
#[derive(Debug, Clone, Copy)]
pub enum Constraint {
    MinLength(u64),
    MaxLength(u64),
    Pattern(&'static str),
    Minimum(i64),
    Maximum(i64),
    Format(&'static str),
    Nullable,
    Default(&'static str),
    /// An example, written as JSON.
    Example(&'static str),
}

/// Constraints of one field of a component schema.
#[derive(Debug, Clone, Copy)]
pub struct FieldDoc {
    pub schema: &'static str,
    pub field: &'static str,
    pub constraints: &'static [Constraint],
}

/// Constraints of every parameter with this name (query or path), on every operation.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    pub constraints: &'static [Constraint],
}

/// Facts about the service shown in the document's `info`.
#[derive(Debug, Clone)]
pub struct DocsInfo {
    pub version: String,
}

/// Tags, in the order the UIs show them.
const TAGS: &[(&str, &str)] = &[
    (
        "Authentication",
        "Log in (JSON or OAuth2 password form), rotate refresh tokens, log out.",
    ),
    (
        "Users",
        "Registration, the current user, user management by role.",
    ),
    (
        "Videos",
        "Videos generated from prompts by durable background jobs, their files and retries.",
    ),
    (
        "Operations",
        "Liveness and readiness probes for load balancers and orchestrators.",
    ),
];

const DESCRIPTION: &str = "\
REST API of **vidgen**, an AI video-generation service.

## Features
- Users with roles (`user`, `moderator`, `admin`) and JWT authentication with rotating refresh tokens.
- Videos generated from text prompts by durable background jobs, uploads of existing videos.
- Webhooks, analytics, pagination, filtering and sorting on every collection.

## Authentication
Obtain a token pair from `POST /api/v1/users/login` (JSON or the OAuth2 password form) and send
`Authorization: Bearer <access_token>`. Refresh with `POST /api/v1/users/token/refresh`.

## Errors
Every 4xx and 5xx answer is an RFC 9457 problem document (`application/problem+json`) that also
carries the envelope members `success`, `message`, `error_code`, `error_details`, `timestamp` and
`request_id`. Malformed JSON is a 400; well-formed input that breaks a rule is a 422 listing each
failing field. Every response carries `X-Request-ID`.

## Lists
Collections take `skip`, `limit` (1..=1000), `sort_by` and `sort_order`, and answer with
`X-Total-Count`, `X-Page-Count` and an RFC 8288 `Link` header.";

fn operation_docs() -> Vec<OperationDoc> {
    [
        routes::health::OPERATIONS,
        routes::auth::OPERATIONS,
        routes::users::OPERATIONS,
        routes::videos::OPERATIONS,
    ]
    .concat()
}

fn field_docs() -> Vec<FieldDoc> {
    [
        routes::users::dto::FIELD_DOCS,
        routes::videos::dto::FIELD_DOCS,
    ]
    .concat()
}

fn param_docs() -> Vec<ParamDoc> {
    use vidgen_domain::listing::Page;
    const SKIP: &[Constraint] = &[Constraint::Minimum(0), Constraint::Default("0")];
    const LIMIT: &[Constraint] = &[
        Constraint::Minimum(Page::MIN_LIMIT as i64),
        Constraint::Maximum(Page::MAX_LIMIT as i64),
        Constraint::Default("100"),
    ];
    const SEARCH: &[Constraint] = &[Constraint::MinLength(1), Constraint::MaxLength(200)];
    const ID: &[Constraint] = &[Constraint::Minimum(1), Constraint::Format("int64")];
    vec![
        ParamDoc {
            name: "skip",
            constraints: SKIP,
        },
        ParamDoc {
            name: "limit",
            constraints: LIMIT,
        },
        ParamDoc {
            name: "search",
            constraints: SEARCH,
        },
        ParamDoc {
            name: "user_id",
            constraints: ID,
        },
        ParamDoc {
            name: "video_id",
            constraints: ID,
        },
    ]
}

/// Registers every documented API route (the ones under paperclip's watch). Literal
/// paths come before the `{user_id}` templates that would otherwise swallow them.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    routes::health::configure(cfg);
    routes::auth::configure(cfg);
    routes::videos::configure(cfg);
    routes::users::configure(cfg);
}

/// Builds the complete OpenAPI 3 document.
pub fn document(info: &DocsInfo) -> Value {
    let mut captured = Value::Null;
    let _app = actix_web::App::new()
        .wrap_api()
        .configure(configure_api)
        .with_raw_json_spec_v3(|app, spec| {
            captured = spec;
            app
        });
    post_process(
        captured,
        info,
        &operation_docs(),
        &field_docs(),
        &param_docs(),
    )
}

/// Adds to paperclip's document everything it cannot express.
pub fn post_process(
    mut spec: Value,
    info: &DocsInfo,
    operations: &[OperationDoc],
    fields: &[FieldDoc],
    params: &[ParamDoc],
) -> Value {
    spec["openapi"] = json!("3.0.3");
    spec["info"] = json!({
        "title": "vidgen API",
        "description": DESCRIPTION,
        "version": info.version,
        "contact": {"name": "vidgen developers", "email": "dev@vidgen.invalid"},
        "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
    });
    // `license.identifier` is OpenAPI 3.1 only; 3.0 documents name the license.
    if let Some(license) = spec["info"]["license"].as_object_mut() {
        license.remove("identifier");
        license.insert("url".into(), json!("https://spdx.org/licenses/MIT.html"));
    }
    spec["tags"] = Value::Array(
        TAGS.iter()
            .map(|(name, description)| json!({"name": name, "description": description}))
            .collect(),
    );

    let components = object_at(&mut spec, "components");
    let schemas = object_at_map(components, "schemas");
    schemas.insert("FieldError".into(), field_error_schema());
    schemas.insert("ErrorResponse".into(), error_response_schema());
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("Response") || name == "ErrorResponse" {
            continue;
        }
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for (property_name, property) in properties.iter_mut() {
                if !required.contains(property_name) {
                    apply_constraints(property, &[Constraint::Nullable]);
                }
            }
        }
    }
    for field in fields {
        if let Some(property) = schemas
            .get_mut(field.schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field.field))
        {
            apply_constraints(property, field.constraints);
        }
    }
    let security_schemes = object_at_map(components, "securitySchemes");
    security_schemes.clear();
    security_schemes.insert(
        "bearerAuth".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Access token from `POST /api/v1/users/login`.",
        }),
    );
    security_schemes.insert(
        "oauth2Password".into(),
        json!({
            "type": "oauth2",
            "description": "The same login through the OAuth2 password flow (Swagger UI's Authorize button).",
            "flows": {"password": {"tokenUrl": "/api/v1/users/login", "scopes": {}}},
        }),
    );

    let responses = object_at_map(components, "responses");
    for status in [
        400u16, 401, 403, 404, 405, 409, 413, 415, 416, 422, 429, 500, 503,
    ] {
        responses.insert(response_name(status), error_response(status));
    }

    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return spec;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !is_method(method) {
                continue;
            }
            if method == "get"
                && path.starts_with("/api/")
                && let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
            {
                responses.insert(
                    "304".into(),
                    json!({"description": "Not modified: `If-None-Match` matched the current `ETag`."}),
                );
            }
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let doc = operations.iter().find(|d| d.operation_id == id);
            document_operation(operation, doc, params);
        }
    }
    spec
}

fn document_operation(operation: &mut Value, doc: Option<&OperationDoc>, params: &[ParamDoc]) {
    let has_params = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let has_body = operation.get("requestBody").is_some();
    let secured = doc.is_some_and(|d| d.secured)
        || operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
    if doc.is_some_and(|d| d.form_body)
        && let Some(content) = operation
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(Value::as_object_mut)
        && let Some(json_body) = content.get("application/json").cloned()
    {
        content.insert("application/x-www-form-urlencoded".into(), json_body);
    }

    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters {
            let name = parameter
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            for param in params.iter().filter(|p| p.name == name) {
                if let Some(schema) = parameter.get_mut("schema") {
                    apply_constraints(schema, param.constraints);
                }
            }
        }
    }

    if doc.is_some_and(|d| d.idempotency_key) {
        let parameters = operation
            .as_object_mut()
            .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = parameters {
            list.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Makes retries safe: the same key and request within 24 hours replays the first answer.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9_:.-]+$"}
            }));
        }
    }
    let mut statuses: Vec<u16> = vec![400, 500];
    if secured {
        statuses.push(401);
    }
    if has_params || has_body {
        statuses.push(422);
    }
    if has_body {
        statuses.extend([413, 415]);
    }
    if let Some(doc) = doc {
        statuses.extend(doc.errors);
    }
    statuses.sort_unstable();
    statuses.dedup();

    let responses = object_at(operation, "responses");
    for response in responses.values_mut() {
        fix_response_headers(response);
    }
    if let Some(media_type) = doc.and_then(|d| d.binary) {
        let file = json!({(media_type): {"schema": {"type": "string", "format": "binary"}}});
        responses.insert(
            "200".into(),
            json!({"description": "The file.", "content": file.clone()}),
        );
        if media_type.starts_with("video/") {
            responses.insert(
                "206".into(),
                json!({
                    "description": "The requested byte range (`Content-Range` says which).",
                    "content": file,
                }),
            );
        }
    }
    for status in statuses {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", response_name(status))}),
        );
    }
    if secured {
        operation["security"] = json!([{"bearerAuth": []}, {"oauth2Password": []}]);
    } else if let Some(object) = operation.as_object_mut() {
        object.remove("security");
    }
}

/// paperclip's v2 → v3 conversion drops the type of response headers, leaving an empty
/// `content`; v3 wants a `schema`.
fn fix_response_headers(response: &mut Value) {
    let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, header) in headers.iter_mut() {
        let Some(header) = header.as_object_mut() else {
            continue;
        };
        header.remove("content");
        header.remove("style");
        let type_ = if name.starts_with("X-") && name.ends_with("Count") {
            "integer"
        } else {
            "string"
        };
        header
            .entry("schema")
            .or_insert_with(|| json!({"type": type_}));
    }
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

fn response_name(status: u16) -> String {
    let reason = actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    reason
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<String>()
}

fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "Bad request: malformed JSON, or a `Host` that is not allowed (`INVALID_HOST`).",
        401 => "Missing, expired or invalid access token (`WWW-Authenticate: Bearer`).",
        403 => "The caller's role does not allow this action.",
        404 => "No such resource, or one the caller may not see.",
        405 => "Method not allowed on this path.",
        409 => "Conflict with the current state of the resource.",
        413 => "Request body too large.",
        415 => "Unsupported media type.",
        416 => "Range not satisfiable.",
        422 => "Validation error: `error_details` lists each failing field.",
        429 => "Too many requests: retry after `Retry-After` seconds.",
        500 => "Unexpected error; details are logged under the `request_id`.",
        503 => {
            "Temporarily unavailable (password hashing saturated, or a dependency such as the database down): retry after `Retry-After` seconds."
        }
        _ => "Error.",
    };
    json!({
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"}
            }
        }
    })
}

fn field_error_schema() -> Value {
    json!({
        "type": "object",
        "description": "One failing field of a request.",
        "required": ["field", "message", "code"],
        "properties": {
            "field": {"type": "string", "description": "Dotted path of the field, or `__all__` for rules on the whole body.", "example": "password"},
            "message": {"type": "string", "example": "must contain at least one uppercase letter"},
            "code": {"type": "string", "description": "Machine-readable rule name.", "example": "password_strength"}
        }
    })
}

fn error_response_schema() -> Value {
    json!({
        "type": "object",
        "description": "The error envelope: an RFC 9457 problem document with the envelope members of the API.",
        "required": ["type", "title", "status", "detail", "instance", "success", "message", "error_code", "timestamp", "request_id"],
        "properties": {
            "type": {"type": "string", "example": "about:blank"},
            "title": {"type": "string", "description": "The status phrase.", "example": "Unprocessable Entity"},
            "status": {"type": "integer", "format": "int32", "example": 422},
            "detail": {"type": "string", "description": "Same text as `message`.", "example": "Validation error"},
            "instance": {"type": "string", "description": "The request path.", "example": "/api/v1/users"},
            "success": {"type": "boolean", "enum": [false]},
            "message": {"type": "string", "example": "Validation error"},
            "error_code": {
                "type": "string",
                "description": "VALIDATION_ERROR, BAD_REQUEST, INVALID_HOST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT (or a more specific 409 code such as EMAIL_TAKEN), PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, INTERNAL_ERROR, SERVICE_UNAVAILABLE.",
                "example": "VALIDATION_ERROR"
            },
            "error_details": {
                "type": "array",
                "nullable": true,
                "items": {"$ref": "#/components/schemas/FieldError"}
            },
            "timestamp": {"type": "string", "format": "date-time", "example": "2026-01-01T00:00:00Z"},
            "request_id": {"type": "string", "example": "9f1c2b7e-3c1d-4d0e-9a57-0c8f7f3e2a10"}
        }
    })
}

fn apply_constraints(target: &mut Value, constraints: &[Constraint]) {
    let Some(object) = target.as_object_mut() else {
        return;
    };
    for constraint in constraints {
        match *constraint {
            Constraint::MinLength(n) => {
                object.insert("minLength".into(), json!(n));
            }
            Constraint::MaxLength(n) => {
                object.insert("maxLength".into(), json!(n));
            }
            Constraint::Pattern(p) => {
                object.insert("pattern".into(), json!(p));
            }
            Constraint::Minimum(n) => {
                object.insert("minimum".into(), json!(n));
            }
            Constraint::Maximum(n) => {
                object.insert("maximum".into(), json!(n));
            }
            Constraint::Format(f) => {
                object.insert("format".into(), json!(f));
            }
            Constraint::Nullable => {
                object.insert("nullable".into(), json!(true));
            }
            Constraint::Default(raw) => {
                if let Ok(value) = serde_json::from_str::<Value>(raw) {
                    object.insert("default".into(), value);
                }
            }
            Constraint::Example(raw) => {
                if let Ok(value) = serde_json::from_str::<Value>(raw) {
                    object.insert("example".into(), value);
                }
            }
        }
    }
}

/// The object at `key`, created (or replaced, if not an object) as needed.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    let Value::Object(map) = value else {
        unreachable!("made an object above")
    };
    object_at_map(map, key)
}

fn object_at_map<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(&DocsInfo {
            version: "1.2.3".into(),
        })
    }

    #[test]
    fn document_has_info_tags_and_bearer_scheme() {
        let spec = doc();
        assert_eq!(spec["openapi"], "3.0.3");
        assert_eq!(spec["info"]["title"], "vidgen API");
        assert_eq!(spec["info"]["version"], "1.2.3");
        assert!(spec["info"]["contact"]["email"].is_string());
        assert!(spec["info"]["license"]["name"].is_string());
        let tags: Vec<&str> = spec["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(
            tags,
            vec!["Authentication", "Users", "Videos", "Operations"]
        );
        assert_eq!(
            spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        assert!(
            spec["components"]["schemas"]["ErrorResponse"]["properties"]["request_id"].is_object()
        );
    }

    #[test]
    fn every_operation_is_registered_and_documents_its_errors() {
        let spec = doc();
        let known = operation_docs();
        let paths = spec["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/health"));
        assert!(paths.contains_key("/health/ready"));
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    known.iter().any(|d| d.operation_id == id),
                    "{method} {path} ({id}) has no OperationDoc"
                );
                assert!(
                    operation["summary"].is_string(),
                    "{method} {path} has no summary"
                );
                assert!(operation["tags"].is_array(), "{method} {path} has no tags");
                let responses = operation["responses"].as_object().expect("responses");
                assert!(responses.contains_key("500"), "{method} {path}");
            }
        }
        let ready = &spec["paths"]["/health/ready"]["get"]["responses"];
        assert_eq!(
            ready["503"]["$ref"],
            "#/components/responses/ServiceUnavailable"
        );
        assert!(spec["paths"]["/health"]["get"].get("security").is_none());
    }

    #[test]
    fn constraints_are_applied_to_fields_and_parameters() {
        let spec = json!({
            "components": {"schemas": {"Thing": {"properties": {"name": {"type": "string"}}}}},
            "paths": {"/things": {"get": {
                "operationId": "list_things",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok"}}
            }}}
        });
        let out = post_process(
            spec,
            &DocsInfo {
                version: "0".into(),
            },
            &[OperationDoc::secured("list_things", &[403])],
            &[FieldDoc {
                schema: "Thing",
                field: "name",
                constraints: &[
                    Constraint::MinLength(1),
                    Constraint::MaxLength(10),
                    Constraint::Pattern("^[a-z]+$"),
                ],
            }],
            &[ParamDoc {
                name: "limit",
                constraints: &[Constraint::Minimum(1), Constraint::Maximum(1000)],
            }],
        );
        let name = &out["components"]["schemas"]["Thing"]["properties"]["name"];
        assert_eq!(name["minLength"], 1);
        assert_eq!(name["maxLength"], 10);
        assert_eq!(name["pattern"], "^[a-z]+$");
        let op = &out["paths"]["/things"]["get"];
        assert_eq!(op["parameters"][0]["schema"]["maximum"], 1000);
        assert_eq!(op["security"][0]["bearerAuth"], json!([]));
        for status in ["400", "401", "403", "422", "500"] {
            assert!(op["responses"].get(status).is_some(), "missing {status}");
        }
        assert!(op["responses"].get("415").is_none());
    }
}
