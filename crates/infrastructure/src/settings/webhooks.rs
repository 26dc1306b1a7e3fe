//! Outgoing webhooks: the signing key and which target URLs are allowed.

use secrecy::SecretString;

use super::SettingsError;
use super::source::Source;

/// The webhook sender's settings. The signing key shows as `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_SECRET`: `whsec_<base64>` key for signing webhooks.
    pub secret: Option<SecretString>,
    /// `ALLOW_PRIVATE_WEBHOOKS`: allow URLs resolving to internal addresses.
    pub allow_private: bool,
    /// `ALLOW_INSECURE_WEBHOOKS`: allow plain `http` URLs.
    pub allow_insecure: bool,
}

impl WebhookSettings {
    /// Reads the webhook variables.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let secret = r.string("WEBHOOK_SECRET");
        if let Some(secret) = &secret {
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
        let allow_private = r.boolean("ALLOW_PRIVATE_WEBHOOKS", false);
        let allow_insecure = r.boolean("ALLOW_INSECURE_WEBHOOKS", false);
        r.finish(Self {
            secret: secret.map(SecretString::from),
            allow_private,
            allow_insecure,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::settings::test_support::{problems_of, source};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn defaults_sign_nothing_and_allow_only_public_https() {
        let s = WebhookSettings::read(&source(&[])).unwrap();
        assert!(s.secret.is_none());
        assert!(!s.allow_private);
        assert!(!s.allow_insecure);
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("WEBHOOK_SECRET", "secret"),
            ("WEBHOOK_SECRET", "whsec_short"),
            ("WEBHOOK_SECRET", "whsec_not base64 at all, no no no"),
            ("ALLOW_PRIVATE_WEBHOOKS", "y"),
            ("ALLOW_INSECURE_WEBHOOKS", "n"),
        ];
        for (name, value) in cases {
            let p = problems_of(WebhookSettings::read(&source(&[(name, value)])));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
    }

    #[test]
    fn overrides_are_kept_and_the_secret_hidden() {
        let s = WebhookSettings::read(&source(&[
            ("WEBHOOK_SECRET", SECRET),
            ("ALLOW_PRIVATE_WEBHOOKS", "true"),
            ("ALLOW_INSECURE_WEBHOOKS", "1"),
        ]))
        .unwrap();
        assert_eq!(
            s.secret.as_ref().map(|k| k.expose_secret().to_owned()),
            Some(SECRET.to_owned())
        );
        assert!(s.allow_private);
        assert!(s.allow_insecure);
        assert!(!format!("{s:?}").contains(SECRET));
    }
}
