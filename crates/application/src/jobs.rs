//! Durable background jobs: the `JobQueue` port, the `JobHandler` port (one per job
//! kind) and the registry the worker runtime picks handlers from. Jobs live in the
//! database and are claimed with a lease (one token per claim), so a crashed worker's job
//! is picked up again and no job runs on two workers at once, even across processes.
//! Periodic work is a job row per kind that is re-armed after each run.

pub mod cleanup_idempotency_keys;
mod handler;
mod registry;
pub mod sweep_media;

#[cfg(any(test, feature = "mocks"))]
pub use handler::MockJobHandler;
pub use handler::{CancelFlag, JobContext, JobFailure, JobHandler, JobProgress};
pub use registry::{DuplicateHandler, JobRegistry};

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::videos::{JobState, MAX_JOB_ATTEMPTS, VideoId};

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
    /// Delete expired idempotency keys (periodic).
    CleanupIdempotencyKeys,
    /// Remove media files nothing refers to (periodic).
    SweepMedia,
    /// Send an account e-mail (verification, password reset).
    SendMail,
}

impl JobKind {
    pub const ALL: [Self; 6] = [
        Self::RenderVideo,
        Self::ProcessUpload,
        Self::DeliverWebhook,
        Self::CleanupIdempotencyKeys,
        Self::SweepMedia,
        Self::SendMail,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RenderVideo => "render_video",
            Self::ProcessUpload => "process_upload",
            Self::DeliverWebhook => "deliver_webhook",
            Self::CleanupIdempotencyKeys => "cleanup_idempotency_keys",
            Self::SweepMedia => "sweep_media",
            Self::SendMail => "send_mail",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// How many runs a periodic job gets per occurrence before it waits for the next one.
pub const PERIODIC_MAX_ATTEMPTS: u32 = MAX_JOB_ATTEMPTS;

/// The delay before retrying after failed attempt `attempt`: the domain's exponential
/// backoff with "equal jitter" (between half and all of it, placed by `unit` in 0..=1,
/// which the runtime draws at random), so jobs that failed together do not all come back
/// at the same instant.
pub fn retry_delay(attempt: u32, unit: f64) -> Duration {
    retry_delay_from(vidgen_domain::videos::RETRY_BASE, attempt, unit)
}

/// [`retry_delay`] when the first retry waits `base` (`JOB_RETRY_BASE_MS`).
pub fn retry_delay_from(base: Duration, attempt: u32, unit: f64) -> Duration {
    let backoff = vidgen_domain::videos::scaled_backoff(base, attempt);
    backoff / 2 + backoff.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
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

/// The proof of one claim. Each claim of a job gets a new token, so the holder of an
/// older claim (its lease expired and the job was taken over) can no longer renew or
/// settle the job, even when it runs in the same process as the new holder.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(String);

impl LeaseToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for LeaseToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Enough to tell claims apart in logs.
        let prefix: String = self.0.chars().take(8).collect();
        write!(f, "LeaseToken({prefix}..)")
    }
}

/// A job a worker holds the lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: JobKind,
    pub video_id: Option<VideoId>,
    pub payload: String,
    /// This run's number, from 1. Every claim counts, takeovers of an expired lease too,
    /// so it exceeds `max_attempts` when the workers died during every allowed run.
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease_expires_at: DateTime<Utc>,
    /// This claim's token: the only way to renew or settle the job.
    pub lease: LeaseToken,
}

impl ClaimedJob {
    /// Whether a failure of this run is the last one allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// Whether every allowed run has already been used up by earlier claims (their
    /// workers died holding the lease): this claim must not run the job again.
    pub fn attempts_exhausted(&self) -> bool {
        self.attempt > self.max_attempts
    }
}

