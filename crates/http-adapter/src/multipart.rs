//! What the `multipart/form-data` routes (video uploads, avatars) share: the checks made
//! before any of the body is read, and the answer to a malformed body.

use actix_multipart::{Multipart, MultipartError};
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::http::header;

use crate::error::ApiError;

/// Whether `req` says its body is `multipart/form-data` (parameters such as the boundary
/// aside, the type in any case).
fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The body of `req` as a form whose file may take `limit` bytes beside `overhead` bytes
/// of framing and other parts.
///
/// # Errors
/// 415 with `not_a_form` when the body is not `multipart/form-data`; `too_large(limit)`
/// when `Content-Length` already says the body cannot fit.
pub(crate) fn open(
    req: &HttpRequest,
    payload: &mut Payload,
    not_a_form: &str,
    (limit, overhead): (u64, u64),
    too_large: impl FnOnce(u64) -> ApiError,
) -> Result<Multipart, ApiError> {
    if !is_form(req) {
        return Err(ApiError::UnsupportedMediaType(not_a_form.into()));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(overhead)) {
        return Err(too_large(limit));
    }
    Ok(Multipart::new(req.headers(), payload.take()))
}

/// A malformed form (framing, a part without a name, an interrupted body) is a 400.
pub(crate) fn malformed(error: &MultipartError) -> ApiError {
    ApiError::BadRequest {
        code: "BAD_REQUEST",
        message: format!("Malformed multipart body: {error}"),
    }
}
