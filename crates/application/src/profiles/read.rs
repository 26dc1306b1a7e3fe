//! Reading a user's profile: the user themselves, moderators and admins.

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::profile::{Address, Preferences};
use vidgen_domain::users::{User, UserId};

use super::ProfileService;
use crate::storage::RepositoryError;

/// A user with their profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub user: User,
    pub address: Option<Address>,
    pub preferences: Preferences,
}

#[derive(Debug, thiserror::Error)]
pub enum GetProfileError {
    /// Missing, or not visible to the caller.
    #[error("user not found")]
    NotFound,
    #[error("reading the profile failed")]
    Unexpected(#[from] RepositoryError),
}

impl ProfileService {
    /// The user's profile; one never written has no address and empty preferences.
    ///
    /// # Errors
    /// `NotFound` when the user is missing or the caller may not see them.
    #[tracing::instrument(skip(self))]
    pub async fn profile(&self, actor: Actor, id: UserId) -> Result<UserProfile, GetProfileError> {
        if policy::can_view_user(actor, id) != Access::Allowed {
            return Err(GetProfileError::NotFound);
        }
        let user = self
            .ports
            .users
            .get(id)
            .await?
            .ok_or(GetProfileError::NotFound)?;
        let stored = self.ports.profiles.get(id).await?.unwrap_or_default();
        Ok(UserProfile {
            user,
            address: stored.address,
            preferences: stored.preferences,
        })
    }
}
