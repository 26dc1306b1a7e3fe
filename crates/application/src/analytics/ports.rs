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

/// The videos of one source and status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoGroup {
    pub source: VideoSource,
    pub status: VideoStatus,
    pub totals: VideoTotals,
}

/// How many users have one status and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserGroup {
    pub status: UserStatus,
    pub role: Role,
    pub count: u64,
}

/// Aggregate counts of videos and users. Every figure is computed by the storage
/// (grouping and counting there); no method reads rows one by one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// The videos in `scope` grouped by source and status, each group with its count
    /// and the sums of its durations and file sizes (unknown values count as 0), from one
    /// pass over the rows; empty groups may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn video_groups(&self, scope: VideoScope) -> Result<Vec<VideoGroup>, RepositoryError>;

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

    /// The users grouped by status and role, with their count, from one pass over the
    /// rows; empty groups may be left out.
    ///
    /// # Errors
    /// A storage failure.
    async fn user_groups(&self) -> Result<Vec<UserGroup>, RepositoryError>;

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
