//! Account e-mails: the `Mailer` port that hands one message to the outside world, the
//! `MailTemplates` port that renders an account e-mail into its plain-text and HTML parts,
//! and the `send_mail` job handler ([`send`]) that does both for each queued e-mail.
//! Requests never send mail themselves: they enqueue a durable job, so a mail server that
//! is down delays a message (retried with backoff) but never fails the request.

pub mod send;

use async_trait::async_trait;
use vidgen_domain::users::Email;
use vidgen_domain::users::account_tokens::AccountTokenPurpose;

/// A rendered e-mail, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub to: Email,
    pub subject: String,
    /// The `text/plain` part.
    pub text: String,
    /// The `text/html` part.
    pub html: String,
    /// The single-use token the parts carry, if any: a backend that writes messages
    /// where others can read them (the log) masks it.
    pub secret: Option<String>,
}

impl std::fmt::Debug for MailMessage {
    /// The parts hold single-use links: never shown in `Debug` output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailMessage")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &"[redacted]")
            .field("html", &"[redacted]")
            .finish()
    }
}

/// Why a message was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message could not be built (a bad sender or recipient address).
    #[error("the message cannot be built: {0}")]
    Invalid(String),
    /// The mail server could not be reached or refused the message.
    #[error("the mail server did not accept the message: {0}")]
    Delivery(String),
}

/// Hands messages to a mail system.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// The backend's name in logs (`log`, `smtp`).
    fn backend(&self) -> &'static str;

    /// Sends one message (a single attempt: the job runtime retries).
    ///
    /// # Errors
    /// `Invalid` when the message cannot be built, `Delivery` when the server cannot be
    /// reached or refuses it.
    async fn send(&self, message: &MailMessage) -> Result<(), MailError>;
}

/// What an account e-mail says, before it is rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountMail {
    pub purpose: AccountTokenPurpose,
    pub to: Email,
    /// The user's display name (user data: templates escape it).
    pub name: String,
    /// The single-use link, under `PUBLIC_BASE_URL`.
    pub link: String,
    /// The token itself, for clients that post it without following the link.
    pub token: String,
    /// How long the link works, in hours.
    pub valid_hours: u64,
}

impl std::fmt::Debug for AccountMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountMail")
            .field("purpose", &self.purpose)
            .field("to", &self.to)
            .field("link", &"[redacted]")
            .field("token", &"[redacted]")
            .field("valid_hours", &self.valid_hours)
            .finish_non_exhaustive()
    }
}

/// The notice that tells an account's old address that the account moved to another
/// one (no token: there is nothing to click that could take the change back).
#[derive(Clone, PartialEq, Eq)]
pub struct EmailChangedMail {
    /// The old address.
    pub to: Email,
    pub name: String,
    pub new_address: Email,
}

impl std::fmt::Debug for EmailChangedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailChangedMail")
            .field("to", &self.to)
            .field("new_address", &self.new_address)
            .finish_non_exhaustive()
    }
}

/// A template failed to render (a bug in a template kept in the repository).
#[derive(Debug, thiserror::Error)]
#[error("the mail template cannot be rendered: {0}")]
pub struct TemplateError(pub String);

/// Renders account e-mails from the templates kept in the repository.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MailTemplates: Send + Sync {
    /// The subject, plain-text part and HTML part of `mail`; user data is escaped in the
    /// HTML part.
    ///
    /// # Errors
    /// `TemplateError` when a template does not render.
    fn render(&self, mail: &AccountMail) -> Result<MailMessage, TemplateError>;

    /// The notice of an address change, to the old address; user data is escaped in
    /// the HTML part.
    ///
    /// # Errors
    /// `TemplateError` when a template does not render.
    fn render_email_changed(&self, mail: &EmailChangedMail) -> Result<MailMessage, TemplateError>;
}
