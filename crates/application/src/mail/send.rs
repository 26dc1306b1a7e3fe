//! The `send_mail` job: one account e-mail, rendered and handed to the [`Mailer`] until it
//! is accepted. The job row is written in the same transaction as the token it carries,
//! and keeps only the token's seal: the token is derived again when the mail is built.
//! Retried by the job runtime with exponential backoff and jitter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vidgen_domain::users::Email;
use vidgen_domain::users::account_tokens::AccountTokenPurpose;

use super::{AccountMail, EmailChangedMail, MailTemplates, Mailer};
use crate::account::ports::AccountTokens;
use crate::jobs::{ClaimedJob, JobContext, JobFailure, JobHandler, JobKind, NewJob};
use crate::storage::RepositoryError;

/// Tries per e-mail.
pub const MAIL_ATTEMPTS: u32 = 5;

/// The page a verification link opens, under `PUBLIC_BASE_URL` (a front end there posts
/// the token to `POST /api/v1/users/verify-email`).
pub const VERIFY_EMAIL_PAGE: &str = "/verify-email";

/// The page a reset link opens, under `PUBLIC_BASE_URL` (a front end there asks for the
/// new password and posts it with the token to `POST /api/v1/users/password-reset`).
pub const RESET_PASSWORD_PAGE: &str = "/reset-password";

/// An e-mail to queue.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub purpose: AccountTokenPurpose,
    /// `None` for the recovery of an address no account uses: the job is written like any
    /// other, and its run sends nothing.
    pub to: Option<Email>,
    pub name: String,
    /// The seal of the token the mail carries.
    pub seal: String,
}

impl std::fmt::Debug for QueuedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedMail")
            .field("purpose", &self.purpose)
            .field("to", &self.to)
            .field("seal", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The `purpose` of the job of an [`EmailChangedMail`] (account tokens have theirs).
const EMAIL_CHANGED: &str = "email_changed";

/// A mail as its job stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    purpose: String,
    to: Option<String>,
    name: String,
    /// Empty for a notice, which carries no token.
    seal: String,
    /// The account's new address, in the notice of an address change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_address: Option<String>,
}

fn send_job(payload: &Payload, now: DateTime<Utc>) -> Result<NewJob, serde_json::Error> {
    Ok(NewJob {
        kind: JobKind::SendMail,
        video_id: None,
        payload: serde_json::to_string(payload)?,
        max_attempts: MAIL_ATTEMPTS,
        run_after: now,
    })
}

/// The job that sends `mail` (enqueue it with the token it carries).
///
/// # Errors
/// Never in practice: the payload is plain strings.
pub fn mail_job(mail: &QueuedMail, now: DateTime<Utc>) -> Result<NewJob, serde_json::Error> {
    send_job(
        &Payload {
            purpose: mail.purpose.as_str().to_owned(),
            to: mail.to.as_ref().map(|to| to.as_ref().to_owned()),
            name: mail.name.clone(),
            seal: mail.seal.clone(),
            new_address: None,
        },
        now,
    )
}

/// The job that tells the old address of an account about its change of address
/// (enqueue it in the transaction that changes the address).
///
/// # Errors
/// Never in practice: the payload is plain strings.
pub fn email_changed_job(
    mail: &EmailChangedMail,
    now: DateTime<Utc>,
) -> Result<NewJob, serde_json::Error> {
    send_job(
        &Payload {
            purpose: EMAIL_CHANGED.to_owned(),
            to: Some(mail.to.as_ref().to_owned()),
            name: mail.name.clone(),
            seal: String::new(),
            new_address: Some(mail.new_address.as_ref().to_owned()),
        },
        now,
    )
}

/// What a `send_mail` job sends.
enum Outgoing {
    Token(AccountMail),
    EmailChanged(EmailChangedMail),
}

/// Where the links of account e-mails point: `PUBLIC_BASE_URL` and the page of each
/// purpose, the token in the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLinks {
    base: String,
}

impl MailLinks {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The link of a `purpose` e-mail carrying `token` (URL-safe base64: no escaping).
    pub fn link(&self, purpose: AccountTokenPurpose, token: &str) -> String {
        let page = match purpose {
            AccountTokenPurpose::EmailVerification => VERIFY_EMAIL_PAGE,
            AccountTokenPurpose::PasswordReset => RESET_PASSWORD_PAGE,
        };
        format!("{}{page}?token={token}", self.base)
    }
}

/// Renders and sends the e-mail of a `send_mail` job.
pub struct SendMail {
    mailer: Arc<dyn Mailer>,
    templates: Arc<dyn MailTemplates>,
    tokens: Arc<dyn AccountTokens>,
    links: MailLinks,
}

