//! Authentication: login, refresh-token rotation with reuse detection, logout, and the
//! check of an access token on each request.

pub mod authenticate;
pub mod login;
pub mod logout;
pub mod ports;
pub mod refresh;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vidgen_domain::users::User;

use crate::clock::Clock;
use crate::users::ports::{PasswordHasher, UserRepository};
use ports::{
    AccessClaims, IssuedAccessToken, NewRefreshToken, OpaqueTokens, RefreshTokenRepository,
    TokenIssuer, TokenVerifier,
};

/// The answer to a login or refresh: an access token and a new refresh token.
#[derive(Clone)]
pub struct TokenPair {
    pub access: IssuedAccessToken,
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access", &self.access)
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// Runs the authentication use cases.
#[derive(Clone)]
pub struct AuthService {
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    issuer: Arc<dyn TokenIssuer>,
    verifier: Arc<dyn TokenVerifier>,
    opaque: Arc<dyn OpaqueTokens>,
    clock: Arc<dyn Clock>,
    refresh_ttl: Duration,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

/// The adapters authentication needs.
#[allow(missing_debug_implementations)]
pub struct AuthPorts {
    pub users: Arc<dyn UserRepository>,
    pub refresh_tokens: Arc<dyn RefreshTokenRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub issuer: Arc<dyn TokenIssuer>,
    pub verifier: Arc<dyn TokenVerifier>,
    pub opaque: Arc<dyn OpaqueTokens>,
    pub clock: Arc<dyn Clock>,
}

impl AuthService {
    pub fn new(ports: AuthPorts, refresh_ttl: Duration) -> Self {
        Self {
            users: ports.users,
            refresh_tokens: ports.refresh_tokens,
            hasher: ports.hasher,
            issuer: ports.issuer,
            verifier: ports.verifier,
            opaque: ports.opaque,
            clock: ports.clock,
            refresh_ttl,
        }
    }

    /// An access token asserting the user's id, role and token version.
    fn access_token(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.issuer.issue(
            &AccessClaims {
                user_id: user.id,
                role: user.role,
                token_version: user.token_version,
            },
            now,
        )?)
    }

    /// A new refresh token in `family_id`, bound to the user's token version: the value
    /// for the client and the record to store.
    fn refresh_token(
        &self,
        user: &User,
        family_id: String,
        now: DateTime<Utc>,
    ) -> Result<(String, NewRefreshToken), Box<dyn std::error::Error + Send + Sync>> {
        let refresh = self.opaque.generate();
        let ttl = chrono::Duration::from_std(self.refresh_ttl)?;
        Ok((
            refresh.plain,
            NewRefreshToken {
                user_id: user.id,
                family_id,
                hash: refresh.hash,
                token_version: user.token_version,
                issued_at: now,
                expires_at: now + ttl,
            },
        ))
    }
}

/// A new random family id for a login's refresh tokens.
fn new_family_id(opaque: &dyn OpaqueTokens) -> String {
    opaque.hash(&opaque.generate().plain).0
}

#[cfg(test)]
mod tests;
