//! Logout: revokes the session (the refresh token's family) of the caller.

use vidgen_domain::users::UserId;

use super::AuthService;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("logout failed")]
    Unexpected(#[from] RepositoryError),
}

impl AuthService {
    /// Revokes the family of the given refresh token if it belongs to the caller. An
    /// unknown token, or someone else's, changes nothing (and says nothing).
    ///
    /// # Errors
    /// A storage failure.
    #[tracing::instrument(skip(self, presented))]
    pub async fn logout(&self, user_id: UserId, presented: &str) -> Result<(), LogoutError> {
        let hash = self.opaque.hash(presented);
        if let Some(record) = self.refresh_tokens.find(&hash).await?
            && record.user_id == user_id
        {
            self.refresh_tokens
                .revoke_family(&record.family_id, self.clock.now())
                .await?;
        }
        Ok(())
    }
}
