//! [`JobQueue`] on sea-orm. Claiming is one `UPDATE ... WHERE id = (SELECT ... LIMIT 1)`
//! statement: on PostgreSQL the subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers skip each other's candidates; SQLite runs each statement under its single
//! writer lock, so the conditional update is atomic there too. Each claim writes a new
//! `lease_token`, and every later change of the job is conditional on it. Periodic jobs
//! carry their kind as `dedupe_key`, unique in the table.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Set, SqlErr, Statement, Value,
};
use vidgen_application::jobs::{ClaimedJob, JobId, JobKind, JobQueue, LeaseToken, NewJob};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::videos::{JobState, VideoId};

use super::storage;
use crate::entities::job::{self, Column, Entity as Jobs};

/// Jobs in the `jobs` table.
#[derive(Debug, Clone)]
pub struct SeaOrmJobQueue {
    db: DatabaseConnection,
}

impl SeaOrmJobQueue {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("job row {id} is invalid: {field}")]
struct CorruptRow {
    id: i64,
    field: &'static str,
}

/// The claim statement for `kinds` kinds: parameters are the owner, the lease's end, now,
/// the new lease token, then the kind names.
fn claim_sql(backend: DbBackend, kinds: usize) -> String {
    let param = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    };
    let lock = match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let (p1, p2, p3, p4) = (param(1), param(2), param(3), param(4));
    let kinds = (5..5 + kinds).map(param).collect::<Vec<_>>().join(", ");
    format!(
        "UPDATE jobs SET state = 'running', lease_owner = {p1}, lease_expires_at = {p2}, \
         lease_token = {p4}, attempts = attempts + 1, updated_at = {p3} \
         WHERE id = (SELECT id FROM jobs \
           WHERE kind IN ({kinds}) AND ((state = 'queued' AND run_after <= {p3}) \
              OR (state = 'running' AND lease_expires_at < {p3})) \
           ORDER BY run_after, id LIMIT 1{lock}) \
         RETURNING id, kind, video_id, payload, attempts, max_attempts, lease_expires_at"
    )
}

/// An update that moves jobs to `state` and drops their lease.
fn settle(state: JobState, now: DateTime<Utc>) -> sea_orm::UpdateMany<Jobs> {
    Jobs::update_many()
        .col_expr(Column::State, Expr::value(state.as_str()))
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LeaseToken, Expr::value(Option::<String>::None))
        .col_expr(Column::UpdatedAt, Expr::value(now))
}

/// The job is running under this very claim.
fn held_by(id: JobId, lease: &LeaseToken) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::Id.eq(id.0))
        .add(Column::State.eq(JobState::Running.as_str()))
        .add(Column::LeaseToken.eq(lease.as_str()))
}

