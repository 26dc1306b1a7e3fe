//! [`VideoRenderer`] in process: the prompt cut into scenes (a title card, then its
//! sentences as captions) drawn in anti-aliased vector type (DejaVu Sans, embedded) over
//! a background whose colours and motion come from the prompt, onto YUV frames, encoded
//! with OpenH264 (built from source by the `openh264` crate) and written into a fast-start
//! MP4 with the `mp4` crate, chunk by chunk as it is encoded. No external program, system font or system library is needed.
//!
//! The same request always gives the same bytes.
//!
//! Rendering runs on a pool of its own (`threads` wide, at the lowest scheduling
//! priority), never on the async workers. A render stops between frames when its cancel
//! flag is raised or when the future awaiting it is dropped.
//! Note for deployments: H.264 patent licensing covers Cisco's prebuilt OpenH264 binary,
//! not a build from source such as this one.

mod canvas;
mod container;
mod painter;
mod palette;
mod pipeline;
mod scenes;
mod text;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use vidgen_application::videos::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, RenderedVideo,
    VideoRenderer,
};

pub use canvas::{Canvas, Yuv};
pub use painter::Painter;
pub use pipeline::{PipelineError, Spec, encode_frames, render, write_png};
pub use scenes::{Cue, Plan, Shortened, Shot};

/// Why the renderer could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the rendering pool")]
pub struct RendererSetupError(#[source] rayon::ThreadPoolBuildError);

/// See the module docs.
pub struct Openh264Renderer {
    pool: Arc<rayon::ThreadPool>,
}

impl std::fmt::Debug for Openh264Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Openh264Renderer")
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

/// The scheduling priority of the rendering pool's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderPriority {
    /// The lowest the system allows (nice 19 on Linux): a render takes whatever CPU the
    /// HTTP workers leave. What the service runs with.
    Lowest,
    /// The process's own priority. For test suites on busy machines, where a nice-19
    /// thread can wait minutes behind the suite's other work.
    Inherited,
}

impl Openh264Renderer {
    /// A renderer running at most `threads` renders at once, at the lowest priority.
    ///
    /// # Errors
    /// The pool's threads cannot be started.
    pub fn new(threads: usize) -> Result<Self, RendererSetupError> {
        Self::with_priority(threads, RenderPriority::Lowest)
    }

    /// A renderer running at most `threads` renders at once, at `priority`.
    ///
    /// # Errors
    /// The pool's threads cannot be started.
    pub fn with_priority(
        threads: usize,
        priority: RenderPriority,
    ) -> Result<Self, RendererSetupError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("render-{i}"))
            // Below the HTTP workers: a render takes whatever CPU they leave.
            .start_handler(move |_| {
                if priority != RenderPriority::Lowest {
                    return;
                }
                if let Err(error) = thread_priority::set_current_thread_priority(
                    thread_priority::ThreadPriority::Min,
                ) {
                    tracing::warn!(error = ?error, "could not lower the render thread's priority");
                }
            })
            .build()
            .map_err(RendererSetupError)?;
        Ok(Self {
            pool: Arc::new(pool),
        })
    }
}

fn spec_of(request: &RenderRequest) -> Spec {
    Spec {
        title: request.title.clone(),
        prompt: request.prompt.clone(),
        width: request.width as usize,
        height: request.height as usize,
        fps: request.fps,
        duration_seconds: request.duration_seconds,
    }
}

/// Raises its flag when dropped: the awaiting future went away, so nobody will take the
/// result and the render should stop.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn remove_outputs(target: &RenderTarget) {
    let _ = std::fs::remove_file(&target.video);
    let _ = std::fs::remove_file(&target.thumbnail);
}

fn render_blocking(
    request: &RenderRequest,
    target: &RenderTarget,
    progress: &dyn RenderProgress,
    cancelled: impl Fn() -> bool,
) -> Result<RenderedVideo, RenderError> {
    let spec = spec_of(request);
    let frames = spec.frame_count();
    let thumbnail_index = spec.thumbnail_frame().min(frames.saturating_sub(1));
    let mut thumbnail = None;
    let output = render(
        &spec,
        &target.video,
        cancelled,
        |percent| progress.report(percent),
        |index, canvas| {
            if index == thumbnail_index {
                thumbnail = Some(canvas.clone());
            }
        },
    )
    .map_err(|error| match error {
        PipelineError::Invalid(reason) => RenderError::InvalidRequest(reason),
        PipelineError::Cancelled => RenderError::Cancelled,
        PipelineError::Encoder(reason)
        | PipelineError::Muxer(reason)
        | PipelineError::Font(reason) => RenderError::Encoder(reason),
        PipelineError::Io(error) => RenderError::Io(error),
    })?;
    let written = thumbnail
        .ok_or_else(|| RenderError::Encoder("no frame for the thumbnail".into()))
        .and_then(|canvas| {
            write_png(&canvas, &target.thumbnail).map_err(|e| match e {
                PipelineError::Io(error) => RenderError::Io(error),
                other => RenderError::Encoder(other.to_string()),
            })
        });
    if let Err(error) = written {
        remove_outputs(target);
        return Err(error);
    }
    Ok(RenderedVideo {
        duration_seconds: output.duration_seconds,
        width: request.width,
        height: request.height,
        frame_count: output.frame_count,
        file_size: output.bytes,
        content_type: "video/mp4",
        thumbnail_content_type: "image/png",
    })
}

#[async_trait]
impl VideoRenderer for Openh264Renderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let abandoned = Arc::new(AtomicBool::new(false));
        let _guard = AbandonOnDrop(abandoned.clone());
        self.pool.spawn(move || {
            let _entered = span.enter();
            let cancelled = || cancel.is_cancelled() || abandoned.load(Ordering::Relaxed);
            // A bug must cost one render, not the process (rayon aborts on a panic).
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                render_blocking(&request, &target, progress.as_ref(), cancelled)
            }))
            .unwrap_or_else(|_| {
                tracing::error!("the renderer panicked");
                remove_outputs(&target);
                Err(RenderError::Encoder("the renderer panicked".into()))
            });
            let _ = sender.send(outcome);
        });
        receiver
            .await
            .map_err(|_| RenderError::Encoder("the rendering pool stopped".into()))?
    }
}

#[cfg(test)]
mod tests;
