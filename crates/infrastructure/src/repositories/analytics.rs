//! [`AnalyticsRepository`] on sea-orm: every figure comes from an aggregate query
//! (`COUNT`, `SUM`, `GROUP BY`) run by the database; the counts by status, source and
//! role and the totals share one pass over their table.
//!
//! Days are UTC calendar days of `created_at`. PostgreSQL stores it as `timestamptz`, so
//! the day is `created_at AT TIME ZONE 'UTC'`; SQLite stores the RFC 3339 text sea-orm
//! writes (`2026-12-01T23:21:03.123456+00:00`), and its `date()` reads that text,
//! offset included, as a UTC day. On PostgreSQL the range filter is on the instants
//! themselves; on SQLite it compares `created_at` against a bound one day early and then
//! the day, both read from the `date(created_at), created_at` index (migration 000007).

use async_trait::async_trait;
use chrono::{Days, NaiveDate, NaiveTime};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QuerySelect, Select,
};
use vidgen_application::analytics::ports::{
    AnalyticsRepository, DayRange, UserGroup, VideoGroup, VideoScope, VideoTotals,
};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::videos::VideoSource;

use super::storage;
use crate::entities::user::{self, Entity as Users};
use crate::entities::video::{self, Entity as Videos};

/// Aggregates over the `videos` and `users` tables.
#[derive(Debug, Clone)]
pub struct SeaOrmAnalyticsRepository {
    db: DatabaseConnection,
}

impl SeaOrmAnalyticsRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the database answered an invalid {what}: {value}")]
struct InvalidAggregate {
    what: &'static str,
    value: String,
}

