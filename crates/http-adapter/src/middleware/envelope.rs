//! The envelope middleware: every error leaves as a problem document ([`super::problem`]),
//! cacheable answers get an `ETag` ([`super::etag`]), security headers are set
//! ([`super::security_headers`]) and small bodies are kept out of compression
//! ([`super::compression`]).

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

pub use super::problem::not_found;
use super::{compression, etag::Conditional, problem, security_headers};

/// See the module docs.
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let docs = security_headers::is_docs_path(super::routed_path(&req));
    let conditional = Conditional::of(&req);
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(conditional) = conditional {
        response = conditional.apply(response);
    }
    if response.status().as_u16() >= 400 {
        response = problem::finalize_error(response);
    }
    security_headers::apply(response.headers_mut(), docs);
    compression::mark_small(&mut response);
    Ok(response)
}
