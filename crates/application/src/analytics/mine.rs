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

    /// Figures about the videos in `scope` with the series over `days`, from four
    /// aggregate queries run together.
    pub(super) async fn video_figures(
        &self,
        scope: VideoScope,
        days: DayRange,
    ) -> Result<VideoFigures, RepositoryError> {
        let (totals, by_status, by_source, per_day) = tokio::try_join!(
            self.analytics.video_totals(scope),
            self.analytics.videos_by_status(scope),
            self.analytics.videos_by_source(scope),
            self.analytics.videos_per_day(scope, days),
        )?;
        Ok(VideoFigures {
            total: totals.count,
            by_status: Counts::complete(&VideoStatus::ALL, &by_status),
            by_source: Counts::complete(&VideoSource::ALL, &by_source),
            total_duration_seconds: totals.duration_seconds,
            total_bytes: totals.bytes,
            per_day: figures::per_day(days, &per_day),
        })
    }
}
