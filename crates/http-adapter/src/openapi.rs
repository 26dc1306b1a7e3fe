//! The OpenAPI 3 document: paperclip builds it from the routes, then a post-processing
//! step adds what paperclip loses on the way to v3 (field and parameter constraints, the
//! bearer security scheme, the error envelope and each operation's error responses).
//!
//! A leaf: it takes the registries the app assembles ([`crate::registry`]) and knows no
//! route module. Everything it adds comes from them (operation ids, tags, the error
//! statuses of the mapped use-case errors, the constraints from the domain constants),
//! and every name they give that the document does not have is reported in
//! [`Document::problems`].

use paperclip::actix::OpenApiExt;
use serde_json::{Map, Value, json};
use vidgen_application::idempotency::{IdempotencyKey, KEY_TTL_HOURS};
use vidgen_domain::listing::Page;

use crate::registry::{self, CallbackDoc, Constraint, ParamDoc, Registry, RouteEntry};

/// Facts about the service shown in the document's `info`.
#[derive(Debug, Clone)]
pub struct DocsInfo {
    pub version: String,
}

/// The built document, and what the registries named that it does not have (a field,
/// parameter or operation that does not exist) or the reverse (an operation without a
/// registry entry). `problems` is empty for a consistent build; a test holds it so.
#[derive(Debug, Clone)]
pub struct Document {
    pub spec: Value,
    pub problems: Vec<String>,
}

fn description() -> String {
    format!(
        "\
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
Collections take `skip`, `limit` ({}..={}), `sort_by` and `sort_order`, and answer with
`X-Total-Count`, `X-Page-Count` and an RFC 8288 `Link` header.",
        Page::MIN_LIMIT,
        Page::MAX_LIMIT
    )
}

/// Builds the complete OpenAPI 3 document of these registries.
pub fn document(info: &DocsInfo, registries: &[Registry]) -> Document {
    let mut captured = Value::Null;
    let _app = actix_web::App::new()
        .wrap_api()
        .configure(|cfg| registry::configure(cfg, registries))
        .with_raw_json_spec_v3(|app, spec| {
            captured = spec;
            app
        });
    post_process(captured, info, registries)
}

