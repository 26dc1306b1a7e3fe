//! The video use cases: create (with its render job), read, list, change, delete, retry,
//! and the files of a completed video.

use std::path::PathBuf;
use std::sync::Arc;

use vidgen_domain::listing::Paged;
use vidgen_domain::users::policy::{Access, Actor};
use vidgen_domain::users::{Role, UserId, UserStatus};
use vidgen_domain::videos::{
    Description, DurationSeconds, MAX_JOB_ATTEMPTS, Prompt, Resolution, Title, Video, VideoId,
    VideoSource, VideoStatus, can_access_video,
};

use super::ports::{KeyCompletion, MediaStore, NewVideo, Respond, VideoQuery, VideoRepository};
use crate::clock::Clock;
use crate::idempotency::{Claim, IdempotencyStore, IdempotentRequest, StoredResponse};
use crate::jobs::{JobKind, JobQueue, NewJob};
use crate::storage::RepositoryError;

/// A video to generate.
#[derive(Debug, Clone)]
pub struct CreateVideo {
    pub title: Title,
    pub description: Option<Description>,
    pub prompt: Prompt,
    pub resolution: Resolution,
    pub duration: DurationSeconds,
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    /// The caller may not create videos yet (e-mail not verified).
    #[error("verify your e-mail address before creating videos")]
    Forbidden,
    /// The action does not fit the video's status (retry of a video that did not fail).
    #[error("{0}")]
    Conflict(String),
    /// The idempotency key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyMismatch,
    /// The first request with this idempotency key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInProgress,
    /// Files asked for before the video is completed.
    #[error("the video is not ready yet")]
    NotReady,
    #[error("video storage failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for VideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

/// A stored file of a completed video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFile {
    pub path: PathBuf,
    pub content_type: String,
}

/// The outcome of a create: a new video, or the first answer to the same keyed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New(Box<Video>),
    Replay(StoredResponse),
}

/// Runs the video use cases.
#[derive(Clone)]
pub struct VideoService {
    keys: Arc<dyn IdempotencyStore>,
    videos: Arc<dyn VideoRepository>,
    jobs: Arc<dyn JobQueue>,
    media: Arc<dyn MediaStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for VideoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoService").finish_non_exhaustive()
    }
}

/// The job that renders `video`.
pub fn render_job(now: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob {
        kind: JobKind::RenderVideo,
        video_id: None,
        payload: "{}".into(),
        max_attempts: MAX_JOB_ATTEMPTS,
        run_after: now,
    }
}

