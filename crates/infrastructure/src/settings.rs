//! Settings from environment variables (and a `.env` file when present).
//!
//! Every variable of the contract's Settings section is read, typed and checked by the
//! section it belongs to (one file per concern under `settings/`). Problems are
//! collected, not thrown one at a time: start-up reports one line per problem of every
//! section, each naming its variable.
//!
//! Adding a setting: one field in its section, the README table and `.env.example`.

mod auth;
mod database;
mod jobs;
mod mail;
mod media;
mod rate_limits;
mod server;
mod source;
mod telemetry;
mod webhooks;

use std::collections::HashMap;
use std::fmt;

pub use auth::{
    AuthSettings, HashingSettings, MIN_SECRET_KEY_BYTES, MIN_SECRET_KEY_ENTROPY_BITS,
    secret_key_weakness,
};
pub use database::{DEFAULT_DATABASE_URL, DatabaseSettings, redact_url};
pub use jobs::JobSettings;
pub use mail::{MailBackend, MailSettings};
pub use media::{MediaSettings, S3Settings, StorageBackend};
pub use rate_limits::{ACCOUNT_MAIL_WINDOW, LOGIN_WINDOW, RateLimitBackend, RateLimitSettings};
pub use server::{
    AppEnv, CorsOrigins, DEFAULT_REDOC_SCRIPT_URL, ForwardedHeader, HostPattern, ServerSettings,
};
pub use source::Source;
pub use telemetry::{LogFormat, TelemetrySettings};
pub use webhooks::WebhookSettings;

/// All of vidgen's settings, typed, one field per section.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub media: MediaSettings,
    pub jobs: JobSettings,
    pub rate_limits: RateLimitSettings,
    pub mail: MailSettings,
    pub webhooks: WebhookSettings,
    pub telemetry: TelemetrySettings,
}

/// Every problem found in the environment, one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SettingsError {
    pub problems: Vec<String>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl Settings {
    /// Reads the process environment, after loading `.env` from the working directory if
    /// it exists (variables already set win over the file).
    ///
    /// # Errors
    /// Every invalid or missing value, one line each; a `.env` file that cannot be parsed.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&Source::from_env()?)
    }

    /// Builds settings from a map of variables (the environment, or a test's map).
    ///
    /// # Errors
    /// Every invalid or missing value, one line each, naming the variable.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        Self::from_source(&Source::from_map(vars.clone()))
    }

    /// Reads every section from `source`.
    ///
    /// # Errors
    /// The problems of every section together, one line each, naming the variable.
    pub fn from_source(source: &Source) -> Result<Self, SettingsError> {
        let mut problems = Vec::new();
        let env = keep(AppEnv::read(source), &mut problems).unwrap_or_default();
        let server = keep(ServerSettings::read(source, env), &mut problems);
        let database = keep(DatabaseSettings::read(source), &mut problems);
        let auth = keep(AuthSettings::read(source, env), &mut problems);
        let media = keep(MediaSettings::read(source), &mut problems);
        let jobs = keep(JobSettings::read(source), &mut problems);
        let rate_limits = keep(RateLimitSettings::read(source), &mut problems);
        let mail = keep(MailSettings::read(source, env), &mut problems);
        let webhooks = keep(WebhookSettings::read(source), &mut problems);
        let telemetry = keep(TelemetrySettings::read(source, env), &mut problems);
        match (
            server,
            database,
            auth,
            media,
            jobs,
            rate_limits,
            mail,
            webhooks,
            telemetry,
        ) {
            (
                Some(server),
                Some(database),
                Some(auth),
                Some(media),
                Some(jobs),
                Some(rate_limits),
                Some(mail),
                Some(webhooks),
                Some(telemetry),
            ) if problems.is_empty() => Ok(Self {
                server,
                database,
                auth,
                media,
                jobs,
                rate_limits,
                mail,
                webhooks,
                telemetry,
            }),
            _ => Err(SettingsError { problems }),
        }
    }
}

