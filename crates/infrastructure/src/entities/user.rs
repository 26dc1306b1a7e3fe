//! A row of `users`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub username: String,
    pub username_normalized: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub status: String,
    pub age: Option<i16>,
    pub birth_date: Option<Date>,
    pub avatar_key: Option<String>,
    pub token_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
