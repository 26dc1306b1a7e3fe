//! Settings from environment variables (and a `.env` file when present).
//!
//! Every variable of the contract's Settings section is read here, typed and checked.
//! Problems are collected, not thrown one at a time: start-up reports one line per
//! problem, each naming its variable.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Where the service runs. Production tightens defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

/// Shape of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Where rate-limit counters live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitBackend {
    Memory,
    Redis,
}

/// How account e-mails leave the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailBackend {
    Log,
    Smtp,
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin (never together with credentials).
    Any,
    /// An explicit list; empty means no cross-origin access.
    List(Vec<String>),
}

/// A `Host` header pattern: an exact host name or `*.example.com` (any subdomain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Any,
    Exact(String),
    Suffix(String),
}

impl HostPattern {
    /// Whether `host` (without port, any case) matches this pattern.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Exact(exact) => host == *exact,
            Self::Suffix(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
        }
    }
}

/// Parameters of the argon2id password hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// All of vidgen's settings, typed.
pub struct Settings {
    pub app_env: AppEnv,
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub database_url: String,
    pub database_pool_size: u32,
    pub database_connect_timeout_seconds: u64,
    pub secret_key: SecretString,
    /// True when no `SECRET_KEY` was given and a random one was made (development only).
    pub secret_key_generated: bool,
    pub access_token_expire_minutes: u32,
    pub refresh_token_expire_days: u32,
    pub cors_origins: CorsOrigins,
    pub cors_allow_credentials: bool,
    pub allowed_hosts: Vec<HostPattern>,
    pub trusted_proxies: Vec<IpNet>,
    pub rate_limit_requests: u32,
    pub rate_limit_backend: RateLimitBackend,
    pub redis_url: Option<String>,
    pub media_root: PathBuf,
    pub max_upload_bytes: u64,
    pub max_avatar_bytes: u64,
    pub max_json_bytes: usize,
    pub email_allowed_domains: Vec<String>,
    pub email_blocked_domains: Vec<String>,
    pub webhook_secret: Option<SecretString>,
    pub docs_enabled: bool,
    pub redoc_script_url: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub job_workers: usize,
    pub require_email_verification: bool,
    pub mail_backend: MailBackend,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub public_base_url: Url,
    /// Whether `PUBLIC_BASE_URL` was given (then `Location` headers are absolute under it).
    pub public_base_url_set: bool,
    pub metrics_token: Option<SecretString>,
    pub allow_private_webhooks: bool,
    pub allow_insecure_webhooks: bool,
    pub shutdown_timeout_seconds: u64,
    /// How long a user loaded for authentication may be served from memory (0: never).
    pub user_cache_ttl_seconds: u64,
    /// How long a worker's claim on a job lasts without renewal (renewed every third).
    pub job_lease_seconds: u64,
    pub hashing: HashingSettings,
    pub admin_email: Option<String>,
    pub admin_username: String,
    pub admin_password: Option<SecretString>,
}

impl fmt::Debug for Settings {
    /// Secrets are shown only as present or absent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("app_env", &self.app_env)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("workers", &self.workers)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("secret_key_generated", &self.secret_key_generated)
            .field("cors_origins", &self.cors_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("rate_limit_backend", &self.rate_limit_backend)
            .field("media_root", &self.media_root)
            .field("docs_enabled", &self.docs_enabled)
            .field("log_format", &self.log_format)
            .field("job_workers", &self.job_workers)
            .finish_non_exhaustive()
    }
}

pub use crate::redact::redact_url;

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

/// Minimum length of `SECRET_KEY` in bytes.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// The default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/vidgen.db?mode=rwc";

/// ReDoc's standalone script on its CDN; `REDOC_SCRIPT_URL` points at a self-hosted copy.
pub const DEFAULT_REDOC_SCRIPT_URL: &str =
    "https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js";

