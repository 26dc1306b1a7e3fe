//! The render job handler: what a worker does with a claimed `render_video` job, and how
//! its failures show on the video (pending again before a retry, failed with the reason
//! after the last attempt).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vidgen_domain::videos::{VideoId, VideoStatus};

use super::ports::{MediaFacts, MediaStore, VideoRepository};
use super::render::{RENDERED_CODEC, RenderError, RenderRequest, RenderTarget, VideoRenderer};
use crate::clock::Clock;
/// Re-exported: render failures are job failures.
pub use crate::jobs::JobFailure;
use crate::jobs::{ClaimedJob, JobContext, JobHandler, JobKind};
use crate::storage::RepositoryError;
use crate::webhooks::outbox::{VideoEvent, WebhookOutbox};

/// Renders the video of a claimed job.
#[derive(Clone)]
pub struct RenderJob {
    videos: Arc<dyn VideoRepository>,
    media: Arc<dyn MediaStore>,
    renderer: Arc<dyn VideoRenderer>,
    clock: Arc<dyn Clock>,
    webhooks: WebhookOutbox,
}

impl std::fmt::Debug for RenderJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderJob").finish_non_exhaustive()
    }
}

impl RenderJob {
    pub fn new(
        videos: Arc<dyn VideoRepository>,
        media: Arc<dyn MediaStore>,
        renderer: Arc<dyn VideoRenderer>,
        clock: Arc<dyn Clock>,
        webhooks: WebhookOutbox,
    ) -> Self {
        Self {
            videos,
            media,
            renderer,
            clock,
            webhooks,
        }
    }

    /// Renders the job's video into staged files, moves them into place and marks the
    /// video completed. A deleted video (or a cancelled job) ends the run quietly.
    ///
    /// # Errors
    /// `JobFailure` with a readable reason; the staged files are removed.
    /// The span names the job and its video, so that what the renderer logs (a prompt cut
    /// short, say) can be traced to the video.
    #[tracing::instrument(skip_all, fields(
        job_id = context.job.id.0,
        attempt = context.job.attempt,
        video_id = context.job.video_id.map(VideoId::get),
    ))]
    async fn render(&self, context: &JobContext) -> Result<(), JobFailure> {
        let job = &context.job;
        let Some(video_id) = job.video_id else {
            return Err(JobFailure("the job names no video".into()));
        };
        let Some(video) = self.videos.get(video_id).await? else {
            tracing::info!(video_id = %video_id, "video deleted before rendering");
            return Ok(());
        };
        let (Some(prompt), Some(resolution), Some(duration)) =
            (&video.prompt, video.resolution, video.requested_duration)
        else {
            return Err(JobFailure("the video has nothing to render".into()));
        };
        let now = self.clock.now();
        let started = self
            .videos
            .transition(
                video_id,
                &VideoStatus::sources_of(VideoStatus::Processing),
                VideoStatus::Processing,
                0,
                None,
                now,
            )
            .await?;
        if !started {
            return Ok(());
        }
        let (width, height) = resolution.dimensions();
        let video_key = self.media.new_key("mp4");
        let thumbnail_key = self.media.new_key("png");
        let target = RenderTarget {
            video: self.media.staging_path(&video_key),
            thumbnail: self.media.staging_path(&thumbnail_key),
        };
        let request = RenderRequest {
            title: video.title.to_string(),
            prompt: prompt.to_string(),
            width,
            height,
            fps: video.fps.unwrap_or(vidgen_domain::videos::GENERATED_FPS),
            duration_seconds: duration.get(),
        };
        let rendered = self
            .renderer
            .render(
                request,
                target,
                Arc::new(context.progress.clone()),
                context.cancel.clone(),
            )
            .await;
        let discard = || async {
            for key in [&video_key, &thumbnail_key] {
                let _ = self.media.remove(key).await;
            }
        };
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(RenderError::Cancelled) => {
                discard().await;
                return Ok(());
            }
            Err(error) => {
                discard().await;
                tracing::warn!(error = ?error, "render failed");
                return Err(JobFailure(format!("rendering failed: {error}")));
            }
        };
        for key in [&video_key, &thumbnail_key] {
            if let Err(error) = self.media.commit(key).await {
                discard().await;
                tracing::error!(error = ?error, "could not store the rendered files");
                return Err(JobFailure("the rendered video could not be stored".into()));
            }
        }
        let facts = MediaFacts {
            duration: rendered.duration_seconds,
            width: rendered.width,
            height: rendered.height,
            file_size: rendered.file_size,
            content_type: rendered.content_type.to_owned(),
            media_key: video_key.clone(),
            thumbnail_key: Some(thumbnail_key.clone()),
            codec: Some(RENDERED_CODEC.to_owned()),
        };
        let now = self.clock.now();
        let notice = self.webhooks.notice(VideoEvent::Completed, now);
        if !self.videos.complete(video_id, facts, now, notice).await? {
            // Deleted (or cancelled) while rendering: nobody will ever serve these files.
            discard().await;
        }
        Ok(())
    }
}

#[async_trait]
impl JobHandler for RenderJob {
    fn kind(&self) -> JobKind {
        JobKind::RenderVideo
    }

    fn period(&self) -> Option<Duration> {
        None
    }

    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        self.render(context).await
    }

    /// Records the render progress of the job's video.
    async fn record_progress(&self, job: &ClaimedJob, percent: u8) -> Result<(), RepositoryError> {
        match job.video_id {
            Some(id) => {
                self.videos
                    .set_progress(id, percent.min(100), self.clock.now())
                    .await
            }
            None => Ok(()),
        }
    }

    /// The video waits, pending, for the next attempt.
    async fn on_retry(
        &self,
        job: &ClaimedJob,
        _failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        back_to_pending(&self.videos, self.clock.now(), job).await
    }

    /// The video ends `failed`, showing the reason.
    async fn on_final_failure(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        fail_video(&self.videos, &self.webhooks, self.clock.now(), job, failure).await?;
        Ok(())
    }
}

/// Ends the job's video `failed` with the job's reason, enqueueing its webhook delivery in
/// the same transaction (shared by every job kind that produces a video). Returns whether
/// the video moved to `failed` (false when it is gone or had already settled).
///
/// # Errors
/// A storage failure.
pub(crate) async fn fail_video(
    videos: &Arc<dyn VideoRepository>,
    webhooks: &WebhookOutbox,
    now: chrono::DateTime<chrono::Utc>,
    job: &ClaimedJob,
    failure: &JobFailure,
) -> Result<bool, RepositoryError> {
    let Some(video_id) = job.video_id else {
        return Ok(false);
    };
    let notice = webhooks.notice(VideoEvent::Failed, now);
    videos.fail(video_id, failure.0.clone(), now, notice).await
}

/// Moves the job's video back to pending, to wait for the next attempt (shared by every
/// job kind that produces a video).
///
/// # Errors
/// A storage failure.
pub(crate) async fn back_to_pending(
    videos: &Arc<dyn VideoRepository>,
    now: chrono::DateTime<chrono::Utc>,
    job: &ClaimedJob,
) -> Result<(), RepositoryError> {
    let Some(video_id) = job.video_id else {
        return Ok(());
    };
    videos
        .transition(
            video_id,
            &VideoStatus::sources_of(VideoStatus::Pending),
            VideoStatus::Pending,
            0,
            None,
            now,
        )
        .await?;
    Ok(())
}
