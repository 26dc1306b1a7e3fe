//! Queueing a failed video's render again.

use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::{Video, VideoId, VideoStatus};

use super::{VideoService, render_job};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum RetryVideoError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    /// Only a failed video can be retried.
    #[error("{0}")]
    NotFailed(String),
    #[error("retrying the video failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for RetryVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl VideoService {
    /// Queues a failed video again.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's; `NotFailed` unless the video failed.
    pub async fn retry(&self, actor: Actor, id: VideoId) -> Result<Video, RetryVideoError> {
        let video = self
            .visible(actor, id)
            .await?
            .ok_or(RetryVideoError::NotFound)?;
        if video.status != VideoStatus::Failed {
            return Err(RetryVideoError::NotFailed(format!(
                "only a failed video can be retried; this one is {}",
                video.status.as_str()
            )));
        }
        let now = self.clock.now();
        if !self.videos.retry_with_job(id, render_job(now), now).await? {
            return Err(RetryVideoError::NotFailed(
                "the video is no longer failed".into(),
            ));
        }
        self.visible(actor, id)
            .await?
            .ok_or(RetryVideoError::NotFound)
    }
}
