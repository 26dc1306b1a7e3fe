//! Reading users: one by id, one by username (public view), and lists.

use vidgen_domain::listing::Paged;
use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{User, UserId};

use super::UserService;
use super::ports::UserQuery;
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    /// No such user, or one the caller may not see.
    #[error("user not found")]
    NotFound,
    #[error("reading the user failed")]
    Unexpected(#[from] RepositoryError),
}

#[derive(Debug, thiserror::Error)]
pub enum ListUsersError {
    #[error("listing users requires the admin or moderator role")]
    Forbidden,
    #[error("listing users failed")]
    Unexpected(#[from] RepositoryError),
}

impl UserService {
    /// The user with this id, if the actor may see them.
    ///
    /// # Errors
    /// `NotFound` when the user does not exist or is hidden from the actor.
    #[tracing::instrument(skip(self))]
    pub async fn get(&self, actor: Actor, id: UserId) -> Result<User, GetUserError> {
        if policy::can_view_user(actor, id) != Access::Allowed {
            return Err(GetUserError::NotFound);
        }
        self.users.get(id).await?.ok_or(GetUserError::NotFound)
    }

    /// Any authenticated caller may look a user up by username (public fields only are
    /// shown by the HTTP layer).
    ///
    /// # Errors
    /// `NotFound` when no user has this username.
    #[tracing::instrument(skip(self))]
    pub async fn get_by_username(&self, username: &str) -> Result<User, GetUserError> {
        // No stored username holds a control character, and some databases refuse them.
        if vidgen_domain::text::check_single_line(username).is_err() {
            return Err(GetUserError::NotFound);
        }
        self.users
            .get_by_username(username)
            .await?
            .ok_or(GetUserError::NotFound)
    }

    /// One page of users (admins and moderators only).
    ///
    /// # Errors
    /// `Forbidden` for other roles.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        actor: Actor,
        query: UserQuery,
    ) -> Result<Paged<User>, ListUsersError> {
        if policy::can_list_users(actor) != Access::Allowed {
            return Err(ListUsersError::Forbidden);
        }
        Ok(self.users.list(&query).await?)
    }
}
