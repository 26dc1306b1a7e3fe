//! [`AccountTokenRepository`] on sea-orm: the `account_tokens` table (hashes only).
//!
//! Issuing a token is one transaction of three statements: spend the user's unused
//! tokens of the purpose, insert the new token if its user exists (`INSERT ... SELECT
//! ... WHERE EXISTS`), insert the mail job. For an address no account uses the same three
//! statements run with no user id (0, which no row has), so both paths cost the same.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait,
};
use vidgen_application::account::ports::{
    AccountTokenRepository, LiveAccountToken, NewAccountToken,
};
use vidgen_application::auth::ports::TokenHash;
use vidgen_application::jobs::NewJob;
use vidgen_application::storage::RepositoryError;
use vidgen_domain::users::UserId;
use vidgen_domain::users::account_tokens::AccountTokenPurpose;

use super::jobs::queued_row;
use super::storage;
use crate::entities::account_token::{self, Column, Entity as AccountTokens};
use crate::entities::user::{self, Entity as Users};

/// Account tokens in the `account_tokens` table.
#[derive(Debug, Clone)]
pub struct SeaOrmAccountTokenRepository {
    db: DatabaseConnection,
}

impl SeaOrmAccountTokenRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("account token row {id} is invalid: {field}")]
struct CorruptRow {
    id: i64,
    field: &'static str,
}

/// The user id the statements name: 0 (no row) for an unknown address.
fn user_key(token: &NewAccountToken) -> i64 {
    token.user_id.map_or(0, UserId::get)
}

