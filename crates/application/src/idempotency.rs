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

/// How long a claimed key stays `in_progress` without a renewal. The request holding it
/// renews it every third of this while it runs; a request that crashed or was dropped
/// lets it lapse, and a retry then starts afresh instead of getting 409 for a day.
pub const IN_PROGRESS_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// Until when the completed answer is replayed.
    pub expires_at: DateTime<Utc>,
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
    lease: std::time::Duration,
}

impl std::fmt::Debug for IdempotentCreation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotentCreation").finish_non_exhaustive()
    }
}

impl IdempotentCreation {
    pub fn new(keys: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys,
            clock,
            lease: IN_PROGRESS_LEASE,
        }
    }

    /// Another `in_progress` lease than [`IN_PROGRESS_LEASE`] (tests).
    #[must_use]
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease;
        self
    }

    fn lease_until(&self) -> DateTime<Utc> {
        self.clock.now()
            + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// Runs `create` once per key: without a key it simply runs; with one, the key is
    /// claimed for `user` first (with a short lease, renewed while `create` runs),
    /// `create` gets the completion to record in its own transaction, and a failed
    /// creation releases the key so that a retry runs afresh. When the caller goes away
    /// (this future is dropped) the lease lapses and a retry runs afresh too.
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
        let now = self.clock.now();
        let record_id = match self
            .keys
            .claim(&claim, now, self.lease_until())
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
            expires_at: now + chrono::Duration::hours(KEY_TTL_HOURS),
        };
        let creation = create(Some(completion));
        tokio::pin!(creation);
        let mut renewals =
            tokio::time::interval((self.lease / 3).max(std::time::Duration::from_millis(1)));
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renewals.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut creation => break outcome,
                _ = renewals.tick() => {
                    match self.keys.renew(record_id, self.lease_until()).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(record_id, "the idempotency key's lease was lost"),
                        Err(error) => tracing::warn!(error = ?error, "could not renew the idempotency key"),
                    }
                }
            }
        };
        match outcome {
            Ok(created) => Ok(Created::New(created)),
            Err(error) => {
                if let Err(abandon) = self.keys.abandon(record_id).await {
                    tracing::warn!(error = ?abandon, "could not release the idempotency key");
                }
                Err(IdempotencyError::Create(error))
            }
        }
    }
}

/// Storage of idempotency keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Takes the key for this request, `in_progress` until `lease_until`, or says what it
    /// was used for. Expired keys (a completed answer past its lifetime, or an
    /// `in_progress` lease that lapsed) are treated as unused. Atomic: of two concurrent
    /// first uses, one gets `Fresh`.
    ///
    /// # Errors
    /// A storage failure.
    async fn claim(
        &self,
        request: &IdempotentRequest,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, RepositoryError>;

    /// Extends the lease of a key still `in_progress` under `record_id`; `false` when it
    /// is no longer held (completed, abandoned, or lapsed and claimed again).
    ///
    /// # Errors
    /// A storage failure.
    async fn renew(&self, record_id: i64, until: DateTime<Utc>) -> Result<bool, RepositoryError>;

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

    use chrono::TimeZone;

    fn at_noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn creation(keys: MockIdempotencyStore, lease: std::time::Duration) -> IdempotentCreation {
        let mut clock = crate::clock::MockClock::new();
        clock.expect_now().returning(at_noon);
        IdempotentCreation::new(Arc::new(keys), Arc::new(clock)).with_lease(lease)
    }

    fn keyed() -> Keyed<u32> {
        Keyed {
            key: IdempotencyKey::parse("k").expect("key"),
            route: "POST /things",
            respond: Box::new(|n| StoredResponse {
                status: 201,
                body: n.to_string(),
                location: None,
            }),
        }
    }

    fn user() -> UserId {
        UserId::new(1).expect("id")
    }

    #[tokio::test]
    async fn a_long_creation_renews_its_short_lease_and_completes_the_key() {
        let lease = std::time::Duration::from_millis(30);
        let mut keys = MockIdempotencyStore::new();
        keys.expect_claim()
            .withf(|_, now, until| *until == *now + chrono::Duration::milliseconds(30))
            .times(1)
            .returning(|_, _, _| Ok(Claim::Fresh { record_id: 7 }));
        // 200 ms of work with a renewal due every 10 ms.
        keys.expect_renew()
            .withf(|id, _| *id == 7)
            .times(2..)
            .returning(|_, _| Ok(true));
        keys.expect_abandon().never();
        let outcome = creation(keys, lease)
            .run(
                user(),
                &Fields(vec!["a"]),
                Some(keyed()),
                |completion| async move {
                    let completion = completion.expect("a keyed creation gets its completion");
                    assert_eq!(completion.record_id, 7);
                    assert_eq!(
                        completion.expires_at,
                        at_noon() + chrono::Duration::hours(KEY_TTL_HOURS)
                    );
                    assert_eq!((completion.respond)(&5).body, "5");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    Ok::<u32, RepositoryError>(5)
                },
            )
            .await;
        assert!(matches!(outcome, Ok(Created::New(5))), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_dropped_request_leaves_only_a_short_lease_behind() {
        let mut keys = MockIdempotencyStore::new();
        keys.expect_claim()
            .withf(|_, now, until| *until == *now + chrono::Duration::seconds(30))
            .times(1)
            .returning(|_, _, _| Ok(Claim::Fresh { record_id: 3 }));
        keys.expect_renew().returning(|_, _| Ok(true));
        // Nobody is left to abandon the key: its lease lapses on its own.
        keys.expect_abandon().never();
        let service = creation(keys, std::time::Duration::from_secs(30));
        let request = Fields(vec!["a"]);
        let running = service.run(user(), &request, Some(keyed()), |_| async {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            Ok::<u32, RepositoryError>(1)
        });
        // The client goes away: the request's future is dropped.
        let dropped = tokio::time::timeout(std::time::Duration::from_millis(50), running).await;
        assert!(dropped.is_err(), "the creation was still running");
    }

    #[tokio::test]
    async fn a_failed_creation_gives_the_key_back_and_unkeyed_ones_skip_the_store() {
        let mut keys = MockIdempotencyStore::new();
        keys.expect_claim()
            .returning(|_, _, _| Ok(Claim::Fresh { record_id: 4 }));
        keys.expect_renew().returning(|_, _| Ok(true));
        keys.expect_abandon()
            .withf(|id| *id == 4)
            .times(1)
            .returning(|_| Ok(()));
        let service = creation(keys, IN_PROGRESS_LEASE);
        let failed = service
            .run(user(), &Fields(vec!["a"]), Some(keyed()), |_| async {
                Err::<u32, _>(RepositoryError::new(std::io::Error::other("down")))
            })
            .await;
        assert!(
            matches!(failed, Err(IdempotencyError::Create(_))),
            "{failed:?}"
        );

        let mut untouched = MockIdempotencyStore::new();
        untouched.expect_claim().never();
        let plain = creation(untouched, IN_PROGRESS_LEASE)
            .run(user(), &Fields(vec!["a"]), None, |completion| async move {
                assert!(completion.is_none());
                Ok::<u32, RepositoryError>(2)
            })
            .await;
        assert!(matches!(plain, Ok(Created::New(2))), "{plain:?}");
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