/// The section's value, or `None` after adding its problems to `problems`.
fn keep<T>(section: Result<T, SettingsError>, problems: &mut Vec<String>) -> Option<T> {
    section
        .map_err(|error| problems.extend(error.problems))
        .ok()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers for the sections' tests.

    use super::{SettingsError, Source};

    /// A source holding exactly `pairs`.
    pub(crate) fn source(pairs: &[(&str, &str)]) -> Source {
        pairs.iter().copied().collect()
    }

    /// The problems of a failed read; none when it succeeded.
    pub(crate) fn problems_of<T>(result: Result<T, SettingsError>) -> Vec<String> {
        result.err().map(|e| e.problems).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_support::{problems_of, source};
    use super::*;

    /// A production-grade key (48 random bytes in base64).
    const KEY: &str = "q3Vh0P2lq9n8m2hW4wXbTz0eYk3sR1uJ7dF6gH5jK9LmN2pQ4rS6tU8vW0xY2z+/";

    fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
        problems_of(Settings::from_source(&source(pairs)))
    }

    #[test]
    fn defaults_suit_development() {
        let s = Settings::from_map(&HashMap::new()).unwrap();
        assert_eq!(s.server.app_env, AppEnv::Development);
        assert_eq!(s.server.bind_address(), "127.0.0.1:8000");
        assert_eq!(s.database.url, DEFAULT_DATABASE_URL);
        assert_eq!(s.auth.access_token_expire_minutes, 30);
        assert_eq!(s.auth.refresh_token_expire_days, 14);
        assert_eq!(s.rate_limits.requests, 60);
        assert_eq!(s.media.root, std::path::PathBuf::from("./data/media"));
        assert_eq!(s.media.max_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(s.media.max_avatar_bytes, 2 * 1024 * 1024);
        assert_eq!(s.jobs.workers, 2);
        assert!(s.server.docs_enabled);
        assert_eq!(s.telemetry.log_format, LogFormat::Pretty);
        assert!(s.auth.secret_key_generated);
        assert!(s.auth.secret_key_bytes().len() >= MIN_SECRET_KEY_BYTES);
        assert_eq!(s.server.public_base_url.as_str(), "http://127.0.0.1:8000/");
        assert_eq!(s.server.cors_origins, CorsOrigins::List(vec![]));
        assert_eq!(
            s.auth.hashing,
            HashingSettings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn production_tightens_every_section() {
        let p = problems(&[("APP_ENV", "production")]);
        let named: Vec<&str> = p
            .iter()
            .filter_map(|problem| problem.split_once(':').map(|(name, _)| name))
            .collect();
        assert_eq!(
            named,
            [
                "PUBLIC_BASE_URL",
                "SECRET_KEY",
                "MAIL_BACKEND",
                "METRICS_TOKEN"
            ],
            "{p:?}"
        );

        let s = Settings::from_source(&source(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", KEY),
            ("PUBLIC_BASE_URL", "https://api.example.com"),
            ("MAIL_BACKEND", "smtp"),
            ("SMTP_URL", "smtp://mail.example.com:587"),
            ("METRICS_TOKEN", "scrape-token-0123456789"),
        ]))
        .unwrap();
        assert_eq!(s.server.app_env, AppEnv::Production);
        assert!(!s.server.docs_enabled);
        assert_eq!(s.telemetry.log_format, LogFormat::Json);
        assert!(!s.auth.secret_key_generated);
    }

    #[test]
    fn a_bad_app_env_is_reported_once_and_development_assumed() {
        let p = problems(&[("APP_ENV", "staging")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("APP_ENV: "), "{p:?}");
    }

    #[test]
    fn problems_of_every_section_are_reported_together() {
        let p = problems(&[
            ("PORT", "x"),
            ("WORKERS", "y"),
            ("DATABASE_POOL_SIZE", "0"),
            ("SECRET_KEY", "short"),
            ("MAX_UPLOAD_BYTES", "lots"),
            ("JOB_WORKERS", "-2"),
            ("RATE_LIMIT_BACKEND", "redis"),
            ("MAIL_BACKEND", "smtp"),
            ("WEBHOOK_SECRET", "secret"),
            ("LOG_FORMAT", "z"),
        ]);
        let named: Vec<&str> = p
            .iter()
            .map(|line| line.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            named,
            vec![
                "PORT",
                "WORKERS",
                "DATABASE_POOL_SIZE",
                "SECRET_KEY",
                "MAX_UPLOAD_BYTES",
                "JOB_WORKERS",
                "REDIS_URL",
                "SMTP_URL",
                "WEBHOOK_SECRET",
                "LOG_FORMAT",
            ]
        );
        let message = SettingsError { problems: p }.to_string();
        assert_eq!(message.lines().count(), 10);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::from_source(&source(&[
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", "postgres://app:hunter2@db/vidgen"),
            ("ADMIN_EMAIL", "root@example.com"),
            ("ADMIN_PASSWORD", "admin-password-1"),
            ("SMTP_URL", "smtp://u:smtp-password@mail.example.com"),
            ("METRICS_TOKEN", "metrics-token-1"),
            ("WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ]))
        .unwrap();
        let shown = format!("{s:?}");
        for secret in [
            KEY,
            "hunter2",
            "admin-password-1",
            "smtp-password",
            "metrics-token-1",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains("***"));
    }
}
