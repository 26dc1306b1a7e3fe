//! `user_profiles`: one row per user who wrote a profile, gone with the user. The
//! address is five nullable columns (all set or all null); `preferences` is a JSON
//! object (`jsonb` on PostgreSQL, JSON text on SQLite).
//!
//! Also the indexes the analytics overview needs at 100,000 videos: one covering the
//! totals and the per-source counts (`source, status, duration, file_size`), and on
//! SQLite the UTC day of `created_at` (with `created_at` itself, so the per-day counts of
//! videos and signups read the index alone).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The index the overview's totals and per-source counts read instead of the table.
const VIDEO_BREAKDOWN: &str = "idx_videos_source_status_duration_size";

/// SQLite's indexes on the UTC day of `created_at`, by table.
const DAY_INDEXES: [(&str, &str); 2] = [
    ("idx_videos_created_day", "videos"),
    ("idx_users_created_day", "users"),
];

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
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(VIDEO_BREAKDOWN)
                    .table(Videos::Table)
                    .col(Videos::Source)
                    .col(Videos::Status)
                    .col(Videos::Duration)
                    .col(Videos::FileSize)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let db = manager.get_connection();
            for (name, table) in DAY_INDEXES {
                db.execute_unprepared(&format!(
                    r#"CREATE INDEX "{name}" ON "{table}" (date("created_at"), "created_at")"#
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let db = manager.get_connection();
            for (name, _) in DAY_INDEXES {
                db.execute_unprepared(&format!(r#"DROP INDEX "{name}""#))
                    .await?;
            }
        }
        manager
            .drop_index(
                Index::drop()
                    .name(VIDEO_BREAKDOWN)
                    .table(Videos::Table)
                    .to_owned(),
            )
            .await?;
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
enum Videos {
    Table,
    Source,
    Status,
    Duration,
    FileSize,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
