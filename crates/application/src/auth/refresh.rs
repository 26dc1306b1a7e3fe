//! Refresh-token rotation. A refresh token is single use; presenting one that was
//! already used revokes its whole family (the sign of a stolen token). The exchange is a
//! compare-and-set in storage ([`RefreshTokenRepository::rotate`]), so two refreshes with
//! one token, or a refresh racing a logout or a password change, can never leave a live
//! token in a revoked family.
//!
//! [`RefreshTokenRepository::rotate`]: super::ports::RefreshTokenRepository::rotate

use super::ports::Rotation;
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
    /// `InvalidToken` for anything but a live, unused token, bound to the current token
    /// version of an account that may log in; reuse of a spent token (also by a refresh
    /// that lost a race) revokes its family.
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
        if record.used_at.is_some() {
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
        if record.expires_at <= now {
            return Err(RefreshError::InvalidToken);
        }
        let Some(user) = self.users.get(record.user_id).await? else {
            return Err(RefreshError::InvalidToken);
        };
        if !user.status.can_log_in() || user.token_version != record.token_version {
            return Err(RefreshError::InvalidToken);
        }
        let access = self
            .access_token(&user, now)
            .map_err(RefreshError::Unexpected)?;
        let (refresh_token, successor) = self
            .refresh_token(&user, record.family_id, now)
            .map_err(RefreshError::Unexpected)?;
        match self.refresh_tokens.rotate(&hash, successor).await? {
            Rotation::Rotated => Ok(TokenPair {
                access,
                refresh_token,
            }),
            Rotation::Reused { revoked } => {
                tracing::warn!(
                    user_id = %record.user_id,
                    revoked,
                    "refresh token spent concurrently: family revoked"
                );
                Err(RefreshError::InvalidToken)
            }
            Rotation::Refused => Err(RefreshError::InvalidToken),
        }
    }
}
