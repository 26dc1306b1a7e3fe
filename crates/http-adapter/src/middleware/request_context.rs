//! Request identity and the request span: `X-Request-ID` and one log line per request.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;
use tracing::field::Empty;

use super::envelope::{IDENTITY_MARKER, finalize_error};

/// The request id header, read from requests and set on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming request id that is echoed back.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request, stored in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The incoming id when it is a sane token, otherwise a new random one.
    pub fn from_incoming(incoming: Option<&HeaderValue>) -> Self {
        incoming
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_sane_request_id(id))
            .map(|id| Self(id.to_owned()))
            .unwrap_or_else(|| Self(uuid::Uuid::new_v4().to_string()))
    }
}

/// 1..=128 characters of letters, digits and `-_.:~+/=@`.
pub fn is_sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b':' | b'~' | b'+' | b'/' | b'=' | b'@'
                )
        })
}

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
    if response.status().as_u16() >= 400 && !super::envelope::is_problem(&response) {
        response = finalize_error(response);
    }

    let headers = response.headers_mut();
    if headers.get(header::CONTENT_ENCODING) == Some(&IDENTITY_MARKER) {
        headers.remove(header::CONTENT_ENCODING);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        headers.insert(X_REQUEST_ID.clone(), value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_echoed_and_others_replaced() {
        let long = "a".repeat(MAX_REQUEST_ID_LEN);
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        let cases = [
            ("abc-123", true),
            ("9f1c2e.trace:1", true),
            (long.as_str(), true),
            (too_long.as_str(), false),
            ("", false),
            ("has space", false),
            ("quote\"d", false),
            ("new\nline", false),
            ("é", false),
        ];
        for (id, echoed) in cases {
            assert_eq!(is_sane_request_id(id), echoed, "{id:?}");
        }
        let generated = RequestId::from_incoming(Some(&HeaderValue::from_static("bad id")));
        assert_ne!(generated.0, "bad id");
        assert!(uuid::Uuid::parse_str(&generated.0).is_ok());
        let kept = RequestId::from_incoming(Some(&HeaderValue::from_static("req-42")));
        assert_eq!(kept.0, "req-42");
        assert!(uuid::Uuid::parse_str(&RequestId::from_incoming(None).0).is_ok());
    }
}
