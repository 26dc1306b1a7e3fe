//! [`InvalidationBus`] adapters: [`LocalInvalidationBus`] for a single instance (no
//! `REDIS_URL`: no other instance can have cached anything), and [`redis`] for several
//! instances sharing a database, on Redis pub/sub. [`FanOutBus`] also hands an
//! instance's own invalidations to its other caches.

pub mod redis;

use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_trait::async_trait;
use vidgen_application::invalidation::{
    CacheKey, Coherence, InvalidationBus, InvalidationListener,
};

/// The bus of a single instance: nothing to publish, nothing ever arrives, and the
/// instance's caches are always coherent (their own writes update them).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalInvalidationBus;

#[async_trait]
impl InvalidationBus for LocalInvalidationBus {
    async fn publish(&self, _key: CacheKey) {}

    fn subscribe(&self, _listener: Weak<dyn InvalidationListener>) {}

    fn coherence(&self) -> Coherence {
        Coherence::Live { epoch: 0 }
    }
}

/// A bus that also delivers what this instance publishes to the listeners registered
/// with [`notify_locally`](Self::notify_locally): caches whose entries depend on rows
/// another cache writes (video list pages name users' videos, which go when the user
/// does). Everything else is the inner bus's.
pub struct FanOutBus {
    inner: Arc<dyn InvalidationBus>,
    local: Mutex<Vec<Weak<dyn InvalidationListener>>>,
}

impl std::fmt::Debug for FanOutBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FanOutBus")
            .field("coherence", &self.inner.coherence())
            .finish_non_exhaustive()
    }
}

impl FanOutBus {
    pub fn new(inner: Arc<dyn InvalidationBus>) -> Self {
        Self {
            inner,
            local: Mutex::new(Vec::new()),
        }
    }

    /// Delivers this instance's own publications to `listener` too, as long as it lives.
    pub fn notify_locally(&self, listener: Weak<dyn InvalidationListener>) {
        self.local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
    }

    fn local_listeners(&self) -> Vec<Arc<dyn InvalidationListener>> {
        let mut local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        local.retain(|listener| listener.strong_count() > 0);
        local.iter().filter_map(Weak::upgrade).collect()
    }
}

#[async_trait]
impl InvalidationBus for FanOutBus {
    async fn publish(&self, key: CacheKey) {
        for listener in self.local_listeners() {
            listener.invalidate(key);
        }
        self.inner.publish(key).await;
    }

    fn subscribe(&self, listener: Weak<dyn InvalidationListener>) {
        self.inner.subscribe(listener);
    }

    fn coherence(&self) -> Coherence {
        self.inner.coherence()
    }
}

/// How a key travels on a channel shared by instances of possibly different versions.
fn encode(key: CacheKey) -> String {
    match key {
        CacheKey::User(id) => format!("user:{id}"),
        CacheKey::Videos => VIDEOS.to_owned(),
    }
}

/// What a message on the channel asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    /// Drop one entry.
    Key(CacheKey),
    /// Drop everything (the sender may have lost messages, or it names a key this
    /// version does not know, which is safest read as "anything may have changed").
    All,
}

/// The token of [`Message::All`].
const ALL: &str = "*";
/// The token of [`CacheKey::Videos`].
const VIDEOS: &str = "videos";

fn decode(text: &str) -> Message {
    if text == VIDEOS {
        return Message::Key(CacheKey::Videos);
    }
    if let Some(id) = text.strip_prefix("user:")
        && let Ok(id) = id.parse::<i64>()
        && let Some(id) = vidgen_domain::users::UserId::new(id)
    {
        return Message::Key(CacheKey::User(id));
    }
    Message::All
}

#[cfg(test)]
mod tests {
    use vidgen_domain::users::UserId;

    use super::*;

    #[test]
    fn keys_survive_the_wire_and_anything_else_means_everything() {
        let key = CacheKey::User(UserId::new(42).expect("id"));
        assert_eq!(encode(key), "user:42");
        assert_eq!(decode(&encode(key)), Message::Key(key));
        assert_eq!(encode(CacheKey::Videos), "videos");
        assert_eq!(
            decode(&encode(CacheKey::Videos)),
            Message::Key(CacheKey::Videos)
        );
        for text in [
            ALL, "", "user:", "user:x", "user:0", "user:-1", "video:3", "videos:1",
        ] {
            assert_eq!(decode(text), Message::All, "{text:?}");
        }
    }

    #[derive(Default)]
    struct Seen(Mutex<Vec<CacheKey>>);

    impl InvalidationListener for Seen {
        fn invalidate(&self, key: CacheKey) {
            self.0.lock().expect("lock").push(key);
        }
        fn invalidate_all(&self) {}
    }

    #[tokio::test]
    async fn the_fan_out_delivers_own_publications_locally_and_forwards_them() {
        let mut inner = vidgen_application::invalidation::MockInvalidationBus::new();
        inner
            .expect_publish()
            .withf(|key| *key == CacheKey::Videos)
            .times(1)
            .return_const(());
        inner
            .expect_coherence()
            .return_const(Coherence::Live { epoch: 3 });
        let bus = FanOutBus::new(Arc::new(inner));
        let seen = Arc::new(Seen::default());
        let listener: Arc<dyn InvalidationListener> = seen.clone();
        bus.notify_locally(Arc::downgrade(&listener));
        bus.publish(CacheKey::Videos).await;
        assert_eq!(*seen.0.lock().expect("lock"), [CacheKey::Videos]);
        assert_eq!(bus.coherence(), Coherence::Live { epoch: 3 });
        drop(listener);
        drop(seen);
        assert!(
            bus.local_listeners().is_empty(),
            "a dropped listener is forgotten"
        );
    }

    #[tokio::test]
    async fn the_local_bus_is_always_coherent() {
        let bus = LocalInvalidationBus;
        bus.publish(CacheKey::User(UserId::new(1).expect("id")))
            .await;
        assert_eq!(bus.coherence(), Coherence::Live { epoch: 0 });
    }
}