/// Adds to paperclip's document everything it cannot express.
pub fn post_process(mut spec: Value, info: &DocsInfo, registries: &[Registry]) -> Document {
    let mut problems = Vec::new();
    spec["openapi"] = json!("3.0.3");
    spec["info"] = json!({
        "title": "vidgen API",
        "description": description(),
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
        registries
            .iter()
            .map(|r| json!({"name": r.tag, "description": r.tag_description}))
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
    let mut hoisted: Vec<(&'static str, Value)> = Vec::new();
    for component in registries.iter().flat_map(|r| &r.components) {
        for (schema, field) in component.at {
            let Some(property) = schemas
                .get_mut(*schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(*field))
            else {
                problems.push(format!(
                    "a ComponentDoc names {schema}.{field}, which the document does not have"
                ));
                continue;
            };
            let mut inline = property.take();
            // `type` beside the reference: a nullable schema must name its type (OpenAPI
            // 3.0; redocly's nullable-type-sibling).
            let mut reference = json!({
                "type": "object",
                "allOf": [{"$ref": format!("#/components/schemas/{}", component.name)}],
            });
            if let Some(object) = inline.as_object_mut() {
                if let Some(description) = object.remove("description") {
                    reference["description"] = description;
                }
                object.remove("nullable");
                object.insert("description".into(), json!(component.description));
            }
            *property = reference;
            if !hoisted.iter().any(|(name, _)| *name == component.name) {
                hoisted.push((component.name, inline));
            }
        }
    }
    for (name, schema) in hoisted {
        // A component the document already has (from another route) is the reference.
        if !schemas.contains_key(name) {
            schemas.insert(name.to_owned(), schema);
        }
    }
    for field in registries.iter().flat_map(|r| &r.fields) {
        match schemas
            .get_mut(field.schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(field.field))
        {
            Some(property) => apply_constraints(property, field.constraints),
            None => problems.push(format!(
                "a FieldDoc names {}.{}, which the document does not have",
                field.schema, field.field
            )),
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

    spec["servers"] =
        json!([{"url": "/", "description": "The service that serves this document."}]);

    let mut documented: Vec<(String, String)> = Vec::new();
    let mut callbacks: Vec<CallbackDoc> = Vec::new();
    let mut params_used: Vec<(usize, &'static str)> = Vec::new();
    if let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if !is_method(method) {
                    continue;
                }
                documented.push((method.clone(), path.clone()));
                let found = registries.iter().enumerate().find_map(|(index, r)| {
                    r.routes
                        .iter()
                        .find(|e| e.path == path && e.method_name() == *method)
                        .map(|entry| (index, r, entry))
                });
                let Some((index, owner, entry)) = found else {
                    problems.push(format!(
                        "{method} {path} is in the document but in no registry"
                    ));
                    continue;
                };
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
                if let Some(callback) = entry.callback {
                    callbacks.push(callback);
                    operation["callbacks"] = callback_document(&callback);
                }
                operation["operationId"] = json!(entry.operation_id);
                operation["tags"] = json!([owner.tag]);
                for name in document_operation(operation, entry, &owner.params) {
                    params_used.push((index, name));
                }
            }
        }
    }
    let schemas = object_at_map(object_at(&mut spec, "components"), "schemas");
    for callback in callbacks {
        let schema = (callback.schema)()
            .to_string()
            .replace("#/definitions/", "#/components/schemas/");
        if let Ok(schema) = serde_json::from_str(&schema) {
            schemas.insert(callback.schema_name.into(), schema);
        }
    }
    let used = error_statuses_used(&spec);
    let responses = object_at_map(object_at(&mut spec, "components"), "responses");
    responses.clear();
    for status in used {
        responses.insert(response_name(status), error_response(status));
    }
    add_links(&mut spec);
    let mut ids: Vec<&str> = Vec::new();
    for (index, registry) in registries.iter().enumerate() {
        for entry in &registry.routes {
            let method = entry.method_name();
            if !documented
                .iter()
                .any(|(m, p)| *m == method && p == entry.path)
            {
                problems.push(format!(
                    "{method} {} ({}) is registered but not in the document",
                    entry.path, entry.operation_id
                ));
            }
            if ids.contains(&entry.operation_id) {
                problems.push(format!("operation id {} is used twice", entry.operation_id));
            }
            ids.push(entry.operation_id);
        }
        for param in &registry.params {
            if !params_used.contains(&(index, param.name)) {
                problems.push(format!(
                    "a ParamDoc of {} names parameter {}, which none of its operations has",
                    registry.tag, param.name
                ));
            }
        }
    }
    Document { spec, problems }
}

/// Completes one operation from its registry entry; answers the names of the
/// parameters that a [`ParamDoc`] applied to.
fn document_operation(
    operation: &mut Value,
    entry: &RouteEntry,
    params: &[ParamDoc],
) -> Vec<&'static str> {
    let mut applied = Vec::new();
    let has_params = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    if let Some(schema) = entry.multipart {
        let schema = schema();
        let encoding = schema
            .get("x-encoding")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let mut schema = schema;
        if let Some(object) = schema.as_object_mut() {
            object.remove("x-encoding");
        }
        operation["requestBody"] = json!({
            "required": true,
            "content": {"multipart/form-data": {"schema": schema, "encoding": encoding}},
        });
    }
    let has_body = operation.get("requestBody").is_some();
    let secured = entry.secured
        || operation
            .get("security")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
    if entry.form_body
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
                    applied.push(param.name);
                }
            }
        }
    }

    if entry.idempotency_key {
        let parameters = operation
            .as_object_mut()
            .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = parameters {
            list.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": format!("Makes retries safe: the same key and request within {KEY_TTL_HOURS} hours replays the first answer."),
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IdempotencyKey::MAX_LEN,
                    "pattern": IdempotencyKey::PATTERN,
                }
            }));
        }
    }
    if entry.signed_link {
        let parameters = operation
            .as_object_mut()
            .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(list)) = parameters {
            list.push(json!({
                "name": crate::media_links::EXPIRES,
                "in": "query",
                "required": false,
                "description": "With `signature`, opens the file without a bearer token: the expiry (Unix seconds) of a signed link from `content_url` / `thumbnail_url`. A forged, altered or expired link is 404.",
                "schema": {"type": "integer", "format": "int64"},
            }));
            list.push(json!({
                "name": crate::media_links::SIGNATURE,
                "in": "query",
                "required": false,
                "description": "With `expires`: the signature of a signed link (URL-safe base64).",
                "schema": {"type": "string"},
            }));
        }
    }
    let mut statuses: Vec<u16> = vec![400, 500];
    let rate_limited = entry.path.starts_with("/api/");
    if rate_limited {
        statuses.push(429);
    }
    if secured {
        statuses.push(401);
    }
    if has_params || has_body {
        statuses.push(422);
    }
    if has_body {
        statuses.extend([413, 415]);
    }
    if entry
        .binary
        .is_some_and(|media_type| media_type.starts_with("video/"))
    {
        // Ranged file answers refuse a range they cannot satisfy.
        statuses.push(416);
    }
    statuses.extend(&entry.errors);
    if entry.errors.contains(&500) {
        // Whatever can fail unexpectedly in storage answers 503 while the database is
        // unreachable (`ApiError` recognises the outage in the cause chain).
        statuses.push(503);
    }
    statuses.sort_unstable();
    statuses.dedup();

    let responses = object_at(operation, "responses");
    for response in responses.values_mut() {
        fix_response_headers(response);
        if rate_limited && response.get("$ref").is_none() {
            add_rate_limit_headers(response);
        }
    }
    if let Some(media_types) = entry.binary {
        // One content entry per media type (`image/png, image/jpeg`).
        let file: Map<String, Value> = media_types
            .split(',')
            .map(|media_type| {
                (
                    media_type.trim().to_owned(),
                    json!({"schema": {"type": "string", "format": "binary"}}),
                )
            })
            .collect();
        let file = Value::Object(file);
        let media_type = media_types;
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
    if let Some((media_type, description)) = entry.text {
        let schema = if media_type == "text/event-stream" {
            // One Server-Sent Event: its fields as the stream sends them.
            json!({
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "id": {"type": "string", "description": "The state the event shows."},
                    "event": {"type": "string", "enum": ["status"]},
                    "data": {"type": "string", "description": "The VideoResponse, as one line of JSON."},
                },
            })
        } else {
            json!({"type": "string"})
        };
        responses.insert(
            "200".into(),
            json!({
                "description": description,
                "content": {(media_type): {"schema": schema}},
            }),
        );
    }
    for status in statuses {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", response_name(status))}),
        );
    }
    if secured && entry.signed_link {
        // The bearer token, or nothing but the link's own query parameters.
        operation["security"] = json!([{"bearerAuth": []}, {"oauth2Password": []}, {}]);
    } else if secured {
        operation["security"] = json!([{"bearerAuth": []}, {"oauth2Password": []}]);
    } else {
        // Public: an empty requirement says so (linters read a missing one as forgotten).
        operation["security"] = json!([]);
    }
    applied
}

