//! The files of a completed video: the video itself and its thumbnail.

use std::collections::HashMap;

use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{User, UserId};
use vidgen_domain::videos::{Video, VideoId, VideoStatus};

use super::VideoService;
use crate::media_links::{LinkSignature, MediaLinks};
use crate::storage::RepositoryError;

/// A stored file of a completed video, opened for serving.
pub type VideoFile = super::ports::MediaFile;

#[derive(Debug, thiserror::Error)]
pub enum VideoFileError {
    /// Missing, or not the caller's.
    #[error("video not found")]
    NotFound,
    /// Files asked for before the video is completed.
    #[error("the video is not ready yet")]
    NotReady,
    /// A completed video without a thumbnail (an upload whose codec is not decoded).
    #[error("this video has no thumbnail")]
    NoThumbnail,
    #[error("reading the video failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for VideoFileError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<super::ports::MediaError> for VideoFileError {
    fn from(error: super::ports::MediaError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

/// Which file of a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFileKind {
    /// The video itself.
    Content,
    Thumbnail,
}

impl VideoService {
    /// The video file of a completed video.
    ///
    /// # Errors
    /// `NotFound` when missing or not the caller's; `NotReady` before completion.
    pub async fn content(&self, actor: Actor, id: VideoId) -> Result<VideoFile, VideoFileError> {
        let video = self
            .visible(actor, id)
            .await?
            .ok_or(VideoFileError::NotFound)?;
        self.file_of(video, VideoFileKind::Content).await
    }

    /// The thumbnail of a completed video.
    ///
    /// # Errors
    /// As for [`VideoService::content`], and `NoThumbnail` for a completed video without
    /// one.
    pub async fn thumbnail(&self, actor: Actor, id: VideoId) -> Result<VideoFile, VideoFileError> {
        let video = self
            .visible(actor, id)
            .await?
            .ok_or(VideoFileError::NotFound)?;
        self.file_of(video, VideoFileKind::Thumbnail).await
    }

    /// A file opened by a signed link to `path` instead of a bearer token.
    ///
    /// # Errors
    /// `NotFound` for a missing video, an owner who may no longer log in, and every
    /// signature that is not this path's, this owner's current one and unexpired (a bad
    /// link looks exactly like a video the caller may not see); then as for
    /// [`VideoService::content`].
    pub async fn file_by_link(
        &self,
        id: VideoId,
        kind: VideoFileKind,
        path: &str,
        link: &LinkSignature,
    ) -> Result<VideoFile, VideoFileError> {
        let Some(signed) = &self.links else {
            return Err(VideoFileError::NotFound);
        };
        let video = self.videos.get(id).await?.ok_or(VideoFileError::NotFound)?;
        let owner = signed
            .owners
            .get(video.owner_id)
            .await?
            .filter(|owner| owner.status.can_log_in())
            .ok_or(VideoFileError::NotFound)?;
        if !signed.links.verify(path, owner.token_version, link) {
            return Err(VideoFileError::NotFound);
        }
        self.file_of(video, kind).await
    }

    /// What signs this service's media links, when they are signed.
    pub fn media_links(&self) -> Option<&MediaLinks> {
        self.links.as_ref().map(|signed| &signed.links)
    }

    /// The token versions of the owners of `videos`, which their links are signed with:
    /// `known` (usually the caller) as it is, the others looked up once each.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn owner_token_versions(
        &self,
        known: &User,
        videos: &[Video],
    ) -> Result<HashMap<UserId, i64>, RepositoryError> {
        let mut versions = HashMap::from([(known.id, known.token_version)]);
        let Some(signed) = &self.links else {
            return Ok(versions);
        };
        for video in videos {
            if video.status != VideoStatus::Completed || versions.contains_key(&video.owner_id) {
                continue;
            }
            if let Some(owner) = signed.owners.get(video.owner_id).await? {
                versions.insert(owner.id, owner.token_version);
            }
        }
        Ok(versions)
    }

    async fn file_of(
        &self,
        video: Video,
        kind: VideoFileKind,
    ) -> Result<VideoFile, VideoFileError> {
        if video.status != VideoStatus::Completed {
            return Err(VideoFileError::NotReady);
        }
        let (key, content_type) = match kind {
            VideoFileKind::Content => (
                video.media_key.ok_or(VideoFileError::NotReady)?,
                video.content_type.unwrap_or_else(|| "video/mp4".into()),
            ),
            VideoFileKind::Thumbnail => (
                video.thumbnail_key.ok_or(VideoFileError::NoThumbnail)?,
                "image/png".into(),
            ),
        };
        Ok(VideoFile::open(self.media.clone(), key, content_type).await?)
    }
}
