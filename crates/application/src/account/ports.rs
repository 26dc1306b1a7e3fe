//! The ports the account lifecycle needs: the making of account tokens and their storage.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::users::account_tokens::AccountTokenPurpose;
use vidgen_domain::users::{Email, UserId};

use crate::auth::ports::TokenHash;
use crate::jobs::NewJob;
use crate::storage::RepositoryError;

/// A new account token: the seal that the mail job keeps, the token the seal opens to
/// (mailed to the user, never stored) and the hash it is stored and looked up by.
#[derive(Clone)]
pub struct SealedToken {
    pub seal: String,
    pub plain: String,
    pub hash: TokenHash,
}

impl std::fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedToken")
            .field("seal", &"[redacted]")
            .field("plain", &"[redacted]")
            .field("hash", &self.hash)
            .finish()
    }
}

/// Makes account tokens. A token is derived from its seal with a key only the server
/// holds, so the durable mail job keeps the seal and the database never holds a usable
/// token: not in the token table (hashes only), not in the job queue.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccountTokens: Send + Sync {
    /// A new token with at least 256 bits of randomness.
    fn generate(&self) -> SealedToken;

    /// The token `seal` opens to, or `None` for a seal this server did not make.
    fn open(&self, seal: &str) -> Option<String>;

    /// The hash a presented token is looked up by.
    fn hash(&self, plain: &str) -> TokenHash;
}

/// An account token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccountToken {
    /// `None` for a password recovery of an address no account uses: the storage runs
    /// the same statements, which then match no row, and stores only the mail job.
    pub user_id: Option<UserId>,
    pub purpose: AccountTokenPurpose,
    pub hash: TokenHash,
    /// The address the token is mailed to: it proves that address only.
    pub email: Email,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored account token that is still usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAccountToken {
    pub id: i64,
    pub user_id: UserId,
    pub purpose: AccountTokenPurpose,
    /// The address it was mailed to (lower-cased).
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// Storage of account tokens (hashes only).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountTokenRepository: Send + Sync {
    /// In one transaction: spends every unused token of the user with the same purpose
    /// (a new reset link invalidates the older ones), stores `token` and enqueues `mail`,
    /// its `send_mail` job. Without a user, the same statements run and change no row
    /// but the job's.
    ///
    /// # Errors
    /// A storage failure (then nothing was stored).
    async fn issue(&self, token: NewAccountToken, mail: NewJob) -> Result<(), RepositoryError>;

    /// The token stored under `hash` for `purpose`, if it is unused and unexpired at
    /// `now`.
    ///
    /// # Errors
    /// A storage failure.
    async fn find_live(
        &self,
        purpose: AccountTokenPurpose,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveAccountToken>, RepositoryError>;

    /// Spends the token `id` if it is still unused and unexpired at `now`, in one
    /// conditional write. Returns whether this call spent it (of two concurrent calls,
    /// one wins).
    ///
    /// # Errors
    /// A storage failure.
    async fn consume(&self, id: i64, now: DateTime<Utc>) -> Result<bool, RepositoryError>;
}
