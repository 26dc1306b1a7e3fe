//! Creating a video from a prompt: the pending video and its render job are stored
//! together, optionally under an idempotency key.

use vidgen_domain::users::{User, UserStatus};
use vidgen_domain::videos::{
    Description, DurationSeconds, GENERATED_FPS, Prompt, Resolution, Title, Video, VideoSource,
};

use vidgen_domain::webhooks::WebhookUrl;

use super::ports::NewVideo;
use super::{VideoService, render_job};
use crate::idempotency::{Created, Fingerprint, IdempotencyError, Keyed};
use crate::storage::RepositoryError;

/// A video to generate.
#[derive(Debug, Clone)]
pub struct CreateVideo {
    pub title: Title,
    pub description: Option<Description>,
    pub prompt: Prompt,
    pub resolution: Resolution,
    pub duration: DurationSeconds,
    /// Called back when the video completes or fails (checked by
    /// [`VideoService::check_webhook_url`]).
    pub webhook_url: Option<WebhookUrl>,
}

impl Fingerprint for CreateVideo {
    fn fingerprint_fields(&self) -> Vec<String> {
        vec![
            self.title.as_ref().to_owned(),
            self.description
                .as_ref()
                .map_or_else(|| "\u{0}".to_owned(), |d| d.as_ref().to_owned()),
            self.prompt.as_ref().to_owned(),
            self.resolution.as_str().to_owned(),
            self.duration.get().to_string(),
            self.webhook_url
                .as_ref()
                .map_or_else(|| "\u{0}".to_owned(), |u| u.as_ref().to_owned()),
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateVideoError {
    /// The caller may not create videos yet (e-mail not verified).
    #[error("verify your e-mail address before creating videos")]
    Forbidden,
    /// The idempotency key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyMismatch,
    /// The first request with this idempotency key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInProgress,
    /// The owner already has as many videos pending or processing as allowed.
    #[error("you already have {limit} videos pending or processing; wait for one to finish")]
    TooManyActive { limit: u64 },
    #[error("video storage failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for CreateVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<IdempotencyError<CreateVideoError>> for CreateVideoError {
    fn from(error: IdempotencyError<CreateVideoError>) -> Self {
        match error {
            IdempotencyError::KeyMismatch => Self::KeyMismatch,
            IdempotencyError::KeyInProgress => Self::KeyInProgress,
            IdempotencyError::Store(source) => Self::Unexpected(Box::new(source)),
            IdempotencyError::Create(error) => error,
        }
    }
}

impl VideoService {
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
        owner: &User,
        request: CreateVideo,
        keyed: Option<Keyed<Video>>,
    ) -> Result<Created<Video>, CreateVideoError> {
        if owner.status == UserStatus::PendingVerification {
            return Err(CreateVideoError::Forbidden);
        }
        let now = self.clock.now();
        let created = self
            .idempotent
            .run(owner.id, &request, keyed, |completion| {
                let video = NewVideo {
                    owner_id: owner.id,
                    title: request.title.clone(),
                    description: request.description.clone(),
                    prompt: Some(request.prompt.clone()),
                    source: VideoSource::Generated,
                    resolution: Some(request.resolution),
                    fps: Some(GENERATED_FPS),
                    requested_duration: Some(request.duration),
                    webhook_url: request.webhook_url.as_ref().map(|u| u.as_ref().to_owned()),
                    media_key: None,
                    created_at: now,
                };
                async move {
                    if !self.below_active_cap(owner.id).await? {
                        return Err(CreateVideoError::TooManyActive {
                            limit: self.max_active,
                        });
                    }
                    Ok(self
                        .videos
                        .create_with_job(video, render_job(now), completion)
                        .await?)
                }
            })
            .await?;
        if let Created::New(video) = &created {
            tracing::info!(video_id = %video.id, "video queued");
        }
        Ok(created)
    }
}
