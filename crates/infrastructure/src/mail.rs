//! Account e-mails: [`MiniJinjaMailTemplates`] renders them from the templates under
//! `crates/infrastructure/templates/mail/` (compiled into the binary; the HTML part is
//! auto-escaped, so user data cannot inject markup), and two [`Mailer`]s send them:
//! [`LogMailer`] (`MAIL_BACKEND=log`, the default: the whole message at info level) and
//! [`SmtpMailer`] (`MAIL_BACKEND=smtp`: lettre over `SMTP_URL`).
//!
//! `SMTP_URL` decides the transport security and carries the credentials:
//! `smtp://host:25` is plain SMTP, `smtp://user:pass@host:587?tls=required` upgrades
//! with STARTTLS (and refuses a server that cannot), `smtps://user:pass@host:465` speaks
//! TLS from the first byte. TLS is rustls with the Mozilla roots.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use vidgen_application::mail::{
    AccountMail, EmailChangedMail, MailError, MailMessage, MailTemplates, Mailer,
};
use vidgen_domain::users::account_tokens::AccountTokenPurpose;

/// The templates of one purpose: subject, plain text, HTML.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "email_verification.subject.txt",
        include_str!("../templates/mail/email_verification.subject.txt"),
    ),
    (
        "email_verification.txt",
        include_str!("../templates/mail/email_verification.txt"),
    ),
    (
        "email_verification.html",
        include_str!("../templates/mail/email_verification.html"),
    ),
    (
        "password_reset.subject.txt",
        include_str!("../templates/mail/password_reset.subject.txt"),
    ),
    (
        "password_reset.txt",
        include_str!("../templates/mail/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("../templates/mail/password_reset.html"),
    ),
    (
        "email_changed.subject.txt",
        include_str!("../templates/mail/email_changed.subject.txt"),
    ),
    (
        "email_changed.txt",
        include_str!("../templates/mail/email_changed.txt"),
    ),
    (
        "email_changed.html",
        include_str!("../templates/mail/email_changed.html"),
    ),
];

/// A template kept in the repository does not parse (caught by this module's tests).
#[derive(Debug, thiserror::Error)]
#[error("mail template {name} is invalid: {reason}")]
pub struct TemplateSetupError {
    name: &'static str,
    reason: String,
}

/// Renders account e-mails with minijinja. Templates whose name ends in `.html` escape
/// every value; the others (subject, plain text) do not.
#[derive(Debug)]
pub struct MiniJinjaMailTemplates {
    env: Environment<'static>,
}

impl MiniJinjaMailTemplates {
    /// Loads the templates.
    ///
    /// # Errors
    /// `TemplateSetupError` when one does not parse.
    pub fn new() -> Result<Self, TemplateSetupError> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| TemplateSetupError {
                    name,
                    reason: e.to_string(),
                })?;
        }
        Ok(Self { env })
    }

    fn render_one(
        &self,
        name: &str,
        context: &minijinja::Value,
    ) -> Result<String, vidgen_application::mail::TemplateError> {
        self.env
            .get_template(name)
            .and_then(|template| template.render(context))
            .map_err(|e| vidgen_application::mail::TemplateError(format!("{name}: {e}")))
    }
}

impl MailTemplates for MiniJinjaMailTemplates {
    fn render(
        &self,
        mail: &AccountMail,
    ) -> Result<MailMessage, vidgen_application::mail::TemplateError> {
        let stem = match mail.purpose {
            AccountTokenPurpose::EmailVerification => "email_verification",
            AccountTokenPurpose::PasswordReset => "password_reset",
        };
        let context = minijinja::context! {
            name => mail.name,
            to => mail.to.as_ref(),
            // Built by the service from PUBLIC_BASE_URL and a base64url token, never
            // from user input: shown as written, so the HTML link is the plain one.
            link => minijinja::Value::from_safe_string(mail.link.clone()),
            token => mail.token,
            valid_hours => mail.valid_hours,
        };
        let mut message = self.render_parts(stem, &mail.to, &context)?;
        message.secret = Some(mail.token.clone());
        Ok(message)
    }

    fn render_email_changed(
        &self,
        mail: &EmailChangedMail,
    ) -> Result<MailMessage, vidgen_application::mail::TemplateError> {
        let context = minijinja::context! {
            name => mail.name,
            to => mail.to.as_ref(),
            new_address => mail.new_address.as_ref(),
        };
        self.render_parts("email_changed", &mail.to, &context)
    }
}

