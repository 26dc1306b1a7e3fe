//! Request identity and the request span: `X-Request-ID` and one log line per request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;
use tracing::field::Empty;

pub use super::request_id::{MAX_REQUEST_ID_LEN, RequestId, X_REQUEST_ID, is_sane_request_id};
use super::{compression, problem};

/// Outermost middleware: assigns the request id, opens the request span (method, route
/// template, status, latency, request id, user id), logs the outcome and sets
/// `X-Request-ID` on the response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = RequestId::from_incoming(req.headers().get(&X_REQUEST_ID));
    req.extensions_mut().insert(request_id.clone());
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        route = Empty,
        status = Empty,
        latency_ms = Empty,
        request_id = %request_id.0,
        user_id = Empty,
    );
    let started = Instant::now();

    let outcome = next.call(req).instrument(span.clone()).await;
    let mut response = match outcome {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            span.in_scope(|| tracing::error!(error = %error, "request failed in middleware"));
            return Err(error);
        }
    };
    if response.status().as_u16() >= 400 && !problem::is_problem(&response) {
        response = problem::finalize_error(response);
    }

    let headers = response.headers_mut();
    compression::unmark(headers);
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }

    if span.is_disabled() {
        // Logging below info: no line to write, so no route to look up and copy.
        return Ok(response);
    }
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    span.record("route", route.as_str());
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, latency_ms, route, "request failed");
        } else {
            tracing::info!(status, latency_ms, route, "request completed");
        }
    });
    Ok(response)
}
