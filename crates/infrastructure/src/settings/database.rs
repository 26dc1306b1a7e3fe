//! The database: which one, how many connections, how long to wait for one.

use std::fmt;

use super::SettingsError;
use super::source::Source;

/// The default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/vidgen.db?mode=rwc";

/// The database's settings.
#[derive(Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: `sqlite:...` or `postgres://...`.
    pub url: String,
    /// `DATABASE_POOL_SIZE`.
    pub pool_size: u32,
    /// `DATABASE_CONNECT_TIMEOUT_SECONDS`: bound on connecting and on waiting for a
    /// pooled connection.
    pub connect_timeout_seconds: u64,
}

impl fmt::Debug for DatabaseSettings {
    /// The URL's password is masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_seconds", &self.connect_timeout_seconds)
            .finish()
    }
}

impl DatabaseSettings {
    /// Reads the database's variables.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let url = r
            .string("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            r.problem(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        let pool_size: u32 = r.number("DATABASE_POOL_SIZE", 10, 1, 1000);
        let connect_timeout_seconds: u64 = r.number("DATABASE_CONNECT_TIMEOUT_SECONDS", 5, 1, 300);
        r.finish(Self {
            url,
            pool_size,
            connect_timeout_seconds,
        })
    }
}

pub use crate::redact::redact_url;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_to_a_local_sqlite_file() {
        let s = DatabaseSettings::read(&source(&[])).unwrap();
        assert_eq!(s.url, DEFAULT_DATABASE_URL);
        assert_eq!(s.pool_size, 10);
        assert_eq!(s.connect_timeout_seconds, 5);
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("DATABASE_URL", "mysql://localhost/db"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "ten"),
            ("DATABASE_POOL_SIZE", "1001"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "0"),
        ];
        for (name, value) in cases {
            let p = problems_of(DatabaseSettings::read(&source(&[(name, value)])));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
        let p = problems_of(DatabaseSettings::read(&source(&[
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "301"),
        ])));
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn postgres_overrides_are_kept() {
        let s = DatabaseSettings::read(&source(&[
            ("DATABASE_URL", "postgresql://app@db/vidgen"),
            ("DATABASE_POOL_SIZE", "50"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "2"),
        ]))
        .unwrap();
        assert_eq!(s.url, "postgresql://app@db/vidgen");
        assert_eq!(s.pool_size, 50);
        assert_eq!(s.connect_timeout_seconds, 2);
    }

    #[test]
    fn passwords_never_reach_debug_output() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db/vidgen"),
            "postgres://app:***@db/vidgen"
        );
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
        let s = DatabaseSettings::read(&source(&[(
            "DATABASE_URL",
            "postgres://app:hunter2@db/vidgen",
        )]))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