/// Inserts the token if its user exists, in one statement.
async fn insert_for_user(db: &impl ConnectionTrait, token: &NewAccountToken) -> Result<(), DbErr> {
    let user_exists = Query::select()
        .expr(Expr::val(1))
        .from(Users)
        .and_where(user::Column::Id.eq(user_key(token)))
        .to_owned();
    let row = Query::select()
        .exprs([
            Expr::val(user_key(token)),
            Expr::val(token.purpose.as_str()),
            Expr::val(token.hash.0.as_str()),
            Expr::val(token.email.as_ref()),
            Expr::val(token.created_at),
            Expr::val(token.expires_at),
        ])
        .and_where(Expr::exists(user_exists))
        .to_owned();
    let insert = Query::insert()
        .into_table(AccountTokens)
        .columns([
            Column::UserId,
            Column::Purpose,
            Column::TokenHash,
            Column::Email,
            Column::CreatedAt,
            Column::ExpiresAt,
        ])
        .select_from(row)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

async fn issue_in(
    db: &impl ConnectionTrait,
    token: &NewAccountToken,
    mail: NewJob,
) -> Result<(), DbErr> {
    AccountTokens::update_many()
        .col_expr(Column::UsedAt, Expr::value(token.created_at))
        .filter(Column::UserId.eq(user_key(token)))
        .filter(Column::Purpose.eq(token.purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    insert_for_user(db, token).await?;
    queued_row(mail).insert(db).await?;
    Ok(())
}

fn to_live(row: account_token::Model) -> Result<LiveAccountToken, RepositoryError> {
    let corrupt = |field| RepositoryError::new(CorruptRow { id: row.id, field });
    Ok(LiveAccountToken {
        id: row.id,
        user_id: UserId::new(row.user_id).ok_or_else(|| corrupt("user_id"))?,
        purpose: AccountTokenPurpose::parse(&row.purpose).ok_or_else(|| corrupt("purpose"))?,
        email: row.email,
        expires_at: row.expires_at,
    })
}

#[async_trait]
impl AccountTokenRepository for SeaOrmAccountTokenRepository {
    async fn issue(&self, token: NewAccountToken, mail: NewJob) -> Result<(), RepositoryError> {
        let tx = self.db.begin().await.map_err(storage)?;
        match issue_in(&tx, &token, mail).await {
            Ok(()) => tx.commit().await.map_err(storage),
            Err(error) => {
                // The rollback's own failure would hide the cause: report the statement's.
                let _ = tx.rollback().await;
                Err(storage(error))
            }
        }
    }

    async fn find_live(
        &self,
        purpose: AccountTokenPurpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveAccountToken>, RepositoryError> {
        AccountTokens::find()
            .filter(Column::TokenHash.eq(hash.0.as_str()))
            .filter(Column::Purpose.eq(purpose.as_str()))
            .filter(Column::UsedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .map_err(storage)?
            .map(to_live)
            .transpose()
    }

    async fn consume(&self, id: i64, now: DateTime<Utc>) -> Result<bool, RepositoryError> {
        let result = AccountTokens::update_many()
            .col_expr(Column::UsedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .filter(Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vidgen_application::jobs::JobKind;
    use vidgen_application::users::ports::{NewUser, PasswordHash, UserRepository};
    use vidgen_domain::users::{Email, PersonName, Role, UserStatus, Username};

    use super::*;
    use crate::database::{DatabaseOptions, connect};
    use crate::entities::job::{self, Entity as Jobs};
    use crate::repositories::SeaOrmUserRepository;
    use sea_orm::PaginatorTrait;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, hour, 0, 0)
            .single()
            .expect("time")
    }

    fn token(user: Option<UserId>, hash: &str, issued: DateTime<Utc>) -> NewAccountToken {
        NewAccountToken {
            user_id: user,
            purpose: AccountTokenPurpose::PasswordReset,
            hash: TokenHash(hash.into()),
            email: Email::parse("jane@example.com").expect("email"),
            created_at: issued,
            expires_at: issued + chrono::Duration::hours(1),
        }
    }

    fn mail(now: DateTime<Utc>) -> NewJob {
        NewJob {
            kind: JobKind::SendMail,
            video_id: None,
            payload: "{}".into(),
            max_attempts: 5,
            run_after: now,
        }
    }

    #[tokio::test]
    async fn tokens_are_single_use_expire_and_are_superseded_by_newer_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect(&DatabaseOptions {
            url,
            pool_size: 2,
            connect_timeout: std::time::Duration::from_secs(5),
            acquire_timeout: std::time::Duration::from_secs(5),
        })
        .await
        .expect("db");
        crate::database::migrate(&db).await.expect("migrate");
        let users = SeaOrmUserRepository::new(db.clone());
        let jane = users
            .insert(NewUser {
                username: Username::parse("jane").expect("username"),
                name: PersonName::parse("Jane").expect("name"),
                email: Email::parse("jane@example.com").expect("email"),
                password_hash: PasswordHash::new("$h"),
                role: Role::User,
                status: UserStatus::Active,
                age: None,
                birth_date: None,
                created_at: at(10),
            })
            .await
            .expect("user");
        let repo = SeaOrmAccountTokenRepository::new(db.clone());
        let reset = AccountTokenPurpose::PasswordReset;

        repo.issue(token(Some(jane.id), "first", at(10)), mail(at(10)))
            .await
            .expect("issue");
        let first = repo
            .find_live(reset, &TokenHash("first".into()), at(10))
            .await
            .expect("find")
            .expect("live");
        assert_eq!(first.user_id, jane.id);
        assert_eq!(first.email, "jane@example.com");
        assert!(
            repo.find_live(
                AccountTokenPurpose::EmailVerification,
                &TokenHash("first".into()),
                at(10)
            )
            .await
            .expect("find")
            .is_none(),
            "a token serves its purpose only"
        );

        // A newer token supersedes the first.
        repo.issue(token(Some(jane.id), "second", at(10)), mail(at(10)))
            .await
            .expect("issue");
        assert!(
            repo.find_live(reset, &TokenHash("first".into()), at(10))
                .await
                .expect("find")
                .is_none()
        );
        assert!(!repo.consume(first.id, at(10)).await.expect("consume"));
        let second = repo
            .find_live(reset, &TokenHash("second".into()), at(10))
            .await
            .expect("find")
            .expect("live");
        // Expired after its hour.
        assert!(
            repo.find_live(reset, &TokenHash("second".into()), at(11))
                .await
                .expect("find")
                .is_none()
        );
        assert!(!repo.consume(second.id, at(11)).await.expect("consume"));
        // Single use.
        assert!(repo.consume(second.id, at(10)).await.expect("consume"));
        assert!(!repo.consume(second.id, at(10)).await.expect("consume"));

        // An unknown address stores only its job.
        repo.issue(token(None, "nobody", at(10)), mail(at(10)))
            .await
            .expect("issue");
        assert!(
            repo.find_live(reset, &TokenHash("nobody".into()), at(10))
                .await
                .expect("find")
                .is_none()
        );
        let tokens = AccountTokens::find().count(&db).await.expect("count");
        let jobs = Jobs::find()
            .filter(job::Column::Kind.eq("send_mail"))
            .count(&db)
            .await
            .expect("count");
        assert_eq!((tokens, jobs), (2, 3));
    }
}
