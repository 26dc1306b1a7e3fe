//! A stored file as an HTTP response: conditional requests (`If-None-Match`,
//! `If-Modified-Since`, `If-Match`, `If-Unmodified-Since`), single byte ranges (`Range`,
//! `If-Range`), and the body streamed from the media store a buffer at a time, whichever
//! store holds the file.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::body::BoxBody;
use actix_web::http::header::{
    self, EntityTag, HttpDate, IfMatch, IfModifiedSince, IfNoneMatch, IfRange, IfUnmodifiedSince,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::{StreamExt, TryStreamExt};
use vidgen_application::videos::ports::MediaFile;

/// How much is read from the store per chunk of the body.
const CHUNK: usize = 64 * 1024;

fn seconds(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// `If-Match` and `If-Unmodified-Since` (RFC 9110 13.2.2): whether the request must be
/// refused with 412.
fn precondition_failed(request: &HttpRequest, etag: &EntityTag, modified: SystemTime) -> bool {
    if request.headers().contains_key(header::IF_MATCH) {
        return match header::Header::parse(request) {
            Ok(IfMatch::Any) => false,
            Ok(IfMatch::Items(tags)) => !tags.iter().any(|tag| tag.strong_eq(etag)),
            Err(_) => true,
        };
    }
    match header::Header::parse(request) {
        Ok(IfUnmodifiedSince(since)) => {
            matches!((seconds(modified), seconds(since.into())), (Some(m), Some(s)) if m > s)
        }
        Err(_) => false,
    }
}

/// `If-None-Match`, else `If-Modified-Since`: whether the client's copy is current.
fn not_modified(request: &HttpRequest, etag: &EntityTag, modified: SystemTime) -> bool {
    if request.headers().contains_key(header::IF_NONE_MATCH) {
        return match header::Header::parse(request) {
            Ok(IfNoneMatch::Any) => true,
            Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
            Err(_) => false,
        };
    }
    match header::Header::parse(request) {
        Ok(IfModifiedSince(since)) => {
            matches!((seconds(modified), seconds(since.into())), (Some(m), Some(s)) if m <= s)
        }
        Err(_) => false,
    }
}

/// `If-Range`: a range applies only to the representation the client names.
fn range_applies(request: &HttpRequest, etag: &EntityTag, modified: SystemTime) -> bool {
    if !request.headers().contains_key(header::IF_RANGE) {
        return true;
    }
    match header::Header::parse(request) {
        Ok(IfRange::EntityTag(tag)) => tag.strong_eq(etag),
        Ok(IfRange::Date(date)) => seconds(date.into()) == seconds(modified),
        Err(_) => false,
    }
}

/// The response to `request` for `file`.
pub(super) fn respond(file: MediaFile, request: &HttpRequest) -> HttpResponse<BoxBody> {
    let etag = EntityTag::new_strong(file.object.etag.clone());
    let modified: SystemTime = file.object.modified.into();
    let size = file.object.size;
    let mime = file
        .content_type
        .parse()
        .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
    let mut response = HttpResponse::Ok();
    response
        .insert_header(header::ContentType(mime))
        .insert_header(header::LastModified(HttpDate::from(modified)))
        .insert_header(header::ETag(etag.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // A user's file: browsers may keep it but must revalidate it, shared caches
        // must not keep it. Also on 206 and 304.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    let is_get_or_head = matches!(*request.method(), Method::GET | Method::HEAD);
    if precondition_failed(request, &etag, modified) {
        return response.status(StatusCode::PRECONDITION_FAILED).finish();
    }
    if not_modified(request, &etag, modified) {
        let status = if is_get_or_head {
            StatusCode::NOT_MODIFIED
        } else {
            StatusCode::PRECONDITION_FAILED
        };
        return response.status(status).finish();
    }
    let range = request
        .headers()
        .get(header::RANGE)
        .filter(|_| request.method() == Method::GET)
        .filter(|_| range_applies(request, &etag, modified))
        .and_then(|value| value.to_str().ok())
        // Unknown range units are ignored (RFC 9110 14.2).
        .filter(|value| {
            value
                .split_once('=')
                .is_none_or(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        });
    let (start, length) = match range {
        None => (0, size),
        Some(value) => match actix_files::HttpRange::parse(value, size)
            .ok()
            .and_then(|ranges| ranges.first().copied())
        {
            Some(range) => {
                response.status(StatusCode::PARTIAL_CONTENT).insert_header((
                    header::CONTENT_RANGE,
                    format!(
                        "bytes {}-{}/{size}",
                        range.start,
                        range.start + range.length.saturating_sub(1)
                    ),
                ));
                (range.start, range.length)
            }
            None => {
                return response
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .finish();
            }
        },
    };
    stream_body(response, file, start, length)
}

fn stream_body(
    mut response: HttpResponseBuilder,
    file: MediaFile,
    start: u64,
    length: u64,
) -> HttpResponse<BoxBody> {
    let body = futures_util::stream::once(async move { file.read(start, length).await })
        .map_err(std::io::Error::other)
        .map_ok(|reader| tokio_util::io::ReaderStream::with_capacity(reader, CHUNK))
        .try_flatten()
        .boxed();
    response.no_chunking(length).streaming(body)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use actix_web::body::MessageBody;
    use actix_web::test::TestRequest;
    use vidgen_application::videos::ports::{MediaObject, MediaReader, MockMediaStore};

    use super::*;

    const BYTES: &[u8] = b"0123456789abcdefghij";

    async fn file() -> MediaFile {
        let mut store = MockMediaStore::new();
        store.expect_open().returning(|_| {
            Ok(MediaObject {
                size: BYTES.len() as u64,
                modified: chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
                etag: "v1".into(),
            })
        });
        store.expect_read().returning(|_, start, length| {
            let start = usize::try_from(start).expect("start");
            let end = start + usize::try_from(length).expect("length");
            let reader: MediaReader = Box::pin(std::io::Cursor::new(BYTES[start..end].to_vec()));
            Ok(reader)
        });
        MediaFile::open(Arc::new(store), "k.mp4".into(), "video/mp4".into())
            .await
            .expect("open")
    }

    async fn answer(request: TestRequest) -> (u16, header::HeaderMap, Vec<u8>) {
        let response = respond(file().await, &request.to_http_request());
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .map_err(|_| "body")
            .expect("body");
        (status, headers, body.to_vec())
    }

    fn h<'a>(headers: &'a header::HeaderMap, name: &str) -> &'a str {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    #[actix_web::test]
    async fn the_whole_file_with_its_validators() {
        let (status, headers, body) = answer(TestRequest::get()).await;
        assert_eq!(status, 200);
        assert_eq!(body, BYTES);
        assert_eq!(h(&headers, "etag"), "\"v1\"");
        assert_eq!(h(&headers, "content-type"), "video/mp4");
        assert_eq!(h(&headers, "accept-ranges"), "bytes");
        assert_eq!(h(&headers, "cache-control"), "private, no-cache");
        assert_eq!(
            h(&headers, "last-modified"),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }

    #[actix_web::test]
    async fn ranges_are_served_partially_or_refused() {
        let cases: &[(&str, u16, &str, &[u8])] = &[
            ("bytes=0-3", 206, "bytes 0-3/20", b"0123"),
            ("bytes=18-", 206, "bytes 18-19/20", b"ij"),
            ("bytes=-2", 206, "bytes 18-19/20", b"ij"),
            ("bytes=10-100", 206, "bytes 10-19/20", b"abcdefghij"),
            ("bytes=20-", 416, "bytes */20", b""),
            ("bytes=x-y", 416, "bytes */20", b""),
        ];
        for (range, want, content_range, bytes) in cases {
            let (status, headers, body) =
                answer(TestRequest::get().insert_header(("Range", *range))).await;
            assert_eq!(status, *want, "{range}");
            assert_eq!(h(&headers, "content-range"), *content_range, "{range}");
            assert_eq!(body, *bytes, "{range}");
        }
        let (status, _, body) = answer(
            TestRequest::get()
                .insert_header(("Range", "bytes=0-3"))
                .insert_header(("If-Range", "\"v0\"")),
        )
        .await;
        assert_eq!((status, body.as_slice()), (200, BYTES), "a stale If-Range");
        let (status, _, body) =
            answer(TestRequest::get().insert_header(("Range", "items=0-3"))).await;
        assert_eq!((status, body.as_slice()), (200, BYTES), "an unknown unit");
    }

    #[actix_web::test]
    async fn conditional_requests_revalidate() {
        let cases: &[(&str, &str, u16)] = &[
            ("If-None-Match", "\"v1\"", 304),
            ("If-None-Match", "W/\"v1\"", 304),
            ("If-None-Match", "\"v0\"", 200),
            ("If-None-Match", "*", 304),
            ("If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT", 304),
            ("If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT", 200),
            ("If-Match", "\"v0\"", 412),
            ("If-Match", "\"v1\"", 200),
            ("If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:19 GMT", 412),
        ];
        for (name, value, want) in cases {
            let (status, headers, body) =
                answer(TestRequest::get().insert_header((*name, *value))).await;
            assert_eq!(status, *want, "{name}: {value}");
            if *want == 304 {
                assert!(body.is_empty(), "{name}: {value}");
                assert_eq!(h(&headers, "etag"), "\"v1\"", "{name}: {value}");
                assert_eq!(h(&headers, "cache-control"), "private, no-cache");
            }
        }
    }

    #[test]
    fn a_sized_body_is_not_chunked() {
        let response = HttpResponse::Ok()
            .no_chunking(3)
            .streaming(futures_util::stream::once(async {
                Ok::<_, std::io::Error>(actix_web::web::Bytes::from_static(b"abc"))
            }));
        assert_eq!(
            response.into_body().size(),
            actix_web::body::BodySize::Sized(3)
        );
    }
}
