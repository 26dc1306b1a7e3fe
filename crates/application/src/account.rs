//! The account lifecycle: e-mail verification (and its resend), password recovery and
//! password reset. Each use case is a method of [`AccountService`] in its own module; the
//! e-mails they cause are durable `send_mail` jobs ([`crate::mail::send`]), written in the
//! same transaction as the single-use token they carry.

pub mod ports;
pub mod recovery;
pub mod reset;
pub mod verification;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use vidgen_domain::users::account_tokens::AccountTokenPurpose;
use vidgen_domain::users::{Email, User};

use crate::clock::Clock;
use crate::mail::send::{QueuedMail, mail_job};
use crate::storage::RepositoryError;
use crate::users::ports::{PasswordHasher, UserRepository};
use ports::{AccountTokenRepository, AccountTokens, NewAccountToken};

/// Runs the account-lifecycle use cases.
#[derive(Clone)]
pub struct AccountService {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn AccountTokenRepository>,
    secrets: Arc<dyn AccountTokens>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService").finish_non_exhaustive()
    }
}

/// The adapters the account lifecycle needs.
#[allow(missing_debug_implementations)]
pub struct AccountPorts {
    pub users: Arc<dyn UserRepository>,
    pub tokens: Arc<dyn AccountTokenRepository>,
    pub secrets: Arc<dyn AccountTokens>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
}

impl AccountService {
    pub fn new(ports: AccountPorts) -> Self {
        Self {
            users: ports.users,
            tokens: ports.tokens,
            secrets: ports.secrets,
            hasher: ports.hasher,
            clock: ports.clock,
        }
    }

    /// Issues a new `purpose` token for `user` (or, without one, does the same work for
    /// `email` and stores only a mail job that sends nothing) and queues its e-mail, in
    /// one transaction.
    async fn issue(
        &self,
        purpose: AccountTokenPurpose,
        user: Option<&User>,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let secret = self.secrets.generate();
        let lifetime =
            chrono::Duration::from_std(purpose.lifetime()).map_err(RepositoryError::new)?;
        let mail = mail_job(
            &QueuedMail {
                purpose,
                to: user.map(|_| email.clone()),
                name: user.map(|u| u.name.to_string()).unwrap_or_default(),
                seal: secret.seal,
            },
            now,
        )
        .map_err(RepositoryError::new)?;
        self.tokens
            .issue(
                NewAccountToken {
                    user_id: user.map(|u| u.id),
                    purpose,
                    hash: secret.hash,
                    email: email.clone(),
                    created_at: now,
                    expires_at: now + lifetime,
                },
                mail,
            )
            .await
    }
}

#[cfg(test)]
mod tests;
