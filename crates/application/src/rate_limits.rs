//! Rate limits: the `RateLimiter` port (one decision per request, by policy and client
//! key) and [`RateLimits`], which the HTTP layer asks before serving a request and before
//! checking a password. A limiter that cannot decide (its store is down) lets the request
//! through: an outage of the limiter never takes the API down with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::metrics::RateLimitDecision;

/// Which budget a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatePolicy {
    /// Every request under `/api/`, per client (user id, else IP).
    Api,
    /// Password attempts (login, password change), per (IP, account).
    Login,
    /// Password-recovery requests, per client IP.
    Recovery,
    /// Account e-mails asked for (password recovery per address, verification resend
    /// per user).
    AccountMail,
}

impl RatePolicy {
    /// The policy's name in keys, headers and metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Login => "login",
            Self::Recovery => "recovery",
            Self::AccountMail => "account_mail",
        }
    }
}

/// The quota of every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub api: Quota,
    pub login: Quota,
    pub recovery: Quota,
    pub account_mail: Quota,
}

impl Quotas {
    /// The quota of `policy`.
    pub fn of(&self, policy: RatePolicy) -> Quota {
        match policy {
            RatePolicy::Api => self.api,
            RatePolicy::Login => self.login,
            RatePolicy::Recovery => self.recovery,
            RatePolicy::AccountMail => self.account_mail,
        }
    }

    /// The same quota for every policy (tests).
    pub fn uniform(quota: Quota) -> Self {
        Self {
            api: quota,
            login: quota,
            recovery: quota,
            account_mail: quota,
        }
    }
}

/// A budget: `limit` requests per `window`, replenished evenly (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub window: Duration,
}

/// The outcome of one request against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub quota: Quota,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// Until the budget frees a slot (zero when it is full); when refused, how long
    /// to wait before a retry can succeed.
    pub reset: Duration,
}

impl RateDecision {
    /// Whole seconds until a slot frees, rounded up (never 0 for a refusal).
    pub fn reset_seconds(&self) -> u64 {
        let whole = self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0);
        if self.allowed { whole } else { whole.max(1) }
    }
}

/// The limiter's store could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("the rate limiter is unavailable: {0}")]
pub struct RateLimitUnavailable(pub String);

/// Counts requests against budgets.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// The store's name in metrics (`memory`, `redis`).
    fn store(&self) -> &'static str;

    /// The quota of `policy`.
    fn quota(&self, policy: RatePolicy) -> Quota;

    /// Counts one request of `key` against `policy` and decides it.
    ///
    /// # Errors
    /// `RateLimitUnavailable` when the store cannot be reached.
    async fn check(
        &self,
        policy: RatePolicy,
        key: &str,
    ) -> Result<RateDecision, RateLimitUnavailable>;
}

/// How often an unavailable limiter is logged (every failure is counted).
const LOG_INTERVAL_SECONDS: u64 = 60;

/// The rate limits of the API, failing open.
#[derive(Clone)]
pub struct RateLimits {
    limiter: Arc<dyn RateLimiter>,
    last_logged: Arc<AtomicU64>,
    failures: Arc<AtomicU64>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("failures", &self.failures.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self {
            limiter,
            last_logged: Arc::new(AtomicU64::new(0)),
            failures: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Decides one request. When the limiter cannot decide, the request is allowed (a
    /// decision with the full quota), the failure is counted and logged at most once a
    /// minute.
    pub async fn check(&self, policy: RatePolicy, key: &str) -> RateDecision {
        match self.limiter.check(policy, key).await {
            Ok(decision) => {
                crate::metrics::rate_limit_decision(
                    policy.as_str(),
                    if decision.allowed {
                        RateLimitDecision::Allowed
                    } else {
                        RateLimitDecision::Limited
                    },
                );
                decision
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                crate::metrics::rate_limit_store_failure(self.limiter.store());
                crate::metrics::rate_limit_decision(policy.as_str(), RateLimitDecision::Allowed);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let last = self.last_logged.load(Ordering::Relaxed);
                if now.saturating_sub(last) >= LOG_INTERVAL_SECONDS
                    && self
                        .last_logged
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::error!(error = %error, policy = policy.as_str(), "rate limiter unavailable: requests are let through");
                }
                let quota = self.limiter.quota(policy);
                RateDecision {
                    allowed: true,
                    quota,
                    remaining: quota.limit,
                    reset: Duration::ZERO,
                }
            }
        }
    }

    /// Decisions the limiter could not make (each let the request through).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The key of a password attempt: the client's address and the account named
    /// (case-insensitive), so one guessing client cannot lock others out.
    pub fn attempt_key(client: &str, account: &str) -> String {
        format!("{client}|{}", account.trim().to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> Quota {
        Quota {
            limit: 5,
            window: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn an_unavailable_limiter_lets_requests_through_and_counts_the_failures() {
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_check()
            .returning(|_, _| Err(RateLimitUnavailable("connection refused".into())));
        limiter.expect_quota().returning(|_| quota());
        limiter.expect_store().return_const("redis");
        let limits = RateLimits::new(Arc::new(limiter));
        for _ in 0..3 {
            let decision = limits.check(RatePolicy::Api, "ip:1.2.3.4").await;
            assert!(decision.allowed);
            assert_eq!(decision.remaining, 5);
        }
        assert_eq!(limits.failures(), 3);
    }

    #[test]
    fn refusals_always_ask_for_at_least_a_second() {
        let refused = RateDecision {
            allowed: false,
            quota: quota(),
            remaining: 0,
            reset: Duration::from_millis(10),
        };
        assert_eq!(refused.reset_seconds(), 1);
        let allowed = RateDecision {
            allowed: true,
            reset: Duration::from_millis(1500),
            ..refused
        };
        assert_eq!(allowed.reset_seconds(), 2);
        assert_eq!(
            RateLimits::attempt_key("10.0.0.1", " Jane "),
            "10.0.0.1|jane"
        );
    }
}
