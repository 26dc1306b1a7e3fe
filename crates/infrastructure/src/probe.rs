//! [`MediaProbe`] for uploads on the local filesystem: [`FileMediaProbe`].
//!
//! - Sniffing decides the container from the bytes alone (see `sniff` for which crate
//!   does which part).
//! - Probing reads MP4 and QuickTime files with the `mp4` crate and WebM with
//!   `matroska-demuxer`, seeking and streaming (never a whole file in memory), on
//!   tokio's blocking pool. A frame size above [`MAX_SIDE`] is refused before anything
//!   is decoded, and a panic in a parser becomes a [`ProbeError`].
//!   Parsers read through a budget (see `budget`), so one that loops on crafted input
//!   fails in bounded time.
//! - For H.264, the first key frame is decoded with OpenH264 and written as a PNG of the
//!   frame's size. A thumbnail that fails is logged, not an error of the probe. The
//!   decoder bounds the picture itself: OpenH264 refuses a sequence parameter set larger
//!   than the highest H.264 level allows (36,864 macroblocks, about 4096x2304).

mod budget;
mod isobmff;
mod sniff;
mod thumbnail;
mod webm;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use async_trait::async_trait;
use vidgen_application::videos::probe::{
    MediaProbe, ProbeError, ProbedMedia, Sniffed, UploadFormat,
};

/// The largest frame width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// The largest key frame read for a thumbnail.
const MAX_KEY_FRAME_BYTES: u64 = 64 * 1024 * 1024;

/// See the module docs. Holds no state: one is enough for the whole process.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileMediaProbe;

impl FileMediaProbe {
    /// A probe for files on the local filesystem.
    pub const fn new() -> Self {
        Self
    }

    /// The whole of [`MediaProbe::probe`] on the calling thread, for callers that are
    /// not on the async runtime (the fuzz targets): reads `file` as `format` and writes
    /// the thumbnail of an H.264 track to `thumbnail`. A panic in a parser is logged and
    /// answered as an error, as in the service (a fuzzer's panic hook still sees it).
    ///
    /// # Errors
    /// A readable reason when the file is not a whole, playable video of `format`.
    pub fn probe_now(
        file: &Path,
        format: UploadFormat,
        thumbnail: &Path,
    ) -> Result<ProbedMedia, ProbeError> {
        probe_guarded(file, format, thumbnail)
    }
}

/// What a container says about its video track.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    duration: f64,
    width: u32,
    height: u32,
    codec: String,
}

/// An H.264 key frame as stored: AVCC NAL units, and the track's parameter sets.
#[derive(Debug, Clone)]
struct KeyFrame {
    /// The SPS, then the PPS, without start codes.
    parameter_sets: Vec<Vec<u8>>,
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    nal_length_size: usize,
    sample: Vec<u8>,
}

#[async_trait]
impl MediaProbe for FileMediaProbe {
    fn sniff(&self, head: &[u8], complete: bool) -> Sniffed {
        sniff::sniff(head, complete)
    }

    #[tracing::instrument(skip(self, file, thumbnail), fields(format = format.as_str()))]
    async fn probe(
        &self,
        file: &Path,
        format: UploadFormat,
        thumbnail: &Path,
    ) -> Result<ProbedMedia, ProbeError> {
        let file = file.to_path_buf();
        let thumbnail = thumbnail.to_path_buf();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            probe_guarded(&file, format, &thumbnail)
        })
        .await
        .unwrap_or_else(|error| {
            tracing::error!(%error, "the probe task did not finish");
            Err(failed(format))
        })
    }
}

/// [`probe_blocking`], with a panic in a parser turned into an error.
fn probe_guarded(
    file: &Path,
    format: UploadFormat,
    thumbnail: &Path,
) -> Result<ProbedMedia, ProbeError> {
    unpanicked(format, thumbnail, || {
        probe_blocking(file, format, thumbnail)
    })
}

/// Runs `probe`; if it panics, logs it, removes any thumbnail and answers an error.
fn unpanicked<T>(
    format: UploadFormat,
    thumbnail: &Path,
    probe: impl FnOnce() -> Result<T, ProbeError>,
) -> Result<T, ProbeError> {
    catch_unwind(AssertUnwindSafe(probe)).unwrap_or_else(|_| {
        tracing::error!("a media parser panicked on an upload");
        let _ = std::fs::remove_file(thumbnail);
        Err(failed(format))
    })
}

