//! The check behind every authenticated request: a valid access token whose version is
//! current, for a user who may still log in.

use vidgen_domain::users::User;

use super::AuthService;
use super::ports::{AccessClaims, TokenError};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token was valid when issued but the user was deleted, suspended, or changed
    /// their password since.
    #[error("the access token has been revoked")]
    Revoked,
    #[error("authentication failed")]
    Unexpected(#[from] RepositoryError),
}

impl AuthService {
    /// The claims of a bearer token whose signature and expiry verify, without loading
    /// the user (for keying rate limits; [`AuthService::authenticate_claims`] then decides
    /// access without verifying the token a second time).
    pub fn token_claims(&self, token: &str) -> Option<AccessClaims> {
        self.verifier.verify(token).ok()
    }

    /// The user behind a bearer token.
    ///
    /// # Errors
    /// `Token` for a token that does not verify; `Revoked` for one that no longer
    /// matches its user.
    pub async fn authenticate(&self, token: &str) -> Result<User, AuthenticateError> {
        let claims = self.verifier.verify(token)?;
        self.authenticate_claims(&claims).await
    }

    /// The user behind claims already verified from a bearer token.
    ///
    /// # Errors
    /// `Revoked` for claims that no longer match their user.
    pub async fn authenticate_claims(
        &self,
        claims: &AccessClaims,
    ) -> Result<User, AuthenticateError> {
        let Some(user) = self.users.get(claims.user_id).await? else {
            return Err(AuthenticateError::Revoked);
        };
        if user.token_version != claims.token_version || !user.status.can_log_in() {
            return Err(AuthenticateError::Revoked);
        }
        Ok(user)
    }
}
