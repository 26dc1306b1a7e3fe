//! Users: registration, reading, listing, changes, passwords, moderation, deletion and
//! the first admin. Each use case is a method of [`UserService`] in its own module.

pub mod admin;
pub mod delete;
pub mod moderation;
pub mod password;
pub mod ports;
pub mod queries;
pub mod register;
pub mod update;

use std::sync::Arc;

use vidgen_domain::users::EmailDomainPolicy;

use crate::clock::Clock;
use ports::{OwnedContent, PasswordHasher, UserRepository, VerificationMail};

/// Behaviour of the user use cases that comes from configuration.
#[derive(Debug, Clone, Default)]
pub struct UserSettings {
    pub email_policy: EmailDomainPolicy,
    /// New users start `pending_verification` instead of `active`.
    pub require_email_verification: bool,
}

/// Runs the user use cases.
#[derive(Clone)]
pub struct UserService {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    settings: UserSettings,
    owned: Vec<Arc<dyn OwnedContent>>,
    verification: Option<Arc<dyn VerificationMail>>,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl UserService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        settings: UserSettings,
    ) -> Self {
        Self {
            users,
            hasher,
            clock,
            settings,
            owned: Vec::new(),
            verification: None,
        }
    }

    /// Also removes what users own when they are deleted (each call adds one more kind:
    /// videos, the avatar, ...).
    #[must_use]
    pub fn with_owned_content(mut self, owned: Arc<dyn OwnedContent>) -> Self {
        self.owned.push(owned);
        self
    }

    /// Also mails a verification when an account becomes `pending_verification`
    /// (registration, change of address).
    #[must_use]
    pub fn with_verification_mail(mut self, verification: Arc<dyn VerificationMail>) -> Self {
        self.verification = Some(verification);
        self
    }

    /// Queues the verification e-mail of a pending account. A failure is logged, never
    /// passed on: the change that caused it is committed, and the user can ask for
    /// another e-mail (`POST /api/v1/users/verify-email/resend`).
    async fn mail_verification(&self, user: &vidgen_domain::users::User) {
        if user.status != vidgen_domain::users::UserStatus::PendingVerification {
            return;
        }
        if let Some(verification) = &self.verification
            && let Err(error) = verification.send_verification(user).await
        {
            tracing::error!(user_id = %user.id, error = ?error, "cannot queue the verification e-mail");
        }
    }
}

#[cfg(test)]
mod tests;
