//! Profiles: a user's address and preferences, and their avatar picture. Each use case
//! is a method of [`ProfileService`] in its own module.

pub mod avatar;
pub mod ports;
pub mod read;
pub mod replace;

use std::sync::Arc;

use crate::clock::Clock;
use crate::media_links::MediaLinks;
use crate::users::ports::UserRepository;
use crate::videos::ports::MediaStore;
use ports::{AvatarImages, ProfileRepository};

/// The adapters the profile use cases need.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct ProfilePorts {
    pub users: Arc<dyn UserRepository>,
    pub profiles: Arc<dyn ProfileRepository>,
    pub images: Arc<dyn AvatarImages>,
    pub media: Arc<dyn MediaStore>,
    pub clock: Arc<dyn Clock>,
}

/// Runs the profile and avatar use cases.
#[derive(Clone)]
pub struct ProfileService {
    ports: ProfilePorts,
    max_avatar_bytes: u64,
    /// Checks the signed links of avatars (none: only the bearer token opens them).
    links: Option<MediaLinks>,
}

impl std::fmt::Debug for ProfileService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileService")
            .field("max_avatar_bytes", &self.max_avatar_bytes)
            .finish_non_exhaustive()
    }
}

impl ProfileService {
    /// `max_avatar_bytes` is `MAX_AVATAR_BYTES`: the largest avatar file accepted.
    pub fn new(ports: ProfilePorts, max_avatar_bytes: u64) -> Self {
        Self {
            ports,
            max_avatar_bytes,
            links: None,
        }
    }

    /// Avatars also open through links signed by `links` (see [`crate::media_links`]).
    #[must_use]
    pub fn with_media_links(mut self, links: MediaLinks) -> Self {
        self.links = Some(links);
        self
    }

    /// The largest avatar file accepted, in bytes.
    pub fn max_avatar_bytes(&self) -> u64 {
        self.max_avatar_bytes
    }
}

#[cfg(test)]
mod tests;
