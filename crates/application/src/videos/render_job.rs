//! The render job: what a worker does with a claimed `render_video` job, and how a failed
//! run is recorded on the video.

use std::sync::Arc;

use vidgen_domain::videos::{VideoStatus, retry_backoff};

use super::ports::{MediaFacts, MediaStore, VideoRepository};
use super::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, VideoRenderer,
};
use crate::clock::Clock;
use crate::jobs::{ClaimedJob, JobQueue};
use crate::storage::RepositoryError;

/// Why a run failed, in words a user can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

impl From<RepositoryError> for JobFailure {
    fn from(error: RepositoryError) -> Self {
        tracing::error!(error = ?error, "storage failed during a job");
        Self("an internal storage error interrupted rendering".into())
    }
}

/// Renders the video of a claimed job.
#[derive(Clone)]
pub struct RenderJob {
    videos: Arc<dyn VideoRepository>,
    jobs: Arc<dyn JobQueue>,
    media: Arc<dyn MediaStore>,
    renderer: Arc<dyn VideoRenderer>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RenderJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderJob").finish_non_exhaustive()
    }
}

impl RenderJob {
    pub fn new(
        videos: Arc<dyn VideoRepository>,
        jobs: Arc<dyn JobQueue>,
        media: Arc<dyn MediaStore>,
        renderer: Arc<dyn VideoRenderer>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            videos,
            jobs,
            media,
            renderer,
            clock,
        }
    }

    /// Renders the job's video into staged files, moves them into place and marks the
    /// video completed. A deleted video (or a cancelled job) ends the run quietly.
    ///
    /// # Errors
    /// `JobFailure` with a readable reason; the staged files are removed.
    #[tracing::instrument(skip_all, fields(job_id = job.id.0, attempt = job.attempt))]
    pub async fn run(
        &self,
        job: &ClaimedJob,
        progress: Arc<dyn RenderProgress>,
        cancel: CancelFlag,
    ) -> Result<(), JobFailure> {
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
            .render(request, target, progress, cancel)
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
            thumbnail_key: thumbnail_key.clone(),
        };
        if !self
            .videos
            .complete(video_id, facts, self.clock.now())
            .await?
        {
            // Deleted (or cancelled) while rendering: nobody will ever serve these files.
            discard().await;
        }
        Ok(())
    }

    /// Records a failed run: the job is queued again after a backoff, or, out of attempts,
    /// dies and the video ends `failed` with the reason.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn record_failure(
        &self,
        job: &ClaimedJob,
        owner: &str,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        let now = self.clock.now();
        let final_attempt = job.attempt >= job.max_attempts;
        let retry_at = (!final_attempt).then(|| {
            now + chrono::Duration::from_std(retry_backoff(job.attempt))
                .unwrap_or(chrono::Duration::seconds(300))
        });
        self.jobs
            .fail(job.id, owner, &failure.0, retry_at, now)
            .await?;
        if let Some(video_id) = job.video_id {
            let (status, message) = if final_attempt {
                (VideoStatus::Failed, Some(failure.0.clone()))
            } else {
                (VideoStatus::Pending, None)
            };
            self.videos
                .transition(
                    video_id,
                    &VideoStatus::sources_of(status),
                    status,
                    0,
                    message,
                    now,
                )
                .await?;
        }
        Ok(())
    }

    /// Records the render progress of the job's video.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn record_progress(
        &self,
        job: &ClaimedJob,
        percent: u8,
    ) -> Result<(), RepositoryError> {
        match job.video_id {
            Some(id) => {
                self.videos
                    .set_progress(id, percent.min(100), self.clock.now())
                    .await
            }
            None => Ok(()),
        }
    }
}
