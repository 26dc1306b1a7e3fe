//! Changing a user's status (admins, moderators) or role (admins). Suspending or
//! deactivating a user ends their sessions at once.

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{Role, User, UserId, UserStatus};

use super::UserService;
use super::ports::{UserChanges, UserWriteError};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum ModerateUserError {
    #[error("user not found")]
    NotFound,
    #[error("the caller's role does not allow this change")]
    Forbidden,
    #[error("changing the user failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for ModerateUserError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<UserWriteError> for ModerateUserError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::NotFound => Self::NotFound,
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

fn decide(access: Access) -> Result<(), ModerateUserError> {
    match access {
        Access::Allowed => Ok(()),
        Access::Hidden => Err(ModerateUserError::NotFound),
        Access::Forbidden => Err(ModerateUserError::Forbidden),
    }
}

impl UserService {
    /// Sets the user's status. Any status that cannot log in also bumps the token
    /// version and revokes the user's refresh tokens, in the same write.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` when the actor's role does not
    /// allow changing this user's status.
    #[tracing::instrument(skip(self))]
    pub async fn change_status(
        &self,
        actor: Actor,
        id: UserId,
        status: UserStatus,
    ) -> Result<User, ModerateUserError> {
        decide(policy::can_view_user(actor, id))?;
        let target = self
            .users
            .get(id)
            .await?
            .ok_or(ModerateUserError::NotFound)?;
        decide(policy::can_change_status(
            actor,
            (target.id, target.role),
            status,
        ))?;
        // Bumping the token version also revokes the refresh tokens, in the same write.
        let user = self
            .users
            .update(
                id,
                UserChanges {
                    status: Some(status),
                    bump_token_version: !status.can_log_in(),
                    ..UserChanges::default()
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!(status = status.as_str(), "user status changed");
        Ok(user)
    }

    /// Sets the user's role (admins only, never their own). A new role bumps the token
    /// version, so older access tokens stop; refresh tokens stay valid.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for non-admins.
    #[tracing::instrument(skip(self))]
    pub async fn change_role(
        &self,
        actor: Actor,
        id: UserId,
        role: Role,
    ) -> Result<User, ModerateUserError> {
        decide(policy::can_view_user(actor, id))?;
        let target = self
            .users
            .get(id)
            .await?
            .ok_or(ModerateUserError::NotFound)?;
        decide(policy::can_change_role(
            actor,
            (target.id, target.role),
            role,
        ))?;
        let user = self
            .users
            .update(
                id,
                UserChanges {
                    role: Some(role),
                    // Access tokens carry the role: make the old ones stop at once.
                    bump_token_version: role != target.role,
                    // A refresh issues an access token with the new role: sessions stay.
                    keep_refresh_tokens: true,
                    ..UserChanges::default()
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!(role = role.as_str(), "user role changed");
        Ok(user)
    }
}
