//! The files of a completed video: the video itself and its thumbnail.

use std::path::PathBuf;

use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::{VideoId, VideoStatus};

use super::VideoService;
use crate::storage::RepositoryError;

/// A stored file of a completed video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFile {
    pub path: PathBuf,
    pub content_type: String,
}

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
        match (video.status, video.media_key) {
            (VideoStatus::Completed, Some(key)) => Ok(VideoFile {
                path: self.media.path(&key),
                content_type: video.content_type.unwrap_or_else(|| "video/mp4".into()),
            }),
            _ => Err(VideoFileError::NotReady),
        }
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
        match (video.status, video.thumbnail_key) {
            (VideoStatus::Completed, Some(key)) => Ok(VideoFile {
                path: self.media.path(&key),
                content_type: "image/png".into(),
            }),
            (VideoStatus::Completed, None) => Err(VideoFileError::NoThumbnail),
            _ => Err(VideoFileError::NotReady),
        }
    }
}