impl VideoService {
    pub fn new(
        videos: Arc<dyn VideoRepository>,
        jobs: Arc<dyn JobQueue>,
        media: Arc<dyn MediaStore>,
        keys: Arc<dyn IdempotencyStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            videos,
            jobs,
            media,
            clock,
        }
    }

    /// Stores a pending video and its render job together. With an idempotency key, a
    /// retry of the same request gets the first answer again (`Created::Replay`), and the
    /// key is completed in the same transaction as the video.
    ///
    /// # Errors
    /// `Forbidden` while the caller's e-mail is unverified; `KeyMismatch` / `KeyInProgress`
    /// for a reused key.
    #[tracing::instrument(skip_all, fields(user_id = %owner.id))]
    pub async fn create(
        &self,
        owner: &vidgen_domain::users::User,
        request: CreateVideo,
        idempotency: Option<(IdempotentRequest, Respond)>,
    ) -> Result<Created, VideoError> {
        if owner.status == UserStatus::PendingVerification {
            return Err(VideoError::Forbidden);
        }
        let now = self.clock.now();
        let key = match idempotency {
            None => None,
            Some((keyed, respond)) => match self.keys.claim(&keyed, now).await? {
                Claim::Fresh { record_id } => Some(KeyCompletion { record_id, respond }),
                Claim::Replay(stored) => return Ok(Created::Replay(stored)),
                Claim::InProgress => return Err(VideoError::KeyInProgress),
                Claim::Mismatch => return Err(VideoError::KeyMismatch),
            },
        };
        let record_id = key.as_ref().map(|k| k.record_id);
        let created = self
            .videos
            .create_with_job(
                NewVideo {
                    owner_id: owner.id,
                    title: request.title,
                    description: request.description,
                    prompt: Some(request.prompt),
                    source: VideoSource::Generated,
                    resolution: Some(request.resolution),
                    fps: Some(vidgen_domain::videos::GENERATED_FPS),
                    requested_duration: Some(request.duration),
                    webhook_url: None,
                    created_at: now,
                },
                render_job(now),
                key,
            )
            .await;
        let video = match created {
            Ok(video) => video,
            Err(error) => {
                if let Some(record_id) = record_id
                    && let Err(abandon) = self.keys.abandon(record_id).await
                {
                    tracing::warn!(error = ?abandon, "could not release the idempotency key");
                }
                return Err(error.into());
            }
        };
        tracing::info!(video_id = %video.id, "video queued");
        Ok(Created::New(Box::new(video)))
    }

    /// Jobs by state (the queue depth is the `queued` count), for the metrics endpoint.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn job_counts(
        &self,
    ) -> Result<Vec<(vidgen_domain::videos::JobState, u64)>, VideoError> {
        Ok(self.jobs.counts().await?)
    }

    /// Before a user is deleted: stops their renders and removes their files (the rows
    /// go with the user).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn purge_owner(&self, owner: UserId) -> Result<(), VideoError> {
        let now = self.clock.now();
        let mut skip = 0;
        loop {
            let page =
                vidgen_domain::listing::Page::new(skip, vidgen_domain::listing::Page::MAX_LIMIT)
                    .map_err(|e| VideoError::Unexpected(Box::new(e)))?;
            let batch = self
                .videos
                .list(&VideoQuery {
                    page,
                    owner_id: Some(owner),
                    ..VideoQuery::default()
                })
                .await?;
            for video in &batch.items {
                self.jobs.cancel_for_video(video.id, now).await?;
                for key in [&video.media_key, &video.thumbnail_key]
                    .into_iter()
                    .flatten()
                {
                    if let Err(error) = self.media.remove(key).await {
                        tracing::warn!(error = %error, key, "could not remove a file");
                    }
                }
            }
            if batch.items.len() < usize::try_from(page.limit()).unwrap_or(usize::MAX) {
                return Ok(());
            }
            skip += page.limit();
        }
    }

    /// Deletes idempotency keys older than their 24 hours.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn forget_expired_keys(&self) -> Result<u64, VideoError> {
        Ok(self.keys.delete_expired(self.clock.now()).await?)
    }

    async fn visible(&self, actor: Actor, id: VideoId) -> Result<Video, VideoError> {
        let video = self.videos.get(id).await?.ok_or(VideoError::NotFound)?;
        match can_access_video(actor, video.owner_id) {
            Access::Allowed => Ok(video),
            _ => Err(VideoError::NotFound),
        }
    }

    /// # Errors
    /// `NotFound` when missing or not the caller's.
    pub async fn get(&self, actor: Actor, id: VideoId) -> Result<Video, VideoError> {
        self.visible(actor, id).await
    }

    /// The caller's videos; admins see everyone's and may filter by owner.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn list(
        &self,
        actor: Actor,
        mut query: VideoQuery,
    ) -> Result<Paged<Video>, VideoError> {
        if actor.role != Role::Admin {
            query.owner_id = Some(actor.id);
        }
        Ok(self.videos.list(&query).await?)
    }

    /// Videos of one user (themselves, or anyone for admins).
    ///
    /// # Errors
    /// `NotFound` when the caller may not see that user's videos.
    pub async fn list_of(
        &self,
        actor: Actor,
        owner: UserId,
        mut query: VideoQuery,
    ) -> Result<Paged<Video>, VideoError> {
        if actor.id != owner && actor.role != Role::Admin {
            return Err(VideoError::NotFound);
        }
        query.owner_id = Some(owner);
        Ok(self.videos.list(&query).await?)
    }

    /// # Errors
    /// `NotFound` when missing or not the caller's.
    pub async fn update(
        &self,
        actor: Actor,
        id: VideoId,
        title: Option<Title>,
        description: Option<Option<Description>>,
    ) -> Result<Video, VideoError> {
        self.visible(actor, id).await?;
        self.videos
            .update_details(id, title, description, self.clock.now())
            .await?
            .ok_or(VideoError::NotFound)
    }

    /// Cancels the video's jobs (a running render notices and stops), deletes it and
    /// removes its files.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's.
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, actor: Actor, id: VideoId) -> Result<(), VideoError> {
        self.visible(actor, id).await?;
        self.jobs.cancel_for_video(id, self.clock.now()).await?;
        let Some(video) = self.videos.delete(id).await? else {
            return Err(VideoError::NotFound);
        };
        for key in [video.media_key, video.thumbnail_key].into_iter().flatten() {
            if let Err(error) = self.media.remove(&key).await {
                tracing::warn!(error = %error, key, "could not remove a deleted video's file");
            }
        }
        Ok(())
    }

    /// Queues a failed video again.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's; `Conflict` unless the video failed.
    pub async fn retry(&self, actor: Actor, id: VideoId) -> Result<Video, VideoError> {
        let video = self.visible(actor, id).await?;
        if video.status != VideoStatus::Failed {
            return Err(VideoError::Conflict(format!(
                "only a failed video can be retried; this one is {}",
                video.status.as_str()
            )));
        }
        let now = self.clock.now();
        if !self.videos.retry_with_job(id, render_job(now), now).await? {
            return Err(VideoError::Conflict("the video is no longer failed".into()));
        }
        self.visible(actor, id).await
    }

    /// The video file of a completed video.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's; `NotReady` before completion.
    pub async fn content(&self, actor: Actor, id: VideoId) -> Result<VideoFile, VideoError> {
        let video = self.visible(actor, id).await?;
        match (video.status, video.media_key) {
            (VideoStatus::Completed, Some(key)) => Ok(VideoFile {
                path: self.media.path(&key),
                content_type: video.content_type.unwrap_or_else(|| "video/mp4".into()),
            }),
            _ => Err(VideoError::NotReady),
        }
    }

    /// The thumbnail of a completed video.
    ///
    /// # Errors
    /// As for [`VideoService::content`].
    pub async fn thumbnail(&self, actor: Actor, id: VideoId) -> Result<VideoFile, VideoError> {
        let video = self.visible(actor, id).await?;
        match (video.status, video.thumbnail_key) {
            (VideoStatus::Completed, Some(key)) => Ok(VideoFile {
                path: self.media.path(&key),
                content_type: "image/png".into(),
            }),
            _ => Err(VideoError::NotReady),
        }
    }
}

#[async_trait::async_trait]
impl crate::users::ports::OwnedContent for VideoService {
    async fn purge(&self, owner: UserId) -> Result<(), RepositoryError> {
        self.purge_owner(owner).await.map_err(|error| match error {
            VideoError::Unexpected(source) => RepositoryError(source),
            other => RepositoryError::new(std::io::Error::other(other.to_string())),
        })
    }
}
