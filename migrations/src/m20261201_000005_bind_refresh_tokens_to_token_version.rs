//! `refresh_tokens.token_version`: each refresh token is bound to the user's token version
//! at issue, so a token issued before a password change, suspension or role change can
//! never be rotated, even if a revocation raced it.
//!
//! Tokens stored before this migration take their user's current version, so live
//! sessions survive the upgrade.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .add_column(big_integer(RefreshTokens::TokenVersion).default(0))
                    .to_owned(),
            )
            .await?;
        let current_version = Query::select()
            .column((Users::Table, Users::TokenVersion))
            .from(Users::Table)
            .and_where(
                Expr::col((Users::Table, Users::Id))
                    .equals((RefreshTokens::Table, RefreshTokens::UserId)),
            )
            .to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(RefreshTokens::Table)
                    .value(RefreshTokens::TokenVersion, current_version)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RefreshTokens::Table)
                    .drop_column(RefreshTokens::TokenVersion)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    UserId,
    TokenVersion,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TokenVersion,
}
