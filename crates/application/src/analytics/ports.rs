//! The port the analytics use cases need: aggregate counts computed by the storage.

use async_trait::async_trait;
use chrono::NaiveDate;
use vidgen_domain::users::{Role, UserId, UserStatus};
use vidgen_domain::videos::{VideoSource, VideoStatus};

use crate::storage::RepositoryError;

/// Whose videos to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoScope {
    /// The videos of one owner.
    Owner(UserId),
    /// Every video.
    All,
}

/// A span of UTC calendar days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Totals over a set of videos.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VideoTotals {
    pub count: u64,
    /// Sum of the known durations, in seconds.
    pub duration_seconds: f64,
    /// Sum of the known file sizes, in bytes.
    pub bytes: u64,
}

/// Aggregate counts of videos and users. Every figure is computed by the storage
/// (grouping and counting there); no method reads rows one by one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// How many videos are in `scope`, with the sums of their durations and file sizes
    /// (unknown values count as 0).
    ///
    /// # Errors
    /// A storage failure.
    async fn video_totals(&self, scope: VideoScope) -> Result<VideoTotals, RepositoryError>;

    /// The number of videos in `scope` per status; statuses without videos may be left
    /// out.
    ///
    /// # Errors
    /// A storage failure.
    async fn videos_by_status(
        &self,
        scope: VideoScope,
    ) -> Result<Vec<(VideoStatus, u64)>, RepositoryError>;

    /// The number of videos in `scope` per source; sources without videos may be left
    /// out.
    ///
    /// # Errors
    /// A storage failure.
    async fn videos_by_source(
        &self,
        scope: VideoScope,
    ) -> Result<Vec<(VideoSource, u64)>, RepositoryError>;

    /// The number of videos in `scope` created on each UTC calendar day of `days`; days
    /// without videos may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn videos_per_day(
        &self,
        scope: VideoScope,
        days: DayRange,
    ) -> Result<Vec<(NaiveDate, u64)>, RepositoryError>;

    /// How many users there are.
    ///
    /// # Errors
    /// A storage failure.
    async fn user_count(&self) -> Result<u64, RepositoryError>;

    /// The number of users per status; statuses without users may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn users_by_status(&self) -> Result<Vec<(UserStatus, u64)>, RepositoryError>;

    /// The number of users per role; roles without users may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn users_by_role(&self) -> Result<Vec<(Role, u64)>, RepositoryError>;

    /// The number of users who signed up on each UTC calendar day of `days`; days
    /// without signups may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn signups_per_day(
        &self,
        days: DayRange,
    ) -> Result<Vec<(NaiveDate, u64)>, RepositoryError>;
}
