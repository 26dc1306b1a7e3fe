//! Uploading a video: the file is written to a staging file as it arrives (never held
//! whole in memory), its type decided from its first bytes and its size capped as it
//! grows; then the video and its `process_upload` job are stored together, optionally
//! under an idempotency key. A staged file nobody took over is removed when dropped, so
//! an interrupted or refused upload leaves nothing behind.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use vidgen_domain::users::{User, UserStatus};
use vidgen_domain::videos::{Description, MAX_JOB_ATTEMPTS, Title, Video, VideoSource};
use vidgen_domain::webhooks::WebhookUrl;

use super::VideoService;
use super::ports::{MediaStore, NewVideo};
use super::probe::{MediaProbe, SNIFF_BYTES, Sniffed, UploadFormat};
use crate::idempotency::{Created, Fingerprint, IdempotencyError, Keyed};
use crate::jobs::{JobKind, NewJob};
use crate::storage::RepositoryError;

/// Why a file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum UploadFileError {
    /// The file passed the size limit (nothing of it is kept).
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The bytes are not an MP4, MOV or WebM video (whatever the name or declared type).
    #[error("the file is not an MP4, MOV or WebM video")]
    Unsupported,
    /// The staging file could not be written.
    #[error("the upload could not be stored")]
    Storage(#[source] std::io::Error),
}

/// A file being received.
pub struct UploadSink {
    media: Arc<dyn MediaStore>,
    probe: Arc<dyn MediaProbe>,
    limit: u64,
    head: Vec<u8>,
    staged: Option<Staging>,
    size: u64,
    /// The file's SHA-256 as it arrives, only when an `Idempotency-Key` needs the file in
    /// the request's fingerprint (17% of an upload's CPU time otherwise spent for nothing).
    hasher: Option<Sha256>,
}

struct Staging {
    key: String,
    format: UploadFormat,
    file: StagingWriter,
}

/// Bytes gathered before each write to the staging file.
const WRITE_BUFFER: usize = 1024 * 1024;

/// The staging file, written on the blocking pool one full buffer at a time while the
/// next buffer fills: each byte is copied once on its way to the kernel (a buffered
/// `tokio::fs::File` copies it twice more), and a write is in flight while the request
/// is read.
struct StagingWriter {
    filling: Vec<u8>,
    file: FileSlot,
}

/// Where the file is: free with a spare buffer, or out on the blocking pool being
/// written (it comes back with the emptied buffer).
enum FileSlot {
    Idle(std::fs::File, Vec<u8>),
    Writing(tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>),
    /// A write failed: the file is gone with it.
    Failed,
}

impl StagingWriter {
    fn new(file: std::fs::File) -> Self {
        Self {
            filling: Vec::with_capacity(WRITE_BUFFER),
            file: FileSlot::Idle(file, Vec::with_capacity(WRITE_BUFFER)),
        }
    }

    async fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let take = (WRITE_BUFFER - self.filling.len()).min(bytes.len());
            self.filling.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.filling.len() == WRITE_BUFFER {
                self.submit().await?;
            }
        }
        Ok(())
    }

    /// Waits for the write in flight, if any, and takes the file back.
    async fn settle(&mut self) -> std::io::Result<(std::fs::File, Vec<u8>)> {
        match std::mem::replace(&mut self.file, FileSlot::Failed) {
            FileSlot::Idle(file, spare) => Ok((file, spare)),
            FileSlot::Writing(write) => write.await.map_err(std::io::Error::other)?,
            FileSlot::Failed => Err(std::io::Error::other("an earlier write failed")),
        }
    }

    /// Sends the filled buffer to be written and goes on filling the spare one.
    async fn submit(&mut self) -> std::io::Result<()> {
        let (mut file, mut full) = self.settle().await?;
        std::mem::swap(&mut self.filling, &mut full);
        self.file = FileSlot::Writing(tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            file.write_all(&full)?;
            full.clear();
            Ok((file, full))
        }));
        Ok(())
    }

    /// Writes what is left and waits until the file is on disk.
    async fn sync(&mut self) -> std::io::Result<()> {
        if !self.filling.is_empty() {
            self.submit().await?;
        }
        let (file, spare) = self.settle().await?;
        let file = tokio::task::spawn_blocking(move || file.sync_all().map(|()| file))
            .await
            .map_err(std::io::Error::other)??;
        self.file = FileSlot::Idle(file, spare);
        Ok(())
    }
}

