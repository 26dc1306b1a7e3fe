//! E-mail verification: the verification e-mail (at registration, after a change of
//! address, and on request while pending), and the token that makes a pending account
//! active.

use async_trait::async_trait;
use vidgen_domain::users::account_tokens::AccountTokenPurpose;
use vidgen_domain::users::{User, UserStatus};

use super::AccountService;
use crate::storage::RepositoryError;
use crate::users::ports::{UserChanges, UserWriteError, VerificationMail};

#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    /// Unknown, forged, expired, already used or superseded token, or one mailed to an
    /// address the account no longer has.
    #[error("the verification token is invalid or expired")]
    InvalidToken,
    #[error("the e-mail verification failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for VerifyEmailError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<UserWriteError> for VerifyEmailError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::NotFound => Self::InvalidToken,
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResendVerificationError {
    /// The account is not `pending_verification`.
    #[error("this account has no e-mail address waiting for verification")]
    NotPending,
    #[error("queueing the verification e-mail failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for ResendVerificationError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl AccountService {
    /// Spends a verification token and makes its `pending_verification` account
    /// `active` (an account in another status keeps it: verifying an address does not
    /// lift a suspension).
    ///
    /// # Errors
    /// `InvalidToken` for a token that cannot be used.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: &str) -> Result<(), VerifyEmailError> {
        let now = self.clock.now();
        let hash = self.secrets.hash(token);
        let token = self
            .tokens
            .find_live(AccountTokenPurpose::EmailVerification, &hash, now)
            .await?
            .ok_or(VerifyEmailError::InvalidToken)?;
        let user = self
            .users
            .get(token.user_id)
            .await?
            .filter(|user| user.email.as_ref() == token.email)
            .ok_or(VerifyEmailError::InvalidToken)?;
        if !self.tokens.consume(token.id, now).await? {
            return Err(VerifyEmailError::InvalidToken);
        }
        if user.status == UserStatus::PendingVerification {
            self.users
                .update(
                    user.id,
                    UserChanges {
                        status: Some(UserStatus::Active),
                        ..UserChanges::default()
                    },
                    now,
                )
                .await?;
        }
        tracing::info!(user_id = %user.id, "e-mail address verified");
        Ok(())
    }

    /// Queues a new verification e-mail for a pending account (its earlier links stop
    /// working).
    ///
    /// # Errors
    /// `NotPending` when the account is not waiting for a verification.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn resend_verification(&self, user: &User) -> Result<(), ResendVerificationError> {
        if user.status != UserStatus::PendingVerification {
            return Err(ResendVerificationError::NotPending);
        }
        self.send_verification(user).await?;
        Ok(())
    }
}

#[async_trait]
impl VerificationMail for AccountService {
    async fn send_verification(&self, user: &User) -> Result<(), RepositoryError> {
        self.issue(
            AccountTokenPurpose::EmailVerification,
            Some(user),
            &user.email,
            self.clock.now(),
        )
        .await?;
        tracing::info!(user_id = %user.id, "verification e-mail queued");
        Ok(())
    }
}
