//! Telemetry: log level and format, and the token guarding metrics.

use secrecy::SecretString;

use super::SettingsError;
use super::server::AppEnv;
use super::source::Source;

/// Shape of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Logging and metrics settings. The metrics token shows as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// `LOG_FORMAT`: pretty by default, JSON in production.
    pub log_format: LogFormat,
    /// `LOG_LEVEL`: a level or `target=level` pairs (checked when the filter is built).
    pub log_level: String,
    /// `METRICS_TOKEN`: bearer token required by `/metrics` when set.
    pub metrics_token: Option<SecretString>,
    /// `METRICS_ENABLED`: record metrics and serve `/metrics` (default true).
    pub metrics_enabled: bool,
    /// `METRICS_PUBLIC`: in production, serve `/metrics` without `METRICS_TOKEN` (an
    /// explicit choice; production refuses to start with neither).
    pub metrics_public: bool,
}

impl TelemetrySettings {
    /// Reads the telemetry variables; `env` decides the default log format.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source, env: AppEnv) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let log_format = r.parse_enum(
            "LOG_FORMAT",
            if env.is_production() {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            },
            &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
        );
        let log_level = r.string("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
        let metrics_token = r.string("METRICS_TOKEN").map(SecretString::from);
        let metrics_enabled = r.boolean("METRICS_ENABLED", true);
        let metrics_public = r.boolean("METRICS_PUBLIC", false);
        if env.is_production() && metrics_enabled && metrics_token.is_none() && !metrics_public {
            r.problem(
                "METRICS_TOKEN",
                "is required when APP_ENV=production and metrics are enabled (or set METRICS_PUBLIC=true to serve /metrics to anyone, or METRICS_ENABLED=false)",
            );
        }
        r.finish(Self {
            log_format,
            log_level,
            metrics_token,
            metrics_enabled,
            metrics_public,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_log_pretty_info_lines_and_json_in_production() {
        let s = TelemetrySettings::read(&source(&[]), AppEnv::Development).unwrap();
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.log_level, "info");
        assert!(s.metrics_token.is_none());
        let s = TelemetrySettings::read(&source(&[("METRICS_PUBLIC", "true")]), AppEnv::Production)
            .unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.metrics_public);
    }

    #[test]
    fn production_metrics_need_a_token_unless_public_or_off() {
        let p = problems_of(TelemetrySettings::read(&source(&[]), AppEnv::Production));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("METRICS_TOKEN: is required"), "{p:?}");
        for allowed in [
            [("METRICS_TOKEN", "scrape-me-secret")],
            [("METRICS_PUBLIC", "true")],
            [("METRICS_ENABLED", "false")],
        ] {
            assert!(
                TelemetrySettings::read(&source(&allowed), AppEnv::Production).is_ok(),
                "{allowed:?} refused in production"
            );
        }
        // Development serves /metrics openly by default.
        let s = TelemetrySettings::read(&source(&[]), AppEnv::Development).unwrap();
        assert!(s.metrics_enabled && s.metrics_token.is_none());
    }

    #[test]
    fn a_bad_log_format_is_reported() {
        let p = problems_of(TelemetrySettings::read(
            &source(&[("LOG_FORMAT", "xml")]),
            AppEnv::Development,
        ));
        assert_eq!(
            p,
            vec!["LOG_FORMAT: expected one of pretty, json, got `xml`"]
        );
    }

    #[test]
    fn overrides_are_kept_and_the_token_hidden() {
        let s = TelemetrySettings::read(
            &source(&[
                ("LOG_FORMAT", "pretty"),
                ("LOG_LEVEL", "info,sqlx=warn"),
                ("METRICS_TOKEN", "scrape-me-secret"),
            ]),
            AppEnv::Production,
        )
        .unwrap();
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.log_level, "info,sqlx=warn");
        assert!(s.metrics_token.is_some());
        assert!(!format!("{s:?}").contains("scrape-me-secret"));
    }
}
