//! A row of `jobs`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub video_id: Option<i64>,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Written fresh by every claim; the holder names it to renew or settle the job.
    pub lease_token: Option<String>,
    /// Set on periodic jobs: unique, so each periodic kind has one row.
    pub dedupe_key: Option<String>,
    pub run_after: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
