//! The caller's own video figures.

use vidgen_domain::users::policy::Actor;
use vidgen_domain::videos::{VideoSource, VideoStatus};

use super::AnalyticsService;
use super::figures::{self, Counts, VideoFigures};
use super::ports::{DayRange, VideoScope};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum GetMyAnalyticsError {
    #[error("computing the video figures failed")]
    Unexpected(#[from] RepositoryError),
}

impl AnalyticsService {
    /// Figures about the actor's own videos; the per-day series ends today by the clock.
    ///
    /// # Errors
    /// `Unexpected` when the storage fails.
    #[tracing::instrument(skip(self))]
    pub async fn mine(&self, actor: Actor) -> Result<VideoFigures, GetMyAnalyticsError> {
        let days = figures::window(self.clock.now());
        Ok(self
            .video_figures(VideoScope::Owner(actor.id), days)
            .await?)
    }

    /// Figures about the videos in `scope` with the series over `days`, from two
    /// aggregate queries run together (the groups by source and status, and the days).
    pub(super) async fn video_figures(
        &self,
        scope: VideoScope,
        days: DayRange,
    ) -> Result<VideoFigures, RepositoryError> {
        let (groups, per_day) = tokio::try_join!(
            self.analytics.video_groups(scope),
            self.analytics.videos_per_day(scope, days),
        )?;
        let by_status: Vec<(VideoStatus, u64)> =
            groups.iter().map(|g| (g.status, g.totals.count)).collect();
        let by_source: Vec<(VideoSource, u64)> =
            groups.iter().map(|g| (g.source, g.totals.count)).collect();
        Ok(VideoFigures {
            total: groups.iter().map(|g| g.totals.count).sum(),
            by_status: Counts::complete(&VideoStatus::ALL, &by_status),
            by_source: Counts::complete(&VideoSource::ALL, &by_source),
            total_duration_seconds: groups.iter().map(|g| g.totals.duration_seconds).sum(),
            total_bytes: groups.iter().map(|g| g.totals.bytes).sum(),
            per_day: figures::per_day(days, &per_day),
        })
    }
}
