//! Videos: generation from prompts (and, later, uploads), the render job, and the ports
//! for video storage, media files and rendering. Each use case is a method of
//! [`VideoService`] in its own module, with its own request and error types.

pub mod create;
pub mod delete;
pub mod events;
pub mod files;
pub mod ports;
pub mod probe;
pub mod process_upload;
pub mod queries;
pub mod render;
pub mod render_job;
pub mod retry;
pub mod update;
pub mod upload;

use std::sync::Arc;

use vidgen_domain::users::policy::{Access, Actor};
use vidgen_domain::videos::{MAX_JOB_ATTEMPTS, Video, VideoId, can_access_video};

use self::ports::{MediaStore, VideoRepository};
use self::probe::MediaProbe;
use crate::clock::Clock;
use crate::idempotency::{IdempotencyStore, IdempotentCreation};
use crate::jobs::{JobKind, JobQueue, NewJob};
use crate::media_links::MediaLinks;
use crate::storage::RepositoryError;
use crate::users::ports::UserRepository;
use crate::validation::FieldViolation;
use crate::webhooks::outbox::WebhookOutbox;
use vidgen_domain::webhooks::WebhookUrl;

/// Runs the video use cases.
#[derive(Clone)]
pub struct VideoService {
    idempotent: IdempotentCreation,
    videos: Arc<dyn VideoRepository>,
    jobs: Arc<dyn JobQueue>,
    media: Arc<dyn MediaStore>,
    clock: Arc<dyn Clock>,
    webhooks: WebhookOutbox,
    uploads: Option<upload::Uploads>,
    /// Videos a user may have pending or processing at once.
    max_active: u64,
    /// Signed media links, when set up.
    links: Option<SignedLinks>,
}

/// What signed media links need: the signer, and the owners whose token versions the
/// links are bound to.
#[derive(Clone)]
struct SignedLinks {
    links: MediaLinks,
    owners: Arc<dyn UserRepository>,
}

impl std::fmt::Debug for VideoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoService").finish_non_exhaustive()
    }
}

/// The job that renders a video (the repository ties it to the video it stores).
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
            idempotent: IdempotentCreation::new(keys, clock.clone()),
            videos,
            jobs,
            media,
            clock,
            webhooks: WebhookOutbox::disabled(),
            uploads: None,
            max_active: u64::MAX,
            links: None,
        }
    }

    /// Signs media links with `links`, bound to the token versions `owners` stores.
    #[must_use]
    pub fn with_media_links(mut self, links: MediaLinks, owners: Arc<dyn UserRepository>) -> Self {
        self.links = Some(SignedLinks { links, owners });
        self
    }

    /// At most `max` videos of one user pending or processing at once
    /// (`MAX_ACTIVE_JOBS_PER_USER`).
    #[must_use]
    pub fn with_max_active_jobs(mut self, max: u64) -> Self {
        self.max_active = max;
        self
    }

    /// Whether `owner` may queue one more video.
    ///
    /// # Errors
    /// A storage failure.
    pub(crate) async fn below_active_cap(
        &self,
        owner: vidgen_domain::users::UserId,
    ) -> Result<bool, RepositoryError> {
        if self.max_active == u64::MAX {
            return Ok(true);
        }
        Ok(self.videos.count_active(owner).await? < self.max_active)
    }

    /// The cap of [`VideoService::with_max_active_jobs`].
    pub fn max_active_jobs(&self) -> u64 {
        self.max_active
    }

    /// Accepts uploads of at most `max_bytes`, recognised and probed by `probe`.
    #[must_use]
    pub fn with_uploads(mut self, probe: Arc<dyn MediaProbe>, max_bytes: u64) -> Self {
        self.uploads = Some(upload::Uploads {
            probe,
            limit: max_bytes,
        });
        self
    }

    /// Accepts `webhook_url`s by `outbox`'s policy (webhooks are off until this is called).
    #[must_use]
    pub fn with_webhooks(mut self, outbox: WebhookOutbox) -> Self {
        self.webhooks = outbox;
        self
    }

    /// The webhook URL a request names, or the rule it breaks, reported with the request's
    /// other field problems.
    ///
    /// # Errors
    /// The violation on `webhook_url`.
    pub fn check_webhook_url(&self, raw: &str) -> Result<WebhookUrl, FieldViolation> {
        self.webhooks.check_url(raw)
    }

    /// The video, when it exists and `actor` may see it (others' videos are reported as
    /// missing, never as forbidden).
    async fn visible(&self, actor: Actor, id: VideoId) -> Result<Option<Video>, RepositoryError> {
        let video = self.videos.get(id).await?;
        Ok(video.filter(|v| can_access_video(actor, v.owner_id) == Access::Allowed))
    }
}

#[cfg(test)]
mod tests;
#[cfg(any(test, feature = "mocks"))]
pub mod tests_support;
