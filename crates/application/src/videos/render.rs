//! The `VideoRenderer` port: turns a prompt into a playable MP4 and a thumbnail. The
//! in-process adapter draws the prompt's text; an AI backend can replace it behind the
//! same trait.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRequest {
    pub title: String,
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    /// 24 or 30.
    pub fps: u32,
    pub duration_seconds: u32,
}

/// Where to write: the video and its thumbnail (the caller picks the names, renames
/// them into place when the render succeeded, and removes them otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderTarget {
    pub video: PathBuf,
    pub thumbnail: PathBuf,
}

/// What was rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedVideo {
    pub duration_seconds: f64,
    pub width: u32,
    pub height: u32,
    pub frame_count: u32,
    pub file_size: u64,
    pub content_type: &'static str,
    pub thumbnail_content_type: &'static str,
}

/// Why a render did not produce a video.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The cancel flag was raised (the video was deleted, or the server is stopping).
    #[error("the render was cancelled")]
    Cancelled,
    #[error("the render request is invalid: {0}")]
    InvalidRequest(String),
    #[error("the encoder failed: {0}")]
    Encoder(String),
    #[error("writing the video failed")]
    Io(#[source] std::io::Error),
}

/// Receives the progress of a render, 0 to 100, increasing.
pub trait RenderProgress: Send + Sync {
    fn report(&self, percent: u8);
}

/// A progress sink that ignores reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl RenderProgress for NoProgress {
    fn report(&self, _percent: u8) {}
}

/// A flag a running render checks between frames.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The shared flag, for adapters that poll it from another thread.
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
}

/// Renders videos. CPU-heavy: adapters run it on a pool of their own, never on the async
/// workers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VideoRenderer: Send + Sync {
    /// Renders `request` into `target.video` (MP4) and `target.thumbnail`, reporting
    /// progress and stopping when `cancel` is raised.
    ///
    /// # Errors
    /// `InvalidRequest` for sizes, rates or durations the renderer cannot produce;
    /// `Cancelled` when stopped (no file is left behind); `Encoder` / `Io` on failure.
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
    fn cancel_flags_are_shared_between_clones() {
        let flag = CancelFlag::new();
        let clone = flag.clone();
        assert!(!clone.is_cancelled());
        flag.cancel();
        assert!(clone.is_cancelled());
        assert!(clone.as_atomic().load(Ordering::SeqCst));
    }
}
