//! The envelope middleware: every error leaves as a problem document, panics become an
//! opaque 500, security headers are set, and small bodies are kept out of compression.

use std::panic::AssertUnwindSafe;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_util::FutureExt;

use super::request_context::RequestId;
use crate::error::{PROBLEM_JSON, Problem};

/// Bodies smaller than this are sent uncompressed.
pub const COMPRESSION_THRESHOLD_BYTES: u64 = 1000;

/// Placed on small responses so the compression middleware leaves them alone; the
/// request-context middleware removes it before the response leaves.
pub const IDENTITY_MARKER: HeaderValue = HeaderValue::from_static("identity");

/// Paths whose pages run the documentation UIs and so need a looser CSP.
fn is_docs_path(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/") || path == "/redoc"
}

/// CSP for API responses: nothing may be loaded or framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// CSP for the documentation pages (Swagger UI is served from here; ReDoc's script may
/// come from its CDN).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.redoc.ly; \
style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src 'self' data: https://fonts.gstatic.com; \
img-src 'self' data: https:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'";

/// Whether the response already carries a problem document.
pub fn is_problem(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes())
}

/// Rewrites an error response into the envelope: the `Problem` a handler attached, or the
/// generic one for its status. Headers (such as `WWW-Authenticate`, `Allow`, CORS) stay.
pub fn finalize_error(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let (request, response) = response.into_parts();
    let problem = response
        .extensions()
        .get::<Problem>()
        .cloned()
        .unwrap_or_else(|| Problem::for_status(status));
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let body = problem.to_body(request.path(), &request_id).to_string();
    let (mut head, _old_body) = response.into_parts();
    head.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    head.headers_mut().remove(header::CONTENT_LENGTH);
    let response = head.set_body(BoxBody::new(body));
    ServiceResponse::new(request, response)
}

/// See the module docs.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let docs = is_docs_path(req.path());
    let conditional = Conditional::of(&req);
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(conditional) = conditional {
        response = conditional.apply(response);
    }

    if response.status().as_u16() >= 400 {
        response = finalize_error(response);
    }

    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
    );
    if let BodySize::Sized(size) = response.response().body().size()
        && size < COMPRESSION_THRESHOLD_BYTES
        && !response.headers().contains_key(header::CONTENT_ENCODING)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, IDENTITY_MARKER);
    }
    Ok(response)
}

/// What a cacheable `GET` under `/api/` asked for: strong `ETag`s, `304 Not Modified`
/// for a matching `If-None-Match`, and `Cache-Control: private, no-cache` when the
/// answer depends on the caller's credentials.
struct Conditional {
    if_none_match: Option<String>,
    authenticated: bool,
}

impl Conditional {
    fn of(req: &ServiceRequest) -> Option<Self> {
        let cacheable = matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        ) && req.path().starts_with("/api/");
        cacheable.then(|| Self {
            if_none_match: req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            authenticated: req.headers().contains_key(header::AUTHORIZATION),
        })
    }

    fn matches(&self, etag: &str) -> bool {
        self.if_none_match.as_deref().is_some_and(|tags| {
            tags.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag))
        })
    }

    fn apply(self, response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
        if response.status() != StatusCode::OK {
            return response;
        }
        let (request, response) = response.into_parts();
        let (mut head, body) = response.into_parts();
        let body = match body.try_into_bytes() {
            Ok(bytes) => {
                let etag = format!("\"{:016x}\"", crate::docs::fnv1a(&bytes));
                if let Ok(value) = HeaderValue::from_str(&etag) {
                    head.headers_mut().insert(header::ETAG, value);
                }
                if self.authenticated {
                    head.headers_mut().insert(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("private, no-cache"),
                    );
                }
                if self.matches(&etag) {
                    let mut not_modified = HttpResponse::NotModified().finish();
                    for name in [header::ETAG, header::CACHE_CONTROL] {
                        if let Some(value) = head.headers().get(&name).cloned() {
                            not_modified.headers_mut().insert(name, value);
                        }
                    }
                    return ServiceResponse::new(request, not_modified);
                }
                BoxBody::new(bytes)
            }
            Err(body) => body,
        };
        ServiceResponse::new(request, head.set_body(body))
    }
}

/// Resource-level middleware (see [`crate::routes::resource`]): a panicking handler
/// answers an opaque 500 and the panic is logged in the request's span. It runs after
/// routing, the earliest point where actix lets a middleware keep a handle on the request.
pub async fn catch_panic(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let http_request = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(outcome) => outcome.map(ServiceResponse::map_into_boxed_body),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            tracing::error!(panic = %message, "handler panicked");
            let response = Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).to_response();
            Ok(ServiceResponse::new(http_request, response))
        }
    }
}

/// The answer for a route that does not exist.
pub async fn not_found() -> HttpResponse {
    Problem::for_status(StatusCode::NOT_FOUND).to_response()
}
