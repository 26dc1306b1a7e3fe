//! `instances`: one row per server process that has started against this database.
//!
//! Each process registers itself at start-up with a generated id. The id names the
//! process wherever durable work is leased (job and webhook leases name their owner),
//! and the rows tell an operator which versions have run against the database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .if_not_exists()
                    .col(string_len(Instances::Id, 36).primary_key())
                    .col(string_len(Instances::Version, 64))
                    .col(string_len(Instances::Hostname, 255))
                    .col(timestamp_with_time_zone(Instances::StartedAt))
                    .col(timestamp_with_time_zone(Instances::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_instances_last_seen_at")
                    .table(Instances::Table)
                    .col(Instances::LastSeenAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Instances::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Version,
    Hostname,
    StartedAt,
    LastSeenAt,
}
