//! Refresh-token rotation. A refresh token is single use; presenting one that was
//! already used revokes its whole family (the sign of a stolen token).

use super::{AuthService, TokenPair};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or reused token, or a user who may no longer log in.
    #[error("the refresh token is invalid")]
    InvalidToken,
    #[error("refreshing failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for RefreshError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl AuthService {
    /// Exchanges a refresh token for a new pair in the same family.
    ///
    /// # Errors
    /// `InvalidToken` for anything but a live, unused token of an account that may log
    /// in; reuse of a spent token also revokes its family.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, RefreshError> {
        let now = self.clock.now();
        let hash = self.opaque.hash(presented);
        let Some(record) = self.refresh_tokens.find(&hash).await? else {
            return Err(RefreshError::InvalidToken);
        };
        if record.revoked_at.is_some() {
            return Err(RefreshError::InvalidToken);
        }
        if record.used_at.is_none() && record.expires_at <= now {
            return Err(RefreshError::InvalidToken);
        }
        if record.used_at.is_some() || !self.refresh_tokens.consume(record.id, now).await? {
            let revoked = self
                .refresh_tokens
                .revoke_family(&record.family_id, now)
                .await?;
            tracing::warn!(
                user_id = %record.user_id,
                revoked,
                "refresh token reused: family revoked"
            );
            return Err(RefreshError::InvalidToken);
        }
        let Some(user) = self.users.get(record.user_id).await? else {
            return Err(RefreshError::InvalidToken);
        };
        if !user.status.can_log_in() {
            return Err(RefreshError::InvalidToken);
        }
        self.issue_pair(&user, record.family_id, now)
            .await
            .map_err(RefreshError::Unexpected)
    }
}
