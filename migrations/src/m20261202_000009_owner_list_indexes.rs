//! Indexes that serve a user's video list in each of its sorts and its status filter:
//! `(owner_id, <sort column>)` and `(owner_id, status, created_at)`. Before them, a list
//! sorted by title, duration or update time scanned every user's videos in that column's
//! index and dropped the other owners' rows (`EXPLAIN QUERY PLAN`: `SCAN videos USING
//! INDEX idx_videos_title`), and a status filter read all the owner's rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &[Videos]); 4] = [
    (
        "idx_videos_owner_status_created",
        &[Videos::OwnerId, Videos::Status, Videos::CreatedAt],
    ),
    (
        "idx_videos_owner_updated",
        &[Videos::OwnerId, Videos::UpdatedAt],
    ),
    ("idx_videos_owner_title", &[Videos::OwnerId, Videos::Title]),
    (
        "idx_videos_owner_duration",
        &[Videos::OwnerId, Videos::Duration],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Videos::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Videos::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Videos {
    Table,
    OwnerId,
    Status,
    CreatedAt,
    UpdatedAt,
    Title,
    Duration,
}
