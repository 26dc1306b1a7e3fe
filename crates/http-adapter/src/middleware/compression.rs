//! The compression threshold: small bodies are marked so the compression middleware
//! leaves them alone, and the mark is removed before the response leaves.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};

/// Bodies smaller than this are sent uncompressed.
pub const COMPRESSION_THRESHOLD_BYTES: u64 = 1000;

/// Placed on small responses so the compression middleware leaves them alone; the
/// request-context middleware removes it (see [`unmark`]) before the response leaves.
pub const IDENTITY_MARKER: HeaderValue = HeaderValue::from_static("identity");

/// Marks a small, not yet encoded response as not to be compressed.
pub fn mark_small(response: &mut ServiceResponse<BoxBody>) {
    if let BodySize::Sized(size) = response.response().body().size()
        && size < COMPRESSION_THRESHOLD_BYTES
        && !response.headers().contains_key(header::CONTENT_ENCODING)
    {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, IDENTITY_MARKER);
    }
}

/// Removes the marker set by [`mark_small`].
pub fn unmark(headers: &mut HeaderMap) {
    if headers.get(header::CONTENT_ENCODING) == Some(&IDENTITY_MARKER) {
        headers.remove(header::CONTENT_ENCODING);
    }
}
