//! Account e-mails: how they leave the service and whom they come from.

use secrecy::SecretString;

use super::SettingsError;
use super::server::AppEnv;
use super::source::Source;

/// How account e-mails leave the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailBackend {
    Log,
    Smtp,
}

/// The mailer's settings. The SMTP URL (it may hold a password) shows as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `MAIL_BACKEND`.
    pub backend: MailBackend,
    /// `SMTP_URL`: required with the smtp backend.
    pub smtp_url: Option<SecretString>,
    /// `MAIL_FROM`: sender of account e-mails.
    pub from: String,
    /// Whether the log backend writes its mails' tokens masked: in production, where
    /// `MAIL_BACKEND=log` needs `MAIL_LOG_IN_PRODUCTION=true` and a working reset link in
    /// the log would hand accounts to whoever reads it.
    pub mask_logged_tokens: bool,
}

impl MailSettings {
    /// Reads the mail variables; in production (`env`) the log backend must be asked for
    /// by `MAIL_LOG_IN_PRODUCTION`.
    ///
    /// # Errors
    /// Every invalid or missing value among them, one line each.
    pub fn read(source: &Source, env: AppEnv) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let backend = r.parse_enum(
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
        if backend == MailBackend::Smtp && smtp_url.is_none() {
            r.problem("SMTP_URL", "is required when MAIL_BACKEND=smtp");
        }
        let log_in_production = r.boolean("MAIL_LOG_IN_PRODUCTION", false);
        if env.is_production() && backend == MailBackend::Log && !log_in_production {
            r.problem(
                "MAIL_BACKEND",
                "`log` (the default) writes reset and verification links to the log and is refused when APP_ENV=production: set MAIL_BACKEND=smtp with SMTP_URL, or MAIL_LOG_IN_PRODUCTION=true to log mails with their tokens masked",
            );
        }
        let from = r
            .string("MAIL_FROM")
            .unwrap_or_else(|| "vidgen <no-reply@localhost>".to_owned());
        if !from.contains('@') {
            r.problem("MAIL_FROM", "must contain an e-mail address");
        }
        r.finish(Self {
            backend,
            smtp_url: smtp_url.map(SecretString::from),
            from,
            mask_logged_tokens: env.is_production(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_log_mails() {
        let s = MailSettings::read(&source(&[]), AppEnv::Development).unwrap();
        assert_eq!(s.backend, MailBackend::Log);
        assert!(s.smtp_url.is_none());
        assert_eq!(s.from, "vidgen <no-reply@localhost>");
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("MAIL_BACKEND", "pigeon"),
            ("SMTP_URL", "mail.example.com"),
            ("MAIL_FROM", "nobody"),
        ];
        for (name, value) in cases {
            let p = problems_of(MailSettings::read(
                &source(&[(name, value)]),
                AppEnv::Development,
            ));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn smtp_backend_needs_an_smtp_url() {
        let p = problems_of(MailSettings::read(
            &source(&[("MAIL_BACKEND", "smtp")]),
            AppEnv::Development,
        ));
        assert_eq!(p, vec!["SMTP_URL: is required when MAIL_BACKEND=smtp"]);
        let s = MailSettings::read(
            &source(&[
                ("MAIL_BACKEND", "smtp"),
                ("SMTP_URL", "smtp://user:pw-secret@smtp.example.com:587"),
                ("MAIL_FROM", "Team <team@example.com>"),
            ]),
            AppEnv::Production,
        )
        .unwrap();
        assert_eq!(s.backend, MailBackend::Smtp);
        assert_eq!(
            s.smtp_url.as_ref().map(|u| u.expose_secret().to_owned()),
            Some("smtp://user:pw-secret@smtp.example.com:587".to_owned())
        );
        assert_eq!(s.from, "Team <team@example.com>");
        assert!(!format!("{s:?}").contains("pw-secret"));
    }

    #[test]
    fn production_refuses_logged_mails_unless_asked_and_then_masks_them() {
        let p = problems_of(MailSettings::read(&source(&[]), AppEnv::Production));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("MAIL_BACKEND: `log`"), "{p:?}");
        let s = MailSettings::read(
            &source(&[("MAIL_LOG_IN_PRODUCTION", "true")]),
            AppEnv::Production,
        )
        .unwrap();
        assert_eq!(s.backend, MailBackend::Log);
        assert!(s.mask_logged_tokens);
        let s = MailSettings::read(&source(&[]), AppEnv::Development).unwrap();
        assert!(!s.mask_logged_tokens, "development logs usable links");
    }
}
