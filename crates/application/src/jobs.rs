//! Durable background jobs: the `JobQueue` port. Jobs live in the database and are
//! claimed with a lease, so a crashed worker's job is picked up again and no job runs on
//! two workers at once, even across server processes.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::videos::{JobState, VideoId};

use crate::storage::RepositoryError;

/// A job's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub i64);

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Render a generated video.
    RenderVideo,
    /// Probe and thumbnail an uploaded video.
    ProcessUpload,
    /// Deliver a webhook.
    DeliverWebhook,
    /// Delete expired idempotency keys.
    CleanupIdempotencyKeys,
}

impl JobKind {
    pub const ALL: [Self; 4] = [
        Self::RenderVideo,
        Self::ProcessUpload,
        Self::DeliverWebhook,
        Self::CleanupIdempotencyKeys,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RenderVideo => "render_video",
            Self::ProcessUpload => "process_upload",
            Self::DeliverWebhook => "deliver_webhook",
            Self::CleanupIdempotencyKeys => "cleanup_idempotency_keys",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    pub video_id: Option<VideoId>,
    /// Kind-specific data, as JSON.
    pub payload: String,
    pub max_attempts: u32,
    pub run_after: DateTime<Utc>,
}

/// A job a worker holds the lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: JobKind,
    pub video_id: Option<VideoId>,
    pub payload: String,
    /// This run's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease_expires_at: DateTime<Utc>,
}

/// Durable job storage with leases.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// # Errors
    /// A storage failure.
    async fn enqueue(&self, job: NewJob) -> Result<JobId, RepositoryError>;

    /// Leases the next runnable job to `owner` until `now + lease`: a queued job whose
    /// `run_after` has come, or a running job whose lease has expired (its worker died).
    /// Atomic: two callers never get the same job.
    ///
    /// # Errors
    /// A storage failure.
    async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, RepositoryError>;

    /// Extends the lease while the job runs. Returns false when `owner` no longer holds
    /// it (the job was cancelled, or its lease expired and another worker took it).
    ///
    /// # Errors
    /// A storage failure.
    async fn extend_lease(
        &self,
        id: JobId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Marks the job succeeded, if `owner` still holds it.
    ///
    /// # Errors
    /// A storage failure.
    async fn complete(
        &self,
        id: JobId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Records a failed run: queued again for `retry_at`, or dead when `None`.
    ///
    /// # Errors
    /// A storage failure.
    async fn fail(
        &self,
        id: JobId,
        owner: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Gives the job back at once (the worker is stopping), without counting the run.
    ///
    /// # Errors
    /// A storage failure.
    async fn release(
        &self,
        id: JobId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Cancels every unfinished job of the video. Returns how many were cancelled.
    ///
    /// # Errors
    /// A storage failure.
    async fn cancel_for_video(
        &self,
        video_id: VideoId,
        now: DateTime<Utc>,
    ) -> Result<u64, RepositoryError>;

    /// # Errors
    /// A storage failure.
    async fn state(&self, id: JobId) -> Result<Option<JobState>, RepositoryError>;

    /// Jobs by state, and the queue depth (queued jobs), for the metrics endpoint.
    ///
    /// # Errors
    /// A storage failure.
    async fn counts(&self) -> Result<Vec<(JobState, u64)>, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("mine_bitcoin"), None);
    }
}
