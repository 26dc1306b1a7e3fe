//! The analytics use cases against a mocked repository and a fixed clock.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use mockall::predicate::eq;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{Role, UserId, UserStatus};
use vidgen_domain::videos::{VideoSource, VideoStatus};

use super::AnalyticsService;
use super::figures::DayCount;
use super::mine::GetMyAnalyticsError;
use super::overview::GetOverviewError;
use super::ports::{
    DayRange, MockAnalyticsRepository, UserGroup, VideoGroup, VideoScope, VideoTotals,
};
use crate::clock::MockClock;
use crate::storage::RepositoryError;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0)
        .single()
        .expect("a valid instant")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

fn window() -> DayRange {
    DayRange {
        first: date(2026, 11, 2),
        last: date(2026, 12, 1),
    }
}

fn actor(id: i64, role: Role) -> Actor {
    Actor {
        id: UserId::new(id).expect("a positive id"),
        role,
    }
}

fn service(repository: MockAnalyticsRepository) -> AnalyticsService {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    AnalyticsService::new(Arc::new(repository), Arc::new(clock))
}

fn group(
    source: VideoSource,
    status: VideoStatus,
    count: u64,
    seconds: f64,
    bytes: u64,
) -> VideoGroup {
    VideoGroup {
        source,
        status,
        totals: VideoTotals {
            count,
            duration_seconds: seconds,
            bytes,
        },
    }
}

/// Expects the two video queries for `scope`, answering fixed groups: 4 completed
/// uploads and 2 failed ones (6 in all, 12.5 s, 4096 bytes).
fn expect_videos(repository: &mut MockAnalyticsRepository, scope: VideoScope) {
    repository
        .expect_video_groups()
        .with(eq(scope))
        .returning(|_| {
            Ok(vec![
                group(VideoSource::Upload, VideoStatus::Completed, 3, 10.0, 4000),
                group(VideoSource::Upload, VideoStatus::Failed, 2, 0.0, 0),
                group(VideoSource::Upload, VideoStatus::Completed, 1, 2.5, 96),
            ])
        });
    repository
        .expect_videos_per_day()
        .with(eq(scope), eq(window()))
        .returning(|_, _| Ok(vec![(date(2026, 12, 1), 2), (date(2026, 11, 2), 4)]));
}

#[tokio::test]
async fn my_figures_cover_my_videos_with_every_status_and_thirty_days() {
    let me = actor(7, Role::User);
    let mut repository = MockAnalyticsRepository::new();
    expect_videos(&mut repository, VideoScope::Owner(me.id));
    let figures = service(repository).mine(me).await.expect("figures");

    assert_eq!(figures.total, 6);
    assert_eq!(
        figures.by_status.iter().collect::<Vec<_>>(),
        vec![
            (VideoStatus::Pending, 0),
            (VideoStatus::Processing, 0),
            (VideoStatus::Completed, 4),
            (VideoStatus::Failed, 2),
        ]
    );
    assert_eq!(figures.by_source.get(VideoSource::Generated), 0);
    assert_eq!(figures.by_source.get(VideoSource::Upload), 6);
    assert!((figures.total_duration_seconds - 12.5).abs() < f64::EPSILON);
    assert_eq!(figures.total_bytes, 4096);
    assert_eq!(figures.per_day.len(), 30);
    assert_eq!(
        figures.per_day.first(),
        Some(&DayCount {
            date: date(2026, 11, 2),
            count: 4
        })
    );
    assert_eq!(
        figures.per_day.last(),
        Some(&DayCount {
            date: date(2026, 12, 1),
            count: 2
        })
    );
    assert_eq!(figures.per_day.iter().map(|d| d.count).sum::<u64>(), 6);
}

#[tokio::test]
async fn a_storage_failure_is_unexpected() {
    let mut repository = MockAnalyticsRepository::new();
    repository
        .expect_video_groups()
        .returning(|_| Err(RepositoryError::new(std::io::Error::other("down"))));
    repository
        .expect_videos_per_day()
        .returning(|_, _| Ok(vec![]));
    let outcome = service(repository).mine(actor(1, Role::User)).await;
    assert!(matches!(outcome, Err(GetMyAnalyticsError::Unexpected(_))));
}

#[tokio::test]
async fn the_overview_counts_everyone_for_admins() {
    let mut repository = MockAnalyticsRepository::new();
    expect_videos(&mut repository, VideoScope::All);
    repository.expect_user_groups().returning(|| {
        let group = |status, role, count| UserGroup {
            status,
            role,
            count,
        };
        Ok(vec![
            group(UserStatus::Active, Role::User, 3),
            group(UserStatus::Active, Role::Admin, 1),
            group(UserStatus::Suspended, Role::Admin, 1),
        ])
    });
    repository
        .expect_signups_per_day()
        .with(eq(window()))
        .returning(|_| Ok(vec![(date(2026, 11, 20), 5)]));
    let overview = service(repository)
        .overview(actor(1, Role::Admin))
        .await
        .expect("overview");

    assert_eq!(overview.users.total, 5);
    assert_eq!(overview.users.by_status.get(UserStatus::Active), 4);
    assert_eq!(overview.users.by_status.get(UserStatus::Inactive), 0);
    assert_eq!(
        overview
            .users
            .by_status
            .get(UserStatus::PendingVerification),
        0
    );
    assert_eq!(
        overview.users.by_status.iter().count(),
        UserStatus::ALL.len()
    );
    assert_eq!(overview.users.by_role.get(Role::Moderator), 0);
    assert_eq!(overview.users.by_role.get(Role::Admin), 2);
    assert_eq!(overview.users.signups_per_day.len(), 30);
    assert_eq!(
        overview
            .users
            .signups_per_day
            .iter()
            .find(|d| d.count > 0)
            .map(|d| d.date),
        Some(date(2026, 11, 20))
    );
    assert_eq!(overview.videos.total, 6);
}

#[tokio::test]
async fn the_overview_is_forbidden_to_users_and_moderators() {
    for role in [Role::User, Role::Moderator] {
        // No expectation: the repository must not be asked.
        let outcome = service(MockAnalyticsRepository::new())
            .overview(actor(2, role))
            .await;
        assert!(
            matches!(outcome, Err(GetOverviewError::Forbidden)),
            "{role}: {outcome:?}"
        );
    }
}
