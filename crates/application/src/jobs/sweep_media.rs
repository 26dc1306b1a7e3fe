//! The periodic `sweep_media` job: removes media files that nothing will ever serve.
//! Staged `.part` files left by a render whose process died, and committed files no row
//! refers to (a video deleted while its render finished, a crash between writing a file
//! and recording it, a failed video's upload: a failed video refers to no file), once
//! they are older than a grace period, so work in flight is never touched.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{ClaimedJob, JobContext, JobFailure, JobHandler, JobKind};
use crate::clock::Clock;
use crate::storage::{MediaInventory, MediaReferences, RepositoryError, StoredFile};

/// How many keys one reference query asks about.
const BATCH: usize = 200;

/// Sweeps the media store every `period`, sparing files younger than `grace`.
pub struct SweepMedia {
    files: Arc<dyn MediaInventory>,
    references: Arc<dyn MediaReferences>,
    clock: Arc<dyn Clock>,
    grace: Duration,
    period: Duration,
}

impl std::fmt::Debug for SweepMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepMedia")
            .field("grace", &self.grace)
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl SweepMedia {
    /// Files younger than this are left alone unless told otherwise: longer than any
    /// render writes without touching its file.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);
    /// How often the sweep runs unless told otherwise.
    pub const DEFAULT_PERIOD: Duration = Duration::from_secs(3600);

    pub fn new(
        files: Arc<dyn MediaInventory>,
        references: Arc<dyn MediaReferences>,
        clock: Arc<dyn Clock>,
        grace: Duration,
        period: Duration,
    ) -> Self {
        Self {
            files,
            references,
            clock,
            grace,
            period,
        }
    }

    /// The files the sweep removes now: old staged files, and old committed files that no
    /// row refers to.
    async fn doomed(&self) -> Result<Vec<StoredFile>, JobFailure> {
        let cutoff = self.clock.now()
            - chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let files = self.files.files().await.map_err(|error| {
            tracing::error!(error = ?error, "could not list the media files");
            JobFailure("the media folder could not be read".into())
        })?;
        let (staged, committed): (Vec<StoredFile>, Vec<StoredFile>) = files
            .into_iter()
            .filter(|file| file.modified < cutoff)
            .partition(|file| file.staged);
        let mut doomed = staged;
        for batch in committed.chunks(BATCH) {
            let keys: Vec<String> = batch.iter().map(|file| file.key.clone()).collect();
            let referenced = self.references.referenced(&keys).await?;
            doomed.extend(
                batch
                    .iter()
                    .filter(|file| !referenced.contains(&file.key))
                    .cloned(),
            );
        }
        Ok(doomed)
    }
}

#[async_trait]
impl JobHandler for SweepMedia {
    fn kind(&self) -> JobKind {
        JobKind::SweepMedia
    }

    fn period(&self) -> Option<Duration> {
        Some(self.period)
    }

    #[tracing::instrument(skip_all, fields(job_id = context.job.id.0))]
    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        let doomed = self.doomed().await?;
        let total = doomed.len();
        let mut removed = 0usize;
        for (done, file) in doomed.iter().enumerate() {
            if context.cancel.is_cancelled() {
                return Ok(());
            }
            match self.files.delete(file).await {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(error = ?error, key = %file.key, "could not remove a media file");
                }
            }
            let percent = (done + 1) * 100 / total.max(1);
            context
                .progress
                .report(u8::try_from(percent).unwrap_or(100));
        }
        if removed > 0 {
            tracing::info!(removed, "unreferenced media files removed");
        }
        context.progress.report(100);
        Ok(())
    }

    async fn on_final_failure(
        &self,
        _job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        tracing::warn!(reason = %failure, "media sweep failed; it runs again next period");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::clock::MockClock;
    use crate::jobs::{JobId, LeaseToken};
    use crate::storage::{MockMediaInventory, MockMediaReferences};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn file(key: &str, staged: bool, age_minutes: i64) -> StoredFile {
        StoredFile {
            key: key.into(),
            staged,
            modified: now() - chrono::Duration::minutes(age_minutes),
        }
    }

    fn context() -> JobContext {
        JobContext::new(ClaimedJob {
            id: JobId(1),
            kind: JobKind::SweepMedia,
            video_id: None,
            payload: "{}".into(),
            attempt: 1,
            max_attempts: 3,
            lease_expires_at: now(),
            lease: LeaseToken::new("t"),
        })
    }

    #[tokio::test]
    async fn removes_old_staged_and_unreferenced_files_only() {
        let mut files = MockMediaInventory::new();
        files.expect_files().returning(|| {
            Ok(vec![
                file("old-part.mp4", true, 120),
                file("new-part.mp4", true, 5),
                file("orphan.mp4", false, 120),
                file("kept.mp4", false, 120),
                file("fresh-orphan.mp4", false, 5),
            ])
        });
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let sink = deleted.clone();
        files.expect_delete().returning(move |file| {
            sink.lock().expect("lock").push(file.key.clone());
            Ok(())
        });
        let mut references = MockMediaReferences::new();
        references
            .expect_referenced()
            .withf(|keys| keys == ["orphan.mp4".to_owned(), "kept.mp4".to_owned()])
            .times(1)
            .returning(|_| Ok(HashSet::from(["kept.mp4".to_owned()])));
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let sweep = SweepMedia::new(
            Arc::new(files),
            Arc::new(references),
            Arc::new(clock),
            Duration::from_secs(3600),
            SweepMedia::DEFAULT_PERIOD,
        );
        assert_eq!(sweep.kind(), JobKind::SweepMedia);
        assert_eq!(sweep.period(), Some(SweepMedia::DEFAULT_PERIOD));
        let context = context();
        assert_eq!(sweep.run(&context).await, Ok(()));
        assert_eq!(
            *deleted.lock().expect("lock"),
            ["old-part.mp4", "orphan.mp4"]
        );
        assert_eq!(context.progress.latest(), 100);
    }

    #[tokio::test]
    async fn an_unreadable_folder_fails_the_run_and_deletes_nothing() {
        let mut files = MockMediaInventory::new();
        files.expect_files().returning(|| {
            Err(crate::videos::ports::MediaError(std::io::Error::other(
                "permission denied",
            )))
        });
        files.expect_delete().never();
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let sweep = SweepMedia::new(
            Arc::new(files),
            Arc::new(MockMediaReferences::new()),
            Arc::new(clock),
            SweepMedia::DEFAULT_GRACE,
            SweepMedia::DEFAULT_PERIOD,
        );
        assert!(sweep.run(&context()).await.is_err());
    }
}
