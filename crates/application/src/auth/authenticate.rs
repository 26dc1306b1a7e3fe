//! The check behind every authenticated request: a valid access token whose version is
//! current, for a user who may still log in.

use vidgen_domain::users::User;

use super::AuthService;
use super::ports::TokenError;
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
    /// The user a bearer token names when its signature and expiry verify, without
    /// loading the user (for keying rate limits; [`AuthService::authenticate`] decides
    /// access).
    pub fn token_subject(&self, token: &str) -> Option<vidgen_domain::users::UserId> {
        self.verifier
            .verify(token)
            .ok()
            .map(|claims| claims.user_id)
    }

    /// The user behind a bearer token.
    ///
    /// # Errors
    /// `Token` for a token that does not verify; `Revoked` for one that no longer
    /// matches its user.
    pub async fn authenticate(&self, token: &str) -> Result<User, AuthenticateError> {
        let claims = self.verifier.verify(token)?;
        let Some(user) = self.users.get(claims.user_id).await? else {
            return Err(AuthenticateError::Revoked);
        };
        if user.token_version != claims.token_version || !user.status.can_log_in() {
            return Err(AuthenticateError::Revoked);
        }
        Ok(user)
    }
}