impl std::fmt::Debug for SendMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMail")
            .field("backend", &self.mailer.backend())
            .field("links", &self.links)
            .finish_non_exhaustive()
    }
}

impl SendMail {
    pub fn new(
        mailer: Arc<dyn Mailer>,
        templates: Arc<dyn MailTemplates>,
        tokens: Arc<dyn AccountTokens>,
        links: MailLinks,
    ) -> Self {
        Self {
            mailer,
            templates,
            tokens,
            links,
        }
    }

    /// The job's e-mail, or `None` when it has no recipient.
    fn mail(&self, job: &ClaimedJob) -> Result<Option<Outgoing>, JobFailure> {
        let payload: Payload = serde_json::from_str(&job.payload)
            .map_err(|e| JobFailure(format!("the mail's payload is unreadable: {e}")))?;
        let address = |raw: &str| {
            Email::parse(raw)
                .map_err(|_| JobFailure("the mail's address is not a valid address".into()))
        };
        if payload.purpose == EMAIL_CHANGED {
            let (Some(to), Some(new_address)) = (&payload.to, &payload.new_address) else {
                return Err(JobFailure("the notice's addresses are missing".into()));
            };
            return Ok(Some(Outgoing::EmailChanged(EmailChangedMail {
                to: address(to)?,
                name: payload.name,
                new_address: address(new_address)?,
            })));
        }
        let purpose = AccountTokenPurpose::parse(&payload.purpose)
            .ok_or_else(|| JobFailure(format!("unknown mail purpose {:?}", payload.purpose)))?;
        let Some(to) = payload.to else {
            return Ok(None);
        };
        let to = address(&to)?;
        let token = self
            .tokens
            .open(&payload.seal)
            .ok_or_else(|| JobFailure("the mail's token seal is invalid".into()))?;
        Ok(Some(Outgoing::Token(AccountMail {
            purpose,
            to,
            name: payload.name,
            link: self.links.link(purpose, &token),
            token,
            valid_hours: purpose.lifetime().as_secs() / 3600,
        })))
    }
}

#[async_trait]
impl JobHandler for SendMail {
    fn kind(&self) -> JobKind {
        JobKind::SendMail
    }

