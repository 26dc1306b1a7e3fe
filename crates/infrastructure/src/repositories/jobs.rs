//! [`JobQueue`] on sea-orm. Claiming is one `UPDATE ... WHERE id = (SELECT ... LIMIT 1)`
//! statement: on PostgreSQL the subquery takes `FOR UPDATE SKIP LOCKED`, so concurrent
//! workers skip each other's candidates; SQLite runs each statement under its single
//! writer lock, so the conditional update is atomic there too.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QuerySelect, Set, Statement, Value,
};
use vidgen_application::jobs::{ClaimedJob, JobId, JobKind, JobQueue, NewJob};
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

fn claim_sql(backend: DbBackend) -> String {
    let (p1, p2, p3, lock) = match backend {
        DbBackend::Postgres => ("$1", "$2", "$3", " FOR UPDATE SKIP LOCKED"),
        _ => ("?1", "?2", "?3", ""),
    };
    format!(
        "UPDATE jobs SET state = 'running', lease_owner = {p1}, lease_expires_at = {p2}, \
         attempts = attempts + 1, updated_at = {p3} \
         WHERE id = (SELECT id FROM jobs \
           WHERE (state = 'queued' AND run_after <= {p3}) \
              OR (state = 'running' AND lease_expires_at < {p3}) \
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
        .col_expr(Column::UpdatedAt, Expr::value(now))
}

fn held_by(id: JobId, owner: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::Id.eq(id.0))
        .add(Column::State.eq(JobState::Running.as_str()))
        .add(Column::LeaseOwner.eq(owner))
}

#[async_trait]
impl JobQueue for SeaOrmJobQueue {
    async fn enqueue(&self, new: NewJob) -> Result<JobId, RepositoryError> {
        let row = job::ActiveModel {
            kind: Set(new.kind.as_str().to_owned()),
            video_id: Set(new.video_id.map(VideoId::get)),
            payload: Set(new.payload),
            state: Set(JobState::Queued.as_str().to_owned()),
            attempts: Set(0),
            max_attempts: Set(i32::try_from(new.max_attempts).unwrap_or(i32::MAX)),
            lease_owner: Set(None),
            lease_expires_at: Set(None),
            run_after: Set(new.run_after),
            last_error: Set(None),
            created_at: Set(new.run_after),
            updated_at: Set(new.run_after),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(storage)?;
        Ok(JobId(row.id))
    }

    async fn claim(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ClaimedJob>, RepositoryError> {
        let backend = self.db.get_database_backend();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let statement = Statement::from_sql_and_values(
            backend,
            claim_sql(backend),
            [
                Value::from(owner.to_owned()),
                Value::from(until),
                Value::from(now),
            ],
        );
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
        }))
    }

    async fn extend_lease(
        &self,
        id: JobId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = Jobs::update_many()
            .col_expr(Column::LeaseExpiresAt, Expr::value(until))
            .filter(held_by(id, owner))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn complete(
        &self,
        id: JobId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = settle(JobState::Succeeded, now)
            .filter(held_by(id, owner))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn fail(
        &self,
        id: JobId,
        owner: &str,
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
            .filter(held_by(id, owner))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn release(
        &self,
        id: JobId,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = settle(JobState::Queued, now)
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).sub(1))
            .col_expr(Column::RunAfter, Expr::value(now))
            .filter(held_by(id, owner))
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
}
