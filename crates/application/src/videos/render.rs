//! The `VideoRenderer` port: turns a prompt into a playable MP4 and a thumbnail. The
//! in-process adapter draws the prompt's text; an AI backend can replace it behind the
//! same trait.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

/// The flag a render checks between frames: the job's cancellation flag.
pub use crate::jobs::CancelFlag;
use crate::jobs::JobProgress;

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRequest {
    /// Shown on the title card at the start.
    pub title: String,
    /// The text the video is generated from.
    pub prompt: String,
    /// Frame width in pixels (1280 or 1920 for the domain's resolutions).
    pub width: u32,
    /// Frame height in pixels (720 or 1080).
    pub height: u32,
    /// Frames per second: 24 or 30.
    pub fps: u32,
    /// Length of the video; the video has exactly `fps * duration_seconds` frames.
    pub duration_seconds: u32,
}

/// Where to write: the video and its thumbnail (the caller picks the names, renames
/// them into place when the render succeeded, and removes them otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderTarget {
    /// The MP4 file to create (overwritten if present).
    pub video: PathBuf,
    /// The thumbnail image to create: a frame from the first seconds.
    pub thumbnail: PathBuf,
}

/// The codec of every rendered video: H.264 in MP4, which every browser plays.
pub const RENDERED_CODEC: &str = "h264";

/// What was rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedVideo {
    /// Playing time of the video track in seconds.
    pub duration_seconds: f64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Number of frames written.
    pub frame_count: u32,
    /// Size of the video file in bytes.
    pub file_size: u64,
    /// The video's media type, `video/mp4`.
    pub content_type: &'static str,
    /// The thumbnail's media type, such as `image/png`.
    pub thumbnail_content_type: &'static str,
}

/// Why a render did not produce a video.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The cancel flag was raised (the video was deleted, or the server is stopping).
    #[error("the render was cancelled")]
    Cancelled,
    /// The renderer cannot produce this size, rate or duration.
    #[error("the render request is invalid: {0}")]
    InvalidRequest(String),
    /// The encoder or the muxer failed.
    #[error("the encoder failed: {0}")]
    Encoder(String),
    /// The video or the thumbnail could not be written.
    #[error("writing the video failed")]
    Io(#[source] std::io::Error),
}

/// Receives the progress of a render.
///
/// Called from the renderer's own threads with 0 when the render starts, then with
/// strictly increasing values up to 100 when the last frame is written: at most once per
/// percent, so an implementation may be cheap but must not block for long.
pub trait RenderProgress: Send + Sync {
    /// The render is `percent` (0..=100) done.
    fn report(&self, percent: u8);
}

/// A progress sink that ignores reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl RenderProgress for NoProgress {
    fn report(&self, _percent: u8) {}
}

/// A running job's progress is a render's progress sink: the render handler hands the
/// job's own [`JobProgress`] to the renderer.
impl RenderProgress for JobProgress {
    fn report(&self, percent: u8) {
        JobProgress::report(self, percent);
    }
}

/// Renders videos. CPU-heavy: adapters run it on a pool of their own, never on the async
/// workers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VideoRenderer: Send + Sync {
    /// Renders `request` into `target.video` (an H.264 MP4 with its index before the
    /// media data) and `target.thumbnail`, reporting progress and stopping when `cancel`
    /// is raised. Dropping the returned future stops the render as well.
    ///
    /// # Errors
    /// `InvalidRequest` for sizes, rates or durations the renderer cannot produce (before
    /// any file is created); `Cancelled` when stopped; `Encoder` / `Io` when encoding or
    /// writing fails. On every error neither file is left behind.
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_progress_receives_render_reports() {
        let progress = JobProgress::new();
        let sink: Arc<dyn RenderProgress> = Arc::new(progress.clone());
        sink.report(37);
        assert_eq!(progress.latest(), 37);
    }
}
