//! Changing a video's title and description.

use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::{Description, Title, Video, VideoId};

use super::VideoService;
use crate::storage::RepositoryError;

/// The changes to make; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateVideo {
    pub title: Option<Title>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<Description>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateVideoError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    #[error("updating the video failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for UpdateVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl VideoService {
    /// # Errors
    /// `NotFound` when missing or not the caller's.
    pub async fn update(
        &self,
        actor: Actor,
        id: VideoId,
        changes: UpdateVideo,
    ) -> Result<Video, UpdateVideoError> {
        if self.visible(actor, id).await?.is_none() {
            return Err(UpdateVideoError::NotFound);
        }
        self.videos
            .update_details(id, changes.title, changes.description, self.clock.now())
            .await?
            .ok_or(UpdateVideoError::NotFound)
    }
}
