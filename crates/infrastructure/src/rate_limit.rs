//! [`RateLimiter`] in memory: GCRA decisions by `governor`, over a key store bounded in
//! size (a moka cache holding at most [`MAX_KEYS`] keys, each dropped once idle for a
//! whole window), so a flood of distinct keys (spoofed addresses, many users) cannot grow
//! the limiter's memory without bound. An evicted key starts again with a full budget,
//! which only ever errs on the side of letting a request through. [`shared`] holds the
//! Redis adapter, one budget for every instance.

pub mod shared;

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use vidgen_application::rate_limits::{
    Quota, Quotas, RateDecision, RateLimitUnavailable, RateLimiter, RatePolicy,
};

/// Keys held per policy at most.
pub const MAX_KEYS: u64 = 100_000;

/// A governor state store in a bounded cache: each key's GCRA state (its theoretical
/// arrival time, in nanoseconds) in an atomic, replaced by compare-and-swap.
struct BoundedStore<K: Hash + Eq + Send + Sync + 'static> {
    cells: moka::sync::Cache<K, Arc<AtomicU64>, crate::CacheHasher>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> BoundedStore<K> {
    fn new(capacity: u64, idle: Duration) -> Self {
        Self {
            cells: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build_with_hasher(crate::CacheHasher::default()),
        }
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let cell = self
            .cells
            .get_with_by_ref(key, || Arc::new(AtomicU64::new(0)));
        // 0 means "never measured" (governor's own stores use the same convention).
        let state = |raw: u64| (raw != 0).then(|| Nanos::from(raw));
        let mut seen = cell.load(Ordering::Acquire);
        loop {
            let (outcome, next) = f(state(seen))?;
            match cell.compare_exchange_weak(
                seen,
                next.as_u64(),
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(outcome),
                Err(current) => seen = current,
            }
        }
    }
}

type Keyed =
    governor::RateLimiter<String, BoundedStore<String>, DefaultClock, StateInformationMiddleware>;

/// One policy's limiter and its quota.
struct Budget {
    quota: Quota,
    limiter: Keyed,
    clock: DefaultClock,
}

impl Budget {
    fn new(quota: Quota) -> Self {
        let limit = NonZeroU32::new(quota.limit).unwrap_or(NonZeroU32::MIN);
        let interval = quota.window / limit.get();
        let gcra = governor::Quota::with_period(interval.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_second(limit))
            .allow_burst(limit);
        let clock = DefaultClock::default();
        Self {
            quota,
            limiter: governor::RateLimiter::<
                String,
                BoundedStore<String>,
                DefaultClock,
                governor::middleware::NoOpMiddleware<
                    <DefaultClock as governor::clock::Clock>::Instant,
                >,
            >::new(
                gcra,
                BoundedStore::new(MAX_KEYS, quota.window),
                clock.clone(),
            )
            .with_middleware::<StateInformationMiddleware>(),
            clock,
        }
    }

    fn decide(&self, key: &str) -> RateDecision {
        let interval = self.quota.window / self.quota.limit.max(1);
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                RateDecision {
                    allowed: true,
                    quota: self.quota,
                    remaining,
                    // A spent slot comes back within one emission interval.
                    reset: if remaining >= self.quota.limit {
                        Duration::ZERO
                    } else {
                        interval
                    },
                }
            }
            Err(not_until) => RateDecision {
                allowed: false,
                quota: self.quota,
                remaining: 0,
                reset: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

/// The in-memory limiter: one budget per policy.
pub struct MemoryRateLimiter {
    api: Budget,
    login: Budget,
    recovery: Budget,
    account_mail: Budget,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("api", &self.api.quota)
            .field("login", &self.login.quota)
            .field("recovery", &self.recovery.quota)
            .field("account_mail", &self.account_mail.quota)
            .finish()
    }
}

impl MemoryRateLimiter {
    pub fn new(quotas: Quotas) -> Self {
        Self {
            api: Budget::new(quotas.api),
            login: Budget::new(quotas.login),
            recovery: Budget::new(quotas.recovery),
            account_mail: Budget::new(quotas.account_mail),
        }
    }

    fn budget(&self, policy: RatePolicy) -> &Budget {
        match policy {
            RatePolicy::Api => &self.api,
            RatePolicy::Login => &self.login,
            RatePolicy::Recovery => &self.recovery,
            RatePolicy::AccountMail => &self.account_mail,
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    fn store(&self) -> &'static str {
        "memory"
    }

    fn quota(&self, policy: RatePolicy) -> Quota {
        self.budget(policy).quota
    }

    async fn check(
        &self,
        policy: RatePolicy,
        key: &str,
    ) -> Result<RateDecision, RateLimitUnavailable> {
        Ok(self.budget(policy).decide(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(limit: u32, window: Duration) -> MemoryRateLimiter {
        let quota = Quota { limit, window };
        MemoryRateLimiter::new(Quotas::uniform(quota))
    }

    #[tokio::test]
    async fn a_budget_allows_its_burst_then_refuses_with_the_wait() {
        let limiter = limiter(3, Duration::from_secs(60));
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let decision = limiter.check(RatePolicy::Api, "user:1").await.expect("ok");
            assert!(decision.allowed);
            remaining.push(decision.remaining);
        }
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter.check(RatePolicy::Api, "user:1").await.expect("ok");
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        // One slot comes back every 20 s.
        assert!(
            refused.reset > Duration::from_secs(19) && refused.reset <= Duration::from_secs(20),
            "{:?}",
            refused.reset
        );
        assert_eq!(refused.reset_seconds(), 20);
    }

    #[tokio::test]
    async fn keys_and_policies_have_budgets_of_their_own() {
        let limiter = limiter(1, Duration::from_secs(60));
        assert!(
            limiter
                .check(RatePolicy::Api, "a")
                .await
                .expect("ok")
                .allowed
        );
        assert!(
            !limiter
                .check(RatePolicy::Api, "a")
                .await
                .expect("ok")
                .allowed
        );
        assert!(
            limiter
                .check(RatePolicy::Api, "b")
                .await
                .expect("ok")
                .allowed
        );
        assert!(
            limiter
                .check(RatePolicy::Login, "a")
                .await
                .expect("ok")
                .allowed
        );
    }

    #[tokio::test]
    async fn a_slot_frees_after_its_interval() {
        let limiter = limiter(2, Duration::from_millis(200));
        for _ in 0..2 {
            assert!(
                limiter
                    .check(RatePolicy::Api, "k")
                    .await
                    .expect("ok")
                    .allowed
            );
        }
        let refused = limiter.check(RatePolicy::Api, "k").await.expect("ok");
        assert!(!refused.allowed);
        tokio::time::sleep(refused.reset + Duration::from_millis(5)).await;
        assert!(
            limiter
                .check(RatePolicy::Api, "k")
                .await
                .expect("ok")
                .allowed
        );
    }

    #[test]
    fn the_key_store_stays_bounded_under_a_flood_of_keys() {
        let store: BoundedStore<String> = BoundedStore::new(1_000, Duration::from_secs(60));
        for n in 0..20_000 {
            let _: Result<(), ()> =
                store.measure_and_replace(&format!("ip:{n}"), |_| Ok(((), Nanos::from(1))));
        }
        store.cells.run_pending_tasks();
        assert!(
            store.cells.entry_count() <= 1_000,
            "{} keys held",
            store.cells.entry_count()
        );
    }
}