impl std::fmt::Debug for UploadSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSink")
            .field("size", &self.size)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl UploadSink {
    /// Takes the next chunk of the file.
    ///
    /// # Errors
    /// `TooLarge` as soon as the file passes the limit, `Unsupported` as soon as its
    /// first bytes tell it is not a video upload, `Storage` when writing fails. The
    /// staging file is removed in each case (when the sink is dropped).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadFileError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(UploadFileError::TooLarge { limit: self.limit });
        }
        if let Some(hasher) = &mut self.hasher {
            hasher.update(chunk);
        }
        if let Some(staging) = &mut self.staged {
            return staging
                .file
                .write_all(chunk)
                .await
                .map_err(UploadFileError::Storage);
        }
        self.head.extend_from_slice(chunk);
        self.decide(false).await
    }

    /// Decides the type once enough bytes arrived (or the file ended), then opens the
    /// staging file and writes what was held back.
    async fn decide(&mut self, complete: bool) -> Result<(), UploadFileError> {
        let format = match self.probe.sniff(&self.head, complete) {
            Sniffed::Format(format) => format,
            Sniffed::NeedMore if !complete && self.head.len() < SNIFF_BYTES => return Ok(()),
            Sniffed::NeedMore | Sniffed::Unsupported => return Err(UploadFileError::Unsupported),
        };
        let key = self.media.new_key(format.extension());
        let file = tokio::fs::File::create(self.media.staging_path(&key))
            .await
            .map_err(UploadFileError::Storage)?
            .into_std()
            .await;
        // From here on the file exists: the sink's drop removes it unless handed over.
        let head = std::mem::take(&mut self.head);
        let staging = self.staged.insert(Staging {
            key,
            format,
            file: StagingWriter::new(file),
        });
        staging
            .file
            .write_all(&head)
            .await
            .map_err(UploadFileError::Storage)
    }

    /// The whole file arrived.
    ///
    /// # Errors
    /// `Unsupported` for an empty file or one whose bytes are no video upload;
    /// `Storage` when the staging file cannot be flushed.
    pub async fn finish(mut self) -> Result<StagedUpload, UploadFileError> {
        if self.staged.is_none() {
            self.decide(true).await?;
        }
        let Some(mut staging) = self.staged.take() else {
            return Err(UploadFileError::Unsupported);
        };
        let flushed = staging.file.sync().await;
        let staged = StagedUpload {
            media: self.media.clone(),
            key: staging.key,
            format: staging.format,
            size: self.size,
            sha256: self.hasher.take().map(|hasher| {
                hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            }),
            committed: false,
        };
        flushed.map_err(UploadFileError::Storage)?;
        Ok(staged)
    }
}

impl Drop for UploadSink {
    fn drop(&mut self) {
        if let Some(staging) = &self.staged {
            remove_now(&self.media.staging_path(&staging.key));
        }
    }
}

/// Removes a file at once (drop cannot wait); a missing file is fine, and the media
/// sweep removes what a failure here leaves.
fn remove_now(path: &std::path::Path) {
    if let Err(error) = std::fs::remove_file(path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %error, "could not remove a staged upload");
    }
}

/// A received file in staging, removed when dropped unless it was stored.
pub struct StagedUpload {
    media: Arc<dyn MediaStore>,
    key: String,
    pub format: UploadFormat,
    pub size: u64,
    /// The file's SHA-256 in hex, when the sink was asked for it (see
    /// [`VideoService::upload_sink`]).
    pub sha256: Option<String>,
    committed: bool,
}

impl std::fmt::Debug for StagedUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedUpload")
            .field("key", &self.key)
            .field("format", &self.format)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl StagedUpload {
    /// The file now belongs to a stored video: dropping this no longer removes it.
    fn stored(&mut self) {
        self.committed = true;
    }
}

impl Drop for StagedUpload {
    fn drop(&mut self) {
        if !self.committed {
            remove_now(&self.media.staging_path(&self.key));
        }
    }
}

/// An upload's fields, already well-formed.
#[derive(Debug)]
pub struct UploadVideo {
    pub title: Title,
    pub description: Option<Description>,
    pub webhook_url: Option<WebhookUrl>,
    pub file: StagedUpload,
}