impl Settings {
    /// Reads the process environment, after loading `.env` from the working directory if
    /// it exists (variables already set win over the file).
    ///
    /// # Errors
    /// Every invalid or missing value, one line each; a `.env` file that cannot be parsed.
    pub fn from_env() -> Result<Self, SettingsError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            Err(error) => {
                return Err(SettingsError {
                    problems: vec![format!(".env: cannot be read: {error}")],
                });
            }
        }
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_map(&vars)
    }

    /// Builds settings from a map of variables (the environment, or a test's map).
    ///
    /// # Errors
    /// Every invalid or missing value, one line each, naming the variable.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let mut r = Reader {
            vars,
            problems: Vec::new(),
        };

        let app_env = r.parse_enum(
            "APP_ENV",
            AppEnv::Development,
            &[
                ("development", AppEnv::Development),
                ("test", AppEnv::Test),
                ("production", AppEnv::Production),
            ],
        );
        let production = app_env == AppEnv::Production;

        let host = r.string("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
        if host.trim().is_empty() || host.contains(char::is_whitespace) {
            r.problem("HOST", "must be a host name or IP address");
        }
        let port: u16 = r.number("PORT", 8000, 0, u16::MAX);
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers: usize = r.number("WORKERS", default_workers, 1, 512);

        let database_url = r
            .string("DATABASE_URL")
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            r.problem(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            );
        }
        let database_pool_size: u32 = r.number("DATABASE_POOL_SIZE", 10, 1, 1000);
        let database_connect_timeout_seconds: u64 =
            r.number("DATABASE_CONNECT_TIMEOUT_SECONDS", 5, 1, 300);

        let (secret_key, secret_key_generated) = match r.string("SECRET_KEY") {
            Some(key) if key.len() >= MIN_SECRET_KEY_BYTES => (SecretString::from(key), false),
            Some(_) => {
                r.problem(
                    "SECRET_KEY",
                    &format!("must be at least {MIN_SECRET_KEY_BYTES} bytes long"),
                );
                (SecretString::from(String::new()), false)
            }
            None if production => {
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

        let cors_origins = match r.string("CORS_ORIGINS") {
            None => CorsOrigins::List(Vec::new()),
            Some(raw) if raw.trim() == "*" => CorsOrigins::Any,
            Some(raw) => {
                let mut origins = Vec::new();
                for origin in split_list(&raw) {
                    match Url::parse(&origin) {
                        Ok(url)
                            if matches!(url.scheme(), "http" | "https")
                                && url.host().is_some()
                                && url.path() == "/"
                                && url.query().is_none() =>
                        {
                            origins.push(origin.trim_end_matches('/').to_owned());
                        }
                        _ => r.problem(
                            "CORS_ORIGINS",
                            &format!(
                                "`{origin}` is not an origin such as https://app.example.com (or use `*` alone)"
                            ),
                        ),
                    }
                }
                CorsOrigins::List(origins)
            }
        };
        let cors_allow_credentials = r.boolean("CORS_ALLOW_CREDENTIALS", false);
        if cors_allow_credentials && cors_origins == CorsOrigins::Any {
            r.problem(
                "CORS_ORIGINS",
                "`*` cannot be combined with CORS_ALLOW_CREDENTIALS=true; list the origins",
            );
        }

        let allowed_hosts = match r.string("ALLOWED_HOSTS") {
            None => vec![
                HostPattern::Exact("localhost".into()),
                HostPattern::Exact("127.0.0.1".into()),
                HostPattern::Exact("[::1]".into()),
            ],
            Some(raw) => {
                let mut patterns = Vec::new();
                for entry in split_list(&raw) {
                    match parse_host_pattern(&entry) {
                        Some(pattern) => patterns.push(pattern),
                        None => r.problem(
                            "ALLOWED_HOSTS",
                            &format!("`{entry}` is not a host name, `*.domain` wildcard or `*`"),
                        ),
                    }
                }
                if patterns.is_empty() && r.problems.is_empty() {
                    r.problem("ALLOWED_HOSTS", "must list at least one host (or `*`)");
                }
                patterns
            }
        };

        let mut trusted_proxies = Vec::new();
        if let Some(raw) = r.string("TRUSTED_PROXIES") {
            for entry in split_list(&raw) {
                match entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                {
                    Ok(net) => trusted_proxies.push(net),
                    Err(_) => r.problem(
                        "TRUSTED_PROXIES",
                        &format!("`{entry}` is not an IP address or CIDR range"),
                    ),
                }
            }
        }

        let rate_limit_requests: u32 = r.number("RATE_LIMIT_REQUESTS", 60, 1, 1_000_000);
        let rate_limit_backend = r.parse_enum(
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
        if rate_limit_backend == RateLimitBackend::Redis && redis_url.is_none() {
            r.problem("REDIS_URL", "is required when RATE_LIMIT_BACKEND=redis");
        }

        let media_root = PathBuf::from(
            r.string("MEDIA_ROOT")
                .unwrap_or_else(|| "./data/media".to_owned()),
        );
        let max_upload_bytes: u64 = r.number("MAX_UPLOAD_BYTES", 100 * 1024 * 1024, 1024, 1 << 40);
        let max_avatar_bytes: u64 = r.number("MAX_AVATAR_BYTES", 2 * 1024 * 1024, 1024, 1 << 30);
        let max_json_bytes: usize = r.number("MAX_JSON_BYTES", 256 * 1024, 1024, 64 << 20);

        let email_allowed_domains = r.domain_list("EMAIL_ALLOWED_DOMAINS");
        let email_blocked_domains = r.domain_list("EMAIL_BLOCKED_DOMAINS");

        let webhook_secret = r.string("WEBHOOK_SECRET");
        if let Some(secret) = &webhook_secret {
            let body = secret.strip_prefix("whsec_").unwrap_or_default();
            if body.len() < 24
                || !body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            {
                r.problem(
                    "WEBHOOK_SECRET",
                    "must have the form whsec_<base64 of at least 18 bytes>",
                );
            }
        }

        let docs_enabled = r.boolean("DOCS_ENABLED", !production);
        let redoc_script_url = r
            .string("REDOC_SCRIPT_URL")
            .unwrap_or_else(|| DEFAULT_REDOC_SCRIPT_URL.to_owned());
        if !(redoc_script_url.starts_with('/')
            || redoc_script_url.starts_with("https://")
            || redoc_script_url.starts_with("http://"))
        {
            r.problem(
                "REDOC_SCRIPT_URL",
                "must be an http(s) URL or an absolute path",
            );
        }
        let log_format = r.parse_enum(
            "LOG_FORMAT",
            if production {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            },
            &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
        );
        let log_level = r.string("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
        let job_workers: usize = r.number("JOB_WORKERS", 2, 0, 64);
        let require_email_verification = r.boolean("REQUIRE_EMAIL_VERIFICATION", false);
        let mail_backend = r.parse_enum(
            "MAIL_BACKEND",
            MailBackend::Log,
            &[("log", MailBackend::Log), ("smtp", MailBackend::Smtp)],
        );
        let smtp_url = r.string("SMTP_URL");
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            r.problem("SMTP_URL", "must start with smtp:// or smtps://");
        }
        if mail_backend == MailBackend::Smtp && smtp_url.is_none() {
            r.problem("SMTP_URL", "is required when MAIL_BACKEND=smtp");
        }
        let mail_from = r
            .string("MAIL_FROM")
            .unwrap_or_else(|| "vidgen <no-reply@localhost>".to_owned());
        if !mail_from.contains('@') {
            r.problem("MAIL_FROM", "must contain an e-mail address");
        }

        let public_base_url_set = r.string("PUBLIC_BASE_URL").is_some();
        let public_base_url = match r.string("PUBLIC_BASE_URL") {
            Some(raw) => match Url::parse(&raw) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
                _ => {
                    r.problem(
                        "PUBLIC_BASE_URL",
                        "must be an absolute http(s) URL such as https://api.example.com",
                    );
                    fallback_url()
                }
            },
            None => {
                let shown_host = if host == "0.0.0.0" || host == "::" {
                    "127.0.0.1"
                } else {
                    host.as_str()
                };
                let shown_host = if shown_host.contains(':') {
                    format!("[{shown_host}]")
                } else {
                    shown_host.to_owned()
                };
                Url::parse(&format!("http://{shown_host}:{port}"))
                    .unwrap_or_else(|_| fallback_url())
            }
        };

        let metrics_token = r.string("METRICS_TOKEN").map(SecretString::from);
        let allow_private_webhooks = r.boolean("ALLOW_PRIVATE_WEBHOOKS", false);
        let allow_insecure_webhooks = r.boolean("ALLOW_INSECURE_WEBHOOKS", false);
        let shutdown_timeout_seconds: u64 = r.number("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600);
        let user_cache_ttl_seconds: u64 = r.number("USER_CACHE_TTL_SECONDS", 5, 0, 3600);
        let job_lease_seconds: u64 = r.number("JOB_LEASE_SECONDS", 60, 3, 3600);

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

        if !r.problems.is_empty() {
            return Err(SettingsError {
                problems: r.problems,
            });
        }
        Ok(Self {
            app_env,
            host,
            port,
            workers,
            database_url,
            database_pool_size,
            database_connect_timeout_seconds,
            secret_key,
            secret_key_generated,
            access_token_expire_minutes,
            refresh_token_expire_days,
            cors_origins,
            cors_allow_credentials,
            allowed_hosts,
            trusted_proxies,
            rate_limit_requests,
            rate_limit_backend,
            redis_url,
            media_root,
            max_upload_bytes,
            max_avatar_bytes,
            max_json_bytes,
            email_allowed_domains,
            email_blocked_domains,
            webhook_secret: webhook_secret.map(SecretString::from),
            docs_enabled,
            redoc_script_url,
            log_format,
            log_level,
            job_workers,
            require_email_verification,
            mail_backend,
            smtp_url: smtp_url.map(SecretString::from),
            mail_from,
            public_base_url,
            public_base_url_set,
            metrics_token,
            allow_private_webhooks,
            allow_insecure_webhooks,
            shutdown_timeout_seconds,
            user_cache_ttl_seconds,
            job_lease_seconds,
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

    /// The address to bind, `HOST:PORT`.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn fallback_url() -> Url {
    Url::parse("http://127.0.0.1:8000").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

fn random_key() -> SecretString {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    SecretString::from(hex)
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn parse_host_pattern(entry: &str) -> Option<HostPattern> {
    let entry = entry.to_ascii_lowercase();
    if entry == "*" {
        return Some(HostPattern::Any);
    }
    if let Some(suffix) = entry.strip_prefix("*.") {
        return is_host_name(suffix).then(|| HostPattern::Suffix(suffix.to_owned()));
    }
    if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|_| HostPattern::Exact(entry.clone()));
    }
    if let Ok(IpAddr::V6(_)) = entry.parse::<IpAddr>() {
        return Some(HostPattern::Exact(format!("[{entry}]")));
    }
    is_host_name(&entry).then_some(HostPattern::Exact(entry))
}

/// Reads variables and records problems instead of failing at the first.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn problem(&mut self, name: &str, message: &str) {
        self.problems.push(format!("{name}: {message}"));
    }

    /// The value, or `None` when unset or empty.
    fn string(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
    {
        let Some(raw) = self.string(name) else {
            return default;
        };
        match raw.parse::<T>() {
            Ok(value) if value >= min && value <= max => value,
            _ => {
                self.problem(
                    name,
                    &format!("expected a whole number from {min} to {max}, got `{raw}`"),
                );
                default
            }
        }
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.string(name) else {
            return default;
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.problem(name, &format!("expected true or false, got `{raw}`"));
                default
            }
        }
    }

    fn parse_enum<T: Copy>(&mut self, name: &str, default: T, choices: &[(&str, T)]) -> T {
        let Some(raw) = self.string(name) else {
            return default;
        };
        let wanted = raw.to_ascii_lowercase();
        if let Some((_, value)) = choices.iter().find(|(key, _)| *key == wanted) {
            return *value;
        }
        let names: Vec<&str> = choices.iter().map(|(key, _)| *key).collect();
        self.problem(
            name,
            &format!("expected one of {}, got `{raw}`", names.join(", ")),
        );
        default
    }

    fn domain_list(&mut self, name: &str) -> Vec<String> {
        let Some(raw) = self.string(name) else {
            return Vec::new();
        };
        let mut domains = Vec::new();
        for entry in split_list(&raw) {
            let domain = entry.trim_start_matches('@').to_ascii_lowercase();
            if is_host_name(&domain) && domain.contains('.') {
                domains.push(domain);
            } else {
                self.problem(name, &format!("`{entry}` is not a domain name"));
            }
        }
        domains
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
        Settings::from_map(&vars(pairs))
            .err()
            .map(|e| e.problems)
            .unwrap_or_default()
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults_suit_development() {
        let s = Settings::from_map(&HashMap::new()).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.bind_address(), "127.0.0.1:8000");
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.access_token_expire_minutes, 30);
        assert_eq!(s.refresh_token_expire_days, 14);
        assert_eq!(s.rate_limit_requests, 60);
        assert_eq!(s.media_root, PathBuf::from("./data/media"));
        assert_eq!(s.max_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(s.max_avatar_bytes, 2 * 1024 * 1024);
        assert_eq!(s.job_workers, 2);
        assert!(s.docs_enabled);
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(s.secret_key_generated);
        assert!(s.secret_key_bytes().len() >= MIN_SECRET_KEY_BYTES);
        assert_eq!(s.public_base_url.as_str(), "http://127.0.0.1:8000/");
        assert_eq!(s.cors_origins, CorsOrigins::List(vec![]));
        assert_eq!(
            s.hashing,
            HashingSettings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn generated_keys_differ_between_runs() {
        let a = Settings::from_map(&HashMap::new()).unwrap();
        let b = Settings::from_map(&HashMap::new()).unwrap();
        assert_ne!(a.secret_key_bytes(), b.secret_key_bytes());
    }

    #[test]
    fn production_requires_a_long_secret_key_and_turns_docs_off() {
        let p = problems(&[("APP_ENV", "production")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("SECRET_KEY: is required"), "{p:?}");

        let s =
            Settings::from_map(&vars(&[("APP_ENV", "production"), ("SECRET_KEY", KEY)])).unwrap();
        assert!(!s.docs_enabled);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(!s.secret_key_generated);

        let s = Settings::from_map(&vars(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", KEY),
            ("DOCS_ENABLED", "true"),
        ]))
        .unwrap();
        assert!(s.docs_enabled);
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("APP_ENV", "staging"),
            ("HOST", "two words"),
            ("PORT", "http"),
            ("PORT", "70000"),
            ("PORT", "-1"),
            ("WORKERS", "0"),
            ("DATABASE_URL", "mysql://localhost/db"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "ten"),
            ("SECRET_KEY", "short"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
            ("REFRESH_TOKEN_EXPIRE_DAYS", "1.5"),
            ("CORS_ORIGINS", "not a url"),
            ("CORS_ORIGINS", "https://app.example.com/path"),
            ("CORS_ALLOW_CREDENTIALS", "maybe"),
            ("ALLOWED_HOSTS", "exa mple.com"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("RATE_LIMIT_REQUESTS", "0"),
            ("RATE_LIMIT_BACKEND", "memcached"),
            ("REDIS_URL", "http://localhost"),
            ("MAX_UPLOAD_BYTES", "lots"),
            ("MAX_AVATAR_BYTES", "1"),
            ("EMAIL_ALLOWED_DOMAINS", "not a domain"),
            ("EMAIL_BLOCKED_DOMAINS", "localhost"),
            ("WEBHOOK_SECRET", "secret"),
            ("DOCS_ENABLED", "sometimes"),
            ("LOG_FORMAT", "xml"),
            ("JOB_WORKERS", "-2"),
            ("REQUIRE_EMAIL_VERIFICATION", "2"),
            ("MAIL_BACKEND", "pigeon"),
            ("SMTP_URL", "mail.example.com"),
            ("MAIL_FROM", "nobody"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("ALLOW_PRIVATE_WEBHOOKS", "y"),
            ("ALLOW_INSECURE_WEBHOOKS", "n"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "0"),
            ("USER_CACHE_TTL_SECONDS", "forever"),
            ("JOB_LEASE_SECONDS", "1"),
            ("PASSWORD_HASH_MEMORY_KIB", "1"),
            ("REDOC_SCRIPT_URL", "redoc.js"),
        ];
        for (name, value) in cases {
            let p = problems(&[(name, value)]);
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn dependent_settings_are_checked_together() {
        let p = problems(&[("RATE_LIMIT_BACKEND", "redis")]);
        assert_eq!(
            p,
            vec!["REDIS_URL: is required when RATE_LIMIT_BACKEND=redis"]
        );
        let p = problems(&[("MAIL_BACKEND", "smtp")]);
        assert_eq!(p, vec!["SMTP_URL: is required when MAIL_BACKEND=smtp"]);
        let p = problems(&[("CORS_ORIGINS", "*"), ("CORS_ALLOW_CREDENTIALS", "true")]);
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("CORS_ORIGINS: "), "{p:?}");
        let p = problems(&[("ADMIN_EMAIL", "root@example.com")]);
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("ADMIN_PASSWORD: "), "{p:?}");
    }

    #[test]
    fn several_problems_are_all_reported() {
        let p = problems(&[("PORT", "x"), ("WORKERS", "y"), ("LOG_FORMAT", "z")]);
        assert_eq!(p.len(), 3, "{p:?}");
        let message = SettingsError { problems: p }.to_string();
        assert_eq!(message.lines().count(), 3);
    }

    #[test]
    fn lists_are_parsed() {
        let s = Settings::from_map(&vars(&[
            (
                "CORS_ORIGINS",
                "https://a.example.com, http://localhost:3000/",
            ),
            ("ALLOWED_HOSTS", "api.example.com,*.example.org,::1"),
            ("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16"),
            ("EMAIL_BLOCKED_DOMAINS", "Spam.example.com,@mailinator.com"),
        ]))
        .unwrap();
        assert_eq!(
            s.cors_origins,
            CorsOrigins::List(vec![
                "https://a.example.com".into(),
                "http://localhost:3000".into()
            ])
        );
        assert_eq!(
            s.allowed_hosts,
            vec![
                HostPattern::Exact("api.example.com".into()),
                HostPattern::Suffix("example.org".into()),
                HostPattern::Exact("[::1]".into()),
            ]
        );
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(
            s.email_blocked_domains,
            vec!["spam.example.com", "mailinator.com"]
        );
    }

    #[test]
    fn host_patterns_match_as_documented() {
        let suffix = HostPattern::Suffix("example.com".into());
        assert!(suffix.matches("api.example.com"));
        assert!(suffix.matches("A.B.Example.COM"));
        assert!(!suffix.matches("example.com"));
        assert!(!suffix.matches("badexample.com"));
        let exact = HostPattern::Exact("localhost".into());
        assert!(exact.matches("LOCALHOST"));
        assert!(!exact.matches("localhost.evil"));
        assert!(HostPattern::Any.matches("anything"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = Settings::from_map(&vars(&[
            ("SECRET_KEY", KEY),
            ("DATABASE_URL", "postgres://app:hunter2@db/vidgen"),
        ]))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains(KEY));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("***"));
    }
}
