//! [`InvalidationBus`] adapters: [`LocalInvalidationBus`] for a single instance (no
//! `REDIS_URL`: no other instance can have cached anything), and [`redis`] for several
//! instances sharing a database, on Redis pub/sub.

pub mod redis;

use std::sync::Weak;

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

/// How a key travels on a channel shared by instances of possibly different versions.
fn encode(key: CacheKey) -> String {
    match key {
        CacheKey::User(id) => format!("user:{id}"),
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

fn decode(text: &str) -> Message {
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
        for text in [ALL, "", "user:", "user:x", "user:0", "user:-1", "video:3"] {
            assert_eq!(decode(text), Message::All, "{text:?}");
        }
    }

    #[tokio::test]
    async fn the_local_bus_is_always_coherent() {
        let bus = LocalInvalidationBus;
        bus.publish(CacheKey::User(UserId::new(1).expect("id")))
            .await;
        assert_eq!(bus.coherence(), Coherence::Live { epoch: 0 });
    }
}
