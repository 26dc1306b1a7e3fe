//! [`RefreshTokenRepository`] on sea-orm.
//!
//! Every write that can revoke or rotate a user's tokens runs in a transaction whose
//! first statement locks the user's row (an `UPDATE` that changes nothing: a row lock on
//! PostgreSQL, the write lock on SQLite). Password changes and suspensions update the
//! same row first (see the user repository), so rotations, logouts and revocations of one
//! user happen one after the other, and each sees what the previous one committed. On
//! top of that the successor of a rotation is inserted only if its family has no revoked
//! token and its token version is the user's current one, so a revoked family can never
//! gain a live token.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use vidgen_application::auth::ports::{
    NewRefreshToken, RefreshTokenRecord, RefreshTokenRepository, Rotation, TokenHash,
};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::users::UserId;

use super::storage;
use crate::entities::refresh_token::{self, Column, Entity as RefreshTokens};
use crate::entities::user::{self, Entity as Users};

/// Refresh tokens in the `refresh_tokens` table (hashes only).
#[derive(Debug, Clone)]
pub struct SeaOrmRefreshTokenRepository {
    db: DatabaseConnection,
}

impl SeaOrmRefreshTokenRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("refresh token row {0} names an invalid user id")]
struct CorruptRow(i64);

/// Locks the user's row for the rest of the transaction and returns their current token
/// version, or `None` when the user does not exist. Must be the transaction's first
/// statement (on SQLite a transaction that reads first cannot safely write later).
pub(crate) async fn lock_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<i64>, DbErr> {
    let locked = Users::update_many()
        .col_expr(
            user::Column::TokenVersion,
            Expr::col(user::Column::TokenVersion),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    if locked.rows_affected == 0 {
        return Ok(None);
    }
    Users::find_by_id(user_id)
        .select_only()
        .column(user::Column::TokenVersion)
        .into_tuple::<i64>()
        .one(db)
        .await
}

/// Revokes every live token of the family; returns how many.
async fn revoke_family_in(
    db: &impl ConnectionTrait,
    family_id: &str,
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = RefreshTokens::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::FamilyId.eq(family_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Revokes every live token of the user; returns how many. The caller holds the user's
/// row lock (it updated the row in the same transaction).
pub(crate) async fn revoke_user_in(
    db: &impl ConnectionTrait,
    user_id: i64,
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = RefreshTokens::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Binds the user's unspent, unrevoked tokens to `version` (after a version bump that
/// keeps sessions). The caller holds the user's row lock.
pub(crate) async fn rebind_user_in(
    db: &impl ConnectionTrait,
    user_id: i64,
    version: i64,
) -> Result<u64, DbErr> {
    let result = RefreshTokens::update_many()
        .col_expr(Column::TokenVersion, Expr::value(version))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Inserts the token only if its user exists with the token's version and its family
/// has no revoked token, in one statement (`INSERT ... SELECT ... WHERE`). Returns
/// whether it was inserted.
async fn insert_if_live(db: &impl ConnectionTrait, token: &NewRefreshToken) -> Result<bool, DbErr> {
    let user_at_version = Query::select()
        .expr(Expr::val(1))
        .from(Users)
        .and_where(user::Column::Id.eq(token.user_id.get()))
        .and_where(user::Column::TokenVersion.eq(token.token_version))
        .to_owned();
    let revoked_in_family = Query::select()
        .expr(Expr::val(1))
        .from(RefreshTokens)
        .and_where(Column::FamilyId.eq(token.family_id.as_str()))
        .and_where(Column::RevokedAt.is_not_null())
        .to_owned();
    let row = Query::select()
        .exprs([
            Expr::val(token.user_id.get()),
            Expr::val(token.family_id.as_str()),
            Expr::val(token.hash.0.as_str()),
            Expr::val(token.token_version),
            Expr::val(token.issued_at),
            Expr::val(token.expires_at),
        ])
        .and_where(Expr::exists(user_at_version))
        .and_where(Expr::exists(revoked_in_family).not())
        .to_owned();
    let insert = Query::insert()
        .into_table(RefreshTokens)
        .columns([
            Column::UserId,
            Column::FamilyId,
            Column::TokenHash,
            Column::TokenVersion,
            Column::IssuedAt,
            Column::ExpiresAt,
        ])
        .select_from(row)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected() == 1)
}

/// The compare-and-set of [`RefreshTokenRepository::rotate`], inside a transaction that
/// the caller commits unless the answer is [`Rotation::Refused`].
async fn rotate_in(
    db: &impl ConnectionTrait,
    presented: &TokenHash,
    successor: &NewRefreshToken,
) -> Result<Rotation, DbErr> {
    let now = successor.issued_at;
    let Some(current_version) = lock_user(db, successor.user_id.get()).await? else {
        return Ok(Rotation::Refused);
    };
    let Some(row) = RefreshTokens::find()
        .filter(Column::TokenHash.eq(presented.0.as_str()))
        .one(db)
        .await?
    else {
        return Ok(Rotation::Refused);
    };
    if row.user_id != successor.user_id.get()
        || row.family_id != successor.family_id
        || row.revoked_at.is_some()
    {
        return Ok(Rotation::Refused);
    }
    if row.used_at.is_some() {
        let revoked = revoke_family_in(db, &row.family_id, now).await?;
        return Ok(Rotation::Reused { revoked });
    }
    if row.expires_at <= now
        || row.token_version != current_version
        || successor.token_version != current_version
    {
        return Ok(Rotation::Refused);
    }
    let spent = RefreshTokens::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(row.id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if spent.rows_affected != 1 || !insert_if_live(db, successor).await? {
        return Ok(Rotation::Refused);
    }
    Ok(Rotation::Rotated)
}

#[async_trait]
impl RefreshTokenRepository for SeaOrmRefreshTokenRepository {
    async fn insert(&self, token: NewRefreshToken) -> Result<bool, RepositoryError> {
        // One statement, atomic on both databases, and no lock on the user: a login's
        // first token can only race a version bump, and a token stored under a version
        // that a concurrent bump has just retired can never be rotated or used (rotation
        // compares it with the user's current version under the user's lock). Locking the
        // user in a transaction cost four more statements on every login.
        insert_if_live(&self.db, &token).await.map_err(storage)
    }

    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let Some(row) = RefreshTokens::find()
            .filter(Column::TokenHash.eq(hash.0.as_str()))
            .one(&self.db)
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        Ok(Some(to_record(row)?))
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        successor: NewRefreshToken,
    ) -> Result<Rotation, RepositoryError> {
        let tx = self.db.begin().await.map_err(storage)?;
        let rotation = rotate_in(&tx, presented, &successor)
            .await
            .map_err(storage)?;
        if rotation == Rotation::Refused {
            tx.rollback().await.map_err(storage)?;
        } else {
            tx.commit().await.map_err(storage)?;
        }
        Ok(rotation)
    }

    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, RepositoryError> {
        // The family's owner never changes: read it before the transaction, which must
        // start with the lock.
        let Some(owner) = RefreshTokens::find()
            .select_only()
            .column(Column::UserId)
            .filter(Column::FamilyId.eq(family_id))
            .into_tuple::<i64>()
            .one(&self.db)
            .await
            .map_err(storage)?
        else {
            return Ok(0);
        };
        let tx = self.db.begin().await.map_err(storage)?;
        lock_user(&tx, owner).await.map_err(storage)?;
        let revoked = revoke_family_in(&tx, family_id, at)
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(revoked)
    }
}

fn to_record(row: refresh_token::Model) -> Result<RefreshTokenRecord, RepositoryError> {
    Ok(RefreshTokenRecord {
        id: row.id,
        user_id: UserId::new(row.user_id)
            .ok_or_else(|| RepositoryError::new(CorruptRow(row.id)))?,
        family_id: row.family_id,
        token_version: row.token_version,
        expires_at: row.expires_at,
        used_at: row.used_at,
        revoked_at: row.revoked_at,
    })
}

#[cfg(test)]
mod tests;
