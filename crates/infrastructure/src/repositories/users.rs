//! [`UserRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, Set, SqlErr, TransactionTrait,
};
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::ports::{
    NewUser, PasswordHash, UserChanges, UserQuery, UserRepository, UserSortField, UserWriteError,
};
use vidgen_domain::listing::Paged;
use vidgen_domain::users::{Age, Email, PersonName, Role, User, UserId, UserStatus, Username};

use super::refresh_tokens::{rebind_user_in, revoke_user_in};
use super::{like_contains, page_with_total, storage};
use crate::entities::user::{self, Column, Entity as Users};

/// Users in the `users` table.
#[derive(Debug, Clone)]
pub struct SeaOrmUserRepository {
    db: DatabaseConnection,
}

impl SeaOrmUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A row that does not convert into a valid user (edited by hand, or a bug).
#[derive(Debug, thiserror::Error)]
#[error("user row {id} is invalid: {field}")]
struct CorruptRow {
    id: i64,
    field: &'static str,
}

fn to_user(row: user::Model) -> Result<User, RepositoryError> {
    let corrupt = |field| RepositoryError::new(CorruptRow { id: row.id, field });
    Ok(User {
        id: UserId::new(row.id).ok_or_else(|| corrupt("id"))?,
        username: Username::parse(&row.username).map_err(|_| corrupt("username"))?,
        name: PersonName::parse(&row.name).map_err(|_| corrupt("name"))?,
        email: Email::parse(&row.email).map_err(|_| corrupt("email"))?,
        role: row.role.parse::<Role>().map_err(|_| corrupt("role"))?,
        status: row
            .status
            .parse::<UserStatus>()
            .map_err(|_| corrupt("status"))?,
        age: row
            .age
            .map(|age| Age::new(i64::from(age)).map_err(|_| corrupt("age")))
            .transpose()?,
        birth_date: row.birth_date,
        avatar_key: row.avatar_key,
        token_version: row.token_version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Maps a unique-index violation to the field it protects.
fn write_error(error: DbErr) -> UserWriteError {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() {
        if message.contains("email") {
            return UserWriteError::EmailTaken;
        }
        if message.contains("username") {
            return UserWriteError::UsernameTaken;
        }
    }
    UserWriteError::Storage(storage(error))
}

fn sort_column(field: UserSortField) -> Column {
    match field {
        UserSortField::Id => Column::Id,
        UserSortField::Username => Column::UsernameNormalized,
        UserSortField::Email => Column::Email,
        UserSortField::Name => Column::Name,
        UserSortField::CreatedAt => Column::CreatedAt,
        UserSortField::UpdatedAt => Column::UpdatedAt,
    }
}

impl SeaOrmUserRepository {
    async fn find_one(&self, condition: Condition) -> Result<Option<user::Model>, RepositoryError> {
        Users::find()
            .filter(condition)
            .one(&self.db)
            .await
            .map_err(storage)
    }
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn insert(&self, new: NewUser) -> Result<User, UserWriteError> {
        let row = user::ActiveModel {
            username_normalized: Set(new.username.normalized()),
            username: Set(new.username.to_string()),
            name: Set(new.name.to_string()),
            email: Set(new.email.to_string()),
            password_hash: Set(new.password_hash.as_str().to_owned()),
            role: Set(new.role.as_str().to_owned()),
            status: Set(new.status.as_str().to_owned()),
            age: Set(new.age.map(|a| i16::from(a.get()))),
            birth_date: Set(new.birth_date),
            avatar_key: Set(None),
            token_version: Set(0),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(write_error)?;
        Ok(to_user(row)?)
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        Users::find_by_id(id.get())
            .one(&self.db)
            .await
            .map_err(storage)?
            .map(to_user)
            .transpose()
    }

    async fn get_by_username(&self, username: &str) -> Result<Option<User>, RepositoryError> {
        self.find_one(
            Condition::all().add(Column::UsernameNormalized.eq(username.to_ascii_lowercase())),
        )
        .await?
        .map(to_user)
        .transpose()
    }

    async fn get_credentials(
        &self,
        login: &str,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError> {
        let key = login.to_lowercase();
        let column = if key.contains('@') {
            Column::Email
        } else {
            Column::UsernameNormalized
        };
        let Some(row) = self.find_one(Condition::all().add(column.eq(key))).await? else {
            return Ok(None);
        };
        let hash = PasswordHash::new(row.password_hash.clone());
        Ok(Some((to_user(row)?, hash)))
    }

    async fn get_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError> {
        let Some(row) = Users::find_by_id(id.get())
            .one(&self.db)
            .await
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let hash = PasswordHash::new(row.password_hash.clone());
        Ok(Some((to_user(row)?, hash)))
    }

    async fn list(&self, query: &UserQuery) -> Result<Paged<User>, RepositoryError> {
        let mut select = Users::find();
        if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
            let pattern = like_contains(&search.to_lowercase());
            let matches = |expr: Expr| expr.like(LikeExpr::new(pattern.clone()).escape('\\'));
            select = select.filter(
                Condition::any()
                    .add(matches(Expr::expr(Func::lower(Expr::col(Column::Name)))))
                    .add(matches(Expr::col(Column::Email)))
                    .add(matches(Expr::col(Column::UsernameNormalized))),
            );
        }
        if let Some(status) = query.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(role) = query.role {
            select = select.filter(Column::Role.eq(role.as_str()));
        }
        let (rows, total) = page_with_total(
            &self.db,
            select,
            (sort_column(query.sort_by), Column::Id),
            query.sort_order,
            query.page,
        )
        .await
        .map_err(storage)?;
        let items = rows
            .into_iter()
            .map(to_user)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Paged {
            items,
            total,
            page: query.page,
        })
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        let mut update = Users::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()));
        if let Some(username) = &changes.username {
            update = update
                .col_expr(Column::Username, Expr::value(username.to_string()))
                .col_expr(
                    Column::UsernameNormalized,
                    Expr::value(username.normalized()),
                );
        }
        if let Some(name) = &changes.name {
            update = update.col_expr(Column::Name, Expr::value(name.to_string()));
        }
        if let Some(email) = &changes.email {
            update = update.col_expr(Column::Email, Expr::value(email.to_string()));
        }
        if let Some(role) = changes.role {
            update = update.col_expr(Column::Role, Expr::value(role.as_str()));
        }
        if let Some(status) = changes.status {
            update = update.col_expr(Column::Status, Expr::value(status.as_str()));
        }
        if let Some(hash) = &changes.password_hash {
            update = update.col_expr(Column::PasswordHash, Expr::value(hash.as_str()));
        }
        if let Some(key) = &changes.avatar_key {
            update = update.col_expr(Column::AvatarKey, Expr::value(key.clone()));
        }
        if changes.bump_token_version {
            update = update.col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1));
        }
        // The UPDATE comes first: it locks the row, which serialises this write with
        // every rotation and revocation of the user's refresh tokens.
        let tx = self.db.begin().await.map_err(storage)?;
        let result = update.exec(&tx).await.map_err(write_error)?;
        if result.rows_affected == 0 {
            tx.rollback().await.map_err(storage)?;
            return Err(UserWriteError::NotFound);
        }
        let row = Users::find_by_id(id.get())
            .one(&tx)
            .await
            .map_err(storage)?
            .ok_or(UserWriteError::NotFound)?;
        if changes.bump_token_version {
            if changes.keep_refresh_tokens {
                rebind_user_in(&tx, id.get(), row.token_version)
                    .await
                    .map_err(storage)?;
            } else {
                revoke_user_in(&tx, id.get(), at).await.map_err(storage)?;
            }
        }
        if let Some(job) = changes.enqueue {
            super::jobs::queued_row(job)
                .insert(&tx)
                .await
                .map_err(storage)?;
        }
        tx.commit().await.map_err(storage)?;
        Ok(to_user(row)?)
    }

    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        let result = Users::delete_by_id(id.get())
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected > 0)
    }

    async fn admin_exists(&self) -> Result<bool, RepositoryError> {
        let admins = Users::find()
            .filter(Column::Role.eq(Role::Admin.as_str()))
            .count(&self.db)
            .await
            .map_err(storage)?;
        Ok(admins > 0)
    }
}
