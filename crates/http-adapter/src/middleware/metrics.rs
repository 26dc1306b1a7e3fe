//! Request metrics: one count and one latency observation per request, labelled with the
//! method, the matched route template (never the raw path) and the final status.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use vidgen_application::metrics;

use crate::registry::RouteTemplate;

/// The `route` label of a request no route matched (so that probing random paths cannot
/// create new series), or one a middleware failed before routing.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `method` label: the standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Outermost middleware: times the request and records it once it is answered.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let disabled = req
        .app_data::<actix_web::web::Data<crate::metrics::MetricsAccess>>()
        .is_some_and(|access| access.disabled);
    if disabled {
        return next.call(req).await;
    }
    let method = method_label(req.method());
    let started = Instant::now();
    let outcome = next.call(req).await;
    let (status, route) = match &outcome {
        // Routing has run by now: a route of the table left its template in the request;
        // any other (the docs) is matched against the resource map.
        Ok(response) => {
            let request = response.request();
            let route = match request.app_data::<RouteTemplate>() {
                Some(template) => Some(Cow::Borrowed(template.0)),
                None => request.match_pattern().map(Cow::Owned),
            };
            (response.status(), route)
        }
        // A middleware failed before answering: the route is not known here.
        Err(error) => (error.as_response_error().status_code(), None),
    };
    let route = route.unwrap_or(Cow::Borrowed(UNMATCHED_ROUTE));
    metrics::http_request(method, route, status.as_u16(), started.elapsed());
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        let odd = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(method_label(&odd), "other");
    }
}
