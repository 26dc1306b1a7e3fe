//! The HTTP server: where it listens, who may call it (hosts, proxies, CORS), how large
//! a body it reads, whether it serves its docs, and how it names itself in links.

use std::net::IpAddr;

use ipnet::IpNet;
use url::Url;
use vidgen_domain::requests::DEFAULT_MAX_JSON_BYTES;

use super::SettingsError;
use super::source::{Reader, Source, is_host_name, split_list};

/// Where the service runs. Production tightens defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    #[default]
    Development,
    Test,
    Production,
}

impl AppEnv {
    /// `APP_ENV`, which every section may consult for its defaults.
    ///
    /// # Errors
    /// A value other than `development`, `test` or `production`.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let env = r.parse_enum(
            "APP_ENV",
            Self::Development,
            &[
                ("development", Self::Development),
                ("test", Self::Test),
                ("production", Self::Production),
            ],
        );
        r.finish(env)
    }

    pub fn is_production(self) -> bool {
        self == Self::Production
    }
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin (never together with credentials).
    Any,
    /// An explicit list; empty means no cross-origin access.
    List(Vec<String>),
}

/// The one header that names the client behind `TRUSTED_PROXIES` (`FORWARDED_HEADER`);
/// every other forwarding header is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (the default: what nginx, HAProxy and cloud balancers append).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
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

    /// An `ALLOWED_HOSTS` entry: `*`, `*.domain`, a host name or an IP address.
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.to_ascii_lowercase();
        if entry == "*" {
            return Some(Self::Any);
        }
        if let Some(suffix) = entry.strip_prefix("*.") {
            return is_host_name(suffix).then(|| Self::Suffix(suffix.to_owned()));
        }
        if let Some(inner) = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
            return inner
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(|_| Self::Exact(entry.clone()));
        }
        if let Ok(IpAddr::V6(_)) = entry.parse::<IpAddr>() {
            return Some(Self::Exact(format!("[{entry}]")));
        }
        is_host_name(&entry).then_some(Self::Exact(entry))
    }
}

/// ReDoc's standalone script as the service itself serves it (embedded in the binary);
/// `REDOC_SCRIPT_URL` may point at another copy, such as ReDoc's CDN.
pub const DEFAULT_REDOC_SCRIPT_URL: &str = "/redoc/redoc.standalone.js";

/// The HTTP server's settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `APP_ENV`.
    pub app_env: AppEnv,
    /// `HOST`.
    pub host: String,
    /// `PORT` (0 picks a free one).
    pub port: u16,
    /// `WORKERS`: HTTP worker threads.
    pub workers: usize,
    /// `CORS_ORIGINS`.
    pub cors_origins: CorsOrigins,
    /// `CORS_ALLOW_CREDENTIALS`.
    pub cors_allow_credentials: bool,
    /// `ALLOWED_HOSTS`.
    pub allowed_hosts: Vec<HostPattern>,
    /// `TRUSTED_PROXIES`.
    pub trusted_proxies: Vec<IpNet>,
    /// `FORWARDED_HEADER`: the header the trusted proxies name the client in.
    pub forwarded_header: ForwardedHeader,
    /// `MAX_JSON_BYTES`: largest JSON or form body.
    pub max_json_bytes: usize,
    /// `DOCS_ENABLED`.
    pub docs_enabled: bool,
    /// `REDOC_SCRIPT_URL`.
    pub redoc_script_url: String,
    /// `PUBLIC_BASE_URL` (required in production), or `http://HOST:PORT` when unset.
    pub public_base_url: Url,
    /// Whether `PUBLIC_BASE_URL` was given (then `Location` headers are absolute under it).
    pub public_base_url_set: bool,
    /// `SHUTDOWN_TIMEOUT_SECONDS`.
    pub shutdown_timeout_seconds: u64,
}

impl ServerSettings {
    /// Reads the server's variables; `env` decides whether docs are served by default.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source, env: AppEnv) -> Result<Self, SettingsError> {
        let mut r = source.reader();

