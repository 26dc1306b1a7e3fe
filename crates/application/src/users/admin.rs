//! The first admin: created from the command line or from `ADMIN_*` settings at start-up.
//! The reserved-name rule guards public registration only, so `admin` is allowed here.

use vidgen_domain::users::{Email, PersonName, PlainPassword, Role, User, UserStatus, Username};

use super::UserService;
use super::ports::NewUser;
use super::register::{RegisterUserError, account_violations};

#[derive(Debug, Clone)]
pub struct CreateAdmin {
    pub username: Username,
    pub name: PersonName,
    pub email: Email,
    pub password: PlainPassword,
}

/// What `ensure_admin` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminBootstrap {
    Created(User),
    AlreadyPresent,
}

impl UserService {
    /// Creates an active admin.
    ///
    /// # Errors
    /// As for registration, except that reserved usernames are allowed.
    #[tracing::instrument(skip_all, fields(username = %request.username))]
    pub async fn create_admin(&self, request: CreateAdmin) -> Result<User, RegisterUserError> {
        let now = self.clock.now();
        let violations = account_violations(
            &request.email,
            &request.password,
            None,
            None,
            now.date_naive(),
            &self.settings.email_policy,
        );
        if !violations.is_empty() {
            return Err(RegisterUserError::Invalid(violations));
        }
        let password_hash = self
            .hasher
            .hash(request.password)
            .await
            .map_err(|e| RegisterUserError::Unexpected(Box::new(e)))?;
        let user = self
            .users
            .insert(NewUser {
                username: request.username,
                name: request.name,
                email: request.email,
                password_hash,
                role: Role::Admin,
                status: UserStatus::Active,
                age: None,
                birth_date: None,
                created_at: now,
            })
            .await?;
        tracing::info!(user_id = %user.id, "admin created");
        Ok(user)
    }

    /// Creates the admin unless one exists already.
    ///
    /// # Errors
    /// As for [`UserService::create_admin`].
    pub async fn ensure_admin(
        &self,
        request: CreateAdmin,
    ) -> Result<AdminBootstrap, RegisterUserError> {
        if self.users.admin_exists().await? {
            return Ok(AdminBootstrap::AlreadyPresent);
        }
        self.create_admin(request)
            .await
            .map(AdminBootstrap::Created)
    }
}
