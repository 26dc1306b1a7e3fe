//! Resource-level middleware that turns a panicking handler into an opaque 500.

use std::panic::AssertUnwindSafe;

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::error::Problem;

/// Wraps every resource (see [`crate::registry::resource`]): a panicking handler
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
