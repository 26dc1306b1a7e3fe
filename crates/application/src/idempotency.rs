//! Idempotency keys: a client that retries a keyed request gets the first answer again
//! instead of a second resource. Keys are scoped per user and route and live 24 hours.
//!
//! [`IdempotentCreation`] is the one implementation of the protocol (fingerprint the
//! request, claim the key, complete it in the creating transaction, abandon it when the
//! creation fails, replay stored answers); every create use case that takes a key runs
//! through it.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use vidgen_domain::users::UserId;

use crate::clock::Clock;
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

/// Turns the created resource into the answer a retry of the same keyed request replays
/// (the HTTP adapter knows the wire shape; the application stores it).
pub type Respond<T> = Box<dyn Fn(&T) -> StoredResponse + Send + Sync>;

/// The key to complete in the same transaction as the resource it created.
pub struct KeyCompletion<T> {
    pub record_id: i64,
    pub respond: Respond<T>,
}

impl<T> std::fmt::Debug for KeyCompletion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCompletion")
            .field("record_id", &self.record_id)
            .finish_non_exhaustive()
    }
}

/// An `Idempotency-Key` sent with a create: the key, the route it scopes, and how the
/// first answer is recorded for replays.
pub struct Keyed<T> {
    pub key: IdempotencyKey,
    /// The route the key belongs to (`"POST /api/v1/videos"`): one key may be reused on
    /// another route.
    pub route: &'static str,
    pub respond: Respond<T>,
}

impl<T> std::fmt::Debug for Keyed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyed")
            .field("key", &self.key)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

/// A request that can be sent with an idempotency key: its fingerprint tells a retry of
/// the same request from a different request under the same key.
pub trait Fingerprint {
    /// The request's fields, in a fixed order (an absent optional field as a value no
    /// valid field can take, such as `"\u{0}"`).
    fn fingerprint_fields(&self) -> Vec<String>;

    /// A SHA-256 over the fields, each length-prefixed so that no two field lists
    /// collide by concatenation.
    fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for field in self.fingerprint_fields() {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The outcome of an idempotent creation: the new resource, or the first answer to the
/// same keyed request.
#[derive(Debug, Clone, PartialEq)]
pub enum Created<T> {
    New(T),
    Replay(StoredResponse),
}

/// Why a keyed creation did not run.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// The key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyMismatch,
    /// The first request with this key is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInProgress,
    /// The key store failed.
    #[error("the idempotency key store failed")]
    Store(#[source] RepositoryError),
    /// The creation itself failed (the key was released for a retry).
    #[error(transparent)]
    Create(E),
}

/// Runs creations that may carry an idempotency key. Any create route uses it.
#[derive(Clone)]
pub struct IdempotentCreation {
    keys: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for IdempotentCreation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotentCreation").finish_non_exhaustive()
    }
}

impl IdempotentCreation {
    pub fn new(keys: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>) -> Self {
        Self { keys, clock }
    }

    /// Runs `create` once per key: without a key it simply runs; with one, the key is
    /// claimed for `user` first, `create` gets the completion to record in its own
    /// transaction, and a failed creation releases the key so that a retry runs afresh.
    ///
    /// # Errors
    /// `KeyMismatch` for a key used with a different request, `KeyInProgress` while the
    /// first request runs, `Store` when the key store fails, `Create` with the creation's
    /// own error.
    pub async fn run<T, E, F, Fut>(
        &self,
        user: UserId,
        request: &impl Fingerprint,
        keyed: Option<Keyed<T>>,
        create: F,
    ) -> Result<Created<T>, IdempotencyError<E>>
    where
        F: FnOnce(Option<KeyCompletion<T>>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(keyed) = keyed else {
            return create(None)
                .await
                .map(Created::New)
                .map_err(IdempotencyError::Create);
        };
        let claim = IdempotentRequest {
            user_id: user,
            route: keyed.route,
            key: keyed.key,
            request_hash: request.fingerprint(),
        };
        let record_id = match self
            .keys
            .claim(&claim, self.clock.now())
            .await
            .map_err(IdempotencyError::Store)?
        {
            Claim::Fresh { record_id } => record_id,
            Claim::Replay(stored) => return Ok(Created::Replay(stored)),
            Claim::InProgress => return Err(IdempotencyError::KeyInProgress),
            Claim::Mismatch => return Err(IdempotencyError::KeyMismatch),
        };
        let completion = KeyCompletion {
            record_id,
            respond: keyed.respond,
        };
        match create(Some(completion)).await {
            Ok(created) => Ok(Created::New(created)),
            Err(error) => {
                if let Err(abandon) = self.keys.abandon(record_id).await {
                    tracing::warn!(error = ?abandon, "could not release the idempotency key");
                }
                Err(IdempotencyError::Create(error))
            }
        }
    }

    /// Deletes keys older than their [`KEY_TTL_HOURS`]; returns how many.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn forget_expired(&self) -> Result<u64, RepositoryError> {
        self.keys.delete_expired(self.clock.now()).await
    }
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

    struct Fields(Vec<&'static str>);

    impl Fingerprint for Fields {
        fn fingerprint_fields(&self) -> Vec<String> {
            self.0.iter().map(|f| (*f).to_owned()).collect()
        }
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let base = Fields(vec!["ab", "c"]).fingerprint();
        assert_eq!(base, Fields(vec!["ab", "c"]).fingerprint(), "stable");
        assert_eq!(base.len(), 64, "hex SHA-256");
        for other in [
            vec!["a", "bc"],
            vec!["abc"],
            vec!["ab", "c", ""],
            vec!["c", "ab"],
        ] {
            assert_ne!(base, Fields(other.clone()).fingerprint(), "{other:?}");
        }
    }

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
