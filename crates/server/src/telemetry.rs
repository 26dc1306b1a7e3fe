//! Logging: `tracing` with pretty or JSON lines, filtered by `LOG_LEVEL`.

use tracing_subscriber::EnvFilter;
use vidgen_infrastructure::settings::LogFormat;

/// Why the log filter could not be used.
#[derive(Debug, thiserror::Error)]
#[error("LOG_LEVEL: `{directive}` is not a valid filter ({reason})")]
pub struct TelemetryError {
    directive: String,
    reason: String,
}

/// Parses a `LOG_LEVEL` value (`info`, `debug`, `vidgen=debug,actix_web=warn`, ...).
///
/// # Errors
/// A line naming `LOG_LEVEL` when the directive does not parse.
pub fn filter(directive: &str) -> Result<EnvFilter, TelemetryError> {
    const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];
    // A bare word is a level; `target=level` pairs name their target explicitly, so a
    // misspelt level (`verbose`) is reported instead of silencing every log.
    if let Some(part) = directive
        .split(',')
        .map(str::trim)
        .find(|part| !part.contains('=') && !LEVELS.contains(&part.to_ascii_lowercase().as_str()))
    {
        return Err(TelemetryError {
            directive: directive.to_owned(),
            reason: format!(
                "`{part}` is not a level (trace, debug, info, warn, error, off) or a target=level pair"
            ),
        });
    }
    EnvFilter::builder()
        .parse(directive)
        .map_err(|e| TelemetryError {
            directive: directive.to_owned(),
            reason: e.to_string(),
        })
}

/// Installs the global subscriber and a panic hook that logs panics (inside the current
/// request span, so with its request id) instead of printing them raw. Does nothing if a
/// subscriber is already installed (tests).
pub fn init(format: LogFormat, filter: EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok(),
        LogFormat::Pretty => builder.try_init().is_ok(),
    };
    if installed {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %payload, location = %location, "panic");
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_level_directives_are_checked() {
        for good in [
            "info",
            "debug",
            "vidgen_server=debug,actix_web=warn",
            "warn",
        ] {
            assert!(filter(good).is_ok(), "{good}");
        }
        for bad in ["loud", "vidgen=[", "=debug=x"] {
            let error = filter(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.starts_with("LOG_LEVEL: "), "{bad}: {error}");
        }
    }
}