    fn period(&self) -> Option<Duration> {
        None
    }

    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        let Some(mail) = self.mail(&context.job)? else {
            tracing::debug!(
                job_id = context.job.id.0,
                "recovery for an unknown address: nothing to send"
            );
            return Ok(());
        };
        let (message, purpose) = match &mail {
            Outgoing::Token(mail) => (self.templates.render(mail), mail.purpose.as_str()),
            Outgoing::EmailChanged(mail) => {
                (self.templates.render_email_changed(mail), EMAIL_CHANGED)
            }
        };
        let message = message.map_err(|e| JobFailure(e.to_string()))?;
        self.mailer
            .send(&message)
            .await
            .map_err(|e| JobFailure(e.to_string()))?;
        tracing::info!(
            job_id = context.job.id.0,
            purpose,
            backend = self.mailer.backend(),
            "account e-mail sent"
        );
        Ok(())
    }

    async fn on_final_failure(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        tracing::warn!(job_id = job.id.0, reason = %failure, attempts = job.attempt, "account e-mail given up");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vidgen_domain::users::account_tokens::AccountTokenPurpose as P;

    use super::*;
    use crate::account::ports::MockAccountTokens;
    use crate::jobs::{JobId, LeaseToken};
    use crate::mail::{MailError, MailMessage, MockMailTemplates, MockMailer};

    fn claimed(job: NewJob) -> JobContext {
        JobContext::new(ClaimedJob {
            id: JobId(9),
            kind: job.kind,
            video_id: job.video_id,
            payload: job.payload,
            attempt: 1,
            max_attempts: job.max_attempts,
            lease_expires_at: Utc::now(),
            lease: LeaseToken::new("t"),
        })
    }

    fn queued(to: Option<&str>) -> QueuedMail {
        QueuedMail {
            purpose: P::PasswordReset,
            to: to.map(|to| Email::parse(to).expect("email")),
            name: "Jane".into(),
            seal: "seal-1".into(),
        }
    }

    fn tokens() -> MockAccountTokens {
        let mut tokens = MockAccountTokens::new();
        tokens
            .expect_open()
            .returning(|seal| (seal == "seal-1").then(|| "tok-1".to_owned()));
        tokens
    }

    fn templates() -> MockMailTemplates {
        let mut templates = MockMailTemplates::new();
        templates.expect_render().returning(|mail| {
            Ok(MailMessage {
                to: mail.to.clone(),
                subject: "Reset".into(),
                text: mail.link.clone(),
                html: mail.link.clone(),
                secret: Some(mail.token.clone()),
            })
        });
        templates.expect_render_email_changed().returning(|mail| {
            Ok(MailMessage {
                to: mail.to.clone(),
                subject: "Changed".into(),
                text: format!("now {}", mail.new_address),
                html: String::new(),
                secret: None,
            })
        });
        templates
    }

    #[tokio::test]
    async fn the_notice_of_a_change_goes_to_the_old_address_and_names_the_new_one() {
        let notice = EmailChangedMail {
            to: Email::parse("old@example.com").expect("email"),
            name: "Jane".into(),
            new_address: Email::parse("new@example.com").expect("email"),
        };
        let job = email_changed_job(&notice, Utc::now()).expect("job");
        assert_eq!(job.kind, JobKind::SendMail);
        let mut mailer = MockMailer::new();
        mailer.expect_backend().return_const("mock");
        mailer
            .expect_send()
            .withf(|m| {
                m.to.as_ref() == "old@example.com"
                    && m.text == "now new@example.com"
                    && m.secret.is_none()
            })
            .times(1)
            .returning(|_| Ok(()));
        let handler = SendMail::new(
            Arc::new(mailer),
            Arc::new(templates()),
            Arc::new(tokens()),
            MailLinks::new("https://app.example.com"),
        );
        assert_eq!(handler.run(&claimed(job.clone())).await, Ok(()));

        let mut broken = job;
        broken.payload = broken.payload.replace("new@example.com", "not an address");
        assert!(handler.run(&claimed(broken)).await.is_err());
    }

    #[test]
    fn links_live_under_the_public_base_url() {
        let links = MailLinks::new("https://app.example.com/");
        assert_eq!(
            links.link(P::EmailVerification, "abc"),
            "https://app.example.com/verify-email?token=abc"
        );
        assert_eq!(
            links.link(P::PasswordReset, "abc"),
            "https://app.example.com/reset-password?token=abc"
        );
    }

    #[tokio::test]
    async fn the_mail_carries_the_token_its_seal_opens_to_and_a_failed_send_fails_the_run() {
        let job = mail_job(&queued(Some("jane@example.com")), Utc::now()).expect("job");
        assert_eq!(job.kind, JobKind::SendMail);
        assert!(job.max_attempts >= 3, "mail is retried");
        assert!(!job.payload.contains("tok-1"), "the token is not stored");
        let mut mailer = MockMailer::new();
        mailer.expect_backend().return_const("mock");
        let mut answers = vec![Ok(()), Err(MailError::Delivery("421 try later".into()))];
        mailer
            .expect_send()
            .withf(|m| {
                m.to.as_ref() == "jane@example.com"
                    && m.text == "https://app.example.com/reset-password?token=tok-1"
            })
            .times(2)
            .returning(move |_| answers.pop().unwrap_or(Ok(())));
        let handler = SendMail::new(
            Arc::new(mailer),
            Arc::new(templates()),
            Arc::new(tokens()),
            MailLinks::new("https://app.example.com"),
        );
        assert_eq!(handler.kind(), JobKind::SendMail);
        assert_eq!(handler.period(), None);
        let failed = handler.run(&claimed(job.clone())).await;
        assert!(
            matches!(&failed, Err(JobFailure(reason)) if reason.contains("421")),
            "{failed:?}"
        );
        assert_eq!(handler.run(&claimed(job)).await, Ok(()));
    }

    #[tokio::test]
    async fn a_mail_without_recipient_sends_nothing_and_bad_payloads_fail() {
        let mut mailer = MockMailer::new();
        mailer.expect_backend().return_const("mock");
        mailer.expect_send().never();
        let handler = SendMail::new(
            Arc::new(mailer),
            Arc::new(templates()),
            Arc::new(tokens()),
            MailLinks::new("http://localhost"),
        );
        let nobody = mail_job(&queued(None), Utc::now()).expect("job");
        assert_eq!(handler.run(&claimed(nobody)).await, Ok(()));

        let mut forged = queued(Some("jane@example.com"));
        forged.seal = "not-ours".into();
        let forged = mail_job(&forged, Utc::now()).expect("job");
        assert!(handler.run(&claimed(forged)).await.is_err());

        let mut unreadable = mail_job(&queued(None), Utc::now()).expect("job");
        unreadable.payload = "{".into();
        assert!(handler.run(&claimed(unreadable)).await.is_err());
    }
}