fn probe_blocking(
    file: &Path,
    format: UploadFormat,
    thumbnail: &Path,
) -> Result<ProbedMedia, ProbeError> {
    let file_size = std::fs::metadata(file).map_err(|e| unreadable(&e))?.len();
    if file_size == 0 {
        return Err(ProbeError("the file is empty".into()));
    }
    let (mut facts, wrote_thumbnail) = match format {
        UploadFormat::Mp4 | UploadFormat::QuickTime => {
            let mut opened = isobmff::open(file, file_size, format)?;
            let picture = if opened.facts.codec == "h264" {
                make_thumbnail(&mut opened, thumbnail)
            } else {
                None
            };
            (opened.facts, picture)
        }
        UploadFormat::WebM => (webm::probe(file, file_size)?, None),
    };
    // The decoded picture is the truth when the container says otherwise.
    if let Some((width, height)) = wrote_thumbnail
        && (width, height) != (facts.width, facts.height)
    {
        tracing::warn!(
            container = %format_args!("{}x{}", facts.width, facts.height),
            picture = %format_args!("{width}x{height}"),
            "the container's frame size differs from the picture's"
        );
        facts.width = width;
        facts.height = height;
    }
    Ok(ProbedMedia {
        duration: facts.duration,
        width: facts.width,
        height: facts.height,
        codec: facts.codec,
        file_size,
        thumbnail: wrote_thumbnail.is_some(),
    })
}

/// Writes the thumbnail of an H.264 track and answers the picture's size; on any failure
/// (a panic included) logs why, leaves no file and answers `None`.
fn make_thumbnail(opened: &mut isobmff::Opened, path: &Path) -> Option<(u32, u32)> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        opened
            .key_frame()
            .and_then(|key_frame| thumbnail::write(&key_frame, path))
    }))
    .unwrap_or_else(|_| Err("the decoder panicked".into()));
    match outcome {
        Ok(size) => Some(size),
        Err(reason) => {
            tracing::warn!(%reason, "no thumbnail for the upload");
            let _ = std::fs::remove_file(path);
            None
        }
    }
}

/// Refuses a frame size of zero or above [`MAX_SIDE`].
fn check_size(width: u32, height: u32) -> Result<(), ProbeError> {
    if width == 0 || height == 0 {
        return Err(ProbeError("the video track has no frame size".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ProbeError(format!(
            "the video's frames are {width} pixels wide and {height} high; at most {MAX_SIDE} pixels on a side are accepted"
        )));
    }
    Ok(())
}

/// The name users know a format by.
const fn display_name(format: UploadFormat) -> &'static str {
    match format {
        UploadFormat::Mp4 => "MP4",
        UploadFormat::QuickTime => "QuickTime",
        UploadFormat::WebM => "WebM",
    }
}

fn damaged(format: UploadFormat) -> ProbeError {
    ProbeError(format!(
        "the file is not a valid {} video: it is truncated or damaged",
        display_name(format)
    ))
}

fn failed(format: UploadFormat) -> ProbeError {
    ProbeError(format!(
        "the file could not be read as a {} video",
        display_name(format)
    ))
}

fn unreadable(error: &std::io::Error) -> ProbeError {
    tracing::warn!(%error, "reading an upload failed");
    ProbeError("the uploaded file could not be read".into())
}

/// A four-character codec code as a codec name: the well-known ones by their short
/// name, others lower-cased (printable ASCII only).
fn named(fourcc: &[u8; 4]) -> String {
    match fourcc {
        b"avc1" | b"avc2" | b"avc3" | b"avc4" => "h264".into(),
        b"hvc1" | b"hev1" => "hevc".into(),
        b"vp08" => "vp8".into(),
        b"vp09" => "vp9".into(),
        b"av01" => "av1".into(),
        other => {
            let name: String = other
                .iter()
                .filter(|b| b.is_ascii_graphic())
                .map(|b| char::from(b.to_ascii_lowercase()))
                .collect();
            if name.is_empty() {
                "unknown".into()
            } else {
                name
            }
        }
    }
}

#[cfg(test)]
mod tests;
