//! Error responses as problem documents: whatever answered with a 4xx or 5xx (a handler,
//! actix itself, a middleware), the client gets the envelope.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpResponse};

use super::request_id::RequestId;
use crate::error::{PROBLEM_JSON, Problem};

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

/// The answer for a route that does not exist.
pub async fn not_found() -> HttpResponse {
    Problem::for_status(StatusCode::NOT_FOUND).to_response()
}
