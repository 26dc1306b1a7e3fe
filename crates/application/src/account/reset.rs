//! Password reset with a mailed token: the new password (same policy as registration),
//! every session ended, the token spent.

use vidgen_domain::users::account_tokens::AccountTokenPurpose;
use vidgen_domain::users::{PasswordPolicy, PlainPassword, UserStatus};

use super::AccountService;
use crate::storage::RepositoryError;
use crate::users::ports::{UserChanges, UserWriteError};
use crate::validation::FieldViolation;

/// A reset request: the mailed token and the new password.
#[derive(Clone)]
pub struct ResetPassword {
    pub token: String,
    pub new_password: PlainPassword,
}

impl std::fmt::Debug for ResetPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResetPassword")
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, forged, expired, already used or superseded token, or one mailed to an
    /// address the account no longer has.
    #[error("the reset token is invalid or expired")]
    InvalidToken,
    #[error("the new password breaks {} rule(s)", .0.len())]
    Invalid(Vec<FieldViolation>),
    #[error("the password reset failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for ResetPasswordError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<UserWriteError> for ResetPasswordError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::NotFound => Self::InvalidToken,
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

impl AccountService {
    /// Checks the new password against the policy, finds the live token, hashes the
    /// password, spends the token (one conditional write: a second use fails) and then, in
    /// one write, stores the hash, bumps the token version and revokes every refresh
    /// token. The mailed link proves the address, so a pending account becomes active.
    ///
    /// # Errors
    /// `Invalid` for a weak password (checked first, whatever the token); `InvalidToken`
    /// for a token that cannot be used.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, request: ResetPassword) -> Result<(), ResetPasswordError> {
        if let Err(broken) = PasswordPolicy::check(request.new_password.expose()) {
            return Err(ResetPasswordError::Invalid(
                broken
                    .into_iter()
                    .map(|rule| FieldViolation::new("new_password", rule.code(), rule.message()))
                    .collect(),
            ));
        }
        let now = self.clock.now();
        let hash = self.secrets.hash(&request.token);
        let token = self
            .tokens
            .find_live(AccountTokenPurpose::PasswordReset, &hash, now)
            .await?
            .ok_or(ResetPasswordError::InvalidToken)?;
        let user = self
            .users
            .get(token.user_id)
            .await?
            .filter(|user| user.email.as_ref() == token.email)
            .ok_or(ResetPasswordError::InvalidToken)?;
        let new_hash = self
            .hasher
            .hash(request.new_password)
            .await
            .map_err(|e| ResetPasswordError::Unexpected(Box::new(e)))?;
        if !self.tokens.consume(token.id, self.clock.now()).await? {
            return Err(ResetPasswordError::InvalidToken);
        }
        self.users
            .update(
                user.id,
                UserChanges {
                    password_hash: Some(new_hash),
                    status: (user.status == UserStatus::PendingVerification)
                        .then_some(UserStatus::Active),
                    bump_token_version: true,
                    ..UserChanges::default()
                },
                now,
            )
            .await?;
        tracing::info!(user_id = %user.id, "password reset; sessions revoked");
        Ok(())
    }
}