/// The SQL grouping rows by the UTC calendar day of the `created_at` column of `table`,
/// on `backend`: a `date` on PostgreSQL (formatted once per group by [`day_label_sql`];
/// formatting each row with `to_char` was most of the per-day query at 100,000 videos),
/// the `YYYY-MM-DD` text on SQLite (what its index holds).
fn day_sql(backend: DbBackend, table: &str) -> String {
    match backend {
        DbBackend::Postgres => format!(r#"("{table}"."created_at" AT TIME ZONE 'UTC')::date"#),
        _ => format!(r#"date("{table}"."created_at")"#),
    }
}

/// The `YYYY-MM-DD` text of a group's day, [`day_sql`] being the group key.
fn day_label_sql(backend: DbBackend, day: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char({day}, 'YYYY-MM-DD')"),
        _ => day.to_owned(),
    }
}

/// Restricts `select` to rows whose `created_at` falls on a day of `days`.
///
/// PostgreSQL's `timestamptz` compares as an instant, so the UTC days are exactly the
/// instants from midnight of the first to midnight after the last (an index range, no
/// per-row function). SQLite compares text, whatever offset it was written with: a
/// coarse bound one day early on the column, then the exact test on the day itself
/// (both read from the `date(created_at), created_at` index).
fn within_days<E: EntityTrait>(
    select: Select<E>,
    backend: DbBackend,
    created_at: impl ColumnTrait,
    day: &str,
    days: DayRange,
) -> Select<E> {
    let midnight = |date: NaiveDate| date.and_time(NaiveTime::MIN).and_utc();
    if backend == DbBackend::Postgres {
        let end = days
            .last
            .checked_add_days(Days::new(1))
            .unwrap_or(days.last);
        return select
            .filter(created_at.gte(midnight(days.first)))
            .filter(created_at.lt(midnight(end)));
    }
    // Any text or timestamp of an instant on `days.first` sorts after midnight of the
    // day before, whatever its format, so this coarse bound never drops a row; the
    // exact test is on the day itself.
    let coarse = midnight(
        days.first
            .checked_sub_days(Days::new(1))
            .unwrap_or(days.first),
    );
    select
        .filter(created_at.gte(coarse))
        .filter(Expr::cust(day.to_owned()).gte(days.first.format("%Y-%m-%d").to_string()))
        .filter(Expr::cust(day.to_owned()).lte(days.last.format("%Y-%m-%d").to_string()))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Counts per day, from `(day text, count)` rows.
fn parse_days(rows: Vec<(Option<String>, i64)>) -> Result<Vec<(NaiveDate, u64)>, RepositoryError> {
    rows.into_iter()
        .filter_map(|(day, n)| day.map(|day| (day, n)))
        .map(|(day, n)| {
            NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .map(|date| (date, count(n)))
                .map_err(|_| {
                    RepositoryError::new(InvalidAggregate {
                        what: "day",
                        value: day,
                    })
                })
        })
        .collect()
}

fn videos_in(scope: VideoScope) -> Select<Videos> {
    let select = Videos::find().select_only();
    match scope {
        VideoScope::Owner(owner) => select.filter(video::Column::OwnerId.eq(owner.get())),
        VideoScope::All => select,
    }
}

#[async_trait]
impl AnalyticsRepository for SeaOrmAnalyticsRepository {
    async fn video_groups(&self, scope: VideoScope) -> Result<Vec<VideoGroup>, RepositoryError> {
        // One pass: count and sums per (source, status). PostgreSQL's SUM of a bigint is
        // a numeric: both sums are cast back, the same way on both backends.
        let rows: Vec<(String, String, i64, f64, i64)> = videos_in(scope)
            .column(video::Column::Source)
            .column(video::Column::Status)
            .column_as(Expr::cust("COUNT(*)"), "videos")
            .column_as(
                Expr::cust(r#"CAST(COALESCE(SUM("videos"."duration"), 0) AS DOUBLE PRECISION)"#),
                "duration_seconds",
            )
            .column_as(
                Expr::cust(r#"CAST(COALESCE(SUM("videos"."file_size"), 0) AS BIGINT)"#),
                "bytes",
            )
            .group_by(video::Column::Source)
            .group_by(video::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        // Values no member spells are left out, as everywhere in the figures.
        Ok(rows
            .into_iter()
            .filter_map(|(source, status, videos, duration, bytes)| {
                Some(VideoGroup {
                    source: VideoSource::parse(&source)?,
                    status: status.parse().ok()?,
                    totals: VideoTotals {
                        count: count(videos),
                        duration_seconds: duration,
                        bytes: count(bytes),
                    },
                })
            })
            .collect())
    }

    async fn videos_per_day(
        &self,
        scope: VideoScope,
        days: DayRange,
    ) -> Result<Vec<(NaiveDate, u64)>, RepositoryError> {
        let day = day_sql(self.backend(), "videos");
        let rows: Vec<(Option<String>, i64)> = within_days(
            videos_in(scope),
            self.backend(),
            video::Column::CreatedAt,
            &day,
            days,
        )
        .column_as(Expr::cust(day_label_sql(self.backend(), &day)), "day")
        .column_as(Expr::cust("COUNT(*)"), "videos")
        .group_by(Expr::cust(day))
        .into_tuple()
        .all(&self.db)
        .await
        .map_err(storage)?;
        parse_days(rows)
    }

    async fn user_groups(&self) -> Result<Vec<UserGroup>, RepositoryError> {
        let rows: Vec<(String, String, i64)> = Users::find()
            .select_only()
            .column(user::Column::Status)
            .column(user::Column::Role)
            .column_as(Expr::cust("COUNT(*)"), "users")
            .group_by(user::Column::Status)
            .group_by(user::Column::Role)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .filter_map(|(status, role, users)| {
                Some(UserGroup {
                    status: status.parse().ok()?,
                    role: role.parse().ok()?,
                    count: count(users),
                })
            })
            .collect())
    }

    async fn signups_per_day(
        &self,
        days: DayRange,
    ) -> Result<Vec<(NaiveDate, u64)>, RepositoryError> {
        let day = day_sql(self.backend(), "users");
        let rows: Vec<(Option<String>, i64)> = within_days(
            Users::find().select_only(),
            self.backend(),
            user::Column::CreatedAt,
            &day,
            days,
        )
        .column_as(Expr::cust(day_label_sql(self.backend(), &day)), "day")
        .column_as(Expr::cust("COUNT(*)"), "users")
        .group_by(Expr::cust(day))
        .into_tuple()
        .all(&self.db)
        .await
        .map_err(storage)?;
        parse_days(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_taken_in_utc_on_each_backend() {
        let day = day_sql(DbBackend::Postgres, "videos");
        assert_eq!(day, r#"("videos"."created_at" AT TIME ZONE 'UTC')::date"#);
        assert_eq!(
            day_label_sql(DbBackend::Postgres, &day),
            r#"to_char(("videos"."created_at" AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')"#
        );
        let day = day_sql(DbBackend::Sqlite, "users");
        assert_eq!(day, r#"date("users"."created_at")"#);
        assert_eq!(day_label_sql(DbBackend::Sqlite, &day), day);
    }

    #[test]
    fn days_the_database_cannot_have_written_are_errors() {
        let parsed =
            parse_days(vec![(Some("2026-12-01".into()), 3), (None, 1)]).expect("a valid day");
        assert_eq!(
            parsed,
            vec![(NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"), 3)]
        );
        assert!(parse_days(vec![(Some("01/12/2026".into()), 1)]).is_err());
    }
}
