//! What the `multipart/form-data` routes (video uploads, avatars) share: the checks made
//! before any of the body is read, and [`Form`], the one reader of their bodies.
//!
//! A form is read under a budget of bytes counted as they arrive from the connection,
//! framing and every part included, chunked or not, so no sequence of parts (however
//! small or many) can make the service read or hold more than the budget. The reader
//! knows the parts its route expects and stops at the first other one, or at the second
//! of a name, with one error at once: nothing is drained and no list of errors grows
//! with the body.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::{ApiError, FieldError};

/// Whether `req` says its body is `multipart/form-data` (parameters such as the boundary
/// aside, the type in any case).
fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// A stream of body chunks that ends in [`PayloadError::Overflow`] once more than
/// `budget` bytes have arrived, and says so in `overflowed`.
struct Budgeted<S> {
    inner: S,
    left: u64,
    overflowed: Rc<Cell<bool>>,
}

impl<S> Stream for Budgeted<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.overflowed.get() {
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            let size = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            if size > self.left {
                self.overflowed.set(true);
                return Poll::Ready(Some(Err(PayloadError::Overflow)));
            }
            self.left -= size;
        }
        next
    }
}

/// A `multipart/form-data` body being read part by part (see the module docs).
pub(crate) struct Form {
    parts: Multipart,
    /// The names the route takes, each at most once.
    expected: &'static [&'static str],
    seen: Vec<&'static str>,
    overflowed: Rc<Cell<bool>>,
    /// The budget the route was given for its file, for the 413's message.
    limit: u64,
    too_large: fn(u64) -> ApiError,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("expected", &self.expected)
            .field("seen", &self.seen)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// What a route's form looks like: the names of its parts and its budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormShape {
    /// The answer to a body of another media type.
    pub not_a_form: &'static str,
    /// The names of the parts, each taken at most once.
    pub expected: &'static [&'static str],
    /// The largest file, and the bytes of framing and other parts allowed beside it.
    pub limit: u64,
    pub overhead: u64,
    /// The 413 of a body past `limit + overhead` (given `limit`).
    pub too_large: fn(u64) -> ApiError,
}

/// Opens the body of `req` as a form of `shape`.
///
/// # Errors
/// 415 with `not_a_form` when the body is not `multipart/form-data`; `too_large(limit)`
/// when `Content-Length` already says the body cannot fit.
pub(crate) fn open(
    req: &HttpRequest,
    payload: &mut Payload,
    shape: FormShape,
) -> Result<Form, ApiError> {
    if !is_form(req) {
        return Err(ApiError::UnsupportedMediaType(shape.not_a_form.into()));
    }
    let budget = shape.limit.saturating_add(shape.overhead);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > budget) {
        return Err((shape.too_large)(shape.limit));
    }
    let overflowed = Rc::new(Cell::new(false));
    let body = Budgeted {
        inner: payload.take(),
        left: budget,
        overflowed: Rc::clone(&overflowed),
    };
    Ok(Form {
        parts: Multipart::new(req.headers(), body),
        expected: shape.expected,
        seen: Vec::with_capacity(shape.expected.len()),
        overflowed,
        limit: shape.limit,
        too_large: shape.too_large,
    })
}

impl Form {
    /// The next part and its name (one of the expected), or `None` at the end of the
    /// body.
    ///
    /// # Errors
    /// 422 naming the part when it is not expected (`unknown_field`) or comes a second
    /// time (`duplicate`): the first such part ends the reading. 413 past the budget;
    /// 400 for a malformed body.
    pub(crate) async fn next_part(&mut self) -> Result<Option<(&'static str, Field)>, ApiError> {
        let Some(field) = self.parts.next().await else {
            return Ok(None);
        };
        let field = field.map_err(|e| self.failure(&e))?;
        let name = field.name().unwrap_or_default();
        let Some(known) = self.expected.iter().copied().find(|e| *e == name) else {
            return Err(ApiError::Validation(vec![FieldError::new(
                clipped(name),
                "unknown field",
                "unknown_field",
            )]));
        };
        if self.seen.contains(&known) {
            return Err(ApiError::Validation(vec![FieldError::new(
                known,
                "sent more than once",
                "duplicate",
            )]));
        }
        self.seen.push(known);
        Ok(Some((known, field)))
    }

