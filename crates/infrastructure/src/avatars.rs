//! [`AvatarImages`] with the `image` crate: the format is decided from the bytes (`infer`),
//! the header's dimensions are checked against the avatar rules before anything is
//! decoded, decoding runs under `image::Limits`, and the picture is scaled into the
//! avatar square and re-encoded in its own format. Re-encoding writes pixels only, so
//! EXIF (camera, GPS position) and every other metadata block stay behind; the EXIF
//! orientation is applied to the pixels first, so a phone picture stays upright.
//!
//! The work is CPU-heavy: it runs on tokio's blocking pool, at most as many pictures
//! at once as there are cores (each may hold up to [`MAX_DECODE_BYTES`]).

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageReader, Limits};
use tokio::sync::Semaphore;
use vidgen_application::profiles::ports::{AvatarImages, ImageError, NormalizedImage};
use vidgen_domain::users::profile::{Avatar, ImageFormat};

/// Room beyond the pixels for a decoder's own buffers (rows, palettes, colour profiles).
const DECODE_MARGIN_BYTES: u64 = 16 * 1024 * 1024;

/// The most memory one decode may allocate: the largest accepted picture
/// ([`Avatar::MAX_SOURCE_PIXELS`]) at four bytes a pixel (8-bit RGBA), plus a margin. A
/// picture with deeper pixels (16 bits a channel) must have correspondingly fewer of them.
pub const MAX_DECODE_BYTES: u64 = Avatar::MAX_SOURCE_PIXELS * 4 + DECODE_MARGIN_BYTES;

/// Quality of re-encoded JPEG avatars.
const JPEG_QUALITY: u8 = 85;

/// Avatar pictures processed with the `image` crate.
#[derive(Debug, Clone)]
pub struct ImageRsAvatarImages {
    permits: Arc<Semaphore>,
}

impl ImageRsAvatarImages {
    /// At most `concurrency` pictures processed at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }
}

/// The format of a picture, from its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match infer::get(bytes)?.mime_type() {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

fn codec(format: ImageFormat) -> image::ImageFormat {
    match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::WebP => image::ImageFormat::WebP,
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(Avatar::MAX_SOURCE_SIDE);
    limits.max_image_height = Some(Avatar::MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// A decoding failure as the caller sees it: a limit is the picture's size, anything
/// else the picture's fault, except a failure of the machinery itself.
fn decoding(error: image::ImageError, width: u32, height: u32) -> ImageError {
    match error {
        image::ImageError::Limits(_) => ImageError::TooManyPixels { width, height },
        image::ImageError::Decoding(_)
        | image::ImageError::Unsupported(_)
        | image::ImageError::IoError(_)
        | image::ImageError::Parameter(_) => ImageError::Unsupported,
        other => ImageError::Unexpected(Box::new(other)),
    }
}

fn encoding(error: image::ImageError) -> ImageError {
    ImageError::Unexpected(Box::new(error))
}

/// The whole job, on the calling thread.
///
/// # Errors
/// As [`AvatarImages::normalize`].
pub fn normalize_now(bytes: &[u8]) -> Result<NormalizedImage, ImageError> {
    let format = sniff(bytes).ok_or(ImageError::Unsupported)?;
    // The header alone: a few bytes declare the dimensions, nothing is allocated for
    // the pixels yet.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), codec(format))
        .into_dimensions()
        .map_err(|_| ImageError::Unsupported)?;
    if !Avatar::source_fits(width, height) {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), codec(format));
    let mut budget = limits();
    reader.limits(budget.clone());
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decoding(e, width, height))?;
    budget
        .reserve(decoder.total_bytes())
        .map_err(|e| decoding(e, width, height))?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut picture =
        DynamicImage::from_decoder(decoder).map_err(|e| decoding(e, width, height))?;
    picture.apply_orientation(orientation);
    let (decoded_width, decoded_height) = picture.dimensions();
    let (stored_width, stored_height) = Avatar::stored_size(decoded_width, decoded_height);
    if (stored_width, stored_height) != (decoded_width, decoded_height) {
        picture = picture.resize_exact(stored_width, stored_height, FilterType::Lanczos3);
    }
    let mut out = Vec::new();
    match format {
        ImageFormat::Png => picture
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(encoding)?,
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(picture.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .map_err(encoding)?,
        ImageFormat::WebP => {
            let pixels = if picture.color().has_alpha() {
                DynamicImage::ImageRgba8(picture.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(picture.to_rgb8())
            };
            pixels
                .write_with_encoder(WebPEncoder::new_lossless(&mut out))
                .map_err(encoding)?;
        }
    }
    Ok(NormalizedImage {
        format,
        width: stored_width,
        height: stored_height,
        bytes: out,
    })
}

/// A blocking task that could not finish (it panicked or the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the picture processing task did not finish")]
struct TaskFailed(#[source] tokio::task::JoinError);

/// The semaphore was closed (never happens: it is never closed).
#[derive(Debug, thiserror::Error)]
#[error("the picture processing queue is closed")]
struct QueueClosed;

#[async_trait]
impl AvatarImages for ImageRsAvatarImages {
    async fn normalize(&self, bytes: Vec<u8>) -> Result<NormalizedImage, ImageError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ImageError::Unexpected(Box::new(QueueClosed)))?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| normalize_now(&bytes)))
            .await
            .map_err(|error| ImageError::Unexpected(Box::new(TaskFailed(error))))?
    }
}

#[cfg(test)]
mod tests;