        let host = r.string("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
        if host.trim().is_empty() || host.contains(char::is_whitespace) {
            r.problem("HOST", "must be a host name or IP address");
        }
        let port: u16 = r.number("PORT", 8000, 0, u16::MAX);
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers: usize = r.number("WORKERS", default_workers, 1, 512);

        let cors_origins = cors_origins(&mut r);
        let cors_allow_credentials = r.boolean("CORS_ALLOW_CREDENTIALS", false);
        if cors_allow_credentials && cors_origins == CorsOrigins::Any {
            r.problem(
                "CORS_ORIGINS",
                "`*` cannot be combined with CORS_ALLOW_CREDENTIALS=true; list the origins",
            );
        }
        let allowed_hosts = allowed_hosts(&mut r);
        let trusted_proxies = trusted_proxies(&mut r);
        let forwarded_header = r.parse_enum(
            "FORWARDED_HEADER",
            ForwardedHeader::XForwardedFor,
            &[
                ("x-forwarded-for", ForwardedHeader::XForwardedFor),
                ("forwarded", ForwardedHeader::Forwarded),
            ],
        );

        let max_json_bytes: usize =
            r.number("MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES, 1024, 64 << 20);

        let docs_enabled = r.boolean("DOCS_ENABLED", !env.is_production());
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

        let public_base_url_set = r.string("PUBLIC_BASE_URL").is_some();
        if env.is_production() && !public_base_url_set {
            r.problem(
                "PUBLIC_BASE_URL",
                "is required when APP_ENV=production: media links, `Location` headers and e-mail links are built from it (never from forwarding headers)",
            );
        }
        let public_base_url = public_base_url(&mut r, &host, port);
        let shutdown_timeout_seconds: u64 = r.number("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600);

        r.finish(Self {
            app_env: env,
            host,
            port,
            workers,
            cors_origins,
            cors_allow_credentials,
            allowed_hosts,
            trusted_proxies,
            forwarded_header,
            max_json_bytes,
            docs_enabled,
            redoc_script_url,
            public_base_url,
            public_base_url_set,
            shutdown_timeout_seconds,
        })
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

fn cors_origins(r: &mut Reader<'_>) -> CorsOrigins {
    match r.string("CORS_ORIGINS") {
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
    }
}

fn allowed_hosts(r: &mut Reader<'_>) -> Vec<HostPattern> {
    let Some(raw) = r.string("ALLOWED_HOSTS") else {
        return vec![
            HostPattern::Exact("localhost".into()),
            HostPattern::Exact("127.0.0.1".into()),
            HostPattern::Exact("[::1]".into()),
        ];
    };
    let mut patterns = Vec::new();
    for entry in split_list(&raw) {
        match HostPattern::parse(&entry) {
            Some(pattern) => patterns.push(pattern),
            None => r.problem(
                "ALLOWED_HOSTS",
                &format!("`{entry}` is not a host name, `*.domain` wildcard or `*`"),
            ),
        }
    }
    if patterns.is_empty() && !r.reported("ALLOWED_HOSTS") {
        r.problem("ALLOWED_HOSTS", "must list at least one host (or `*`)");
    }
    patterns
}

fn trusted_proxies(r: &mut Reader<'_>) -> Vec<IpNet> {
    let mut proxies = Vec::new();
    if let Some(raw) = r.string("TRUSTED_PROXIES") {
        for entry in split_list(&raw) {
            match entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            {
                Ok(net) => proxies.push(net),
                Err(_) => r.problem(
                    "TRUSTED_PROXIES",
                    &format!("`{entry}` is not an IP address or CIDR range"),
                ),
            }
        }
    }
    proxies
}

/// `PUBLIC_BASE_URL`, or where a local client reaches `host:port` (a wildcard bind
/// address shown as loopback).
fn public_base_url(r: &mut Reader<'_>, host: &str, port: u16) -> Url {
    if let Some(raw) = r.string("PUBLIC_BASE_URL") {
        return match Url::parse(&raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
            _ => {
                r.problem(
                    "PUBLIC_BASE_URL",
                    "must be an absolute http(s) URL such as https://api.example.com",
                );
                fallback_url()
            }
        };
    }
    let shown_host = if host == "0.0.0.0" || host == "::" {
        "127.0.0.1"
    } else {
        host
    };
    let shown_host = if shown_host.contains(':') {
        format!("[{shown_host}]")
    } else {
        shown_host.to_owned()
    };
    Url::parse(&format!("http://{shown_host}:{port}")).unwrap_or_else(|_| fallback_url())
}

fn fallback_url() -> Url {
    Url::parse("http://127.0.0.1:8000").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    fn read(pairs: &[(&str, &str)]) -> Result<ServerSettings, SettingsError> {
        ServerSettings::read(&source(pairs), AppEnv::Development)
    }

    #[test]
    fn app_env_defaults_to_development_and_rejects_others() {
        assert_eq!(AppEnv::read(&source(&[])).unwrap(), AppEnv::Development);
        assert_eq!(
            AppEnv::read(&source(&[("APP_ENV", "Production")])).unwrap(),
            AppEnv::Production
        );
        assert_eq!(
            problems_of(AppEnv::read(&source(&[("APP_ENV", "staging")]))),
            vec!["APP_ENV: expected one of development, test, production, got `staging`"]
        );
    }

    #[test]
    fn defaults_listen_on_loopback_with_docs() {
        let s = read(&[]).unwrap();
        assert_eq!(s.app_env, AppEnv::Development);
        assert_eq!(s.bind_address(), "127.0.0.1:8000");
        assert!(s.workers >= 1);
        assert_eq!(s.cors_origins, CorsOrigins::List(vec![]));
        assert!(!s.cors_allow_credentials);
        assert_eq!(
            s.allowed_hosts,
            vec![
                HostPattern::Exact("localhost".into()),
                HostPattern::Exact("127.0.0.1".into()),
                HostPattern::Exact("[::1]".into()),
            ]
        );
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.max_json_bytes, DEFAULT_MAX_JSON_BYTES);
        assert!(s.docs_enabled);
        assert_eq!(s.redoc_script_url, DEFAULT_REDOC_SCRIPT_URL);
        assert_eq!(s.public_base_url.as_str(), "http://127.0.0.1:8000/");
        assert!(!s.public_base_url_set);
        assert_eq!(s.shutdown_timeout_seconds, 30);
    }

    #[test]
    fn production_turns_docs_off_unless_asked() {
        let base = ("PUBLIC_BASE_URL", "https://api.example.com");
        let s = ServerSettings::read(&source(&[base]), AppEnv::Production).unwrap();
        assert!(!s.docs_enabled);
        let s = ServerSettings::read(
            &source(&[base, ("DOCS_ENABLED", "true")]),
            AppEnv::Production,
        )
        .unwrap();
        assert!(s.docs_enabled);
    }

    #[test]
    fn production_requires_the_public_base_url() {
        let p = problems_of(ServerSettings::read(&source(&[]), AppEnv::Production));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("PUBLIC_BASE_URL: is required"), "{p:?}");
        assert!(read(&[]).is_ok(), "development builds links from HOST:PORT");
    }

    #[test]
    fn the_forwarded_header_is_one_of_two() {
        assert_eq!(
            read(&[]).unwrap().forwarded_header,
            ForwardedHeader::XForwardedFor
        );
        assert_eq!(
            read(&[("FORWARDED_HEADER", "Forwarded")])
                .unwrap()
                .forwarded_header,
            ForwardedHeader::Forwarded
        );
        let p = problems_of(read(&[("FORWARDED_HEADER", "x-real-ip")]));
        assert_eq!(
            p,
            vec!["FORWARDED_HEADER: expected one of x-forwarded-for, forwarded, got `x-real-ip`"]
        );
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("HOST", "two words"),
            ("PORT", "http"),
            ("PORT", "70000"),
            ("PORT", "-1"),
            ("WORKERS", "0"),
            ("CORS_ORIGINS", "not a url"),
            ("CORS_ORIGINS", "https://app.example.com/path"),
            ("CORS_ALLOW_CREDENTIALS", "maybe"),
            ("ALLOWED_HOSTS", "exa mple.com"),
            ("ALLOWED_HOSTS", ","),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("MAX_JSON_BYTES", "10"),
            ("DOCS_ENABLED", "sometimes"),
            ("REDOC_SCRIPT_URL", "redoc.js"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "0"),
        ];
        for (name, value) in cases {
            let p = problems_of(read(&[(name, value)]));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn all_problems_of_the_section_are_reported() {
        let p = problems_of(read(&[
            ("PORT", "x"),
            ("WORKERS", "y"),
            ("ALLOWED_HOSTS", "a b, c d"),
        ]));
        assert_eq!(p.len(), 4, "{p:?}");
    }

    #[test]
    fn credentials_need_listed_origins() {
        let p = problems_of(read(&[
            ("CORS_ORIGINS", "*"),
            ("CORS_ALLOW_CREDENTIALS", "true"),
        ]));
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("CORS_ORIGINS: "), "{p:?}");
        let s = read(&[("CORS_ORIGINS", "*")]).unwrap();
        assert_eq!(s.cors_origins, CorsOrigins::Any);
    }

    #[test]
    fn overrides_and_lists_are_parsed() {
        let s = read(&[
            ("HOST", "0.0.0.0"),
            ("PORT", "9000"),
            ("WORKERS", "3"),
            (
                "CORS_ORIGINS",
                "https://a.example.com, http://localhost:3000/",
            ),
            ("CORS_ALLOW_CREDENTIALS", "yes"),
            ("ALLOWED_HOSTS", "api.example.com,*.example.org,::1"),
            ("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16"),
            ("MAX_JSON_BYTES", "2048"),
            ("DOCS_ENABLED", "off"),
            ("REDOC_SCRIPT_URL", "/static/redoc.js"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "5"),
        ])
        .unwrap();
        assert_eq!(s.bind_address(), "0.0.0.0:9000");
        assert_eq!(s.workers, 3);
        assert_eq!(
            s.cors_origins,
            CorsOrigins::List(vec![
                "https://a.example.com".into(),
                "http://localhost:3000".into()
            ])
        );
        assert!(s.cors_allow_credentials);
        assert_eq!(
            s.allowed_hosts,
            vec![
                HostPattern::Exact("api.example.com".into()),
                HostPattern::Suffix("example.org".into()),
                HostPattern::Exact("[::1]".into()),
            ]
        );
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.max_json_bytes, 2048);
        assert!(!s.docs_enabled);
        assert_eq!(s.redoc_script_url, "/static/redoc.js");
        assert_eq!(s.shutdown_timeout_seconds, 5);
        // A wildcard bind address is shown as loopback in links.
        assert_eq!(s.public_base_url.as_str(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn public_base_url_is_kept_when_given() {
        let s = read(&[("PUBLIC_BASE_URL", "https://api.example.com")]).unwrap();
        assert_eq!(s.public_base_url.as_str(), "https://api.example.com/");
        assert!(s.public_base_url_set);
        let s = read(&[("HOST", "::1"), ("PORT", "8080")]).unwrap();
        assert_eq!(s.bind_address(), "[::1]:8080");
        assert_eq!(s.public_base_url.as_str(), "http://[::1]:8080/");
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
}
