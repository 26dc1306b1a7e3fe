//! [`RefreshTokenRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use vidgen_application::auth::ports::{
    NewRefreshToken, RefreshTokenRecord, RefreshTokenRepository, TokenHash,
};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::users::UserId;

use super::storage;
use crate::entities::refresh_token::{self, Column, Entity as RefreshTokens};

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

#[async_trait]
impl RefreshTokenRepository for SeaOrmRefreshTokenRepository {
    async fn insert(&self, token: NewRefreshToken) -> Result<(), RepositoryError> {
        refresh_token::ActiveModel {
            user_id: Set(token.user_id.get()),
            family_id: Set(token.family_id),
            token_hash: Set(token.hash.0),
            issued_at: Set(token.issued_at),
            expires_at: Set(token.expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(storage)?;
        Ok(())
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
        Ok(Some(RefreshTokenRecord {
            id: row.id,
            user_id: UserId::new(row.user_id)
                .ok_or_else(|| RepositoryError::new(CorruptRow(row.id)))?,
            family_id: row.family_id,
            expires_at: row.expires_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
        }))
    }

    async fn consume(&self, id: i64, at: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let result = RefreshTokens::update_many()
            .col_expr(Column::UsedAt, Expr::value(at))
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, RepositoryError> {
        let result = RefreshTokens::update_many()
            .col_expr(Column::RevokedAt, Expr::value(at))
            .filter(Column::FamilyId.eq(family_id))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected)
    }

    async fn revoke_user(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<u64, RepositoryError> {
        let result = RefreshTokens::update_many()
            .col_expr(Column::RevokedAt, Expr::value(at))
            .filter(Column::UserId.eq(user_id.get()))
            .filter(Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected)
    }
}
