//! `user_profiles`: one row per user who wrote a profile, gone with the user. The
//! address is five nullable columns (all set or all null); `preferences` is a JSON
//! object (`jsonb` on PostgreSQL, JSON text on SQLite).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserProfiles::Table)
                    .if_not_exists()
                    .col(big_integer(UserProfiles::UserId).primary_key())
                    .col(string_len_null(UserProfiles::Street, 200))
                    .col(string_len_null(UserProfiles::City, 100))
                    .col(string_len_null(UserProfiles::State, 100))
                    .col(string_len_null(UserProfiles::ZipCode, 20))
                    .col(string_len_null(UserProfiles::Country, 2))
                    .col(json_binary(UserProfiles::Preferences))
                    .col(timestamp_with_time_zone(UserProfiles::CreatedAt))
                    .col(timestamp_with_time_zone(UserProfiles::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_profiles_user")
                            .from(UserProfiles::Table, UserProfiles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserProfiles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserProfiles {
    Table,
    UserId,
    Street,
    City,
    State,
    ZipCode,
    Country,
    Preferences,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
