//! Wire types of the analytics resource: figures only, every enum member spelled out
//! as a field, so a client never meets a missing key.

use chrono::NaiveDate;
use paperclip::actix::Apiv2Schema;
use serde::Serialize;
use vidgen_application::analytics::figures::{
    Counts, DayCount as DayFigure, OverviewFigures, UserFigures, VideoFigures,
};
use vidgen_domain::users::{Role, UserStatus};
use vidgen_domain::videos::{VideoSource, VideoStatus};

/// A count as the wire shows it (figures never come near `i64::MAX`).
fn wire(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The number of items created on one UTC calendar day.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct DayCount {
    /// The UTC calendar day.
    #[openapi(example = "\"2026-12-01\"")]
    pub date: NaiveDate,
    #[openapi(example = "3")]
    pub count: i64,
}

impl From<DayFigure> for DayCount {
    fn from(day: DayFigure) -> Self {
        Self {
            date: day.date,
            count: wire(day.count),
        }
    }
}

fn days(series: Vec<DayFigure>) -> Vec<DayCount> {
    series.into_iter().map(DayCount::from).collect()
}

/// Videos per status; every status is present, 0 when none.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VideoStatusCounts {
    #[openapi(example = "1")]
    pub pending: i64,
    #[openapi(example = "0")]
    pub processing: i64,
    #[openapi(example = "8")]
    pub completed: i64,
    #[openapi(example = "1")]
    pub failed: i64,
}

impl From<&Counts<VideoStatus>> for VideoStatusCounts {
    fn from(counts: &Counts<VideoStatus>) -> Self {
        Self {
            pending: wire(counts.get(VideoStatus::Pending)),
            processing: wire(counts.get(VideoStatus::Processing)),
            completed: wire(counts.get(VideoStatus::Completed)),
            failed: wire(counts.get(VideoStatus::Failed)),
        }
    }
}

/// Videos per source; every source is present, 0 when none.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VideoSourceCounts {
    #[openapi(example = "7")]
    pub generated: i64,
    #[openapi(example = "3")]
    pub upload: i64,
}

impl From<&Counts<VideoSource>> for VideoSourceCounts {
    fn from(counts: &Counts<VideoSource>) -> Self {
        Self {
            generated: wire(counts.get(VideoSource::Generated)),
            upload: wire(counts.get(VideoSource::Upload)),
        }
    }
}

/// Figures about a set of videos.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VideoAnalytics {
    /// How many videos there are.
    #[openapi(example = "10")]
    pub total: i64,
    pub by_status: VideoStatusCounts,
    pub by_source: VideoSourceCounts,
    /// The sum of the known durations, in seconds.
    #[openapi(example = "42.5")]
    pub total_duration_seconds: f64,
    /// The sum of the known file sizes, in bytes.
    #[openapi(example = "10485760")]
    pub total_bytes: i64,
    /// Videos created per UTC calendar day: one entry for each day of the reporting
    /// window, which ends today, oldest first; days without videos count 0.
    pub per_day: Vec<DayCount>,
}

impl From<VideoFigures> for VideoAnalytics {
    fn from(figures: VideoFigures) -> Self {
        Self {
            total: wire(figures.total),
            by_status: (&figures.by_status).into(),
            by_source: (&figures.by_source).into(),
            total_duration_seconds: figures.total_duration_seconds,
            total_bytes: wire(figures.total_bytes),
            per_day: days(figures.per_day),
        }
    }
}

/// Users per status; every status is present, 0 when none.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserStatusCounts {
    #[openapi(example = "12")]
    pub active: i64,
    #[openapi(example = "1")]
    pub inactive: i64,
    #[openapi(example = "0")]
    pub suspended: i64,
    #[openapi(example = "2")]
    pub pending_verification: i64,
}

impl From<&Counts<UserStatus>> for UserStatusCounts {
    fn from(counts: &Counts<UserStatus>) -> Self {
        Self {
            active: wire(counts.get(UserStatus::Active)),
            inactive: wire(counts.get(UserStatus::Inactive)),
            suspended: wire(counts.get(UserStatus::Suspended)),
            pending_verification: wire(counts.get(UserStatus::PendingVerification)),
        }
    }
}

/// Users per role; every role is present, 0 when none.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct RoleCounts {
    #[openapi(example = "13")]
    pub user: i64,
    #[openapi(example = "1")]
    pub moderator: i64,
    #[openapi(example = "1")]
    pub admin: i64,
}

impl From<&Counts<Role>> for RoleCounts {
    fn from(counts: &Counts<Role>) -> Self {
        Self {
            user: wire(counts.get(Role::User)),
            moderator: wire(counts.get(Role::Moderator)),
            admin: wire(counts.get(Role::Admin)),
        }
    }
}

/// Figures about every user.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserAnalytics {
    /// How many users there are.
    #[openapi(example = "15")]
    pub total: i64,
    pub by_status: UserStatusCounts,
    pub by_role: RoleCounts,
    /// Users who signed up per UTC calendar day: one entry for each day of the
    /// reporting window, which ends today, oldest first; days without signups count 0.
    pub signups_per_day: Vec<DayCount>,
}

impl From<UserFigures> for UserAnalytics {
    fn from(figures: UserFigures) -> Self {
        Self {
            total: wire(figures.total),
            by_status: (&figures.by_status).into(),
            by_role: (&figures.by_role).into(),
            signups_per_day: days(figures.signups_per_day),
        }
    }
}

/// Figures about every user and every video.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct AnalyticsOverview {
    pub users: UserAnalytics,
    /// Every user's videos.
    pub videos: VideoAnalytics,
}

impl From<OverviewFigures> for AnalyticsOverview {
    fn from(figures: OverviewFigures) -> Self {
        Self {
            users: figures.users.into(),
            videos: figures.videos.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use vidgen_application::analytics::figures::Counts;

    use super::*;

    #[test]
    fn every_member_becomes_its_field() {
        let statuses = Counts::complete(
            &VideoStatus::ALL,
            &[
                (VideoStatus::Pending, 1),
                (VideoStatus::Processing, 2),
                (VideoStatus::Completed, 3),
                (VideoStatus::Failed, 4),
            ],
        );
        let wire = serde_json::to_value(VideoStatusCounts::from(&statuses)).expect("json");
        assert_eq!(
            wire,
            serde_json::json!({"pending": 1, "processing": 2, "completed": 3, "failed": 4})
        );
        let users = Counts::complete(
            UserStatus::ALL,
            &[
                (UserStatus::PendingVerification, 5),
                (UserStatus::Suspended, 6),
            ],
        );
        let wire = serde_json::to_value(UserStatusCounts::from(&users)).expect("json");
        assert_eq!(
            wire,
            serde_json::json!({"active": 0, "inactive": 0, "suspended": 6, "pending_verification": 5})
        );
        let roles = Counts::complete(Role::ALL, &[(Role::Moderator, 7)]);
        let wire = serde_json::to_value(RoleCounts::from(&roles)).expect("json");
        assert_eq!(
            wire,
            serde_json::json!({"user": 0, "moderator": 7, "admin": 0})
        );
    }
}
