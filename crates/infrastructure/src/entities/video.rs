//! A row of `videos`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "videos")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub prompt: Option<String>,
    pub source: String,
    pub status: String,
    pub progress: i16,
    pub resolution: Option<String>,
    pub fps: Option<i16>,
    pub requested_duration: Option<i32>,
    pub duration: Option<f64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub file_size: Option<i64>,
    pub content_type: Option<String>,
    pub codec: Option<String>,
    pub media_key: Option<String>,
    pub thumbnail_key: Option<String>,
    pub error: Option<String>,
    pub webhook_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
