//! Rate limits: how many requests a client may make and where the counters live.

use super::SettingsError;
use super::source::Source;

/// Where rate-limit counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitBackend {
    Memory,
    Redis,
}

/// The rate limiter's settings.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_REQUESTS`: requests per minute per client.
    pub requests: u32,
    /// `RATE_LIMIT_BACKEND`.
    pub backend: RateLimitBackend,
    /// `REDIS_URL`: required with the redis backend.
    pub redis_url: Option<String>,
    /// `LOGIN_RATE_LIMIT`: password attempts per 15 minutes per (IP, account).
    pub login_attempts: u32,
    /// `PASSWORD_RECOVERY_RATE_LIMIT`: password-recovery requests per hour per client IP.
    pub recovery_requests: u32,
    /// `ACCOUNT_MAIL_RATE_LIMIT`: account e-mails asked for per hour per address
    /// (password recovery) or per user (verification resend).
    pub account_mails: u32,
    /// `MAX_ACTIVE_JOBS_PER_USER`: videos a user may have pending or processing.
    pub max_active_jobs_per_user: u32,
    /// `RATE_LIMIT_ENABLED`: limit requests and password attempts (default true).
    pub enabled: bool,
    /// `EVENT_STREAMS_PER_USER`: progress streams one user may have open.
    pub event_streams_per_user: u32,
    /// `EVENT_STREAMS_MAX`: progress streams open on one instance.
    pub event_streams_max: u32,
}

/// The window of `LOGIN_RATE_LIMIT`.
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The window of `PASSWORD_RECOVERY_RATE_LIMIT` and `ACCOUNT_MAIL_RATE_LIMIT`.
pub const ACCOUNT_MAIL_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

impl RateLimitSettings {
    /// Reads the rate-limit variables.
    ///
    /// # Errors
    /// Every invalid or missing value among them, one line each.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let requests: u32 = r.number("RATE_LIMIT_REQUESTS", 60, 1, 1_000_000);
        let backend = r.parse_enum(
            "RATE_LIMIT_BACKEND",
            RateLimitBackend::Memory,
            &[
                ("memory", RateLimitBackend::Memory),
                ("redis", RateLimitBackend::Redis),
            ],
        );
        let redis_url = r.string("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            r.problem("REDIS_URL", "must start with redis:// or rediss://");
        }
        if backend == RateLimitBackend::Redis && redis_url.is_none() {
            r.problem("REDIS_URL", "is required when RATE_LIMIT_BACKEND=redis");
        }
        let login_attempts: u32 = r.number("LOGIN_RATE_LIMIT", 10, 1, 1_000_000);
        let recovery_requests: u32 = r.number("PASSWORD_RECOVERY_RATE_LIMIT", 10, 1, 1_000_000);
        let account_mails: u32 = r.number("ACCOUNT_MAIL_RATE_LIMIT", 3, 1, 1_000_000);
        let max_active_jobs_per_user: u32 = r.number("MAX_ACTIVE_JOBS_PER_USER", 5, 1, 100_000);
        let enabled = r.boolean("RATE_LIMIT_ENABLED", true);
        let event_streams_per_user: u32 = r.number("EVENT_STREAMS_PER_USER", 10, 1, 10_000);
        let event_streams_max: u32 = r.number("EVENT_STREAMS_MAX", 10_000, 1, 10_000);
        r.finish(Self {
            requests,
            backend,
            redis_url,
            login_attempts,
            recovery_requests,
            account_mails,
            max_active_jobs_per_user,
            enabled,
            event_streams_per_user,
            event_streams_max,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_count_in_memory() {
        let s = RateLimitSettings::read(&source(&[])).unwrap();
        assert_eq!(s.requests, 60);
        assert_eq!(s.backend, RateLimitBackend::Memory);
        assert_eq!(s.redis_url, None);
        assert_eq!(s.login_attempts, 10);
        assert_eq!(s.max_active_jobs_per_user, 5);
        assert_eq!(s.event_streams_per_user, 10);
        assert_eq!(s.event_streams_max, 10_000);
        assert_eq!(s.recovery_requests, 10);
        assert_eq!(s.account_mails, 3);
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("RATE_LIMIT_REQUESTS", "0"),
            ("RATE_LIMIT_BACKEND", "memcached"),
            ("REDIS_URL", "http://localhost"),
            ("LOGIN_RATE_LIMIT", "0"),
            ("MAX_ACTIVE_JOBS_PER_USER", "many"),
            ("EVENT_STREAMS_PER_USER", "0"),
            ("EVENT_STREAMS_MAX", "20000"),
            ("PASSWORD_RECOVERY_RATE_LIMIT", "0"),
            ("ACCOUNT_MAIL_RATE_LIMIT", "lots"),
        ];
        for (name, value) in cases {
            let p = problems_of(RateLimitSettings::read(&source(&[(name, value)])));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn redis_backend_needs_a_redis_url() {
        let p = problems_of(RateLimitSettings::read(&source(&[(
            "RATE_LIMIT_BACKEND",
            "redis",
        )])));
        assert_eq!(
            p,
            vec!["REDIS_URL: is required when RATE_LIMIT_BACKEND=redis"]
        );
        let s = RateLimitSettings::read(&source(&[
            ("RATE_LIMIT_BACKEND", "Redis"),
            ("REDIS_URL", "rediss://cache:6380"),
            ("RATE_LIMIT_REQUESTS", "600"),
        ]))
        .unwrap();
        assert_eq!(s.backend, RateLimitBackend::Redis);
        assert_eq!(s.redis_url.as_deref(), Some("rediss://cache:6380"));
        assert_eq!(s.requests, 600);
    }
}
