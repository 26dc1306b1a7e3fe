//! Changing a user's username, name or email (PUT replaces all three, PATCH any subset).

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{Email, PersonName, User, UserId, UserStatus, Username};

use super::UserService;
use super::ports::{UserChanges, UserWriteError};
use crate::validation::FieldViolation;

/// The fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub username: Option<Username>,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("user not found")]
    NotFound,
    #[error("the caller may not change this user")]
    Forbidden,
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
    /// Applies the changes (self or admin). With e-mail verification required, a new
    /// address makes an active account `pending_verification` and queues a verification
    /// e-mail to it.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator; `Invalid` when the
    /// new e-mail's domain is not allowed or a plain user picks a reserved username;
    /// `EmailTaken` / `UsernameTaken` for duplicates.
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
        if !violations.is_empty() {
            return Err(UpdateUserError::Invalid(violations));
        }

        // A new address must be verified when verification is required: an active
        // account waits for it as `pending_verification` (other statuses stay).
        let new_address = changes
            .email
            .as_ref()
            .is_some_and(|email| *email != current.email);
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
                    ..UserChanges::default()
                },
                self.clock.now(),
            )
            .await?;
        if new_address && self.settings.require_email_verification {
            self.mail_verification(&user).await;
        }
        Ok(user)
    }
}
