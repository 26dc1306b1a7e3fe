//! Keeping in-memory caches coherent across instances.
//!
//! A cache of something stored in the database (the users that authentication reads) is
//! only safe with several instances if a write on one of them reaches the caches of all
//! the others. [`InvalidationBus`] is that channel: the cache that saw the write
//! publishes the [`CacheKey`] it changed, and every other instance's
//! [`InvalidationListener`] drops the entry as soon as the message arrives.
//!
//! A channel can fail. [`InvalidationBus::coherence`] says whether it works now: while it
//! is [`Coherence::Degraded`] a cache may keep an entry only briefly (a short fallback
//! TTL), and when the channel comes back, messages may have been missed, so the bus
//! starts a new epoch and asks its listeners to forget everything
//! ([`InvalidationListener::invalidate_all`]). An entry cached during an earlier epoch is
//! no longer trusted by its epoch alone.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use vidgen_domain::users::UserId;

/// What a cache entry holds, named the same on every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// A user by id: status, role, token version, profile fields.
    User(UserId),
    /// Some video: the pages of video lists.
    Videos,
}

/// Whether remote invalidations reach this instance now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coherence {
    /// Every invalidation published by another instance during `epoch` reaches this
    /// instance's listeners. The epoch changes whenever the channel was interrupted.
    Live { epoch: u64 },
    /// The channel is down: invalidations from other instances may be lost.
    Degraded,
}

/// Receives the invalidations other instances publish. Called from the bus's own task:
/// implementations do not block.
pub trait InvalidationListener: Send + Sync {
    /// Another instance changed what `key` names.
    fn invalidate(&self, key: CacheKey);
    /// Invalidations may have been missed (the channel was interrupted, or another
    /// instance could not publish one): forget every entry.
    fn invalidate_all(&self);
}

/// The channel between the instances' caches.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InvalidationBus: Send + Sync {
    /// Tells every other instance that what `key` names changed; returns once the
    /// message was handed to the channel, or the attempt failed.
    ///
    /// # Errors
    /// None reach the caller: a write that succeeded is not undone because the channel
    /// failed. The bus records the failure (logged once per outage, counted) and makes
    /// sure the other instances forget everything once it works again.
    async fn publish(&self, key: CacheKey);

    /// Delivers the invalidations other instances publish to `listener` from now on, as
    /// long as the listener lives (the bus holds it weakly).
    fn subscribe(&self, listener: Weak<dyn InvalidationListener>);

    /// Whether remote invalidations reach this instance now.
    fn coherence(&self) -> Coherence;
}

/// Subscribes `listener` to `bus` (a convenience for an `Arc` of a concrete listener).
pub fn subscribe<L: InvalidationListener + 'static>(bus: &dyn InvalidationBus, listener: &Arc<L>) {
    let listener: Arc<dyn InvalidationListener> = listener.clone();
    bus.subscribe(Arc::downgrade(&listener));
}
