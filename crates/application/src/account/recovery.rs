//! Password recovery: a reset link for the account that uses an address, and the same
//! answer, after the same work, for an address no account uses.

use vidgen_domain::users::Email;
use vidgen_domain::users::account_tokens::AccountTokenPurpose;

use super::AccountService;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum RequestPasswordResetError {
    #[error("the password recovery failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for RequestPasswordResetError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl AccountService {
    /// Queues a password-reset e-mail to `email` if an account that may log in uses it;
    /// its new token invalidates the account's older reset tokens. For any other address
    /// the same work is done (lookup, token, one transaction with a mail job that sends
    /// nothing), so neither the answer nor its timing tells whether the address is known.
    ///
    /// # Errors
    /// `Unexpected` for a storage failure (for known and unknown addresses alike).
    #[tracing::instrument(skip_all)]
    pub async fn request_password_reset(
        &self,
        email: &Email,
    ) -> Result<(), RequestPasswordResetError> {
        let now = self.clock.now();
        let user = self
            .users
            .get_credentials(email.as_ref())
            .await?
            .map(|(user, _)| user)
            .filter(|user| user.email == *email && user.status.can_log_in());
        self.issue(
            AccountTokenPurpose::PasswordReset,
            user.as_ref(),
            email,
            now,
        )
        .await?;
        tracing::info!("password recovery requested");
        Ok(())
    }
}
