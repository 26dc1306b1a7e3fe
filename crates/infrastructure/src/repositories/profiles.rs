//! [`ProfileRepository`] on sea-orm: one `user_profiles` row per user, written with an
//! upsert, its preferences a JSON column on both databases.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, Set, SqlErr};
use serde_json::Value;
use vidgen_application::profiles::ports::{ProfileRepository, ProfileWriteError, StoredProfile};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::users::UserId;
use vidgen_domain::users::profile::{Address, AddressInput, Preferences};

use super::storage;
use crate::entities::user_profile::{self, Column, Entity as Profiles};

/// Profiles in the `user_profiles` table.
#[derive(Debug, Clone)]
pub struct SeaOrmProfileRepository {
    db: DatabaseConnection,
}

impl SeaOrmProfileRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A row that does not convert into a valid profile (edited by hand, or a bug).
#[derive(Debug, thiserror::Error)]
#[error("profile row of user {user_id} is invalid: {field}")]
struct CorruptRow {
    user_id: i64,
    field: &'static str,
}

fn to_profile(row: user_profile::Model) -> Result<StoredProfile, RepositoryError> {
    let corrupt = |field| {
        RepositoryError::new(CorruptRow {
            user_id: row.user_id,
            field,
        })
    };
    let address = match (row.street, row.city, row.state, row.zip_code, row.country) {
        (Some(street), Some(city), Some(state), Some(zip_code), Some(country)) => Some(
            Address::parse(&AddressInput {
                street,
                city,
                state,
                zip_code,
                country,
            })
            .map_err(|_| corrupt("address"))?,
        ),
        (None, None, None, None, None) => None,
        _ => return Err(corrupt("address")),
    };
    let preferences = match row.preferences {
        Value::Object(map) => Preferences::from_stored(map),
        _ => return Err(corrupt("preferences")),
    };
    Ok(StoredProfile {
        address,
        preferences,
    })
}

fn country_of(address: &Address) -> &str {
    address.country().as_ref()
}

fn write_error(error: DbErr) -> ProfileWriteError {
    match error.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => ProfileWriteError::UserNotFound,
        _ => ProfileWriteError::Storage(storage(error)),
    }
}

#[async_trait]
impl ProfileRepository for SeaOrmProfileRepository {
    async fn get(&self, user: UserId) -> Result<Option<StoredProfile>, RepositoryError> {
        Profiles::find_by_id(user.get())
            .one(&self.db)
            .await
            .map_err(storage)?
            .map(to_profile)
            .transpose()
    }

    async fn put(
        &self,
        user: UserId,
        profile: StoredProfile,
        at: DateTime<Utc>,
    ) -> Result<StoredProfile, ProfileWriteError> {
        let text =
            |pick: fn(&Address) -> &str| Set(profile.address.as_ref().map(|a| pick(a).to_owned()));
        let row = user_profile::ActiveModel {
            user_id: Set(user.get()),
            street: text(Address::street),
            city: text(Address::city),
            state: text(Address::state),
            zip_code: text(Address::zip_code),
            country: text(country_of),
            preferences: Set(Value::Object(profile.preferences.as_map().clone())),
            created_at: Set(at),
            updated_at: Set(at),
        };
        Profiles::insert(row)
            .on_conflict(
                OnConflict::column(Column::UserId)
                    .update_columns([
                        Column::Street,
                        Column::City,
                        Column::State,
                        Column::ZipCode,
                        Column::Country,
                        Column::Preferences,
                        Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(write_error)?;
        Ok(profile)
    }
}
