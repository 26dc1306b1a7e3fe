//! The `JobHandler` port: what one job kind does with a claimed job, and what its failures
//! do. The worker runtime owns everything around it (leases, heartbeats, attempts,
//! backoff, cancellation, shutdown); a handler only sees the job and its context.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{ClaimedJob, JobKind};
use crate::storage::RepositoryError;

/// Why a run failed, in words a user can read (a video's `error` shows it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

impl From<RepositoryError> for JobFailure {
    fn from(error: RepositoryError) -> Self {
        tracing::error!(error = ?error, "storage failed during a job");
        Self("an internal storage error interrupted the job".into())
    }
}

/// A flag a running job checks between steps. Clones share one flag, so the runtime keeps
/// a clone and raises it (lease lost, shutdown bound reached) while the job polls another.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raises the flag: work holding a clone stops at its next check. Raising it again
    /// does nothing.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`cancel`](Self::cancel) was called on this flag or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The shared flag, for adapters that poll it from another thread.
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
}

/// The latest progress of a running job, in percent. Cheap to report from any thread; the
/// runtime reads it and hands it to [`JobHandler::record_progress`] on its own schedule.
#[derive(Debug, Clone, Default)]
pub struct JobProgress(Arc<AtomicU8>);

impl JobProgress {
    pub fn new() -> Self {
        Self::default()
    }

    /// The job is `percent` done (values above 100 count as 100).
    pub fn report(&self, percent: u8) {
        self.0.store(percent.min(100), Ordering::Relaxed);
    }

    /// The last reported value (0 before any report).
    pub fn latest(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a handler gets for one run: the claim (attempt, maximum, lease facts), a progress
/// sink and the cancellation flag.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job: ClaimedJob,
    pub progress: JobProgress,
    pub cancel: CancelFlag,
}

impl JobContext {
    /// A context for `job` with fresh progress and an unraised flag.
    pub fn new(job: ClaimedJob) -> Self {
        Self {
            job,
            progress: JobProgress::new(),
            cancel: CancelFlag::new(),
        }
    }
}

/// One job kind's behaviour. Registered once in the [`JobRegistry`](super::JobRegistry).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The kind of job this handler runs.
    fn kind(&self) -> JobKind;

    /// For periodic work, how long after each run the next one is due. The runtime seeds
    /// one job row per periodic kind and re-arms it after every run.
    fn period(&self) -> Option<Duration>;

    /// Runs one claimed job. Checks `context.cancel` between steps and returns soon after
    /// it is raised (the lease was lost or the server is stopping); the runtime then
    /// neither completes nor fails the job on its behalf.
    ///
    /// # Errors
    /// `JobFailure` with a readable reason: the runtime retries after a backoff, or, on
    /// the last attempt, calls [`JobHandler::on_final_failure`].
    async fn run(&self, context: &JobContext) -> Result<(), JobFailure>;

    /// Stores the progress of a running job where readers see it (called while the job
    /// still holds its lease, only when the value changed). By default progress is not
    /// kept: only kinds whose progress someone reads store it.
    ///
    /// # Errors
    /// A storage failure (logged; the job keeps running).
    async fn record_progress(
        &self,
        _job: &ClaimedJob,
        _percent: u8,
    ) -> Result<(), RepositoryError> {
        Ok(())
    }

    /// A failed run will be retried later: reflect it where users look (a render puts its
    /// video back to pending). By default nothing is shown anywhere.
    ///
    /// # Errors
    /// A storage failure (logged).
    async fn on_retry(
        &self,
        _job: &ClaimedJob,
        _failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        Ok(())
    }

    /// The job has failed for good (last attempt failed, or its workers died during every
    /// attempt): record the outcome (a render marks its video failed with the reason).
    ///
    /// # Errors
    /// A storage failure (logged).
    async fn on_final_failure(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_flags_are_shared_between_clones() {
        let flag = CancelFlag::new();
        let clone = flag.clone();
        assert!(!clone.is_cancelled());
        flag.cancel();
        assert!(clone.is_cancelled());
        assert!(clone.as_atomic().load(Ordering::SeqCst));
    }

    #[test]
    fn progress_is_shared_and_capped() {
        let progress = JobProgress::new();
        let reader = progress.clone();
        assert_eq!(reader.latest(), 0);
        progress.report(42);
        assert_eq!(reader.latest(), 42);
        progress.report(250);
        assert_eq!(reader.latest(), 100);
    }
}