impl MiniJinjaMailTemplates {
    /// The subject, text and HTML templates of `stem`, rendered for `to`.
    fn render_parts(
        &self,
        stem: &str,
        to: &vidgen_domain::users::Email,
        context: &minijinja::Value,
    ) -> Result<MailMessage, vidgen_application::mail::TemplateError> {
        Ok(MailMessage {
            to: to.clone(),
            subject: self
                .render_one(&format!("{stem}.subject.txt"), context)?
                .trim()
                .to_owned(),
            text: self.render_one(&format!("{stem}.txt"), context)?,
            html: self.render_one(&format!("{stem}.html"), context)?,
            secret: None,
        })
    }
}

/// Writes every message to the log at info level (recipient, subject, both parts with
/// their links), for development and tests: nothing leaves the machine. With
/// [`LogMailer::masking`] (production) the message's token is masked wherever it
/// appears, so the log holds no working link.
#[derive(Debug, Clone, Default)]
pub struct LogMailer {
    mask_tokens: bool,
}

/// How many characters of a masked token stay readable (enough to tell two mails
/// apart, far too few to guess the rest).
const SHOWN_TOKEN_CHARS: usize = 4;

impl LogMailer {
    /// Logs messages as they are (development, tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs messages with their tokens masked.
    pub fn masking() -> Self {
        Self { mask_tokens: true }
    }

    /// `text` with every occurrence of `secret` replaced by its first characters and a
    /// mask.
    fn masked(text: &str, secret: &str) -> String {
        if secret.is_empty() {
            return text.to_owned();
        }
        let shown: String = secret.chars().take(SHOWN_TOKEN_CHARS).collect();
        text.replace(secret, &format!("{shown}…[masked]"))
    }
}

#[async_trait]
impl Mailer for LogMailer {
    fn backend(&self) -> &'static str {
        "log"
    }

    async fn send(&self, message: &MailMessage) -> Result<(), MailError> {
        let (text, html) = match (&message.secret, self.mask_tokens) {
            (Some(secret), true) => (
                Self::masked(&message.text, secret),
                Self::masked(&message.html, secret),
            ),
            _ => (message.text.clone(), message.html.clone()),
        };
        tracing::info!(
            to = %message.to,
            subject = %message.subject,
            text = %text,
            html = %html,
            "e-mail (MAIL_BACKEND=log: written here, not sent)"
        );
        Ok(())
    }
}

/// Why the SMTP mailer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSetupError {
    #[error("SMTP_URL is not a usable SMTP URL: {0}")]
    Url(String),
    #[error("MAIL_FROM is not a valid mailbox: {0}")]
    From(String),
}

