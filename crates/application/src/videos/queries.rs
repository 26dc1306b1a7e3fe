//! Reading videos: one video (directly or under its owner), lists, and job counts.

use vidgen_domain::listing::Paged;
use vidgen_domain::users::Role;
use vidgen_domain::users::UserId;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::{JobState, Video, VideoId};

use super::VideoService;
use super::ports::VideoQuery;
use crate::jobs::JobKind;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum GetVideoError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    #[error("reading the video failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for GetVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListVideosError {
    /// The caller may not see that user's videos.
    #[error("user not found")]
    OwnerNotFound,
    #[error("listing videos failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for ListVideosError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl VideoService {
    /// # Errors
    /// `NotFound` when missing or not the caller's.
    pub async fn get(&self, actor: Actor, id: VideoId) -> Result<Video, GetVideoError> {
        self.visible(actor, id)
            .await?
            .ok_or(GetVideoError::NotFound)
    }

    /// A video under its owner (`/users/{owner}/videos/{id}`).
    ///
    /// # Errors
    /// `NotFound` when missing, not the caller's, or not `owner`'s.
    pub async fn get_of_user(
        &self,
        actor: Actor,
        owner: UserId,
        id: VideoId,
    ) -> Result<Video, GetVideoError> {
        self.visible(actor, id)
            .await?
            .filter(|video| video.owner_id == owner)
            .ok_or(GetVideoError::NotFound)
    }

    /// The caller's videos; admins see everyone's and may filter by owner.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn list(
        &self,
        actor: Actor,
        mut query: VideoQuery,
    ) -> Result<Paged<Video>, ListVideosError> {
        if actor.role != Role::Admin {
            query.owner_id = Some(actor.id);
        }
        Ok(self.videos.list(&query).await?)
    }

    /// Videos of one user (themselves, or anyone for admins).
    ///
    /// # Errors
    /// `OwnerNotFound` when the caller may not see that user's videos.
    pub async fn list_of(
        &self,
        actor: Actor,
        owner: UserId,
        mut query: VideoQuery,
    ) -> Result<Paged<Video>, ListVideosError> {
        if actor.id != owner && actor.role != Role::Admin {
            return Err(ListVideosError::OwnerNotFound);
        }
        if actor.id != owner && !self.videos.owner_exists(owner).await? {
            return Err(ListVideosError::OwnerNotFound);
        }
        query.owner_id = Some(owner);
        Ok(self.videos.list(&query).await?)
    }

    /// Jobs by state (the queue depth is the `queued` count), for the metrics endpoint.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn job_counts(&self) -> Result<Vec<(JobState, u64)>, RepositoryError> {
        self.jobs.counts().await
    }

    /// Jobs by kind and state (every pair, zero included), for the metrics endpoint.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn job_counts_by_kind(
        &self,
    ) -> Result<Vec<(JobKind, JobState, u64)>, RepositoryError> {
        self.jobs.counts_by_kind().await
    }
}
