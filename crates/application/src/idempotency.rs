//! Idempotency keys: a client that retries a keyed request gets the first answer again
//! instead of a second resource. Keys are scoped per user and route and live 24 hours.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::users::UserId;

use crate::storage::RepositoryError;

/// How long a key is remembered.
pub const KEY_TTL_HOURS: i64 = 24;

/// A valid `Idempotency-Key`: 1..=255 characters of `[A-Za-z0-9_:.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;
    pub const PATTERN: &'static str = "^[A-Za-z0-9_:.-]{1,255}$";

    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'));
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The first answer to a keyed request, replayed to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// A keyed request about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    pub user_id: UserId,
    pub route: &'static str,
    pub key: IdempotencyKey,
    /// A hash of the request, to tell a retry from a different request with the same key.
    pub request_hash: String,
}

/// What the store knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: the key is now held (`in_progress`) by this request, as `record_id`.
    Fresh { record_id: i64 },
    /// Used before for the same request: answer this again.
    Replay(StoredResponse),
    /// The first request with this key is still running.
    InProgress,
    /// Used before for a different request.
    Mismatch,
}

/// Storage of idempotency keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Takes the key for this request, or says what it was used for (expired keys are
    /// treated as unused). Atomic: of two concurrent first uses, one gets `Fresh`.
    ///
    /// # Errors
    /// A storage failure.
    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
    ) -> Result<Claim, RepositoryError>;

    /// Forgets a key whose request failed, so that a retry can run it.
    ///
    /// # Errors
    /// A storage failure.
    async fn abandon(&self, record_id: i64) -> Result<(), RepositoryError>;

    /// Deletes expired keys; returns how many.
    ///
    /// # Errors
    /// A storage failure.
    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        let longest = "k".repeat(255);
        let too_long = "k".repeat(256);
        for (raw, ok) in [
            ("abc-123", true),
            ("order:42.v1_x", true),
            (longest.as_str(), true),
            (too_long.as_str(), false),
            ("", false),
            ("has space", false),
            ("slash/no", false),
            ("ünï", false),
        ] {
            assert_eq!(IdempotencyKey::parse(raw).is_some(), ok, "{raw:?}");
        }
    }
}