/// The error statuses whose shared response some operation refers to, in order.
/// The `callbacks` object of an operation with `callback`.
fn callback_document(callback: &CallbackDoc) -> Value {
    let headers: Vec<Value> = callback
        .headers
        .iter()
        .map(|(name, description)| {
            json!({"name": name, "in": "header", "required": true, "description": description, "schema": {"type": "string"}})
        })
        .collect();
    json!({
        callback.name: {
            callback.url: {
                "post": {
                    "summary": callback.summary,
                    "description": callback.description,
                    "parameters": headers,
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", callback.schema_name)}}},
                    },
                    // The message is authenticated by its signature, not by a credential.
                    "security": [],
                    "responses": {
                        "2XX": {"description": "Received: the delivery ends."},
                        "4XX": {"description": "Refused: the delivery is tried again later."},
                        "default": {"description": "Any other answer (or none within 10 s): the delivery is tried again later."},
                    },
                }
            }
        }
    })
}

fn error_statuses_used(spec: &Value) -> Vec<u16> {
    let mut used: Vec<u16> = spec
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.iter().filter(|(m, _)| is_method(m)).map(|(_, op)| op))
        .filter_map(|op| op.get("responses").and_then(Value::as_object))
        .flat_map(|responses| responses.iter())
        .filter(|(_, response)| response.get("$ref").is_some())
        .filter_map(|(status, _)| status.parse::<u16>().ok())
        .collect();
    used.sort_unstable();
    used.dedup();
    used
}

