//! WebM uploads, read with `matroska-demuxer`: the header, tracks and segment info, then
//! every block is streamed through once (frame by frame, never the whole file) to prove
//! the clusters are whole and to find the playing time when the segment does not
//! declare one (browsers' `MediaRecorder` writes none).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use matroska_demuxer::{DemuxError, Frame, MatroskaFile, TrackType};
use vidgen_application::videos::probe::{ProbeError, SNIFF_BYTES, UploadFormat};

use super::budget;
use super::sniff::{ebml_header_end, element_header};
use super::{Facts, check_size, damaged, unreadable};

/// The ID of the Segment element, which holds everything after the EBML header.
const SEGMENT_ID: u64 = 0x1853_8067;
const NANOS_PER_SECOND: f64 = 1e9;
/// What reading may cost beyond four times the file's size: the demuxer seeks to every
/// block, and the buffer refills after each seek.
const EXTRA_BYTES: u64 = 256 * 1024 * 1024;
/// Seeks allowed, beyond one per 16 bytes of file.
const SEEKS: u64 = 1_000_000;

/// Reads the facts of the WebM file at `path` (`file_size` bytes long).
///
/// # Errors
/// A readable reason when the file is not a whole, playable WebM video.
pub(super) fn probe(path: &Path, file_size: u64) -> Result<Facts, ProbeError> {
    check_segment_size(path, file_size)?;
    let (file, exhausted) = budget::open(
        path,
        file_size.saturating_mul(4).saturating_add(EXTRA_BYTES),
        SEEKS.saturating_add(file_size / 16),
    )
    .map_err(|e| unreadable(&e))?;
    let mut mkv = MatroskaFile::open(file).map_err(refused)?;
    if mkv.ebml_header().doc_type().trim_end_matches('\0') != "webm" {
        return Err(ProbeError(
            "the file is a Matroska file, not a WebM video".into(),
        ));
    }
    let track = mkv
        .tracks()
        .iter()
        .find(|t| t.track_type() == TrackType::Video)
        .ok_or_else(|| ProbeError("the file has no video track".into()))?;
    let video = track
        .video()
        .ok_or_else(|| ProbeError("the video track has no frame size".into()))?;
    let side = |pixels: u64| u32::try_from(pixels).unwrap_or(u32::MAX);
    let (width, height) = (
        side(video.pixel_width().get()),
        side(video.pixel_height().get()),
    );
    check_size(width, height)?;
    let codec = codec_name(track.codec_id());
    let number = track.track_number().get();
    let default_duration = track.default_duration().map(|d| d.get() as f64);

    // Timestamps and block durations count `scale` nanoseconds.
    let scale = mkv.info().timestamp_scale().get() as f64;
    let declared = mkv
        .info()
        .duration()
        .map(|units| units * scale / NANOS_PER_SECOND);

    let mut frame = Frame::default();
    let mut frames = 0u64;
    let mut end = 0f64;
    while mkv.next_frame(&mut frame).map_err(refused)? {
        if frame.track != number {
            continue;
        }
        frames += 1;
        let length = frame
            .duration
            .map(|units| units as f64 * scale)
            .or(default_duration)
            .unwrap_or(0.0);
        end = end.max((frame.timestamp as f64 * scale + length) / NANOS_PER_SECOND);
    }
    // The demuxer takes a read error for the end of the file.
    if exhausted.get() {
        return Err(damaged(UploadFormat::WebM));
    }
    if frames == 0 {
        return Err(ProbeError("the video track has no frames".into()));
    }
    let duration = declared
        .filter(|d| d.is_finite() && *d > 0.0)
        .or_else(|| (end.is_finite() && end > 0.0).then_some(end))
        .ok_or_else(|| ProbeError("the video has no playing time".into()))?;
    Ok(Facts {
        duration,
        width,
        height,
        codec,
    })
}

fn refused(error: DemuxError) -> ProbeError {
    tracing::info!(%error, "the matroska demuxer refused the upload");
    damaged(UploadFormat::WebM)
}

/// A Segment that declares more bytes than the file has was cut short (the demuxer
/// reads up to the cut and stops quietly). Muxers that cannot seek back write an
/// unknown size, which passes.
fn check_segment_size(path: &Path, file_size: u64) -> Result<(), ProbeError> {
    let file = File::open(path).map_err(|e| unreadable(&e))?;
    let mut head = Vec::new();
    file.take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| unreadable(&e))?;
    let truncated = || damaged(UploadFormat::WebM);
    let header_end = ebml_header_end(&head).map_err(|_| truncated())?;
    let (id, size, length) =
        element_header(head.get(header_end..).ok_or_else(truncated)?).map_err(|_| truncated())?;
    if id != SEGMENT_ID {
        return Err(truncated());
    }
    match size {
        Some(size)
            if (header_end as u64)
                .saturating_add(length as u64)
                .saturating_add(size)
                > file_size =>
        {
            Err(truncated())
        }
        _ => Ok(()),
    }
}

/// Matroska codec IDs as the short names the API reports.
fn codec_name(codec_id: &str) -> String {
    match codec_id {
        "V_VP8" => "vp8".into(),
        "V_VP9" => "vp9".into(),
        "V_AV1" => "av1".into(),
        "V_MPEG4/ISO/AVC" => "h264".into(),
        "V_MPEGH/ISO/HEVC" => "hevc".into(),
        other => other.to_lowercase(),
    }
}
