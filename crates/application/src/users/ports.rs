//! The ports the user use cases need: storage of users and hashing of passwords.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use vidgen_domain::listing::{Page, Paged, SortOrder};
use vidgen_domain::users::{
    Age, Email, PersonName, PlainPassword, Role, User, UserId, UserStatus, Username,
};

use crate::jobs::NewJob;
use crate::storage::RepositoryError;

/// A password hash in PHC string format (`$argon2id$v=19$...`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// A user to store.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub name: PersonName,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub role: Role,
    pub status: UserStatus,
    pub age: Option<Age>,
    pub birth_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// Changes to a stored user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub username: Option<Username>,
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
    pub password_hash: Option<PasswordHash>,
    /// Increment the token version, so access tokens issued before stop working, and
    /// revoke every refresh token of the user in the same transaction (refresh tokens are
    /// bound to the version), so the change and the revocation commit together.
    pub bump_token_version: bool,
    /// With `bump_token_version`: keep the user's live refresh tokens, bound to the new
    /// version, instead of revoking them (a role change: the next refresh issues an access
    /// token with the new role).
    pub keep_refresh_tokens: bool,
    /// `Some(Some(key))` sets the avatar's media key, `Some(None)` clears it.
    pub avatar_key: Option<Option<String>>,
    /// A job enqueued in the same transaction as the change, so the two commit together
    /// (the notice of an address change to the old address).
    pub enqueue: Option<NewJob>,
}

/// Why a user could not be written.
#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Columns a user list may be sorted by (a closed set: anything else is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UserSortField {
    Id,
    Username,
    Email,
    Name,
    #[default]
    CreatedAt,
    UpdatedAt,
}

impl UserSortField {
    pub const ALL: [Self; 6] = [
        Self::Id,
        Self::Username,
        Self::Email,
        Self::Name,
        Self::CreatedAt,
        Self::UpdatedAt,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Username => "username",
            Self::Email => "email",
            Self::Name => "name",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

/// Which users to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct UserQuery {
    pub page: Page,
    /// Case-insensitive substring of name, email or username.
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    pub role: Option<Role>,
    pub sort_by: UserSortField,
    pub sort_order: SortOrder,
}

/// Storage of users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user with token version 0.
    ///
    /// # Errors
    /// `EmailTaken` / `UsernameTaken` when another user has the same email or username
    /// ignoring case (enforced by unique indexes, so also under concurrent inserts).
    async fn insert(&self, user: NewUser) -> Result<User, UserWriteError>;

    /// # Errors
    /// A storage failure.
    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// Finds a user by username, ignoring case.
    ///
    /// # Errors
    /// A storage failure.
    async fn get_by_username(&self, username: &str) -> Result<Option<User>, RepositoryError>;

    /// Finds a user and their password hash by username or email, ignoring case.
    ///
    /// # Errors
    /// A storage failure.
    async fn get_credentials(
        &self,
        login: &str,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError>;

    /// A user and their password hash, by id.
    ///
    /// # Errors
    /// A storage failure.
    async fn get_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError>;

    /// One page of the users matching the query, with the total number of matches.
    ///
    /// # Errors
    /// A storage failure.
    async fn list(&self, query: &UserQuery) -> Result<Paged<User>, RepositoryError>;

    /// Applies the changes and sets `updated_at`.
    ///
    /// # Errors
    /// `NotFound` when the user does not exist; `EmailTaken` / `UsernameTaken` as for
    /// `insert`.
    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: DateTime<Utc>,
    ) -> Result<User, UserWriteError>;

    /// Deletes the user and everything that belongs to them (refresh tokens, ...).
    /// Returns whether the user existed.
    ///
    /// # Errors
    /// A storage failure.
    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError>;

    /// Whether at least one admin exists.
    ///
    /// # Errors
    /// A storage failure.
    async fn admin_exists(&self) -> Result<bool, RepositoryError>;
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The source of a [`HashError`] when hashing is saturated (its queue is full): the
/// request was refused at once and may be retried later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct HashingOverloaded;

impl HashError {
    /// The error for a full hashing queue.
    pub fn overloaded() -> Self {
        Self(Box::new(HashingOverloaded))
    }

    /// Whether the hashing queue was full (rather than the hashing broken).
    pub fn is_overloaded(&self) -> bool {
        self.0.is::<HashingOverloaded>()
    }
}

/// A place held in the hashing queue for one verification to come, taken with
/// [`PasswordHasher::reserve`]; dropping it unused gives the place back.
pub struct HashSlot(Box<dyn std::any::Any + Send + Sync>);

impl HashSlot {
    /// A slot holding `place` (what the hasher needs to recognise its own slots).
    pub fn new(place: impl std::any::Any + Send + Sync) -> Self {
        Self(Box::new(place))
    }

    /// The place this slot holds, for the hasher that made it.
    pub fn into_place(self) -> Box<dyn std::any::Any + Send + Sync> {
        self.0
    }
}

impl std::fmt::Debug for HashSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashSlot")
    }
}

/// Hashing and verification of passwords. Both are slow on purpose and run off the
/// async workers, through a bounded queue: when it is full they fail at once with
/// [`HashError::overloaded`] instead of waiting.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// `overloaded` when the queue is full; otherwise the hashing pool failed.
    async fn hash(&self, password: PlainPassword) -> Result<PasswordHash, HashError>;

    /// Whether `password` matches `hash`. A hash that cannot be parsed is "no match".
    ///
    /// # Errors
    /// `overloaded` when the queue is full; otherwise the hashing pool failed.
    async fn verify(&self, password: PlainPassword, hash: PasswordHash) -> Result<bool, HashError>;

    /// Takes a place in the queue for a verification to come, so that a caller with work
    /// to do before it (reading the stored hash) is refused before that work, not after,
    /// when the queue is full.
    ///
    /// # Errors
    /// `overloaded` when the queue is full.
    fn reserve(&self) -> Result<HashSlot, HashError>;

    /// [`PasswordHasher::verify`] in the place `slot` holds (a slot of another hasher is
    /// dropped, and a place taken as `verify` takes one).
    ///
    /// # Errors
    /// As for `verify`.
    async fn verify_reserved(
        &self,
        slot: HashSlot,
        password: PlainPassword,
        hash: PasswordHash,
    ) -> Result<bool, HashError>;

    /// A valid hash of a random password, verified against when a login names an
    /// unknown user so that both answers take the same time.
    fn dummy_hash(&self) -> PasswordHash;
}

/// Sends the e-mail that verifies a user's address (implemented by the account service).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VerificationMail: Send + Sync {
    /// Queues a verification e-mail to the user's current address, with a new token
    /// (the user's earlier verification tokens stop working).
    ///
    /// # Errors
    /// A storage failure (then nothing was queued).
    async fn send_verification(&self, user: &User) -> Result<(), RepositoryError>;
}

/// Whatever else a user owns (videos and their files), removed before the user is.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OwnedContent: Send + Sync {
    /// Stops work on and removes the files of everything `owner` owns.
    ///
    /// # Errors
    /// A storage failure.
    async fn purge(&self, owner: UserId) -> Result<(), RepositoryError>;
}