impl Fingerprint for UploadVideo {
    fn fingerprint_fields(&self) -> Vec<String> {
        let absent = || "\u{0}".to_owned();
        vec![
            self.title.as_ref().to_owned(),
            self.description
                .as_ref()
                .map_or_else(absent, |d| d.as_ref().to_owned()),
            self.webhook_url
                .as_ref()
                .map_or_else(absent, |u| u.as_ref().to_owned()),
            self.file.sha256.clone().unwrap_or_else(absent),
            self.file.size.to_string(),
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadVideoError {
    /// The caller may not create videos yet (e-mail not verified).
    #[error("verify your e-mail address before uploading videos")]
    Forbidden,
    #[error("this Idempotency-Key was already used for a different request")]
    KeyMismatch,
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInProgress,
    /// The owner already has as many videos pending or processing as allowed.
    #[error("you already have {limit} videos pending or processing; wait for one to finish")]
    TooManyActive { limit: u64 },
    #[error("storing the upload failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for UploadVideoError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<IdempotencyError<UploadVideoError>> for UploadVideoError {
    fn from(error: IdempotencyError<UploadVideoError>) -> Self {
        match error {
            IdempotencyError::KeyMismatch => Self::KeyMismatch,
            IdempotencyError::KeyInProgress => Self::KeyInProgress,
            IdempotencyError::Store(source) => Self::Unexpected(Box::new(source)),
            IdempotencyError::Create(error) => error,
        }
    }
}

/// What a `process_upload` job stores.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct UploadPayload {
    pub format: String,
}

/// The job that probes an uploaded file.
fn process_upload_job(format: UploadFormat, now: chrono::DateTime<chrono::Utc>) -> NewJob {
    let payload = serde_json::to_string(&UploadPayload {
        format: format.as_str().to_owned(),
    })
    .unwrap_or_default();
    NewJob {
        kind: JobKind::ProcessUpload,
        video_id: None,
        payload,
        max_attempts: MAX_JOB_ATTEMPTS,
        run_after: now,
    }
}

impl VideoService {
    /// Largest upload accepted (`MAX_UPLOAD_BYTES`).
    pub fn max_upload_bytes(&self) -> u64 {
        self.uploads.as_ref().map_or(0, |u| u.limit)
    }

    /// A sink for the file of an upload; `fingerprinted` (the request has an
    /// `Idempotency-Key`) makes it hash the file for the request's fingerprint.
    ///
    /// # Errors
    /// `Storage` when uploads are not set up on this service.
    pub fn upload_sink(&self, fingerprinted: bool) -> Result<UploadSink, UploadFileError> {
        let Some(uploads) = &self.uploads else {
            return Err(UploadFileError::Storage(std::io::Error::other(
                "uploads are not configured",
            )));
        };
        Ok(UploadSink {
            media: self.media.clone(),
            probe: uploads.probe.clone(),
            limit: uploads.limit,
            head: Vec::with_capacity(SNIFF_BYTES),
            staged: None,
            size: 0,
            hasher: fingerprinted.then(Sha256::new),
        })
    }

    /// Stores an uploaded video (pending) with the job that probes it. The file is moved
    /// into place first and removed again if storing fails; with an idempotency key, a
    /// retry of the same upload gets the first answer (and its file is dropped).
    ///
    /// # Errors
    /// `Forbidden` while the caller's e-mail is unverified; `KeyMismatch` /
    /// `KeyInProgress` for a reused key.
    #[tracing::instrument(skip_all, fields(user_id = %owner.id, size = request.file.size))]
    pub async fn upload(
        &self,
        owner: &User,
        mut request: UploadVideo,
        keyed: Option<Keyed<Video>>,
    ) -> Result<Created<Video>, UploadVideoError> {
        if owner.status == UserStatus::PendingVerification {
            return Err(UploadVideoError::Forbidden);
        }
        let now = self.clock.now();
        let key = request.file.key.clone();
        let format = request.file.format;
        let video = NewVideo {
            owner_id: owner.id,
            title: request.title.clone(),
            description: request.description.clone(),
            prompt: None,
            source: VideoSource::Upload,
            resolution: None,
            fps: None,
            requested_duration: None,
            webhook_url: request.webhook_url.as_ref().map(|u| u.as_ref().to_owned()),
            media_key: Some(key.clone()),
            created_at: now,
        };
        let created = self
            .idempotent
            .run(owner.id, &request, keyed, |completion| async {
                if !self.below_active_cap(owner.id).await? {
                    return Err(UploadVideoError::TooManyActive {
                        limit: self.max_active_jobs(),
                    });
                }
                self.media
                    .commit(&key)
                    .await
                    .map_err(RepositoryError::new)?;
                match self
                    .videos
                    .create_with_job(video, process_upload_job(format, now), completion)
                    .await
                {
                    Ok(video) => Ok(video),
                    Err(error) => {
                        let _ = self.media.remove(&key).await;
                        Err(error.into())
                    }
                }
            })
            .await?;
        if let Created::New(video) = &created {
            request.file.stored();
            tracing::info!(video_id = %video.id, "upload queued for processing");
        }
        Ok(created)
    }
}

/// Upload settings of the video service.
#[derive(Clone)]
pub(crate) struct Uploads {
    pub probe: Arc<dyn MediaProbe>,
    pub limit: u64,
}

#[cfg(test)]
mod tests;
