//! [`RateLimiter`] on Redis (`RATE_LIMIT_BACKEND=redis`): every decision is one atomic
//! server-side script (GCRA on the key's theoretical arrival time, with Redis's own clock,
//! so all instances share one budget and one notion of now). Each key expires once its
//! budget is whole again, so Redis holds only active clients.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use vidgen_application::rate_limits::{
    Quota, Quotas, RateDecision, RateLimitUnavailable, RateLimiter, RatePolicy,
};

/// GCRA in microseconds. KEYS[1]: the client's key. ARGV: emission interval, window,
/// limit. Answers {allowed (0/1), remaining, microseconds until a slot frees}.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > window then
  return {0, 0, next_tat - window - now}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
local remaining = math.floor((window - (next_tat - now)) / interval)
local reset = 0
if remaining < limit then reset = interval end
return {1, remaining, reset}
";

/// How long one decision may take before the request is let through.
const DECISION_TIMEOUT: Duration = Duration::from_millis(250);

/// The Redis limiter.
///
/// Each thread that asks for decisions gets a connection of its own, made on first use
/// and driven by that thread's runtime (an actix worker's): a decision's round trip then
/// wakes no other thread. With one connection shared from the start-up runtime, every
/// request crossed to its thread and back, and the context switches were 15% of a
/// `/users/me`.
#[derive(Clone)]
pub struct RedisRateLimiter {
    client: redis::Client,
    config: ConnectionManagerConfig,
    /// This limiter's slot in each thread's [`CONNECTIONS`].
    id: u64,
    script: redis::Script,
    quotas: Quotas,
    prefix: String,
}

/// A thread's connection of one limiter, once made.
type ThreadConnection = Arc<OnceCell<ConnectionManager>>;

thread_local! {
    /// This thread's connections, by limiter id. A handful at most: one limiter per
    /// running application.
    static CONNECTIONS: RefCell<HashMap<u64, ThreadConnection>> = RefCell::new(HashMap::new());
}

/// Ids of limiters, unique in the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("quotas", &self.quotas)
            .finish_non_exhaustive()
    }
}

/// The Redis server could not be reached at start-up.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach Redis at REDIS_URL: {0}")]
pub struct RedisSetupError(String);

impl RedisRateLimiter {
    /// Connects (and checks the connection with a `PING`), keys under `prefix`.
    ///
    /// # Errors
    /// The URL is invalid or the server does not answer within a few seconds.
    pub async fn connect(url: &str, prefix: &str, quotas: Quotas) -> Result<Self, RedisSetupError> {
        let client = redis::Client::open(url).map_err(|e| RedisSetupError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(DECISION_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let mut connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_connection_manager_with_config(config.clone()),
        )
        .await
        .map_err(|_| RedisSetupError("no answer within 5 s".into()))?
        .map_err(|e| RedisSetupError(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| RedisSetupError(e.to_string()))?;
        // The checked connection serves this thread; the others make their own.
        let limiter = Self {
            client,
            config,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            script: redis::Script::new(GCRA),
            quotas,
            prefix: prefix.to_owned(),
        };
        let _ = limiter.thread_connection().set(connection);
        Ok(limiter)
    }

    /// This thread's connection cell (empty until its first decision).
    fn thread_connection(&self) -> ThreadConnection {
        CONNECTIONS.with_borrow_mut(|connections| connections.entry(self.id).or_default().clone())
    }

    /// This thread's connection, made now if it has none yet.
    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let cell = self.thread_connection();
        let connection = cell
            .get_or_try_init(|| {
                self.client
                    .get_connection_manager_with_config(self.config.clone())
            })
            .await?;
        Ok(connection.clone())
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    fn store(&self) -> &'static str {
        "redis"
    }

    fn quota(&self, policy: RatePolicy) -> Quota {
        self.quotas.of(policy)
    }

    async fn check(
        &self,
        policy: RatePolicy,
        key: &str,
    ) -> Result<RateDecision, RateLimitUnavailable> {
        let quota = self.quota(policy);
        let interval = quota.window / quota.limit.max(1);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}:{}:{key}", self.prefix, policy.as_str()))
            .arg(micros(interval))
            .arg(micros(quota.window))
            .arg(quota.limit);
        let decided = async {
            let mut connection = self.connection().await?;
            invocation.invoke_async(&mut connection).await
        };
        let answer: (u8, u32, u64) = tokio::time::timeout(DECISION_TIMEOUT, decided)
            .await
            .map_err(|_| RateLimitUnavailable("Redis did not answer in time".into()))?
            .map_err(|e| RateLimitUnavailable(e.to_string()))?;
        let (allowed, remaining, reset) = answer;
        Ok(RateDecision {
            allowed: allowed == 1,
            quota,
            remaining,
            reset: Duration::from_micros(reset),
        })
    }
}

#[cfg(test)]
mod tests {
    //! Against the Redis server of the test machine (`TEST_REDIS_URL`, default
    //! `redis://127.0.0.1:6379`; CI starts one).

    use super::*;

    fn redis_url() -> String {
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    fn quotas(limit: u32) -> Quotas {
        let quota = Quota {
            limit,
            window: Duration::from_secs(60),
        };
        Quotas {
            api: quota,
            login: quota,
            recovery: quota,
            account_mail: quota,
        }
    }

    /// Decisions asked from a new thread with a runtime of its own, as an actix worker.
    fn decide_on_another_thread(limiter: &RedisRateLimiter, key: &str, times: usize) -> Vec<bool> {
        let limiter = limiter.clone();
        let key = key.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut allowed = Vec::new();
                for _ in 0..times {
                    let decision = limiter.check(RatePolicy::Api, &key).await;
                    allowed.push(decision.expect("Redis answers").allowed);
                }
                let own = CONNECTIONS.with_borrow(|connections| {
                    connections
                        .get(&limiter.id)
                        .is_some_and(|cell| cell.initialized())
                });
                assert!(own, "the thread made a connection of its own");
                allowed
            })
        })
        .join()
        .expect("the thread ran")
    }

    #[tokio::test]
    async fn threads_with_connections_of_their_own_share_one_budget() {
        let prefix = format!("vidgen:test:{}", uuid::Uuid::new_v4().simple());
        let limiter = RedisRateLimiter::connect(&redis_url(), &prefix, quotas(4))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "these tests need Redis at {} (TEST_REDIS_URL): {e}",
                    redis_url()
                )
            });
        let here = limiter
            .check(RatePolicy::Api, "client")
            .await
            .expect("answered");
        assert!(here.allowed);
        assert_eq!(here.remaining, 3);
        // Two more threads, each making its own connection: five requests, four allowed.
        assert_eq!(
            decide_on_another_thread(&limiter, "client", 2),
            [true, true]
        );
        assert_eq!(
            decide_on_another_thread(&limiter, "client", 2),
            [true, false]
        );
        let after = limiter
            .check(RatePolicy::Api, "client")
            .await
            .expect("answered");
        assert!(!after.allowed, "the budget is shared, not per connection");
        // Another key has its own budget, from any thread.
        assert_eq!(decide_on_another_thread(&limiter, "other", 1), [true]);
    }
}
