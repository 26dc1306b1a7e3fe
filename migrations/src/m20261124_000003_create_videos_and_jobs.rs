//! `videos`, `jobs` and `idempotency_keys`.
//!
//! A video row describes the video and, once rendered or processed, its files (named by
//! generated keys under `MEDIA_ROOT`). A job row is durable work: its state, attempts, the
//! lease a worker holds on it (`lease_owner` is an instance id, `lease_expires_at` when
//! another worker may take it over) and when it may run next. Idempotency keys remember
//! the first answer to a keyed request for 24 hours.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Videos::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Videos::Id))
                    .col(big_integer(Videos::OwnerId))
                    .col(string_len(Videos::Title, 200))
                    .col(text_null(Videos::Description))
                    .col(text_null(Videos::Prompt))
                    .col(string_len(Videos::Source, 16))
                    .col(string_len(Videos::Status, 16))
                    .col(small_integer(Videos::Progress).default(0))
                    .col(string_len_null(Videos::Resolution, 8))
                    .col(small_integer_null(Videos::Fps))
                    .col(integer_null(Videos::RequestedDuration))
                    .col(double_null(Videos::Duration))
                    .col(integer_null(Videos::Width))
                    .col(integer_null(Videos::Height))
                    .col(big_integer_null(Videos::FileSize))
                    .col(string_len_null(Videos::ContentType, 64))
                    .col(string_len_null(Videos::MediaKey, 64))
                    .col(string_len_null(Videos::ThumbnailKey, 64))
                    .col(text_null(Videos::Error))
                    .col(text_null(Videos::WebhookUrl))
                    .col(timestamp_with_time_zone(Videos::CreatedAt))
                    .col(timestamp_with_time_zone(Videos::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Videos::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_videos_owner")
                            .from(Videos::Table, Videos::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let video_indexes: [(&str, &[Videos]); 6] = [
            (
                "idx_videos_owner_created",
                &[Videos::OwnerId, Videos::CreatedAt],
            ),
            ("idx_videos_status", &[Videos::Status]),
            ("idx_videos_created_at", &[Videos::CreatedAt]),
            ("idx_videos_updated_at", &[Videos::UpdatedAt]),
            ("idx_videos_title", &[Videos::Title]),
            ("idx_videos_duration", &[Videos::Duration]),
        ];
        for (name, columns) in video_indexes {
            let mut index = Index::create();
            index.name(name).table(Videos::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Jobs::Id))
                    .col(string_len(Jobs::Kind, 32))
                    .col(big_integer_null(Jobs::VideoId))
                    .col(text(Jobs::Payload))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    .col(string_len_null(Jobs::LeaseOwner, 64))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseExpiresAt))
                    .col(timestamp_with_time_zone(Jobs::RunAfter))
                    .col(text_null(Jobs::LastError))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let job_indexes: [(&str, &[Jobs]); 3] = [
            ("idx_jobs_state_run_after", &[Jobs::State, Jobs::RunAfter]),
            ("idx_jobs_video_id", &[Jobs::VideoId]),
            ("idx_jobs_lease_expires_at", &[Jobs::LeaseExpiresAt]),
        ];
        for (name, columns) in job_indexes {
            let mut index = Index::create();
            index.name(name).table(Jobs::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IdempotencyKeys::Id))
                    .col(big_integer(IdempotencyKeys::UserId))
                    .col(string_len(IdempotencyKeys::Route, 64))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(string_len(IdempotencyKeys::State, 16))
                    .col(small_integer_null(IdempotencyKeys::ResponseStatus))
                    .col(text_null(IdempotencyKeys::ResponseBody))
                    .col(text_null(IdempotencyKeys::Location))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_keys_user")
                            .from(IdempotencyKeys::Table, IdempotencyKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_keys_scope")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::UserId)
                    .col(IdempotencyKeys::Route)
                    .col(IdempotencyKeys::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            Jobs::Table.into_iden(),
            Videos::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Videos {
    Table,
    Id,
    OwnerId,
    Title,
    Description,
    Prompt,
    Source,
    Status,
    Progress,
    Resolution,
    Fps,
    RequestedDuration,
    Duration,
    Width,
    Height,
    FileSize,
    ContentType,
    MediaKey,
    ThumbnailKey,
    Error,
    WebhookUrl,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Id,
    Kind,
    VideoId,
    Payload,
    State,
    Attempts,
    MaxAttempts,
    LeaseOwner,
    LeaseExpiresAt,
    RunAfter,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    UserId,
    Route,
    Key,
    RequestHash,
    State,
    ResponseStatus,
    ResponseBody,
    Location,
    CreatedAt,
    ExpiresAt,
}
