//! The figures the analytics use cases answer, and the pure rules that shape the
//! storage's counts into them: every enum member present (0 when none), one entry per day
//! of the reporting window, oldest first (0 for days without any).

use chrono::{DateTime, Days, NaiveDate, Utc};
use vidgen_domain::users::{Role, UserStatus};
use vidgen_domain::videos::{VideoSource, VideoStatus};

use super::ports::DayRange;

/// How many UTC calendar days the per-day series cover, today included.
pub const WINDOW_DAYS: u64 = 30;

/// A count for every member of an enum, in the enum's declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts<K>(Vec<(K, u64)>);

impl<K: Copy + PartialEq> Counts<K> {
    /// One entry per member of `all`: the sum of the counts `rows` give it, 0 when none.
    /// Rows for values outside `all` are ignored.
    pub fn complete(all: &[K], rows: &[(K, u64)]) -> Self {
        Self(
            all.iter()
                .map(|member| {
                    let count = rows
                        .iter()
                        .filter(|(key, _)| key == member)
                        .map(|(_, n)| *n)
                        .sum();
                    (*member, count)
                })
                .collect(),
        )
    }

    /// The count of `member` (0 for one not listed).
    pub fn get(&self, member: K) -> u64 {
        self.0
            .iter()
            .find(|(key, _)| *key == member)
            .map_or(0, |(_, n)| *n)
    }

    /// Every member with its count.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + '_ {
        self.0.iter().copied()
    }
}

/// The count of one UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub date: NaiveDate,
    pub count: u64,
}

/// The [`WINDOW_DAYS`] UTC calendar days ending on the day of `now`.
pub fn window(now: DateTime<Utc>) -> DayRange {
    let last = now.date_naive();
    let first = last
        .checked_sub_days(Days::new(WINDOW_DAYS - 1))
        .unwrap_or(NaiveDate::MIN);
    DayRange { first, last }
}

/// One entry per day of `days`, oldest first, with the count `rows` give it (0 when
/// none). Rows for days outside the range are ignored.
pub fn per_day(days: DayRange, rows: &[(NaiveDate, u64)]) -> Vec<DayCount> {
    days.first
        .iter_days()
        .take_while(|date| *date <= days.last)
        .map(|date| DayCount {
            date,
            count: rows
                .iter()
                .filter(|(day, _)| *day == date)
                .map(|(_, n)| *n)
                .sum(),
        })
        .collect()
}

/// Figures about a set of videos.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFigures {
    pub total: u64,
    pub by_status: Counts<VideoStatus>,
    pub by_source: Counts<VideoSource>,
    pub total_duration_seconds: f64,
    pub total_bytes: u64,
    /// One entry per day of the window, oldest first.
    pub per_day: Vec<DayCount>,
}

/// Figures about every user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFigures {
    pub total: u64,
    pub by_status: Counts<UserStatus>,
    pub by_role: Counts<Role>,
    /// One entry per day of the window, oldest first.
    pub signups_per_day: Vec<DayCount>,
}

/// Figures about every user and every video.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewFigures {
    pub users: UserFigures,
    pub videos: VideoFigures,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
    }

    #[test]
    fn the_window_ends_today_in_utc_and_spans_thirty_days() {
        let cases = [
            (
                "midday",
                Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0),
                date(2026, 12, 1),
                date(2026, 11, 2),
            ),
            (
                "first second",
                Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0),
                date(2026, 3, 1),
                date(2026, 1, 31),
            ),
            (
                "last second of a leap-year day",
                Utc.with_ymd_and_hms(2024, 3, 1, 23, 59, 59),
                date(2024, 3, 1),
                date(2024, 2, 1),
            ),
        ];
        for (name, now, last, first) in cases {
            let range = window(now.single().expect("a valid instant"));
            assert_eq!(range.last, last, "{name}: last day");
            assert_eq!(range.first, first, "{name}: first day");
            assert_eq!(per_day(range, &[]).len(), 30, "{name}: length");
        }
    }

    #[test]
    fn per_day_fills_missing_days_with_zero_oldest_first() {
        let range = DayRange {
            first: date(2026, 11, 29),
            last: date(2026, 12, 2),
        };
        let rows = [
            (date(2026, 12, 1), 3),
            (date(2026, 11, 29), 1),
            (date(2026, 11, 28), 7),
            (date(2026, 12, 3), 9),
        ];
        let series = per_day(range, &rows);
        let expected = [
            (date(2026, 11, 29), 1),
            (date(2026, 11, 30), 0),
            (date(2026, 12, 1), 3),
            (date(2026, 12, 2), 0),
        ];
        assert_eq!(
            series,
            expected
                .iter()
                .map(|&(date, count)| DayCount { date, count })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn counts_list_every_member_in_order_with_zero_when_absent() {
        let counts = Counts::complete(
            &VideoStatus::ALL,
            &[(VideoStatus::Failed, 2), (VideoStatus::Pending, 5)],
        );
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            vec![
                (VideoStatus::Pending, 5),
                (VideoStatus::Processing, 0),
                (VideoStatus::Completed, 0),
                (VideoStatus::Failed, 2),
            ]
        );
        assert_eq!(counts.get(VideoStatus::Processing), 0);

        let roles = Counts::complete(Role::ALL, &[(Role::Admin, 1), (Role::Admin, 2)]);
        assert_eq!(roles.get(Role::Admin), 3, "duplicate rows add up");
        assert_eq!(roles.get(Role::User), 0);
        assert_eq!(roles.iter().count(), Role::ALL.len());
    }
}
