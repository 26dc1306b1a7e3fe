//! `users` and `refresh_tokens`.
//!
//! Usernames are unique ignoring case through `username_normalized` (the lower-cased
//! username); emails are stored lower-cased and unique. Refresh tokens are stored only as
//! hashes, grouped in families (one per login) and deleted with their user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Username, 50))
                    .col(string_len(Users::UsernameNormalized, 50))
                    .col(string_len(Users::Name, 100))
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::Role, 16))
                    .col(string_len(Users::Status, 32))
                    .col(small_integer_null(Users::Age))
                    .col(date_null(Users::BirthDate))
                    .col(string_len_null(Users::AvatarKey, 255))
                    .col(big_integer(Users::TokenVersion).default(0))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            (
                "ux_users_username_normalized",
                Users::UsernameNormalized,
                true,
            ),
            ("ux_users_email", Users::Email, true),
            ("idx_users_created_at", Users::CreatedAt, false),
            ("idx_users_updated_at", Users::UpdatedAt, false),
            ("idx_users_role", Users::Role, false),
            ("idx_users_status", Users::Status, false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Users::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(big_integer(RefreshTokens::UserId))
                    .col(string_len(RefreshTokens::FamilyId, 64))
                    .col(string_len(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_user")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column, unique) in [
            (
                "ux_refresh_tokens_token_hash",
                RefreshTokens::TokenHash,
                true,
            ),
            ("idx_refresh_tokens_user_id", RefreshTokens::UserId, false),
            (
                "idx_refresh_tokens_family_id",
                RefreshTokens::FamilyId,
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(RefreshTokens::Table).col(column);
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    UsernameNormalized,
    Name,
    Email,
    PasswordHash,
    Role,
    Status,
    Age,
    BirthDate,
    AvatarKey,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}
