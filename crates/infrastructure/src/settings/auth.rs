//! Accounts and authentication: the token signing key and lifetimes, how passwords are
//! hashed, who may register, and the first admin.

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::SettingsError;
use super::server::AppEnv;
use super::source::Source;

/// Minimum length of `SECRET_KEY` in bytes.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// `CACHE_INVALIDATION_CHANNEL` when unset.
pub const DEFAULT_INVALIDATION_CHANNEL: &str = "vidgen:cache-invalidation";

/// The longest `CACHE_INVALIDATION_CHANNEL`.
const MAX_CHANNEL_LEN: usize = 200;

/// Parameters of the argon2id password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingSettings {
    /// `PASSWORD_HASH_MEMORY_KIB`.
    pub memory_kib: u32,
    /// `PASSWORD_HASH_ITERATIONS`.
    pub iterations: u32,
    /// `PASSWORD_HASH_PARALLELISM`.
    pub parallelism: u32,
}

/// Authentication and account settings. Secrets show as `[REDACTED]` in `Debug`.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `SECRET_KEY`: signs tokens.
    pub secret_key: SecretString,
    /// True when no `SECRET_KEY` was given and a random one was made (development only).
    pub secret_key_generated: bool,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_expire_minutes: u32,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`.
    pub refresh_token_expire_days: u32,
    /// `USER_CACHE_TTL_SECONDS`: how long a user loaded for authentication may be served
    /// from memory (0: never).
    pub user_cache_ttl_seconds: u64,
    /// `USER_CACHE_FALLBACK_TTL_SECONDS`: how long a cached user may be served while the
    /// cache invalidation channel between instances (Redis, with `REDIS_URL`) is down
    /// (0: not at all). Never more than `USER_CACHE_TTL_SECONDS`.
    pub user_cache_fallback_ttl_seconds: u64,
    /// `LIST_CACHE_TTL_SECONDS`: how long a page of the user or video list may be served
    /// from memory (0: never). Any write to the collection drops its pages at once. Needs
    /// the user cache (`USER_CACHE_TTL_SECONDS` above 0), whose writes it follows.
    pub list_cache_ttl_seconds: u64,
    /// `CACHE_INVALIDATION_CHANNEL`: the Redis channel on which instances sharing a
    /// database tell each other which cached entries a write changed.
    pub cache_invalidation_channel: String,
    /// `EMAIL_ALLOWED_DOMAINS`: when not empty, the only domains that may register.
    pub email_allowed_domains: Vec<String>,
    /// `EMAIL_BLOCKED_DOMAINS`: domains refused for registration.
    pub email_blocked_domains: Vec<String>,
    /// `REQUIRE_EMAIL_VERIFICATION`: new users start `pending_verification`.
    pub require_email_verification: bool,
    /// `PASSWORD_HASH_*`.
    pub hashing: HashingSettings,
    /// `ADMIN_EMAIL`.
    pub admin_email: Option<String>,
    /// `ADMIN_USERNAME`.
    pub admin_username: String,
    /// `ADMIN_PASSWORD`.
    pub admin_password: Option<SecretString>,
}

impl AuthSettings {
    /// Reads the authentication variables; `env` decides whether `SECRET_KEY` is required.
    ///
    /// # Errors
    /// Every invalid or missing value among them, one line each.
    pub fn read(source: &Source, env: AppEnv) -> Result<Self, SettingsError> {
        let mut r = source.reader();

        let (secret_key, secret_key_generated) = match r.string("SECRET_KEY") {
            Some(key) if key.len() >= MIN_SECRET_KEY_BYTES => {
                if env.is_production()
                    && let Some(weakness) = secret_key_weakness(&key)
                {
                    r.problem(
                        "SECRET_KEY",
                        &format!(
                            "is refused when APP_ENV=production: {weakness}; make one with e.g. `openssl rand -base64 48`"
                        ),
                    );
                }
                (SecretString::from(key), false)
            }
            Some(_) => {
                r.problem(
                    "SECRET_KEY",
                    &format!("must be at least {MIN_SECRET_KEY_BYTES} bytes long"),
                );
                (SecretString::from(String::new()), false)
            }
            None if env.is_production() => {
                r.problem(
                    "SECRET_KEY",
                    &format!(
                        "is required when APP_ENV=production (at least {MIN_SECRET_KEY_BYTES} bytes)"
                    ),
                );
                (SecretString::from(String::new()), false)
            }
            None => (random_key(), true),
        };
        let access_token_expire_minutes: u32 =
            r.number("ACCESS_TOKEN_EXPIRE_MINUTES", 30, 1, 60 * 24 * 30);
        let refresh_token_expire_days: u32 = r.number("REFRESH_TOKEN_EXPIRE_DAYS", 14, 1, 3650);
        let user_cache_ttl_seconds: u64 = r.number("USER_CACHE_TTL_SECONDS", 5, 0, 3600);
        let user_cache_fallback_ttl_seconds: u64 =
            r.number("USER_CACHE_FALLBACK_TTL_SECONDS", 1, 0, 3600);
        let list_cache_ttl_seconds: u64 = r.number("LIST_CACHE_TTL_SECONDS", 5, 0, 3600);
        let cache_invalidation_channel = r
            .string("CACHE_INVALIDATION_CHANNEL")
            .unwrap_or_else(|| DEFAULT_INVALIDATION_CHANNEL.to_owned());
        if cache_invalidation_channel.len() > MAX_CHANNEL_LEN
            || !cache_invalidation_channel
                .chars()
                .all(|c| c.is_ascii_graphic())
        {
            r.problem(
                "CACHE_INVALIDATION_CHANNEL",
                &format!(
                    "expected at most {MAX_CHANNEL_LEN} printable ASCII characters without spaces"
                ),
            );
        }

        let email_allowed_domains = r.domain_list("EMAIL_ALLOWED_DOMAINS");
        let email_blocked_domains = r.domain_list("EMAIL_BLOCKED_DOMAINS");
        let require_email_verification = r.boolean("REQUIRE_EMAIL_VERIFICATION", false);

        let hashing = HashingSettings {
            memory_kib: r.number("PASSWORD_HASH_MEMORY_KIB", 19_456, 8, 4 * 1024 * 1024),
            iterations: r.number("PASSWORD_HASH_ITERATIONS", 2, 1, 100),
            parallelism: r.number("PASSWORD_HASH_PARALLELISM", 1, 1, 64),
        };
        if hashing.memory_kib < 8 * hashing.parallelism {
            r.problem(
                "PASSWORD_HASH_MEMORY_KIB",
                "must be at least 8 × PASSWORD_HASH_PARALLELISM",
            );
        }

        let admin_email = r.string("ADMIN_EMAIL");
        let admin_password = r.string("ADMIN_PASSWORD").map(SecretString::from);
        let admin_username = r
            .string("ADMIN_USERNAME")
            .unwrap_or_else(|| "admin".to_owned());
        if admin_email.is_some() != admin_password.is_some() {
            r.problem(
                "ADMIN_PASSWORD",
                "ADMIN_EMAIL and ADMIN_PASSWORD must be given together",
            );
        }

        r.finish(Self {
            secret_key,
            secret_key_generated,
            access_token_expire_minutes,
            refresh_token_expire_days,
            user_cache_ttl_seconds,
            user_cache_fallback_ttl_seconds,
            list_cache_ttl_seconds,
            cache_invalidation_channel,
            email_allowed_domains,
            email_blocked_domains,
            require_email_verification,
            hashing,
            admin_email,
            admin_username,
            admin_password,
        })
    }

    /// The secret key's bytes (for signing tokens).
    pub fn secret_key_bytes(&self) -> &[u8] {
        self.secret_key.expose_secret().as_bytes()
    }
}

/// Least estimated entropy of a production `SECRET_KEY`, in bits.
pub const MIN_SECRET_KEY_ENTROPY_BITS: f64 = 128.0;

/// Fewest distinct characters in a production `SECRET_KEY`.
const MIN_SECRET_KEY_DISTINCT_CHARS: usize = 12;

/// Words that mark a key as an example rather than a secret (compared without case):
/// every placeholder this repository ever showed holds one of them.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replace_me",
    "replaceme",
    "secret-key",
    "secret_key",
    "secretkey",
    "your-secret",
    "your_secret",
    "placeholder",
    "example",
    "insecure",
    "not-secret",
    "do-not-use",
    "dont-use",
    "long-enough",
    "password",
    "xxxxxxxx",
];

/// Why `key` is unfit to sign production tokens, if it is: a placeholder, or too
/// predictable (few distinct characters, a repeated pattern, or less than
/// [`MIN_SECRET_KEY_ENTROPY_BITS`] by the Shannon estimate of its characters, or
/// mostly runs such as `abcdef`).
pub fn secret_key_weakness(key: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    if let Some(marker) = PLACEHOLDER_MARKERS.iter().find(|m| lower.contains(**m)) {
        return Some(format!("it is a placeholder (it contains `{marker}`)"));
    }
    let chars: Vec<char> = key.chars().collect();
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    if counts.len() < MIN_SECRET_KEY_DISTINCT_CHARS {
        return Some(format!(
            "it has only {} distinct characters (at least {MIN_SECRET_KEY_DISTINCT_CHARS})",
            counts.len()
        ));
    }
    let periodic = (1..=chars.len() / 2).any(|period| {
        chars.len().is_multiple_of(period) && chars.chunks(period).all(|c| c == &chars[..period])
    });
    if periodic {
        return Some("it is one pattern repeated".to_owned());
    }
    let steps = chars
        .windows(2)
        .filter(|pair| (pair[0] as i64 - pair[1] as i64).abs() == 1)
        .count();
    if steps * 2 > chars.len() {
        return Some("it is mostly runs of consecutive characters".to_owned());
    }
    #[allow(clippy::cast_precision_loss)] // key lengths are far below 2^52
    let length = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            #[allow(clippy::cast_precision_loss)]
            let p = n as f64 / length;
            -p * p.log2()
        })
        .sum();
    let estimate = per_char * length;
    (estimate < MIN_SECRET_KEY_ENTROPY_BITS).then(|| {
        format!(
            "its estimated entropy is {estimate:.0} bits (at least {MIN_SECRET_KEY_ENTROPY_BITS:.0})"
        )
    })
}

/// A random development key: 48 random bytes, hex-encoded.
fn random_key() -> SecretString {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    SecretString::from(hex)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    /// 48 random bytes in base64, as `openssl rand -base64 48` makes them.
    const KEY: &str = "q3Vh0P2lq9n8m2hW4wXbTz0eYk3sR1uJ7dF6gH5jK9LmN2pQ4rS6tU8vW0xY2z+/";

    fn read(pairs: &[(&str, &str)]) -> Result<AuthSettings, SettingsError> {
        AuthSettings::read(&source(pairs), AppEnv::Development)
    }

    #[test]
    fn defaults_suit_development() {
        let s = read(&[]).unwrap();
        assert!(s.secret_key_generated);
        assert!(s.secret_key_bytes().len() >= MIN_SECRET_KEY_BYTES);
        assert_eq!(s.access_token_expire_minutes, 30);
        assert_eq!(s.refresh_token_expire_days, 14);
        assert_eq!(s.user_cache_ttl_seconds, 5);
        assert_eq!(s.user_cache_fallback_ttl_seconds, 1);
        assert_eq!(s.list_cache_ttl_seconds, 5);
        assert_eq!(s.cache_invalidation_channel, "vidgen:cache-invalidation");
        assert!(s.email_allowed_domains.is_empty());
        assert!(s.email_blocked_domains.is_empty());
        assert!(!s.require_email_verification);
        assert_eq!(
            s.hashing,
            HashingSettings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        assert_eq!(s.admin_email, None);
        assert_eq!(s.admin_username, "admin");
        assert!(s.admin_password.is_none());
    }

    #[test]
    fn generated_keys_differ_between_runs() {
        let a = read(&[]).unwrap();
        let b = read(&[]).unwrap();
        assert_ne!(a.secret_key_bytes(), b.secret_key_bytes());
    }

    #[test]
    fn production_refuses_placeholder_and_predictable_keys_naming_the_variable() {
        let refused = [
            // The placeholder `.env.example` shipped (the audit forged tokens with it).
            "change-me-to-at-least-32-random-bytes-please",
            "test-secret-key-that-is-long-enough-0123456789",
            "0123456789abcdef0123456789abcdef",
            "abababababababababababababababababab",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abcdefghijklmnopqrstuvwxyzabcdefgh",
            "ThisIsMyVeryOwnSuperSecretKeyForVidgen!",
        ];
        for key in refused {
            let p = problems_of(AuthSettings::read(
                &source(&[("SECRET_KEY", key)]),
                AppEnv::Production,
            ));
            assert_eq!(p.len(), 1, "{key}: {p:?}");
            assert!(
                p[0].starts_with("SECRET_KEY: is refused when APP_ENV=production"),
                "{key}: {p:?}"
            );
            assert!(
                !p[0].contains(key),
                "the key itself is never printed: {p:?}"
            );
            // Development takes any key of the right length.
            assert!(read(&[("SECRET_KEY", key)]).is_ok(), "{key}");
        }
        let accepted = [
            KEY,
            // `openssl rand -hex 32`
            "9f2c4e6a8b0d1f3e5a7c9b2d4f6e8a0c1b3d5f7e9a2c4b6d8f0e1a3c5b7d9f2e",
        ];
        for key in accepted {
            assert_eq!(secret_key_weakness(key), None, "{key}");
        }
    }

    #[test]
    fn production_requires_a_long_secret_key() {
        let p = problems_of(AuthSettings::read(&source(&[]), AppEnv::Production));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("SECRET_KEY: is required"), "{p:?}");
        let s = AuthSettings::read(&source(&[("SECRET_KEY", KEY)]), AppEnv::Production).unwrap();
        assert!(!s.secret_key_generated);
        assert_eq!(s.secret_key_bytes(), KEY.as_bytes());
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("SECRET_KEY", "short"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "1.5"),
            ("USER_CACHE_TTL_SECONDS", "forever"),
            ("USER_CACHE_FALLBACK_TTL_SECONDS", "-1"),
            ("CACHE_INVALIDATION_CHANNEL", "two words"),
            ("EMAIL_ALLOWED_DOMAINS", "not a domain"),
            ("EMAIL_BLOCKED_DOMAINS", "localhost"),
            ("REQUIRE_EMAIL_VERIFICATION", "2"),
            ("PASSWORD_HASH_MEMORY_KIB", "1"),
            ("PASSWORD_HASH_ITERATIONS", "0"),
            ("PASSWORD_HASH_PARALLELISM", "65"),
            ("ADMIN_EMAIL", "root@example.com"),
        ];
        for (name, value) in cases {
            let p = problems_of(read(&[(name, value)]));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            let reported = if *name == "ADMIN_EMAIL" {
                "ADMIN_PASSWORD"
            } else {
                name
            };
            assert!(
                p[0].starts_with(&format!("{reported}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn hash_memory_must_cover_every_lane() {
        let p = problems_of(read(&[
            ("PASSWORD_HASH_MEMORY_KIB", "16"),
            ("PASSWORD_HASH_PARALLELISM", "4"),
        ]));
        assert_eq!(
            p,
            vec!["PASSWORD_HASH_MEMORY_KIB: must be at least 8 × PASSWORD_HASH_PARALLELISM"]
        );
    }

    #[test]
    fn overrides_are_kept_and_secrets_hidden() {
        let s = read(&[
            ("SECRET_KEY", KEY),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "5"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "1"),
            ("USER_CACHE_TTL_SECONDS", "0"),
            ("USER_CACHE_FALLBACK_TTL_SECONDS", "0"),
            ("LIST_CACHE_TTL_SECONDS", "0"),
            ("CACHE_INVALIDATION_CHANNEL", "test:42:cache"),
            ("EMAIL_ALLOWED_DOMAINS", "example.com"),
            ("EMAIL_BLOCKED_DOMAINS", "Spam.example.com,@mailinator.com"),
            ("REQUIRE_EMAIL_VERIFICATION", "true"),
            ("PASSWORD_HASH_MEMORY_KIB", "64"),
            ("PASSWORD_HASH_ITERATIONS", "1"),
            ("PASSWORD_HASH_PARALLELISM", "2"),
            ("ADMIN_EMAIL", "root@example.com"),
            ("ADMIN_PASSWORD", "hunter2-hunter2"),
            ("ADMIN_USERNAME", "root"),
        ])
        .unwrap();
        assert_eq!(s.access_token_expire_minutes, 5);
        assert_eq!(s.refresh_token_expire_days, 1);
        assert_eq!(s.user_cache_ttl_seconds, 0);
        assert_eq!(s.user_cache_fallback_ttl_seconds, 0);
        assert_eq!(s.list_cache_ttl_seconds, 0);
        assert_eq!(s.cache_invalidation_channel, "test:42:cache");
        assert_eq!(s.email_allowed_domains, vec!["example.com"]);
        assert_eq!(
            s.email_blocked_domains,
            vec!["spam.example.com", "mailinator.com"]
        );
        assert!(s.require_email_verification);
        assert_eq!(
            s.hashing,
            HashingSettings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 2
            }
        );
        assert_eq!(s.admin_email.as_deref(), Some("root@example.com"));
        assert_eq!(s.admin_username, "root");
        let shown = format!("{s:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