/// Durable job storage with leases.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// # Errors
    /// A storage failure.
    async fn enqueue(&self, job: NewJob) -> Result<JobId, RepositoryError>;

    /// Seeds the periodic job of `kind` to run at `run_after`, unless it exists already
    /// (one row per periodic kind, enforced by the storage: every instance may call this
    /// at start-up). Returns whether a row was created.
    ///
    /// # Errors
    /// A storage failure.
    async fn ensure_periodic(
        &self,
        kind: JobKind,
        max_attempts: u32,
        run_after: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Leases the next runnable job of one of `kinds` to `owner` until `now + lease`, with
    /// a new lease token: a queued job whose `run_after` has come, or a running job whose
    /// lease has expired (its worker died). Every claim counts as an attempt. Atomic: two
    /// callers never get the same job. Jobs of other kinds are left alone; no `kinds`,
    /// no job.
    ///
    /// # Errors
    /// A storage failure.
    async fn claim(
        &self,
        owner: &str,
        kinds: &[JobKind],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, RepositoryError>;

    /// Extends the lease while the job runs. Returns false when `lease` is no longer the
    /// job's (the job was cancelled, or its lease expired and another claim took it).
    ///
    /// # Errors
    /// A storage failure.
    async fn extend_lease(
        &self,
        id: JobId,
        lease: &LeaseToken,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Marks the job succeeded, if `lease` still holds it.
    ///
    /// # Errors
    /// A storage failure.
    async fn complete(
        &self,
        id: JobId,
        lease: &LeaseToken,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Records a failed run, if `lease` still holds the job: queued again for
    /// `retry_at`, or dead when `None`.
    ///
    /// # Errors
    /// A storage failure.
    async fn fail(
        &self,
        id: JobId,
        lease: &LeaseToken,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Re-arms a periodic job after its run, if `lease` still holds it: queued for
    /// `run_after` with its attempts reset, keeping `error` as the last error if the run
    /// failed.
    ///
    /// # Errors
    /// A storage failure.
    async fn reschedule(
        &self,
        id: JobId,
        lease: &LeaseToken,
        run_after: DateTime<Utc>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError>;

    /// Gives the job back at once (the worker is stopping), without counting the run, if
    /// `lease` still holds it.
    ///
    /// # Errors
    /// A storage failure.
    async fn release(
        &self,
        id: JobId,
        lease: &LeaseToken,
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

    /// Jobs by kind and state: one entry for every pair of [`JobKind::ALL`] and
    /// [`JobState::ALL`], zero included, for the metrics endpoint.
    ///
    /// # Errors
    /// A storage failure.
    async fn counts_by_kind(&self) -> Result<Vec<(JobKind, JobState, u64)>, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidgen_domain::videos::retry_backoff;

    #[test]
    fn kinds_round_trip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("mine_bitcoin"), None);
    }

    #[test]
    fn retry_delays_are_jittered_between_half_and_all_of_the_backoff() {
        for attempt in 1..=10 {
            let base = retry_backoff(attempt);
            assert_eq!(retry_delay(attempt, 0.0), base / 2, "attempt {attempt}");
            assert_eq!(retry_delay(attempt, 1.0), base, "attempt {attempt}");
            let middle = retry_delay(attempt, 0.5);
            assert!(
                middle > base / 2 && middle < base,
                "attempt {attempt}: {middle:?}"
            );
        }
        assert_eq!(retry_delay(1, 7.0), retry_backoff(1), "units are clamped");
        assert_eq!(
            retry_delay(1, -1.0),
            retry_backoff(1) / 2,
            "units are clamped"
        );
    }

    #[test]
    fn kind_names_fit_the_kind_column() {
        for kind in JobKind::ALL {
            assert!(kind.as_str().len() <= 32, "{kind:?} is too long");
        }
    }

    #[test]
    fn attempts_beyond_the_maximum_are_exhausted() {
        let job = |attempt| ClaimedJob {
            id: JobId(1),
            kind: JobKind::RenderVideo,
            video_id: None,
            payload: "{}".into(),
            attempt,
            max_attempts: 3,
            lease_expires_at: DateTime::<Utc>::MIN_UTC,
            lease: LeaseToken::new("t"),
        };
        let facts: Vec<(bool, bool)> = (1..=4)
            .map(|a| (job(a).is_last_attempt(), job(a).attempts_exhausted()))
            .collect();
        assert_eq!(
            facts,
            [(false, false), (false, false), (true, false), (true, true)]
        );
    }

    #[test]
    fn lease_tokens_do_not_print_whole() {
        let token = LeaseToken::new("0123456789abcdef");
        assert_eq!(format!("{token:?}"), "LeaseToken(01234567..)");
        assert_eq!(token.as_str(), "0123456789abcdef");
    }
}
