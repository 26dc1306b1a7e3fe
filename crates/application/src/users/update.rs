//! Changing a user's username, name or email (PUT replaces all three, PATCH any subset).
//! A user who changes their own address proves it with their password, and the old
//! address is told.

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{Email, PersonName, PlainPassword, User, UserId, UserStatus, Username};

use super::UserService;
use super::ports::{UserChanges, UserWriteError};
use crate::mail::EmailChangedMail;
use crate::mail::send::email_changed_job;
use crate::validation::FieldViolation;

/// The fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub username: Option<Username>,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    /// The caller's password: needed when users change their own address (a stolen
    /// access token alone must not be able to move an account to another mailbox).
    pub current_password: Option<PlainPassword>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("user not found")]
    NotFound,
    #[error("the caller may not change this user")]
    Forbidden,
    /// The `current_password` given for a change of one's own address is wrong.
    #[error("the current password is not correct")]
    WrongPassword,
    #[error("the change breaks {} rule(s)", .0.len())]
    Invalid(Vec<FieldViolation>),
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("updating the user failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<UserWriteError> for UpdateUserError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::EmailTaken => Self::EmailTaken,
            UserWriteError::UsernameTaken => Self::UsernameTaken,
            UserWriteError::NotFound => Self::NotFound,
            UserWriteError::Storage(e) => Self::Unexpected(Box::new(e)),
        }
    }
}

impl From<crate::storage::RepositoryError> for UpdateUserError {
    fn from(error: crate::storage::RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl UserService {
    /// Applies the changes (self or admin). A new address needs the user's
    /// `current_password` when they change their own; in the same transaction as the
    /// change, a notice to the old address is queued. With e-mail verification required,
    /// a new address makes an active account `pending_verification` and queues a
    /// verification e-mail to it.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator; `Invalid` when the
    /// new e-mail's domain is not allowed, a plain user picks a reserved username, or a
    /// user changes their own address without `current_password`; `WrongPassword` when
    /// that password is wrong; `EmailTaken` / `UsernameTaken` for duplicates.
    #[tracing::instrument(skip(self, changes))]
    pub async fn update(
        &self,
        actor: Actor,
        id: UserId,
        changes: UpdateUser,
    ) -> Result<User, UpdateUserError> {
        match policy::can_update_user(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(UpdateUserError::NotFound),
            Access::Forbidden => return Err(UpdateUserError::Forbidden),
        }
        let current = self.users.get(id).await?.ok_or(UpdateUserError::NotFound)?;

        let mut violations = Vec::new();
        if let Some(email) = &changes.email
            && let Err(error) = self.settings.email_policy.check(email)
        {
            violations.push(FieldViolation::new(
                "email",
                "email_domain",
                error.to_string(),
            ));
        }
        if let Some(username) = &changes.username
            && !username
                .as_ref()
                .eq_ignore_ascii_case(current.username.as_ref())
            && !actor.is_admin()
        {
            violations.extend(super::register::reserved(username));
        }
        let new_address = changes
            .email
            .as_ref()
            .filter(|email| **email != current.email);
        let own_change = actor.id == id;
        let proof = match (new_address, own_change, changes.current_password) {
            (Some(_), true, None) => {
                violations.push(FieldViolation::new(
                    "current_password",
                    "missing",
                    "field required to change your own e-mail address",
                ));
                None
            }
            (Some(_), true, Some(password)) => Some(password),
            _ => None,
        };
        if !violations.is_empty() {
            return Err(UpdateUserError::Invalid(violations));
        }
        if let Some(password) = proof {
            let (_, hash) = self
                .users
                .get_credentials_by_id(id)
                .await?
                .ok_or(UpdateUserError::NotFound)?;
            let matches = self
                .hasher
                .verify(password, hash)
                .await
                .map_err(|e| UpdateUserError::Unexpected(Box::new(e)))?;
            if !matches {
                return Err(UpdateUserError::WrongPassword);
            }
        }
        let now = self.clock.now();
        let notice = new_address
            .map(|new_address| {
                email_changed_job(
                    &EmailChangedMail {
                        to: current.email.clone(),
                        name: current.name.to_string(),
                        new_address: new_address.clone(),
                    },
                    now,
                )
            })
            .transpose()
            .map_err(|e| UpdateUserError::Unexpected(Box::new(e)))?;

        // A new address must be verified when verification is required: an active
        // account waits for it as `pending_verification` (other statuses stay).
        let new_address = new_address.is_some();
        let status = (new_address
            && self.settings.require_email_verification
            && current.status == UserStatus::Active)
            .then_some(UserStatus::PendingVerification);
        let user = self
            .users
            .update(
                id,
                UserChanges {
                    username: changes.username,
                    name: changes.name,
                    email: changes.email,
                    status,
                    enqueue: notice,
                    ..UserChanges::default()
                },
                now,
            )
            .await?;
        if new_address {
            tracing::info!(user_id = %id, by_self = own_change, "e-mail address changed; the old address is told");
        }
        if new_address && self.settings.require_email_verification {
            self.mail_verification(&user).await;
        }
        Ok(user)
    }
}
