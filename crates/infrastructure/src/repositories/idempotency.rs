//! [`IdempotencyStore`] on sea-orm: the unique index on (user, route, key) decides which
//! of two concurrent first uses holds the key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, SqlErr,
};
use vidgen_application::idempotency::{Claim, IdempotencyStore, IdempotentRequest, StoredResponse};
use vidgen_application::storage::RepositoryError;

use super::storage;
use crate::entities::idempotency_key::{self, Column, Entity as Keys};

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// Keys in the `idempotency_keys` table.
#[derive(Debug, Clone)]
pub struct SeaOrmIdempotencyStore {
    db: DatabaseConnection,
}

impl SeaOrmIdempotencyStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn answer(row: &idempotency_key::Model, request: &IdempotentRequest) -> Claim {
    if row.request_hash != request.request_hash {
        return Claim::Mismatch;
    }
    match (row.state.as_str(), row.response_status, &row.response_body) {
        (COMPLETED, Some(status), Some(body)) => Claim::Replay(StoredResponse {
            status: u16::try_from(status).unwrap_or(200),
            body: body.clone(),
            location: row.location.clone(),
        }),
        _ => Claim::InProgress,
    }
}

/// Completes the key inside the caller's transaction, replayed until `expires_at`.
///
/// # Errors
/// A storage failure, or the key no longer held by this request (its lease lapsed and a
/// retry took it): the caller's transaction must then roll back, so that the retry's
/// resource is the only one.
pub(crate) async fn complete_key<C: ConnectionTrait>(
    db: &C,
    record_id: i64,
    response: StoredResponse,
    expires_at: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    let result = Keys::update_many()
        .col_expr(Column::State, Expr::value(COMPLETED))
        .col_expr(
            Column::ResponseStatus,
            Expr::value(i16::try_from(response.status).unwrap_or(200)),
        )
        .col_expr(Column::ResponseBody, Expr::value(response.body))
        .col_expr(Column::Location, Expr::value(response.location))
        .col_expr(Column::ExpiresAt, Expr::value(expires_at))
        .filter(Column::Id.eq(record_id))
        .filter(Column::State.eq(IN_PROGRESS))
        .exec(db)
        .await
        .map_err(storage)?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(RepositoryError::new(std::io::Error::other(
            "the idempotency key is no longer held by this request",
        )))
    }
}

impl SeaOrmIdempotencyStore {
    async fn find(
        &self,
        request: &IdempotentRequest,
    ) -> Result<Option<idempotency_key::Model>, RepositoryError> {
        Keys::find()
            .filter(Column::UserId.eq(request.user_id.get()))
            .filter(Column::Route.eq(request.route))
            .filter(Column::Key.eq(request.key.as_str()))
            .one(&self.db)
            .await
            .map_err(storage)
    }
}

#[async_trait]
impl IdempotencyStore for SeaOrmIdempotencyStore {
    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, RepositoryError> {
        if let Some(row) = self.find(request).await? {
            if row.expires_at > now {
                return Ok(answer(&row, request));
            }
            Keys::delete_by_id(row.id)
                .exec(&self.db)
                .await
                .map_err(storage)?;
        }
        let inserted = idempotency_key::ActiveModel {
            user_id: Set(request.user_id.get()),
            route: Set(request.route.to_owned()),
            key: Set(request.key.as_str().to_owned()),
            request_hash: Set(request.request_hash.clone()),
            state: Set(IN_PROGRESS.to_owned()),
            response_status: Set(None),
            response_body: Set(None),
            location: Set(None),
            created_at: Set(now),
            expires_at: Set(lease_until),
            ..Default::default()
        }
        .insert(&self.db)
        .await;
        match inserted {
            Ok(row) => Ok(Claim::Fresh { record_id: row.id }),
            Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                // Someone else took the key between our read and our insert.
                match self.find(request).await? {
                    Some(row) => Ok(answer(&row, request)),
                    None => Ok(Claim::InProgress),
                }
            }
            Err(error) => Err(storage(error)),
        }
    }

    async fn renew(&self, record_id: i64, until: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let result = Keys::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(until))
            .filter(Column::Id.eq(record_id))
            .filter(Column::State.eq(IN_PROGRESS))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn abandon(&self, record_id: i64) -> Result<(), RepositoryError> {
        Keys::delete_many()
            .filter(Column::Id.eq(record_id))
            .filter(Column::State.eq(IN_PROGRESS))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let result = Keys::delete_many()
            .filter(Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected)
    }
}
