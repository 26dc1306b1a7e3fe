//! Adapters that implement vidgen's ports: the database (sea-orm repositories), settings
//! loading, password hashing (argon2id), tokens (JWT, opaque) and, as capabilities
//! arrive, media storage and rendering.
//!
//! sea-orm entities stay private to this crate; no layer above sees them.

pub mod auth;
pub mod avatars;
pub mod database;
pub mod invalidation;
pub mod mail;
pub mod media;
pub mod media_links;
pub mod passwords;
pub mod probe;
pub mod rate_limit;
pub mod redact;
pub mod render;
pub mod repositories;
pub mod settings;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod webhooks;

mod entities;

/// The hasher of the in-process caches on the request path (verified tokens, users,
/// rate-limit cells): foldhash, seeded per cache. std's SipHash over a 200-byte token
/// was 0.5% of a `/users/me`.
pub(crate) type CacheHasher = foldhash::fast::RandomState;
