//! The ports authentication needs: access tokens, opaque refresh tokens and their storage.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::users::{Role, UserId};

use crate::storage::RepositoryError;

/// What an access token asserts about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub role: Role,
    /// The user's token version when the token was issued; a token whose version is
    /// older than the user's current one is no longer accepted.
    pub token_version: i64,
}

/// A signed access token and its lifetime.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in_seconds: u64,
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("token", &"[redacted]")
            .field("expires_in_seconds", &self.expires_in_seconds)
            .finish()
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
}

/// Why an access token could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot issue an access token")]
pub struct IssueError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Issues access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// Signs a token asserting the claims, valid from `now` for the configured lifetime.
    ///
    /// # Errors
    /// The signing key or encoder failed.
    fn issue(
        &self,
        claims: &AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, IssueError>;
}

/// Verifies access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenVerifier: Send + Sync {
    /// Checks the signature, algorithm and every claim (issuer, audience, expiry,
    /// not-before) and returns what the token asserts.
    ///
    /// # Errors
    /// `Expired` for an outdated token, `Invalid` for anything else.
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError>;
}

/// The hash under which an opaque token is stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

/// A new opaque token: the value handed to the client, and its hash.
#[derive(Clone)]
pub struct OpaqueToken {
    pub plain: String,
    pub hash: TokenHash,
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueToken")
            .field("plain", &"[redacted]")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Makes random opaque tokens (refresh tokens, later reset and verification tokens).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OpaqueTokens: Send + Sync {
    /// A new token with at least 256 bits of randomness.
    fn generate(&self) -> OpaqueToken;

    /// The hash a presented token is looked up by.
    fn hash(&self, plain: &str) -> TokenHash;
}

/// A refresh token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub user_id: UserId,
    /// Every token obtained by rotating one login's tokens shares the family.
    pub family_id: String,
    pub hash: TokenHash,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub user_id: UserId,
    pub family_id: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Storage of refresh tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    /// # Errors
    /// A storage failure.
    async fn insert(&self, token: NewRefreshToken) -> Result<(), RepositoryError>;

    /// # Errors
    /// A storage failure.
    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// Marks the token used if it is neither used nor revoked, atomically. Returns
    /// whether this call did it (false: someone else used or revoked it first).
    ///
    /// # Errors
    /// A storage failure.
    async fn consume(&self, id: i64, at: DateTime<Utc>) -> Result<bool, RepositoryError>;

    /// Revokes every token of the family. Returns how many were revoked.
    ///
    /// # Errors
    /// A storage failure.
    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, RepositoryError>;

    /// Revokes every token of the user. Returns how many were revoked.
    ///
    /// # Errors
    /// A storage failure.
    async fn revoke_user(&self, user_id: UserId, at: DateTime<Utc>)
    -> Result<u64, RepositoryError>;
}
