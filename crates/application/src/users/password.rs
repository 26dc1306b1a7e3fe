//! Changing one's own password: revokes every refresh token and, by bumping the token
//! version, every access token issued before.

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{PasswordPolicy, PlainPassword, UserId};

use super::UserService;
use super::ports::{UserChanges, UserWriteError};
use crate::storage::RepositoryError;
use crate::validation::FieldViolation;

#[derive(Debug, Clone)]
pub struct ChangePassword {
    pub current_password: PlainPassword,
    pub new_password: PlainPassword,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("user not found")]
    NotFound,
    #[error("only the user may change their password")]
    Forbidden,
    #[error("the change breaks {} rule(s)", .0.len())]
    Invalid(Vec<FieldViolation>),
    #[error("changing the password failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for ChangePasswordError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<UserWriteError> for ChangePasswordError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::NotFound => Self::NotFound,
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

impl UserService {
    /// Checks the current password, then in one write stores the new one, bumps the
    /// token version and revokes every refresh token of the user.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` when an admin tries it for someone
    /// else; `Invalid` for a wrong current password or a weak new one.
    #[tracing::instrument(skip(self, request))]
    pub async fn change_password(
        &self,
        actor: Actor,
        id: UserId,
        request: ChangePassword,
    ) -> Result<(), ChangePasswordError> {
        match policy::can_change_password(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(ChangePasswordError::NotFound),
            Access::Forbidden => return Err(ChangePasswordError::Forbidden),
        }
        let Some((_, hash)) = self.users.get_credentials_by_id(id).await? else {
            return Err(ChangePasswordError::NotFound);
        };
        let mut violations = Vec::new();
        if let Err(broken) = PasswordPolicy::check(request.new_password.expose()) {
            for rule in broken {
                violations.push(FieldViolation::new(
                    "new_password",
                    rule.code(),
                    rule.message(),
                ));
            }
        }
        let matches = self
            .hasher
            .verify(request.current_password, hash)
            .await
            .map_err(|e| ChangePasswordError::Unexpected(Box::new(e)))?;
        if !matches {
            violations.insert(
                0,
                FieldViolation::new(
                    "current_password",
                    "password_incorrect",
                    "the current password is not correct",
                ),
            );
        }
        if !violations.is_empty() {
            return Err(ChangePasswordError::Invalid(violations));
        }
        let new_hash = self
            .hasher
            .hash(request.new_password)
            .await
            .map_err(|e| ChangePasswordError::Unexpected(Box::new(e)))?;
        // One write: the new hash, the bumped token version and the revocation of every
        // refresh token commit together (see `UserChanges::bump_token_version`).
        self.users
            .update(
                id,
                UserChanges {
                    password_hash: Some(new_hash),
                    bump_token_version: true,
                    ..UserChanges::default()
                },
                self.clock.now(),
            )
            .await?;
        tracing::info!("password changed; sessions revoked");
        Ok(())
    }
}
