//! [`RateLimiter`] on Redis (`RATE_LIMIT_BACKEND=redis`): every decision is one atomic
//! server-side script (GCRA on the key's theoretical arrival time, with Redis's own clock,
//! so all instances share one budget and one notion of now). Each key expires once its
//! budget is whole again, so Redis holds only active clients.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
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
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    quotas: Quotas,
    prefix: String,
}

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
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| RedisSetupError("no answer within 5 s".into()))?
        .map_err(|e| RedisSetupError(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| RedisSetupError(e.to_string()))?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA),
            quotas,
            prefix: prefix.to_owned(),
        })
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
        let mut connection = self.connection.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}:{}:{key}", self.prefix, policy.as_str()))
            .arg(micros(interval))
            .arg(micros(quota.window))
            .arg(quota.limit);
        let answer: (u8, u32, u64) =
            tokio::time::timeout(DECISION_TIMEOUT, invocation.invoke_async(&mut connection))
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
