//! `multipart/form-data` bodies (video uploads, avatars) as actix-multipart reads them:
//! arbitrary bytes under a fixed boundary, delivered in chunks whose size the first
//! byte picks, every field drained with its headers looked at.
#![no_main]

use std::sync::LazyLock;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use bytes::Bytes;
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;

/// The boundary every input is read with: seeds and mutations write it in the body.
const CONTENT_TYPE: &str = "multipart/form-data; boundary=vidgen-fuzz-boundary";

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("no tokio runtime for the multipart target")
});

fuzz_target!(|input: &[u8]| {
    let Some((&chunking, body)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(chunking) + 1;
    let chunks: Vec<Result<Bytes, PayloadError>> = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    let mut form = Multipart::new(&headers, futures_util::stream::iter(chunks));
    RUNTIME.block_on(async move {
        while let Some(field) = form.next().await {
            let Ok(mut field) = field else { break };
            let _ = (
                field.name(),
                field.content_type(),
                field.content_disposition(),
            );
            let _ = field.content_disposition().and_then(|d| d.get_filename());
            while let Some(data) = field.next().await {
                if data.is_err() {
                    break;
                }
            }
        }
    });
});
