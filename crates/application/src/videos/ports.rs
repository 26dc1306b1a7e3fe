//! The ports the video use cases need: video storage and media files.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::listing::{Page, Paged, SortOrder};
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{
    Description, DurationSeconds, Prompt, Resolution, Title, Video, VideoId, VideoSource,
    VideoStatus,
};

use crate::idempotency::KeyCompletion;
use crate::jobs::NewJob;
use crate::storage::RepositoryError;
use crate::webhooks::outbox::SettleNotice;

/// A video to store, with the job that will produce it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVideo {
    pub owner_id: UserId,
    pub title: Title,
    pub description: Option<Description>,
    pub prompt: Option<Prompt>,
    pub source: VideoSource,
    pub resolution: Option<Resolution>,
    pub fps: Option<u32>,
    pub requested_duration: Option<DurationSeconds>,
    pub webhook_url: Option<String>,
    /// The stored file of an upload (a render's file is known only once it is done).
    pub media_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a finished render or probe learned about the file.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFacts {
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub file_size: u64,
    pub content_type: String,
    pub media_key: String,
    /// `None` when no thumbnail could be made (an upload whose codec is not decoded).
    pub thumbnail_key: Option<String>,
    /// The video codec (`h264`, `vp9`, ...), when known.
    pub codec: Option<String>,
}

/// Columns a video list may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VideoSortField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    Duration,
}

impl VideoSortField {
    pub const ALL: [Self; 4] = [
        Self::CreatedAt,
        Self::UpdatedAt,
        Self::Title,
        Self::Duration,
    ];

    /// The column's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Title => "title",
            Self::Duration => "duration",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

/// Which videos to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VideoQuery {
    pub page: Page,
    /// Only this owner's videos (always set for non-admins).
    pub owner_id: Option<UserId>,
    pub status: Option<VideoStatus>,
    pub source: Option<VideoSource>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    pub sort_by: VideoSortField,
    pub sort_order: SortOrder,
}

