//! `jobs.lease_token` and `jobs.dedupe_key`.
//!
//! Every claim of a job writes a fresh `lease_token`; renewing, completing, failing and
//! releasing the job name that token, so a worker whose lease was taken over (even by a
//! worker of the same instance) can no longer touch the row. `dedupe_key` names a
//! periodic job: a unique index keeps one row per key, so every instance may seed it at
//! start-up without creating a second one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(string_len_null(Jobs::LeaseToken, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(string_len_null(Jobs::DedupeKey, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_jobs_dedupe_key")
                    .table(Jobs::Table)
                    .col(Jobs::DedupeKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_jobs_dedupe_key")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Jobs::DedupeKey, Jobs::LeaseToken] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    LeaseToken,
    DedupeKey,
}
