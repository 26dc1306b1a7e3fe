//! `videos.codec`: the video codec a render or an upload's probe found (`h264`, `vp9`, ...),
//! null until known. Existing rows are renders, all H.264.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .add_column(string_len_null(Videos::Codec, 32))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Videos::Table)
                    .value(Videos::Codec, "h264")
                    .and_where(Expr::col(Videos::MediaKey).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Videos::Table)
                    .drop_column(Videos::Codec)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Codec,
    MediaKey,
}
