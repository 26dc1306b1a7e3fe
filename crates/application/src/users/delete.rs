//! Deleting a user (self or admin); their refresh tokens, videos and avatar go too.

use vidgen_domain::users::UserId;
use vidgen_domain::users::policy::{self, Access, Actor};

use super::UserService;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    #[error("user not found")]
    NotFound,
    #[error("the caller may not delete this user")]
    Forbidden,
    #[error("deleting the user failed")]
    Unexpected(#[from] RepositoryError),
}

impl UserService {
    /// Deletes the user and everything that belongs to them.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator.
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, actor: Actor, id: UserId) -> Result<(), DeleteUserError> {
        match policy::can_delete_user(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(DeleteUserError::NotFound),
            Access::Forbidden => return Err(DeleteUserError::Forbidden),
        }
        for owned in &self.owned {
            owned.purge(id).await?;
        }
        if !self.users.delete(id).await? {
            return Err(DeleteUserError::NotFound);
        }
        tracing::info!("user deleted");
        Ok(())
    }
}
