//! Avatars: setting one from an uploaded picture (re-encoded, see
//! [`AvatarImages`](super::ports::AvatarImages)), removing it, and reading it. The old
//! file goes whenever the avatar is replaced or removed, and with the user.

use async_trait::async_trait;
use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::profile::ImageFormat;
use vidgen_domain::users::{User, UserId};

use super::ProfileService;
use super::ports::ImageError;
use crate::media_links::LinkSignature;
use crate::storage::RepositoryError;
use crate::users::ports::{OwnedContent, UserChanges, UserWriteError};
use crate::videos::ports::MediaError;

#[derive(Debug, thiserror::Error)]
pub enum SetAvatarError {
    /// Missing, or not visible to the caller.
    #[error("user not found")]
    NotFound,
    /// Visible (a moderator), but not theirs to change.
    #[error("the caller may not change this avatar")]
    Forbidden,
    #[error("the picture exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is not a PNG, JPEG or WebP picture that can be read")]
    Unsupported,
    #[error("the picture declares {width}x{height} pixels, more than may be decoded")]
    TooManyPixels { width: u32, height: u32 },
    #[error("storing the avatar failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for SetAvatarError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteAvatarError {
    /// Missing, or not visible to the caller.
    #[error("user not found")]
    NotFound,
    /// Visible (a moderator), but not theirs to change.
    #[error("the caller may not change this avatar")]
    Forbidden,
    #[error("removing the avatar failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for DeleteAvatarError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GetAvatarError {
    #[error("user not found")]
    NotFound,
    #[error("this user has no avatar")]
    NoAvatar,
    #[error("reading the avatar failed")]
    Unexpected(#[from] RepositoryError),
    #[error("reading the avatar's file failed")]
    Media(#[from] MediaError),
}

/// A stored avatar picture, opened for serving.
pub type AvatarFile = crate::videos::ports::MediaFile;

/// The format of a stored avatar, from its key's extension.
fn format_of(key: &str) -> Option<ImageFormat> {
    key.rsplit_once('.')
        .and_then(|(_, extension)| ImageFormat::from_extension(extension))
}

impl ProfileService {
    fn may_change(actor: Actor, id: UserId) -> Access {
        policy::can_update_user(actor, id)
    }

    /// Removes a media file no row refers to any more; a failure only leaves an orphan
    /// for the media sweep, so it is logged, not reported.
    async fn discard(&self, key: &str) {
        if let Err(error) = self.ports.media.remove(key).await {
            tracing::warn!(key, error = ?error, "cannot remove an old avatar file");
        }
    }

    /// Writes the bytes as a new media file and returns its key.
    async fn store(&self, format: ImageFormat, bytes: &[u8]) -> Result<String, MediaError> {
        let key = self.ports.media.new_key(format.extension());
        let staged = self.ports.media.staging_path(&key);
        if let Err(error) = tokio::fs::write(&staged, bytes).await {
            self.discard(&key).await;
            return Err(MediaError(error));
        }
        if let Err(error) = self.ports.media.commit(&key).await {
            self.discard(&key).await;
            return Err(error);
        }
        Ok(key)
    }

    /// Sets the user's avatar from the picture in `bytes` (at most `MAX_AVATAR_BYTES`),
    /// stored re-encoded; the previous avatar's file is removed.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator; `TooLarge`,
    /// `Unsupported` and `TooManyPixels` for a file that cannot be an avatar.
    #[tracing::instrument(skip(self, bytes), fields(bytes = bytes.len()))]
    pub async fn set_avatar(
        &self,
        actor: Actor,
        id: UserId,
        bytes: Vec<u8>,
    ) -> Result<User, SetAvatarError> {
        match Self::may_change(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(SetAvatarError::NotFound),
            Access::Forbidden => return Err(SetAvatarError::Forbidden),
        }
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > self.max_avatar_bytes {
            return Err(SetAvatarError::TooLarge {
                limit: self.max_avatar_bytes,
            });
        }
        let before = self
            .ports
            .users
            .get(id)
            .await?
            .ok_or(SetAvatarError::NotFound)?;
        let image = self
            .ports
            .images
            .normalize(bytes)
            .await
            .map_err(|error| match error {
                ImageError::Unsupported => SetAvatarError::Unsupported,
                ImageError::TooManyPixels { width, height } => {
                    SetAvatarError::TooManyPixels { width, height }
                }
                ImageError::Unexpected(source) => SetAvatarError::Unexpected(source),
            })?;
        let key = self
            .store(image.format, &image.bytes)
            .await
            .map_err(|error| SetAvatarError::Unexpected(Box::new(error)))?;
        let changes = UserChanges {
            avatar_key: Some(Some(key.clone())),
            ..UserChanges::default()
        };
        let user = match self
            .ports
            .users
            .update(id, changes, self.ports.clock.now())
            .await
        {
            Ok(user) => user,
            Err(error) => {
                self.discard(&key).await;
                return Err(match error {
                    UserWriteError::NotFound => SetAvatarError::NotFound,
                    other => SetAvatarError::Unexpected(Box::new(other)),
                });
            }
        };
        if let Some(old) = before.avatar_key.filter(|old| *old != key) {
            self.discard(&old).await;
        }
        tracing::info!(width = image.width, height = image.height, "avatar stored");
        Ok(user)
    }

    /// Removes the user's avatar and its file; without one, nothing changes.
    ///
    /// # Errors
    /// `NotFound` when hidden or missing; `Forbidden` for a moderator.
    #[tracing::instrument(skip(self))]
    pub async fn remove_avatar(&self, actor: Actor, id: UserId) -> Result<(), DeleteAvatarError> {
        match Self::may_change(actor, id) {
            Access::Allowed => {}
            Access::Hidden => return Err(DeleteAvatarError::NotFound),
            Access::Forbidden => return Err(DeleteAvatarError::Forbidden),
        }
        let user = self
            .ports
            .users
            .get(id)
            .await?
            .ok_or(DeleteAvatarError::NotFound)?;
        let Some(old) = user.avatar_key else {
            return Ok(());
        };
        let changes = UserChanges {
            avatar_key: Some(None),
            ..UserChanges::default()
        };
        self.ports
            .users
            .update(id, changes, self.ports.clock.now())
            .await
            .map_err(|error| match error {
                UserWriteError::NotFound => DeleteAvatarError::NotFound,
                other => DeleteAvatarError::Unexpected(Box::new(other)),
            })?;
        self.discard(&old).await;
        tracing::info!("avatar removed");
        Ok(())
    }

    /// The avatar of any user, for any authenticated caller.
    ///
    /// # Errors
    /// `NotFound` when the user is missing; `NoAvatar` when they have none.
    #[tracing::instrument(skip(self))]
    pub async fn avatar(&self, id: UserId) -> Result<AvatarFile, GetAvatarError> {
        let user = self
            .ports
            .users
            .get(id)
            .await?
            .ok_or(GetAvatarError::NotFound)?;
        self.avatar_of(user).await
    }

    /// The avatar opened by a signed link to `path` instead of a bearer token.
    ///
    /// # Errors
    /// `NotFound` for a missing user, one who may no longer log in, and every signature
    /// that is not this path's, this user's current one and unexpired (a bad link looks
    /// like a missing user); then as for [`ProfileService::avatar`].
    #[tracing::instrument(skip(self, link))]
    pub async fn avatar_by_link(
        &self,
        id: UserId,
        path: &str,
        link: &LinkSignature,
    ) -> Result<AvatarFile, GetAvatarError> {
        let links = self.links.as_ref().ok_or(GetAvatarError::NotFound)?;
        let user = self
            .ports
            .users
            .get(id)
            .await?
            .filter(|user| user.status.can_log_in())
            .ok_or(GetAvatarError::NotFound)?;
        if !links.verify(path, user.token_version, link) {
            return Err(GetAvatarError::NotFound);
        }
        self.avatar_of(user).await
    }

    async fn avatar_of(&self, user: User) -> Result<AvatarFile, GetAvatarError> {
        let key = user.avatar_key.ok_or(GetAvatarError::NoAvatar)?;
        let format = format_of(&key).unwrap_or(ImageFormat::Png);
        let content_type = format.content_type().to_owned();
        Ok(AvatarFile::open(self.ports.media.clone(), key, content_type).await?)
    }
}

/// A deleted user's avatar goes with them: the row stops referring to it first, so a
/// failed deletion never leaves a user pointing at a missing file.
#[async_trait]
impl OwnedContent for ProfileService {
    async fn purge(&self, owner: UserId) -> Result<(), RepositoryError> {
        let Some(user) = self.ports.users.get(owner).await? else {
            return Ok(());
        };
        let Some(key) = user.avatar_key else {
            return Ok(());
        };
        let changes = UserChanges {
            avatar_key: Some(None),
            ..UserChanges::default()
        };
        match self
            .ports
            .users
            .update(owner, changes, self.ports.clock.now())
            .await
        {
            Ok(_) | Err(UserWriteError::NotFound) => {}
            Err(UserWriteError::Storage(error)) => return Err(error),
            Err(other) => return Err(RepositoryError::new(other)),
        }
        self.discard(&key).await;
        Ok(())
    }
}