/// The path templates' parameter names, in order (`/a/{x}/b/{y}` gives `x`, `y`).
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// Name of a link to an operation: its id in upper camel case (`get_user` → `GetUser`).
fn link_name(operation_id: &str) -> String {
    operation_id
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// OpenAPI `links` from each create operation (a `POST` to a collection whose success
/// body has an `id`) to every operation on one item of that collection
/// (`{collection}/{item_id}` and the paths below it that take no other parameter): the
/// new resource's `id` fills the item parameter, so clients and stateful fuzzers can
/// chain a creation with its reads, changes and deletion.
fn add_links(spec: &mut Value) {
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return;
    };
    let schemas = spec["components"]["schemas"].clone();
    let mut plans: Vec<(String, String, Map<String, Value>)> = Vec::new();
    for (collection, item) in paths {
        let Some(create) = item.get("post") else {
            continue;
        };
        if !path_parameters(collection).is_empty() {
            continue;
        }
        let Some((status, response)) = create
            .get("responses")
            .and_then(Value::as_object)
            .and_then(|r| r.iter().find(|(status, _)| status.starts_with('2')))
        else {
            continue;
        };
        let schema_name = response["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"));
        let has_id = schema_name.is_some_and(|name| schemas[name]["properties"]["id"].is_object());
        if !has_id {
            continue;
        }
        let mut links = Map::new();
        for (target_path, target_item) in paths {
            let Some(rest) = target_path
                .strip_prefix(collection.as_str())
                .and_then(|r| r.strip_prefix("/{"))
            else {
                continue;
            };
            let params = path_parameters(target_path);
            let [param] = params.as_slice() else {
                continue;
            };
            if !rest.starts_with(&format!("{param}}}")) {
                continue;
            }
            let Some(target_item) = target_item.as_object() else {
                continue;
            };
            for (method, target) in target_item.iter().filter(|(m, _)| is_method(m)) {
                let Some(target_id) = target.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                links.insert(
                    link_name(target_id),
                    json!({
                        "operationId": target_id,
                        "parameters": {(*param): "$response.body#/id"},
                        "description": format!(
                            "`{target_id}` ({}) on the created resource: its `id` is the `{param}`.",
                            method.to_ascii_uppercase()
                        ),
                    }),
                );
            }
        }
        if !links.is_empty() {
            plans.push((collection.clone(), status.clone(), links));
        }
    }
    for (collection, status, links) in plans {
        spec["paths"][&collection]["post"]["responses"][&status]["links"] = Value::Object(links);
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
        400 => {
            "Bad request: malformed JSON, a `Host` that is not allowed (`INVALID_HOST`), or an account token that is invalid, expired or used (`INVALID_TOKEN`)."
        }
        401 => "Missing, expired or invalid access token (`WWW-Authenticate: Bearer`).",
        403 => {
            "The caller's role does not allow this action (`FORBIDDEN`), or the caller's e-mail address is not verified yet (`EMAIL_NOT_VERIFIED`)."
        }
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
    let mut response = json!({
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": {"$ref": "#/components/schemas/ErrorResponse"}
            }
        }
    });
    if matches!(status, 429 | 503) {
        response["headers"] = json!({
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 0}
            }
        });
    }
    if status == 429 {
        add_rate_limit_headers(&mut response);
    }
    response
}

