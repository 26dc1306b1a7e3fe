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
    /// The user's token version the token is bound to: once the user's version moves on
    /// (password change, suspension, role change), the token can no longer be rotated.
    pub token_version: i64,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub user_id: UserId,
    pub family_id: String,
    /// The user's token version when the token was issued.
    pub token_version: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token for rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is spent now and its successor is stored in the family.
    Rotated,
    /// The token had already been spent (a replay, or a concurrent refresh that won):
    /// its whole family, the winner's successor included, is revoked now.
    Reused { revoked: u64 },
    /// The token is unknown, revoked, expired, in a revoked family, bound to an older
    /// token version, or does not match the successor's user and family: nothing changed.
    Refused,
}

/// Storage of refresh tokens. Every write that revokes or rotates a user's tokens is
/// serialised with the others on that user, so a revocation and a rotation can never
/// interleave.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    /// Stores the first token of a new family, unless the user's token version is no
    /// longer `token.token_version` (it changed since the user was read) or the user is
    /// gone. Returns whether the token was stored.
    ///
    /// # Errors
    /// A storage failure.
    async fn insert(&self, token: NewRefreshToken) -> Result<bool, RepositoryError>;

    /// # Errors
    /// A storage failure.
    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError>;

    /// Rotates the token stored under `presented` as one compare-and-set transaction: it
    /// succeeds only if the token is unused, unrevoked and unexpired at
    /// `successor.issued_at`, its family has no revoked token, it belongs to
    /// `successor.user_id` and `successor.family_id`, and both it and `successor` are
    /// bound to the user's current token version. Then the token is spent and the
    /// successor stored together; otherwise nothing is stored. A token that was already
    /// spent revokes its family instead ([`Rotation::Reused`]).
    ///
    /// # Errors
    /// A storage failure (then nothing changed).
    async fn rotate(
        &self,
        presented: &TokenHash,
        successor: NewRefreshToken,
    ) -> Result<Rotation, RepositoryError>;

    /// Revokes every token of the family. Returns how many were revoked.
    ///
    /// # Errors
    /// A storage failure.
    async fn revoke_family(
        &self,
        family_id: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, RepositoryError>;
}
