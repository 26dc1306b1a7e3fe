//! The `process_upload` job: reads the real facts of an uploaded file (duration, frame
//! size, codec), makes a thumbnail when it can, and completes the video; a file that
//! cannot be parsed ends the video `failed` with the probe's reason (no retry: the bytes
//! will not change). A failed upload's file is removed: the row keeps the reason, and
//! nothing will ever serve the file.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vidgen_domain::videos::VideoStatus;

use super::ports::{MediaFacts, MediaStore, VideoRepository};
use super::probe::{MediaProbe, UploadFormat};
use super::render_job::{back_to_pending, fail_video};
use super::upload::UploadPayload;
use crate::clock::Clock;
use crate::jobs::{ClaimedJob, JobContext, JobFailure, JobHandler, JobKind};
use crate::storage::RepositoryError;
use crate::webhooks::outbox::{VideoEvent, WebhookOutbox};

/// Probes the uploaded file of a claimed job.
#[derive(Clone)]
pub struct ProcessUpload {
    videos: Arc<dyn VideoRepository>,
    media: Arc<dyn MediaStore>,
    probe: Arc<dyn MediaProbe>,
    clock: Arc<dyn Clock>,
    webhooks: WebhookOutbox,
}

impl std::fmt::Debug for ProcessUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessUpload").finish_non_exhaustive()
    }
}

impl ProcessUpload {
    pub fn new(
        videos: Arc<dyn VideoRepository>,
        media: Arc<dyn MediaStore>,
        probe: Arc<dyn MediaProbe>,
        clock: Arc<dyn Clock>,
        webhooks: WebhookOutbox,
    ) -> Self {
        Self {
            videos,
            media,
            probe,
            clock,
            webhooks,
        }
    }

    #[tracing::instrument(skip_all, fields(job_id = context.job.id.0, attempt = context.job.attempt))]
    async fn process(&self, context: &JobContext) -> Result<(), JobFailure> {
        let job = &context.job;
        let Some(video_id) = job.video_id else {
            return Err(JobFailure("the job names no video".into()));
        };
        let payload: UploadPayload = serde_json::from_str(&job.payload)
            .map_err(|e| JobFailure(format!("the job's payload is unreadable: {e}")))?;
        let format = UploadFormat::parse(&payload.format)
            .ok_or_else(|| JobFailure(format!("unknown upload format {}", payload.format)))?;
        let Some(video) = self.videos.get(video_id).await? else {
            tracing::info!(video_id = %video_id, "video deleted before processing");
            return Ok(());
        };
        let Some(media_key) = video.media_key.clone() else {
            return Err(JobFailure("the upload has no stored file".into()));
        };
        let started = self
            .videos
            .transition(
                video_id,
                &VideoStatus::sources_of(VideoStatus::Processing),
                VideoStatus::Processing,
                0,
                None,
                self.clock.now(),
            )
            .await?;
        if !started {
            return Ok(());
        }
        let thumbnail_key = self.media.new_key("png");
        let local = match self.media.local_copy(&media_key).await {
            Ok(local) => local,
            // Not the upload's fault: the job is retried.
            Err(error) => {
                tracing::error!(error = ?error, "cannot read the stored upload");
                return Err(JobFailure("the stored upload could not be read".into()));
            }
        };
        let probed = self
            .probe
            .probe(
                local.path(),
                format,
                &self.media.staging_path(&thumbnail_key),
            )
            .await;
        drop(local);
        let probed = match probed {
            Ok(probed) => probed,
            Err(reason) => {
                let _ = self.media.remove(&thumbnail_key).await;
                tracing::info!(video_id = %video_id, reason = %reason, "upload is not a playable video");
                let now = self.clock.now();
                let notice = self.webhooks.notice(VideoEvent::Failed, now);
                if self
                    .videos
                    .fail(video_id, reason.to_string(), now, notice)
                    .await?
                {
                    self.discard_upload(&media_key).await;
                }
                return Ok(());
            }
        };
        let thumbnail = if probed.thumbnail {
            match self.media.commit(&thumbnail_key).await {
                Ok(()) => Some(thumbnail_key.clone()),
                Err(error) => {
                    tracing::warn!(error = ?error, "could not store the thumbnail");
                    let _ = self.media.remove(&thumbnail_key).await;
                    None
                }
            }
        } else {
            None
        };
        let facts = MediaFacts {
            duration: probed.duration,
            width: probed.width,
            height: probed.height,
            file_size: probed.file_size,
            content_type: format.content_type().to_owned(),
            media_key,
            thumbnail_key: thumbnail.clone(),
            codec: Some(probed.codec),
        };
        let now = self.clock.now();
        let notice = self.webhooks.notice(VideoEvent::Completed, now);
        if !self.videos.complete(video_id, facts, now, notice).await?
            && let Some(key) = thumbnail
        {
            // Deleted while probing: the delete removed the upload, not this thumbnail.
            let _ = self.media.remove(&key).await;
        }
        Ok(())
    }

    /// Removes the file of an upload that failed (its row no longer names it), logging
    /// a failure: the media sweep collects a file nothing refers to.
    async fn discard_upload(&self, key: &str) {
        if let Err(error) = self.media.remove(key).await {
            tracing::warn!(error = %error, key, "could not remove a failed upload's file");
        }
    }
}

#[async_trait]
impl JobHandler for ProcessUpload {
    fn kind(&self) -> JobKind {
        JobKind::ProcessUpload
    }

    fn period(&self) -> Option<Duration> {
        None
    }

    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        self.process(context).await
    }

    /// The video waits, pending, for the next attempt.
    async fn on_retry(
        &self,
        job: &ClaimedJob,
        _failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        back_to_pending(&self.videos, self.clock.now(), job).await
    }

    /// The video ends `failed`, showing the reason, and its uploaded file is removed.
    async fn on_final_failure(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        let upload = match job.video_id {
            Some(video_id) => self
                .videos
                .get(video_id)
                .await?
                .and_then(|video| video.media_key),
            None => None,
        };
        let failed =
            fail_video(&self.videos, &self.webhooks, self.clock.now(), job, failure).await?;
        if failed && let Some(key) = upload {
            self.discard_upload(&key).await;
        }
        Ok(())
    }
}
