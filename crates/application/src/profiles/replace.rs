//! Replacing a user's profile (`PUT`): the user themselves and admins.

use vidgen_domain::users::UserId;
use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::profile::{Address, Preferences};

use super::ProfileService;
use super::ports::{ProfileWriteError, StoredProfile};
use super::read::UserProfile;
use crate::storage::RepositoryError;

/// The whole new profile: what is left out is gone afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceProfile {
    pub address: Option<Address>,
    pub preferences: Preferences,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceProfileError {
    /// Missing, or not visible to the caller.
    #[error("user not found")]
    NotFound,
    /// Visible (a moderator), but not theirs to change.
    #[error("the caller may not change this profile")]
    Forbidden,
    #[error("writing the profile failed")]
    Unexpected(#[from] RepositoryError),
}

impl ProfileService {
    /// Replaces the profile and answers it with its user.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator.
    #[tracing::instrument(skip(self, request))]
    pub async fn replace_profile(
        &self,
        actor: Actor,
        id: UserId,
        request: ReplaceProfile,
    ) -> Result<UserProfile, ReplaceProfileError> {
        match policy::can_update_user(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(ReplaceProfileError::NotFound),
            Access::Forbidden => return Err(ReplaceProfileError::Forbidden),
        }
        let user = self
            .ports
            .users
            .get(id)
            .await?
            .ok_or(ReplaceProfileError::NotFound)?;
        let stored = self
            .ports
            .profiles
            .put(
                id,
                StoredProfile {
                    address: request.address,
                    preferences: request.preferences,
                },
                self.ports.clock.now(),
            )
            .await
            .map_err(|error| match error {
                ProfileWriteError::UserNotFound => ReplaceProfileError::NotFound,
                ProfileWriteError::Storage(source) => ReplaceProfileError::Unexpected(source),
            })?;
        tracing::info!("profile replaced");
        Ok(UserProfile {
            user,
            address: stored.address,
            preferences: stored.preferences,
        })
    }
}
