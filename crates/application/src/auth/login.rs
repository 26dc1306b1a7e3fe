//! Login with username or e-mail and password.

use vidgen_domain::users::{PlainPassword, User};

use super::{AuthService, TokenPair, new_family_id};
use crate::storage::RepositoryError;
use crate::users::ports::{HashSlot, PasswordHash};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password: the same answer for both.
    #[error("incorrect username or password")]
    InvalidCredentials,
    /// Correct password, but the account may not log in (suspended, inactive).
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("login failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for LoginError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

/// A login between its two steps: it holds its place in the hashing queue and has read
/// the account its name names (if any), so the caller can count the attempt under the
/// account's key before any password is hashed.
pub struct PendingLogin {
    slot: HashSlot,
    found: Option<(User, PasswordHash)>,
    typed: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// The key under which this attempt is counted: the account's (`user:{id}`, the key
    /// a change of password counts its attempts under too) when the name is a username
    /// or address of one, so every name of an account shares one budget; otherwise the
    /// name as typed, lower-cased.
    pub fn subject(&self) -> String {
        match &self.found {
            Some((user, _)) => format!("user:{}", user.id),
            None => format!("name:{}", self.typed.to_lowercase()),
        }
    }
}

impl AuthService {
    /// Checks the credentials and starts a session: [`Self::begin_login`] then
    /// [`Self::finish_login`].
    ///
    /// # Errors
    /// As for those two.
    pub async fn login(
        &self,
        login: &str,
        password: PlainPassword,
    ) -> Result<TokenPair, LoginError> {
        let pending = self.begin_login(login).await?;
        self.finish_login(pending, password).await
    }

    /// Takes a place in the hashing queue, then reads the account `login` names. The
    /// place comes first: when the queue is full, the login is refused before anything
    /// is read.
    ///
    /// # Errors
    /// `Unexpected` with [`HashError::overloaded`](crate::users::ports::HashError::overloaded)
    /// in its chain when the hashing queue is full, or when the accounts cannot be read.
    pub async fn begin_login(&self, login: &str) -> Result<PendingLogin, LoginError> {
        let slot = self
            .hasher
            .reserve()
            .map_err(|e| LoginError::Unexpected(Box::new(e)))?;
        // No account is named with a control character (and some databases refuse them
        // in a query): such a login is simply unknown, checked like any other.
        let login = login.trim();
        let found = if vidgen_domain::text::check_single_line(login).is_ok() {
            self.users.get_credentials(login).await?
        } else {
            None
        };
        Ok(PendingLogin {
            slot,
            found,
            typed: login.to_owned(),
        })
    }

    /// Checks `password` in the place `pending` holds. An unknown user is checked against
    /// a dummy hash, so both failures take the same time.
    ///
    /// # Errors
    /// `InvalidCredentials` for an unknown user or a wrong password (also when the
    /// password changed while it was being checked); `AccountDisabled` for a correct
    /// password on a suspended or inactive account.
    #[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty))]
    pub async fn finish_login(
        &self,
        pending: PendingLogin,
        password: PlainPassword,
    ) -> Result<TokenPair, LoginError> {
        let PendingLogin { slot, found, .. } = pending;
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, self.hasher.dummy_hash()),
        };
        let matches = self
            .hasher
            .verify_reserved(slot, password, hash)
            .await
            .map_err(|e| LoginError::Unexpected(Box::new(e)))?;
        let user = match user {
            Some(user) if matches => user,
            _ => return Err(LoginError::InvalidCredentials),
        };
        if !user.status.can_log_in() {
            return Err(LoginError::AccountDisabled);
        }
        let now = self.clock.now();
        let access = self
            .access_token(&user, now)
            .map_err(LoginError::Unexpected)?;
        let (refresh_token, stored) = self
            .refresh_token(&user, new_family_id(self.opaque.as_ref()), now)
            .map_err(LoginError::Unexpected)?;
        if !self.refresh_tokens.insert(stored).await? {
            // The password changed (or the account was suspended) while this login was
            // checked: the credentials it was checked against are no longer valid.
            return Err(LoginError::InvalidCredentials);
        }
        let pair = TokenPair {
            access,
            refresh_token,
        };
        tracing::Span::current().record("user_id", user.id.get());
        tracing::info!(user_id = %user.id, "logged in");
        Ok(pair)
    }
}
