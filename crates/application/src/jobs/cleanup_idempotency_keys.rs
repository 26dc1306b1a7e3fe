//! The periodic `cleanup_idempotency_keys` job: deletes idempotency keys past their
//! lifetime. Scheduled through the queue, so with several instances one of them runs each
//! occurrence.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{ClaimedJob, JobContext, JobFailure, JobHandler, JobKind};
use crate::clock::Clock;
use crate::idempotency::IdempotencyStore;
use crate::storage::RepositoryError;

/// Deletes expired idempotency keys every `period`.
pub struct CleanupIdempotencyKeys {
    keys: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    period: Duration,
}

impl std::fmt::Debug for CleanupIdempotencyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanupIdempotencyKeys")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl CleanupIdempotencyKeys {
    /// How often the cleanup runs unless told otherwise.
    pub const DEFAULT_PERIOD: Duration = Duration::from_secs(3600);

    pub fn new(keys: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, period: Duration) -> Self {
        Self {
            keys,
            clock,
            period,
        }
    }
}

#[async_trait]
impl JobHandler for CleanupIdempotencyKeys {
    fn kind(&self) -> JobKind {
        JobKind::CleanupIdempotencyKeys
    }

    fn period(&self) -> Option<Duration> {
        Some(self.period)
    }

    #[tracing::instrument(skip_all, fields(job_id = context.job.id.0))]
    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        match self.keys.delete_expired(self.clock.now()).await? {
            0 => {}
            deleted => tracing::info!(deleted, "expired idempotency keys deleted"),
        }
        context.progress.report(100);
        Ok(())
    }

    async fn on_final_failure(
        &self,
        _job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        tracing::warn!(reason = %failure, "idempotency-key cleanup failed; it runs again next period");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;
    use crate::clock::MockClock;
    use crate::idempotency::MockIdempotencyStore;
    use crate::jobs::{JobId, LeaseToken};

    fn context() -> JobContext {
        JobContext::new(ClaimedJob {
            id: JobId(1),
            kind: JobKind::CleanupIdempotencyKeys,
            video_id: None,
            payload: "{}".into(),
            attempt: 1,
            max_attempts: 3,
            lease_expires_at: Utc::now(),
            lease: LeaseToken::new("t"),
        })
    }

    #[tokio::test]
    async fn deletes_the_keys_expired_at_the_clocks_now() {
        let now = Utc
            .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
            .single()
            .expect("time");
        let mut keys = MockIdempotencyStore::new();
        keys.expect_delete_expired()
            .with(eq(now))
            .times(1)
            .returning(|_| Ok(4));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(now);
        let handler =
            CleanupIdempotencyKeys::new(Arc::new(keys), Arc::new(clock), Duration::from_secs(60));
        assert_eq!(handler.kind(), JobKind::CleanupIdempotencyKeys);
        assert_eq!(handler.period(), Some(Duration::from_secs(60)));
        let context = context();
        assert_eq!(handler.run(&context).await, Ok(()));
        assert_eq!(context.progress.latest(), 100);
    }

    #[tokio::test]
    async fn a_storage_failure_fails_the_run() {
        let mut keys = MockIdempotencyStore::new();
        keys.expect_delete_expired()
            .returning(|_| Err(RepositoryError::new(std::io::Error::other("database away"))));
        let mut clock = MockClock::new();
        clock.expect_now().return_const(Utc::now());
        let handler = CleanupIdempotencyKeys::new(
            Arc::new(keys),
            Arc::new(clock),
            CleanupIdempotencyKeys::DEFAULT_PERIOD,
        );
        assert!(handler.run(&context()).await.is_err());
    }
}