/// Storage of videos.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VideoRepository: Send + Sync {
    /// Stores a pending video, enqueues `job` for it (its `video_id` is filled in) and
    /// completes the idempotency key with the answer, all in one transaction.
    ///
    /// # Errors
    /// A storage failure (nothing is stored then).
    async fn create_with_job(
        &self,
        video: NewVideo,
        job: NewJob,
        key: Option<KeyCompletion<Video>>,
    ) -> Result<Video, RepositoryError>;

    /// # Errors
    /// A storage failure.
    async fn get(&self, id: VideoId) -> Result<Option<Video>, RepositoryError>;

    /// The videos among `ids` that exist, in one query (the progress streams of an
    /// instance share one such read per tick).
    ///
    /// # Errors
    /// A storage failure.
    async fn get_many(&self, ids: &[VideoId]) -> Result<Vec<Video>, RepositoryError>;

    /// # Errors
    /// A storage failure.
    async fn list(&self, query: &VideoQuery) -> Result<Paged<Video>, RepositoryError>;

    /// Changes title and/or description. Returns `None` when the video does not exist.
    ///
    /// # Errors
    /// A storage failure.
    async fn update_details(
        &self,
        id: VideoId,
        title: Option<Title>,
        description: Option<Option<Description>>,
        at: DateTime<Utc>,
    ) -> Result<Option<Video>, RepositoryError>;

    /// Moves the video to `status` if it is in one of `from`, with `progress` and `error`.
    /// Returns whether it moved.
    ///
    /// # Errors
    /// A storage failure.
    async fn transition(
        &self,
        id: VideoId,
        from: &[VideoStatus],
        status: VideoStatus,
        progress: u8,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Records render progress of a processing video.
    ///
    /// # Errors
    /// A storage failure.
    async fn set_progress(
        &self,
        id: VideoId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError>;

    /// Marks a processing video completed with its files and, in the same transaction,
    /// enqueues the job `notice` builds from the completed row (its webhook delivery).
    /// Returns false when the video is gone or no longer processing (the caller then
    /// removes the files).
    ///
    /// # Errors
    /// A storage failure (nothing changes then).
    async fn complete(
        &self,
        id: VideoId,
        facts: MediaFacts,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError>;

    /// Marks a pending or processing video failed with `error` and, in the same
    /// transaction, enqueues the job `notice` builds from the failed row. The row forgets
    /// its files (media and thumbnail keys): a failed video serves none, the caller removes
    /// the ones it knows of, and the media sweep collects any left behind. Returns false
    /// when the video is gone or already settled.
    ///
    /// # Errors
    /// A storage failure (nothing changes then).
    async fn fail(
        &self,
        id: VideoId,
        error: String,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError>;

    /// Moves a failed video back to pending and enqueues `job`, in one transaction.
    /// Returns false when the video is not failed.
    ///
    /// # Errors
    /// A storage failure.
    async fn retry_with_job(
        &self,
        id: VideoId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Deletes the video row. Returns the deleted video.
    ///
    /// # Errors
    /// A storage failure.
    async fn delete(&self, id: VideoId) -> Result<Option<Video>, RepositoryError>;

    /// Whether the user who would own videos exists (a deleted user's videos are gone
    /// with the user, and their collection answers 404).
    ///
    /// # Errors
    /// A storage failure.
    async fn owner_exists(&self, owner: UserId) -> Result<bool, RepositoryError>;

    /// How many of the owner's videos are pending or processing (their jobs queued or
    /// running).
    ///
    /// # Errors
    /// A storage failure.
    async fn count_active(&self, owner: UserId) -> Result<u64, RepositoryError>;
}

/// Why a media operation failed.
#[derive(Debug, thiserror::Error)]
#[error("media storage failed")]
pub struct MediaError(#[source] pub std::io::Error);

/// What a stored file is, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaObject {
    /// Its length in bytes.
    pub size: u64,
    /// When it was stored.
    pub modified: DateTime<Utc>,
    /// A strong validator: it changes whenever the bytes can have changed (no quotes).
    pub etag: String,
}

/// The bytes of a stored file (or of a range of it), read as they arrive.
pub type MediaReader = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;

/// A stored file as a file on this machine, for code that needs a path (the probe):
/// the stored file itself, or a temporary copy that is removed when this is dropped.
#[derive(Debug)]
pub struct LocalFile {
    path: PathBuf,
    temporary: bool,
}

impl LocalFile {
    /// The stored file itself: dropping this leaves it alone.
    pub fn stored(path: PathBuf) -> Self {
        Self {
            path,
            temporary: false,
        }
    }

    /// A copy made for the caller: dropping this removes it.
    pub fn temporary(path: PathBuf) -> Self {
        Self {
            path,
            temporary: true,
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for LocalFile {
    fn drop(&mut self) {
        if self.temporary {
            // A copy left behind (the file is busy) is a staged file the sweep removes.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Video, thumbnail and avatar files, named by generated keys. Files are written to a
/// local staging file first (under `MEDIA_ROOT`) and stored under their key by
/// [`commit`](MediaStore::commit) once complete, so nothing half written is ever served.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// A new unique key with this extension (`mp4`, `png`).
    fn new_key(&self, extension: &str) -> String;

    /// Where to write a file before it is complete (always a local path).
    fn staging_path(&self, key: &str) -> PathBuf;

    /// Stores the staged file under its key (an atomic rename on a filesystem, an upload
    /// to object storage) and removes the staged copy.
    ///
    /// # Errors
    /// The staged file is missing or cannot be stored; nothing is then stored under the
    /// key.
    async fn commit(&self, key: &str) -> Result<(), MediaError>;

    /// Removes the file and any staged copy; a missing file is not an error.
    ///
    /// # Errors
    /// The file exists but cannot be removed.
    async fn remove(&self, key: &str) -> Result<(), MediaError>;

    /// The stored file's size, modification time and validator.
    ///
    /// # Errors
    /// A `NotFound` I/O error when nothing is stored under the key; any other failure of
    /// the store.
    async fn open(&self, key: &str) -> Result<MediaObject, MediaError>;

    /// Streams `length` bytes of the stored file from `start` (within its size).
    ///
    /// # Errors
    /// The file is missing or cannot be read.
    async fn read(&self, key: &str, start: u64, length: u64) -> Result<MediaReader, MediaError>;

    /// The stored file as a local file (a temporary copy when the store is remote).
    ///
    /// # Errors
    /// The file is missing, or cannot be read or copied.
    async fn local_copy(&self, key: &str) -> Result<LocalFile, MediaError>;
}

/// A stored file opened for serving: what it is, its content type and its store.
#[derive(Clone)]
pub struct MediaFile {
    pub key: String,
    pub content_type: String,
    pub object: MediaObject,
    store: std::sync::Arc<dyn MediaStore>,
}

impl std::fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFile")
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

impl MediaFile {
    /// Looks up the file stored under `key`.
    ///
    /// # Errors
    /// As [`MediaStore::open`].
    pub async fn open(
        store: std::sync::Arc<dyn MediaStore>,
        key: String,
        content_type: String,
    ) -> Result<Self, MediaError> {
        let object = store.open(&key).await?;
        Ok(Self {
            key,
            content_type,
            object,
            store,
        })
    }

    /// Streams `length` bytes from `start`.
    ///
    /// # Errors
    /// As [`MediaStore::read`].
    pub async fn read(&self, start: u64, length: u64) -> Result<MediaReader, MediaError> {
        self.store.read(&self.key, start, length).await
    }
}