/// The budget figures every `/api/` answer carries.
const RATE_LIMIT_HEADERS: &[(&str, &str, &str)] = &[
    (
        "X-RateLimit-Limit",
        "integer",
        "Requests allowed per window.",
    ),
    (
        "X-RateLimit-Remaining",
        "integer",
        "Requests still allowed now.",
    ),
    (
        "X-RateLimit-Reset",
        "integer",
        "Seconds until the window frees a slot (at most).",
    ),
    (
        "RateLimit-Policy",
        "string",
        "IETF draft form of the policy: `<limit>;w=<window seconds>`.",
    ),
    (
        "RateLimit",
        "string",
        "IETF draft form of the figures: `limit=<n>, remaining=<n>, reset=<seconds>`.",
    ),
];

fn add_rate_limit_headers(response: &mut Value) {
    let Some(object) = response.as_object_mut() else {
        return;
    };
    let headers = object_at_map(object, "headers");
    for (name, type_, description) in RATE_LIMIT_HEADERS {
        let mut schema = json!({"type": type_});
        if *type_ == "integer" {
            schema["minimum"] = json!(0);
        }
        headers
            .entry(*name)
            .or_insert_with(|| json!({"description": description, "schema": schema}));
    }
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
                "description": "VALIDATION_ERROR, BAD_REQUEST (or INVALID_HOST, INVALID_TOKEN), UNAUTHORIZED, FORBIDDEN (or EMAIL_NOT_VERIFIED), NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT (or a more specific 409 code such as EMAIL_TAKEN, USERNAME_TAKEN, VIDEO_NOT_READY, EMAIL_ALREADY_VERIFIED), PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, INTERNAL_ERROR, SERVICE_UNAVAILABLE.",
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
            Constraint::MaxProperties(n) => {
                object.insert("maxProperties".into(), json!(n));
            }
            Constraint::AnyValues => {
                object.insert("additionalProperties".into(), json!({}));
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
                // OpenAPI 3.0: a nullable closed set must list `null` among its values.
                if let Some(Value::Array(values)) = object.get_mut("enum")
                    && !values.contains(&Value::Null)
                {
                    values.push(Value::Null);
                }
            }
            Constraint::DefaultInt(n) => {
                object.insert("default".into(), json!(n));
            }
            Constraint::DefaultText(text) => {
                object.insert("default".into(), json!(text));
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
    use actix_web::http::Method;
    use paperclip::actix::{api_v2_operation, web};

    use super::*;
    use crate::error::ApiError;
    use crate::error_map::MappedErrors;
    use crate::registry::FieldDoc;

    /// A use-case error of the test registry, mapped to 403.
    #[derive(Debug)]
    struct Forbidden;

    impl From<Forbidden> for ApiError {
        fn from(_: Forbidden) -> Self {
            ApiError::Forbidden("no".into())
        }
    }

    impl MappedErrors for Forbidden {
        const STATUSES: &'static [u16] = &[403];
    }

    #[api_v2_operation]
    async fn things() -> web::Json<u32> {
        web::Json(0)
    }

    fn things_registry() -> Registry {
        Registry::new("Things", "Things.").route(RouteEntry::public(
            Method::GET,
            "/things",
            "list_things",
            things,
        ))
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
        let registry = Registry::new("Things", "Things.")
            .route(
                RouteEntry::secured(Method::GET, "/things", "list_things", things)
                    .maps::<Forbidden>(),
            )
            .fields(&[FieldDoc {
                schema: "Thing",
                field: "name",
                constraints: &[
                    Constraint::MinLength(1),
                    Constraint::MaxLength(10),
                    Constraint::Pattern("^[a-z]+$"),
                ],
            }])
            .params(&[ParamDoc {
                name: "limit",
                constraints: &[Constraint::Minimum(1), Constraint::Maximum(1000)],
            }]);
        let built = post_process(
            spec,
            &DocsInfo {
                version: "0".into(),
            },
            &[registry],
        );
        assert_eq!(built.problems, Vec::<String>::new());
        let out = built.spec;
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

    #[test]
    fn creates_link_to_the_operations_on_their_item() {
        let ok = json!({"description": "ok"});
        let mut spec = json!({
            "components": {"schemas": {"Thing": {"properties": {"id": {"type": "integer"}}}}},
            "paths": {
                "/things": {"post": {"operationId": "create_thing", "responses": {
                    "201": {"description": "made", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "422": ok.clone()
                }}},
                "/things/{thing_id}": {
                    "get": {"operationId": "get_thing", "responses": {"200": ok.clone()}},
                    "delete": {"operationId": "delete_thing", "responses": {"204": ok.clone()}}
                },
                "/things/{thing_id}/parts": {"get": {"operationId": "list_parts", "responses": {"200": ok.clone()}}},
                "/things/{thing_id}/parts/{part_id}": {"get": {"operationId": "get_part", "responses": {"200": ok.clone()}}},
                "/things/by-name/{name}": {"get": {"operationId": "thing_by_name", "responses": {"200": ok}}}
            }
        });
        add_links(&mut spec);
        let links = spec["paths"]["/things"]["post"]["responses"]["201"]["links"]
            .as_object()
            .expect("links");
        let mut names: Vec<&str> = links.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, vec!["DeleteThing", "GetThing", "ListParts"]);
        assert_eq!(links["GetThing"]["operationId"], "get_thing");
        assert_eq!(
            links["DeleteThing"]["parameters"],
            json!({"thing_id": "$response.body#/id"})
        );
        assert!(
            spec["paths"]["/things"]["post"]["responses"]["422"]
                .get("links")
                .is_none()
        );
    }

    #[test]
    fn only_the_shared_error_responses_in_use_are_kept() {
        let spec = json!({
            "paths": {"/things": {"get": {
                "operationId": "list_things",
                "responses": {"200": {"description": "ok"}}
            }}}
        });
        let built = post_process(
            spec,
            &DocsInfo {
                version: "0".into(),
            },
            &[things_registry()],
        );
        let responses = built.spec["components"]["responses"]
            .as_object()
            .expect("responses");
        let mut names: Vec<&str> = responses.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, vec!["BadRequest", "InternalServerError"]);
        let op = &built.spec["paths"]["/things"]["get"];
        assert_eq!(op["security"], json!([]));
        assert_eq!(built.spec["servers"][0]["url"], "/");
    }

    #[test]
    fn unknown_names_and_unregistered_operations_are_reported() {
        let spec = json!({
            "components": {"schemas": {"Thing": {"properties": {"name": {"type": "string"}}}}},
            "paths": {
                "/things": {"get": {"operationId": "x", "responses": {}}},
                "/stray": {"post": {"operationId": "stray", "responses": {}}}
            }
        });
        let registry = things_registry()
            .route(RouteEntry::public(
                Method::DELETE,
                "/things",
                "delete_things",
                things,
            ))
            .fields(&[
                FieldDoc {
                    schema: "Thing",
                    field: "colour",
                    constraints: &[Constraint::Nullable],
                },
                FieldDoc {
                    schema: "Nothing",
                    field: "name",
                    constraints: &[Constraint::Nullable],
                },
            ])
            .params(&[ParamDoc {
                name: "page_size",
                constraints: &[Constraint::Minimum(1)],
            }]);
        let built = post_process(
            spec,
            &DocsInfo {
                version: "0".into(),
            },
            &[registry],
        );
        let problems = built.problems.join("\n");
        for expected in [
            "Thing.colour",
            "Nothing.name",
            "post /stray is in the document but in no registry",
            "delete /things (delete_things) is registered but not in the document",
            "parameter page_size",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} not in:\n{problems}"
            );
        }
        assert_eq!(built.problems.len(), 5, "{problems}");
        assert_eq!(
            built.spec["paths"]["/things"]["get"]["operationId"],
            "list_things"
        );
        assert_eq!(
            built.spec["paths"]["/things"]["get"]["tags"],
            json!(["Things"])
        );
    }
}