    /// The next chunk of `field`, or `None` at its end.
    ///
    /// # Errors
    /// 413 past the form's budget; 400 for a malformed body.
    pub(crate) async fn chunk(&self, field: &mut Field) -> Result<Option<Bytes>, ApiError> {
        match field.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(error)) => Err(self.failure(&error)),
        }
    }

    /// Reads the whole of `field` into memory, at most `max` bytes.
    ///
    /// # Errors
    /// `over(max)` past `max`; otherwise as [`Self::chunk`].
    pub(crate) async fn read_all(
        &self,
        field: &mut Field,
        max: usize,
        over: impl FnOnce(usize) -> ApiError,
    ) -> Result<Vec<u8>, ApiError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.chunk(field).await? {
            if bytes.len() + chunk.len() > max {
                return Err(over(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    fn failure(&self, error: &MultipartError) -> ApiError {
        if self.overflowed.get() {
            (self.too_large)(self.limit)
        } else {
            malformed(error)
        }
    }
}

/// A part's name as an error may quote it: its first 64 characters.
fn clipped(name: &str) -> String {
    name.chars().take(64).collect()
}

/// A malformed form (framing, a part without a name, an interrupted body) is a 400.
fn malformed(error: &MultipartError) -> ApiError {
    ApiError::BadRequest {
        code: "BAD_REQUEST",
        message: format!("Malformed multipart body: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use futures_util::stream;

    use super::*;

    const SHAPE: FormShape = FormShape {
        not_a_form: "not a form",
        expected: &["file", "title"],
        limit: 1000,
        overhead: 200,
        too_large: |limit| ApiError::PayloadTooLarge(format!("over {limit}")),
    };

    /// A form of `body` in chunks of `chunk` bytes, with no `Content-Length` (chunked).
    fn form(body: Vec<u8>, chunk: usize) -> Form {
        let (req, _) = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ"))
            .to_http_parts();
        let chunks: Vec<Result<Bytes, PayloadError>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut payload = Payload::from(Box::pin(stream::iter(chunks))
            as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>);
        open(&req, &mut payload, SHAPE).expect("a form")
    }

    fn part(name: &str, value: &str) -> String {
        format!("--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    }

    async fn read(mut form: Form) -> Result<Vec<(&'static str, Vec<u8>)>, ApiError> {
        let mut parts = Vec::new();
        while let Some((name, mut field)) = form.next_part().await? {
            let bytes = form
                .read_all(&mut field, 10_000, |_| {
                    ApiError::PayloadTooLarge("part".into())
                })
                .await?;
            parts.push((name, bytes));
        }
        Ok(parts)
    }

    fn fields(error: &ApiError) -> Vec<(String, String)> {
        match error {
            ApiError::Validation(errors) => errors
                .iter()
                .map(|e| (e.field.clone(), e.code.clone()))
                .collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[actix_web::test]
    async fn the_expected_parts_are_read() {
        let body = format!("{}{}--XyZ--\r\n", part("title", "Hi"), part("file", "abc"));
        let parts = read(form(body.into_bytes(), 7)).await.expect("read");
        assert_eq!(
            parts,
            vec![("title", b"Hi".to_vec()), ("file", b"abc".to_vec())]
        );
    }

    #[actix_web::test]
    async fn the_first_unexpected_part_ends_the_reading_with_one_error() {
        // The audit's body: a flood of tiny unknown parts. One error, for the first.
        let mut body: String = (0..1000).map(|i| part(&format!("x{i}"), "")).collect();
        body.push_str("--XyZ--\r\n");
        let error = read(form(body.into_bytes(), 64))
            .await
            .expect_err("refused");
        assert_eq!(
            fields(&error),
            vec![("x0".to_owned(), "unknown_field".to_owned())]
        );

        let body = format!("{}{}--XyZ--\r\n", part("title", "a"), part("title", "b"));
        let error = read(form(body.into_bytes(), 64))
            .await
            .expect_err("refused");
        assert_eq!(
            fields(&error),
            vec![("title".to_owned(), "duplicate".to_owned())]
        );
    }

    #[actix_web::test]
    async fn every_byte_counts_against_the_budget_chunked_or_not() {
        // Framing only, no part the route would read, past limit + overhead.
        let mut body = String::from("--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n");
        body.push_str(&"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(30));
        body.push_str("\r\nHi\r\n--XyZ--\r\n");
        let error = read(form(body.into_bytes(), 50))
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, ApiError::PayloadTooLarge(message) if message == "over 1000"),
            "{error:?}"
        );
        // A file within the budget is fine; one past it is cut off with the route's 413.
        let body = format!("{}--XyZ--\r\n", part("file", &"a".repeat(900)));
        assert!(read(form(body.into_bytes(), 100)).await.is_ok());
        let body = format!("{}--XyZ--\r\n", part("file", &"a".repeat(1300)));
        let error = read(form(body.into_bytes(), 100))
            .await
            .expect_err("refused");
        assert!(matches!(error, ApiError::PayloadTooLarge(_)), "{error:?}");
    }

    #[actix_web::test]
    async fn another_media_type_and_a_declared_excess_are_refused_before_reading() {
        let (req, mut payload) = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .to_http_parts();
        let error = open(&req, &mut payload, SHAPE).expect_err("refused");
        assert!(
            matches!(error, ApiError::UnsupportedMediaType(_)),
            "{error:?}"
        );
        let (req, mut payload) = TestRequest::default()
            .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ"))
            .insert_header((header::CONTENT_LENGTH, "1201"))
            .to_http_parts();
        let error = open(&req, &mut payload, SHAPE).expect_err("refused");
        assert!(matches!(error, ApiError::PayloadTooLarge(_)), "{error:?}");
    }

    #[actix_web::test]
    async fn a_broken_body_is_a_bad_request() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nunterminated".to_vec();
        let error = read(form(body, 16)).await.expect_err("refused");
        assert!(matches!(error, ApiError::BadRequest { .. }), "{error:?}");
    }
}