/// Sends messages over SMTP with lettre, one connection per message.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    /// The transport holds the URL's credentials: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `url` (see the module docs) sending as `from` (`Name <a@b>` or an
    /// address); each SMTP command may take `timeout`.
    ///
    /// # Errors
    /// `Url` for an unusable URL, `From` for an invalid sender.
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, SmtpSetupError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SmtpSetupError::Url(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| SmtpSetupError::From(e.to_string()))?;
        Ok(Self { transport, from })
    }

    fn message(&self, message: &MailMessage) -> Result<Message, MailError> {
        let to = message
            .to
            .as_ref()
            .parse::<Mailbox>()
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|e| MailError::Invalid(e.to_string()))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn backend(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, message: &MailMessage) -> Result<(), MailError> {
        let email = self.message(message)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Delivery(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use vidgen_domain::users::Email;

    use super::*;

    fn mail(purpose: AccountTokenPurpose) -> AccountMail {
        AccountMail {
            purpose,
            to: Email::parse("jane@example.com").expect("email"),
            name: "Jane <script>alert(1)</script> & Co".into(),
            link: "https://app.example.com/verify-email?token=abc_DEF-123".into(),
            token: "abc_DEF-123".into(),
            valid_hours: 48,
        }
    }

    #[test]
    fn both_parts_carry_the_link_and_the_html_part_escapes_user_data() {
        let templates = MiniJinjaMailTemplates::new().expect("templates parse");
        for purpose in AccountTokenPurpose::ALL {
            let message = templates.render(&mail(purpose)).expect("renders");
            assert!(!message.subject.is_empty(), "{purpose:?}");
            assert!(!message.subject.contains('\n'), "{purpose:?}");
            for part in [&message.text, &message.html] {
                assert!(
                    part.contains("https://app.example.com/verify-email?token=abc_DEF-123"),
                    "{purpose:?}: {part}"
                );
                assert!(part.contains("abc_DEF-123"), "{purpose:?}");
            }
            assert!(
                message.text.contains("Jane <script>alert(1)</script> & Co"),
                "plain text keeps the name as written"
            );
            assert!(
                !message.html.contains("<script>"),
                "{purpose:?}: {}",
                message.html
            );
            assert!(
                message.html.contains("Jane &lt;script&gt;"),
                "{purpose:?}: {}",
                message.html
            );
            assert_eq!(message.to.as_ref(), "jane@example.com");
        }
    }

    #[test]
    fn smtp_urls_and_senders_are_checked_at_setup() {
        let second = Duration::from_secs(1);
        assert!(
            SmtpMailer::new(
                "smtp://localhost:2525",
                "vidgen <no-reply@localhost>",
                second
            )
            .is_ok()
        );
        assert!(
            SmtpMailer::new(
                "smtps://user:pw@smtp.example.com:465",
                "no-reply@example.com",
                second
            )
            .is_ok()
        );
        assert!(
            SmtpMailer::new(
                "smtp://user:pw@smtp.example.com:587?tls=required",
                "no-reply@example.com",
                second
            )
            .is_ok()
        );
        assert!(matches!(
            SmtpMailer::new("http://example.com", "no-reply@example.com", second),
            Err(SmtpSetupError::Url(_))
        ));
        assert!(matches!(
            SmtpMailer::new("smtp://localhost", "not a mailbox", second),
            Err(SmtpSetupError::From(_))
        ));
        let debug = format!(
            "{:?}",
            SmtpMailer::new("smtp://user:pw-secret@localhost", "a@b.example", second)
                .expect("mailer")
        );
        assert!(!debug.contains("pw-secret"), "{debug}");
    }

    /// Log output captured by a test's subscriber.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `mailer` writes to the log for `message`.
    fn logged(mailer: &LogMailer, message: &MailMessage) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(mailer.send(message)).expect("logged");
        });
        String::from_utf8_lossy(
            &captured
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }

    fn rendered(purpose: AccountTokenPurpose) -> MailMessage {
        MiniJinjaMailTemplates::new()
            .expect("templates")
            .render(&mail(purpose))
            .expect("renders")
    }

    #[test]
    fn the_log_mailer_writes_the_whole_message_at_info_level() {
        let message = rendered(AccountTokenPurpose::EmailVerification);
        let text = logged(&LogMailer::new(), &message);
        assert!(text.contains(" INFO "), "{text}");
        assert!(text.contains("jane@example.com"), "{text}");
        assert!(text.contains(&message.subject), "{text}");
        assert!(
            text.contains("https://app.example.com/verify-email?token=abc_DEF-123"),
            "{text}"
        );
    }

    #[test]
    fn the_masking_log_mailer_never_writes_the_token() {
        for purpose in AccountTokenPurpose::ALL {
            let message = rendered(purpose);
            let text = logged(&LogMailer::masking(), &message);
            assert!(text.contains(&message.subject), "{purpose:?}: {text}");
            assert!(!text.contains("abc_DEF-123"), "{purpose:?}: {text}");
            assert!(
                text.contains("https://app.example.com/verify-email?token=abc_…[masked]"),
                "{purpose:?}: {text}"
            );
        }
    }

    #[test]
    fn the_notice_of_a_change_names_both_addresses_and_escapes_the_name() {
        let templates = MiniJinjaMailTemplates::new().expect("templates parse");
        let message = templates
            .render_email_changed(&EmailChangedMail {
                to: Email::parse("old@example.com").expect("email"),
                name: "Jane <b>".into(),
                new_address: Email::parse("new@example.com").expect("email"),
            })
            .expect("renders");
        assert_eq!(message.to.as_ref(), "old@example.com");
        assert!(message.secret.is_none());
        for part in [&message.text, &message.html] {
            assert!(part.contains("old@example.com"), "{part}");
            assert!(part.contains("new@example.com"), "{part}");
        }
        assert!(message.html.contains("Jane &lt;b&gt;"), "{}", message.html);
        assert!(!message.subject.contains('\n'));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_delivery_error() {
        // Port 9 (discard) on loopback: nothing listens there in the test environment.
        let mailer = SmtpMailer::new(
            "smtp://127.0.0.1:9",
            "no-reply@example.com",
            Duration::from_secs(2),
        )
        .expect("mailer");
        let message = MiniJinjaMailTemplates::new()
            .expect("templates")
            .render(&mail(AccountTokenPurpose::PasswordReset))
            .expect("renders");
        let outcome = mailer.send(&message).await;
        assert!(
            matches!(outcome, Err(MailError::Delivery(_))),
            "{outcome:?}"
        );
        assert!(LogMailer::new().send(&message).await.is_ok());
    }
}
