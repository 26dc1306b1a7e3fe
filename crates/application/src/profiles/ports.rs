//! The ports the profile use cases need: storage of profiles and the processing of
//! avatar pictures.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::users::UserId;
use vidgen_domain::users::profile::{Address, ImageFormat, Preferences};

use crate::storage::RepositoryError;

/// A stored profile (a user without one has no address and empty preferences).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredProfile {
    pub address: Option<Address>,
    pub preferences: Preferences,
}

/// Why a profile could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileWriteError {
    /// The user does not exist (deleted meanwhile).
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

/// Storage of profiles, one per user, gone with the user.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProfileRepository: Send + Sync {
    /// The user's profile, `None` when they never wrote one.
    ///
    /// # Errors
    /// A storage failure.
    async fn get(&self, user: UserId) -> Result<Option<StoredProfile>, RepositoryError>;

    /// Replaces the user's whole profile (creating it on first write).
    ///
    /// # Errors
    /// `UserNotFound` when the user does not exist; otherwise a storage failure.
    async fn put(
        &self,
        user: UserId,
        profile: StoredProfile,
        at: DateTime<Utc>,
    ) -> Result<StoredProfile, ProfileWriteError>;
}

/// A picture re-encoded for storage: no larger than the avatar square, no metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedImage {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Why a picture cannot be an avatar.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The bytes are not a PNG, JPEG or WebP picture, or one that cannot be decoded.
    #[error("the file is not a PNG, JPEG or WebP picture that can be read")]
    Unsupported,
    /// The header declares more pixels than may be decoded (a decompression bomb, or
    /// simply a huge picture), refused before anything is allocated for them.
    #[error("the picture declares {width}x{height} pixels, more than may be decoded")]
    TooManyPixels { width: u32, height: u32 },
    /// The decoding machinery failed (not the picture's fault).
    #[error("processing the picture failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads a picture and re-encodes it for storage. The work is CPU-heavy and runs off
/// the async workers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AvatarImages: Send + Sync {
    /// Decides the format from the bytes (never a declared type), checks the declared
    /// dimensions against the avatar rules before decoding, decodes within memory
    /// limits, scales the picture down into the avatar square and re-encodes it in the
    /// same format, which leaves every metadata block (EXIF, ...) behind.
    ///
    /// # Errors
    /// `Unsupported` for anything but a readable PNG, JPEG or WebP; `TooManyPixels` when
    /// the declared dimensions break the avatar rules; `Unexpected` when the work itself
    /// failed.
    async fn normalize(&self, bytes: Vec<u8>) -> Result<NormalizedImage, ImageError>;
}