fn max_attempts(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The row of a new queued job (insert it in the transaction of the change it belongs to).
pub(crate) fn queued_row(new: NewJob) -> job::ActiveModel {
    job::ActiveModel {
        kind: Set(new.kind.as_str().to_owned()),
        video_id: Set(new.video_id.map(VideoId::get)),
        payload: Set(new.payload),
        state: Set(JobState::Queued.as_str().to_owned()),
        attempts: Set(0),
        max_attempts: Set(max_attempts(new.max_attempts)),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        run_after: Set(new.run_after),
        last_error: Set(None),
        created_at: Set(new.run_after),
        updated_at: Set(new.run_after),
        ..Default::default()
    }
}

#[async_trait]
impl JobQueue for SeaOrmJobQueue {
    async fn enqueue(&self, new: NewJob) -> Result<JobId, RepositoryError> {
        let row = queued_row(new).insert(&self.db).await.map_err(storage)?;
        Ok(JobId(row.id))
    }

    async fn ensure_periodic(
        &self,
        kind: JobKind,
        max_attempts_per_run: u32,
        run_after: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let row = job::ActiveModel {
            kind: Set(kind.as_str().to_owned()),
            video_id: Set(None),
            payload: Set("{}".to_owned()),
            state: Set(JobState::Queued.as_str().to_owned()),
            attempts: Set(0),
            max_attempts: Set(max_attempts(max_attempts_per_run)),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            lease_token: Set(None),
            dedupe_key: Set(Some(kind.as_str().to_owned())),
            run_after: Set(run_after),
            last_error: Set(None),
            created_at: Set(run_after),
            updated_at: Set(run_after),
            ..Default::default()
        };
        // A plain insert that the unique index on `dedupe_key` refuses when the row is
        // there (SQLite can prepare `ON CONFLICT` against a connection's stale schema).
        match row.insert(&self.db).await {
            Ok(_) => return Ok(true),
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            }
            Err(error) => return Err(storage(error)),
        }
        // The row exists. A periodic job is re-armed after every run, so it only stops
        // when something settled it for good: schedule it again.
        let revived = settle(JobState::Queued, run_after)
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::RunAfter, Expr::value(run_after))
            .filter(Column::DedupeKey.eq(kind.as_str()))
            .filter(
                Column::State.is_not_in([JobState::Queued.as_str(), JobState::Running.as_str()]),
            )
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(revived.rows_affected == 1)
    }

    async fn claim(
        &self,
        owner: &str,
        kinds: &[JobKind],
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, RepositoryError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let backend = self.db.get_database_backend();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut values = vec![
            Value::from(owner.to_owned()),
            Value::from(until),
            Value::from(now),
            Value::from(token.clone()),
        ];
        values.extend(kinds.iter().map(|kind| Value::from(kind.as_str())));
        let statement =
            Statement::from_sql_and_values(backend, claim_sql(backend, kinds.len()), values);
        let Some(row) = self.db.query_one_raw(statement).await.map_err(storage)? else {
            return Ok(None);
        };
        let id: i64 = row.try_get("", "id").map_err(storage)?;
        let corrupt = |field| RepositoryError::new(CorruptRow { id, field });
        let kind: String = row.try_get("", "kind").map_err(storage)?;
        let video_id: Option<i64> = row.try_get("", "video_id").map_err(storage)?;
        let attempts: i32 = row.try_get("", "attempts").map_err(storage)?;
        let max_attempts: i32 = row.try_get("", "max_attempts").map_err(storage)?;
        Ok(Some(ClaimedJob {
            id: JobId(id),
            kind: JobKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            video_id: video_id
                .map(|v| VideoId::new(v).ok_or_else(|| corrupt("video_id")))
                .transpose()?,
            payload: row.try_get("", "payload").map_err(storage)?,
            attempt: u32::try_from(attempts).map_err(|_| corrupt("attempts"))?,
            max_attempts: u32::try_from(max_attempts).map_err(|_| corrupt("max_attempts"))?,
            lease_expires_at: until,
            lease: LeaseToken::new(token),
        }))
    }

    async fn extend_lease(
        &self,
        id: JobId,
        lease: &LeaseToken,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = Jobs::update_many()
            .col_expr(Column::LeaseExpiresAt, Expr::value(until))
            .filter(held_by(id, lease))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn complete(
        &self,
        id: JobId,
        lease: &LeaseToken,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = settle(JobState::Succeeded, now)
            .filter(held_by(id, lease))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn fail(
        &self,
        id: JobId,
        lease: &LeaseToken,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let (state, run_after) = match retry_at {
            Some(at) => (JobState::Queued, at),
            None => (JobState::Dead, now),
        };
        let result = settle(state, now)
            .col_expr(Column::RunAfter, Expr::value(run_after))
            .col_expr(
                Column::LastError,
                Expr::value(error.chars().take(2000).collect::<String>()),
            )
            .filter(held_by(id, lease))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn reschedule(
        &self,
        id: JobId,
        lease: &LeaseToken,
        run_after: DateTime<Utc>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut update = settle(JobState::Queued, now)
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::RunAfter, Expr::value(run_after));
        if let Some(error) = error {
            update = update.col_expr(
                Column::LastError,
                Expr::value(error.chars().take(2000).collect::<String>()),
            );
        }
        let result = update
            .filter(held_by(id, lease))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn release(
        &self,
        id: JobId,
        lease: &LeaseToken,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = settle(JobState::Queued, now)
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).sub(1))
            .col_expr(Column::RunAfter, Expr::value(now))
            .filter(held_by(id, lease))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn cancel_for_video(
        &self,
        video_id: VideoId,
        now: DateTime<Utc>,
    ) -> Result<u64, RepositoryError> {
        let result = settle(JobState::Cancelled, now)
            .filter(Column::VideoId.eq(video_id.get()))
            .filter(Column::State.is_in([JobState::Queued.as_str(), JobState::Running.as_str()]))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected)
    }

    async fn state(&self, id: JobId) -> Result<Option<JobState>, RepositoryError> {
        let Some(row) = Jobs::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        row.state.parse::<JobState>().map(Some).map_err(|_| {
            RepositoryError::new(CorruptRow {
                id: id.0,
                field: "state",
            })
        })
    }

    async fn counts(&self) -> Result<Vec<(JobState, u64)>, RepositoryError> {
        let rows: Vec<(String, i64)> = Jobs::find()
            .select_only()
            .column(Column::State)
            .column_as(Column::Id.count(), "count")
            .group_by(Column::State)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        Ok(JobState::ALL
            .into_iter()
            .map(|state| {
                let count = rows
                    .iter()
                    .find(|(name, _)| name == state.as_str())
                    .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
                (state, count)
            })
            .collect())
    }

    async fn counts_by_kind(&self) -> Result<Vec<(JobKind, JobState, u64)>, RepositoryError> {
        let rows: Vec<(String, String, i64)> = Jobs::find()
            .select_only()
            .column(Column::Kind)
            .column(Column::State)
            .column_as(Column::Id.count(), "count")
            .group_by(Column::Kind)
            .group_by(Column::State)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        let mut counts = Vec::with_capacity(JobKind::ALL.len() * JobState::ALL.len());
        for kind in JobKind::ALL {
            for state in JobState::ALL {
                let count = rows
                    .iter()
                    .find(|(k, s, _)| k == kind.as_str() && s == state.as_str())
                    .map_or(0, |(_, _, n)| u64::try_from(*n).unwrap_or(0));
                counts.push((kind, state, count));
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::{self, DatabaseOptions};

    #[test]
    fn claim_statements_name_each_kind_with_the_backends_placeholders() {
        let postgres = claim_sql(DbBackend::Postgres, 2);
        assert!(postgres.contains("kind IN ($5, $6)"), "{postgres}");
        assert!(postgres.contains("lease_token = $4"), "{postgres}");
        assert!(postgres.contains("FOR UPDATE SKIP LOCKED"), "{postgres}");
        let sqlite = claim_sql(DbBackend::Sqlite, 1);
        assert!(sqlite.contains("kind IN (?5)"), "{sqlite}");
        assert!(!sqlite.contains("SKIP LOCKED"), "{sqlite}");
    }

    async fn sqlite_queue(dir: &std::path::Path) -> SeaOrmJobQueue {
        let db = database::connect(&DatabaseOptions {
            url: format!("sqlite://{}?mode=rwc", dir.join("jobs.db").display()),
            pool_size: 2,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        })
        .await
        .expect("connect");
        database::migrate(&db).await.expect("migrate");
        SeaOrmJobQueue::new(db)
    }

    #[tokio::test]
    async fn only_the_latest_claims_token_renews_and_settles_the_job() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = sqlite_queue(dir.path()).await;
        let now = Utc::now();
        let id = queue
            .enqueue(NewJob {
                kind: JobKind::DeliverWebhook,
                video_id: None,
                payload: "{}".into(),
                max_attempts: 3,
                run_after: now,
            })
            .await
            .expect("enqueue");
        let kinds = [JobKind::DeliverWebhook];
        let lease = Duration::from_secs(5);
        let first = queue
            .claim("same", &kinds, lease, now)
            .await
            .expect("claim")
            .expect("job");
        let later = now + chrono::Duration::seconds(6);
        let second = queue
            .claim("same", &kinds, lease, later)
            .await
            .expect("claim")
            .expect("taken over");
        assert_eq!((first.attempt, second.attempt), (1, 2));
        assert!(
            !queue
                .extend_lease(id, &first.lease, later)
                .await
                .expect("extend")
        );
        assert!(
            !queue
                .complete(id, &first.lease, later)
                .await
                .expect("complete")
        );
        assert!(
            queue
                .extend_lease(id, &second.lease, later)
                .await
                .expect("extend")
        );
        assert!(
            queue
                .complete(id, &second.lease, later)
                .await
                .expect("complete")
        );
        assert_eq!(
            queue.state(id).await.expect("state"),
            Some(JobState::Succeeded)
        );
    }

    #[tokio::test]
    async fn periodic_jobs_have_one_row_per_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let queue = sqlite_queue(dir.path()).await;
        let now = Utc::now();
        assert!(
            queue
                .ensure_periodic(JobKind::SweepMedia, 3, now)
                .await
                .expect("seed")
        );
        assert!(
            !queue
                .ensure_periodic(JobKind::SweepMedia, 3, now)
                .await
                .expect("seed")
        );
        assert!(
            queue
                .ensure_periodic(JobKind::CleanupIdempotencyKeys, 3, now)
                .await
                .expect("seed")
        );
        let queued = queue
            .counts()
            .await
            .expect("counts")
            .into_iter()
            .find(|(state, _)| *state == JobState::Queued)
            .map(|(_, n)| n);
        assert_eq!(queued, Some(2));
        let by_kind = queue.counts_by_kind().await.expect("counts by kind");
        assert_eq!(by_kind.len(), JobKind::ALL.len() * JobState::ALL.len());
        let queued_of = |wanted: JobKind| {
            by_kind
                .iter()
                .find(|(kind, state, _)| *kind == wanted && *state == JobState::Queued)
                .map(|(_, _, n)| *n)
        };
        assert_eq!(queued_of(JobKind::SweepMedia), Some(1));
        assert_eq!(queued_of(JobKind::CleanupIdempotencyKeys), Some(1));
        assert_eq!(queued_of(JobKind::RenderVideo), Some(0));
    }
}
