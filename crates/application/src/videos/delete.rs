//! Deleting a video (its jobs cancelled, its files removed), and removing everything a
//! user owns before the user is deleted.

use vidgen_domain::listing::Page;
use vidgen_domain::users::UserId;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::VideoId;

use super::VideoService;
use super::ports::VideoQuery;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum DeleteVideoError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    #[error("deleting the video failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for DeleteVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl VideoService {
    /// Cancels the video's jobs (a running render notices and stops), deletes it and
    /// removes its files.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's.
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, actor: Actor, id: VideoId) -> Result<(), DeleteVideoError> {
        if self.visible(actor, id).await?.is_none() {
            return Err(DeleteVideoError::NotFound);
        }
        self.jobs.cancel_for_video(id, self.clock.now()).await?;
        let Some(video) = self.videos.delete(id).await? else {
            return Err(DeleteVideoError::NotFound);
        };
        self.remove_files([video.media_key, video.thumbnail_key])
            .await;
        Ok(())
    }

    /// Before a user is deleted: stops their renders and removes their files (the rows
    /// go with the user).
    ///
    /// # Errors
    /// A storage failure.
    pub async fn purge_owner(&self, owner: UserId) -> Result<(), RepositoryError> {
        let now = self.clock.now();
        let mut skip = 0;
        loop {
            let page = Page::new(skip, Page::MAX_LIMIT).map_err(RepositoryError::new)?;
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
                self.remove_files([video.media_key.clone(), video.thumbnail_key.clone()])
                    .await;
            }
            if batch.items.len() < usize::try_from(page.limit()).unwrap_or(usize::MAX) {
                return Ok(());
            }
            skip += page.limit();
        }
    }

    /// Removes stored files, logging (not failing on) the ones that cannot be removed:
    /// the periodic sweep removes leftovers.
    async fn remove_files(&self, keys: impl IntoIterator<Item = Option<String>>) {
        for key in keys.into_iter().flatten() {
            if let Err(error) = self.media.remove(&key).await {
                tracing::warn!(error = %error, key, "could not remove a video file");
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::users::ports::OwnedContent for VideoService {
    async fn purge(&self, owner: UserId) -> Result<(), RepositoryError> {
        self.purge_owner(owner).await
    }
}
