//! [`InvalidationBus`] on Redis pub/sub (with `REDIS_URL`), for instances sharing a
//! database.
//!
//! One task per instance ([`RedisInvalidationBus::start`]) holds a dedicated pub/sub
//! connection subscribed to `CACHE_INVALIDATION_CHANNEL` and hands every message from
//! another instance to the listeners at once; publishing goes through a separate
//! multiplexed connection. A message is `<origin> <key>`: the origin is this instance's
//! random id, so its own messages are skipped.
//!
//! Failures never reach a request. While the subscription is down (Redis unreachable at
//! start, or lost later: the connection closed, a `PING` went unanswered, a publish
//! failed) the bus is [`Coherence::Degraded`], which makes the caches fall back to their
//! short TTL; the outage is logged once when it starts and once when it ends, and counted
//! (`vidgen_cache_invalidation_outages_total`, `vidgen_cache_invalidation_connected`).
//! The task reconnects with exponential backoff; once subscribed again it starts a new
//! epoch and tells the listeners to forget everything, since messages may have been
//! missed meanwhile. A publish that failed is made good the same way: once the channel
//! works again, this instance publishes "forget everything" to the others.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use tokio::sync::{Notify, watch};
use vidgen_application::invalidation::{
    CacheKey, Coherence, InvalidationBus, InvalidationListener,
};
use vidgen_application::metrics::{self, InvalidationOutcome};

use super::{ALL, Message, decode, encode};

/// How long connecting (and subscribing) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one `PUBLISH` may take before the write that asked for it goes on.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the subscription checks that Redis still answers.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a heartbeat `PING` may take.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The first and the longest wait between reconnection attempts.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `REDIS_URL` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL: {0}")]
pub struct InvalidationSetupError(String);

/// See the module docs.
#[derive(Clone)]
pub struct RedisInvalidationBus {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisInvalidationBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInvalidationBus")
            .field("channel", &self.shared.channel)
            .field("coherence", &self.coherence())
            .finish_non_exhaustive()
    }
}

struct Shared {
    client: redis::Client,
    channel: String,
    /// This instance's id in the messages it publishes.
    origin: String,
    /// 0 while degraded, else the current epoch.
    epoch: AtomicU64,
    /// The publishing connection, while the channel works.
    publisher: RwLock<Option<ConnectionManager>>,
    listeners: Mutex<Vec<Weak<dyn InvalidationListener>>>,
    /// A message of this instance may not have reached the others.
    lost: AtomicBool,
    /// Wakes the task when a publish failed.
    trouble: Notify,
    closing: watch::Sender<bool>,
    /// The task was started.
    started: AtomicBool,
}

impl RedisInvalidationBus {
    /// A bus on `channel` of the Redis server at `url`; nothing connects before
    /// [`Self::start`].
    ///
    /// # Errors
    /// `url` is not a Redis URL.
    pub fn new(url: &str, channel: &str) -> Result<Self, InvalidationSetupError> {
        let client = redis::Client::open(url).map_err(|e| InvalidationSetupError(e.to_string()))?;
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                channel: channel.to_owned(),
                origin: uuid::Uuid::new_v4().simple().to_string(),
                epoch: AtomicU64::new(0),
                publisher: RwLock::new(None),
                listeners: Mutex::new(Vec::new()),
                lost: AtomicBool::new(false),
                trouble: Notify::new(),
                closing: watch::Sender::new(false),
                started: AtomicBool::new(false),
            }),
        })
    }

    /// Starts the subscription task (once; later calls do nothing) and waits up to
    /// `wait` for the first subscription, so that an instance whose Redis answers starts
    /// coherent. An unreachable Redis is logged and retried in the background.
    pub async fn start(&self, wait: Duration) {
        if self.shared.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let shared = self.shared.clone();
        tokio::spawn(run(shared));
        let deadline = tokio::time::Instant::now() + wait;
        while self.shared.epoch.load(Ordering::SeqCst) == 0
            && tokio::time::Instant::now() < deadline
            && !*self.shared.closing.borrow()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Ends the subscription task (shutdown); the bus is degraded from then on.
    pub fn close(&self) {
        self.shared.closing.send_replace(true);
    }
}

#[async_trait]
impl InvalidationBus for RedisInvalidationBus {
    async fn publish(&self, key: CacheKey) {
        self.shared.publish(&encode(key)).await;
    }

    fn subscribe(&self, listener: Weak<dyn InvalidationListener>) {
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(listener);
    }

    fn coherence(&self) -> Coherence {
        match self.shared.epoch.load(Ordering::SeqCst) {
            0 => Coherence::Degraded,
            epoch => Coherence::Live { epoch },
        }
    }
}

impl Shared {
    fn publisher(&self) -> Option<ConnectionManager> {
        self.publisher
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_publisher(&self, publisher: Option<ConnectionManager>) {
        *self
            .publisher
            .write()
            .unwrap_or_else(PoisonError::into_inner) = publisher;
    }

    /// Publishes `key` as this instance; a failure is remembered (see the module docs).
    async fn publish(&self, key: &str) {
        let Some(mut publisher) = self.publisher() else {
            self.lost();
            return;
        };
        match send(&mut publisher, &self.channel, &self.origin, key).await {
            Ok(()) => metrics::cache_invalidation(InvalidationOutcome::Published),
            Err(error) => {
                tracing::debug!(%error, "cache invalidation not published");
                self.lost();
            }
        }
    }

    fn lost(&self) {
        metrics::cache_invalidation(InvalidationOutcome::Failed);
        self.lost.store(true, Ordering::SeqCst);
        self.trouble.notify_one();
    }

    /// Tells the others to forget everything if a message of ours was lost.
    async fn make_good(&self, publisher: &mut ConnectionManager) -> Result<(), String> {
        if self.lost.swap(false, Ordering::SeqCst)
            && let Err(error) = send(publisher, &self.channel, &self.origin, ALL).await
        {
            self.lost.store(true, Ordering::SeqCst);
            return Err(error);
        }
        Ok(())
    }

    fn listeners(&self) -> Vec<Arc<dyn InvalidationListener>> {
        let mut listeners = self
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|listener| listener.strong_count() > 0);
        listeners.iter().filter_map(Weak::upgrade).collect()
    }

    fn forget_everything(&self) {
        for listener in self.listeners() {
            listener.invalidate_all();
        }
    }

    /// A message from the channel.
    fn receive(&self, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload);
        let (origin, key) = text.split_once(' ').unwrap_or(("", &text));
        if origin == self.origin {
            return;
        }
        metrics::cache_invalidation(InvalidationOutcome::Received);
        match decode(key) {
            Message::Key(key) => {
                for listener in self.listeners() {
                    listener.invalidate(key);
                }
            }
            Message::All => self.forget_everything(),
        }
    }
}

async fn send(
    publisher: &mut ConnectionManager,
    channel: &str,
    origin: &str,
    key: &str,
) -> Result<(), String> {
    let command = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(format!("{origin} {key}"))
        .to_owned();
    match tokio::time::timeout(PUBLISH_TIMEOUT, command.query_async::<i64>(publisher)).await {
        Ok(Ok(_receivers)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer to PUBLISH in time".to_owned()),
    }
}

/// A working subscription and publishing connection.
struct Connection {
    sink: PubSubSink,
    stream: PubSubStream,
    publisher: ConnectionManager,
}

async fn connect(shared: &Shared) -> Result<Connection, String> {
    let attempt = async {
        let (mut sink, stream) = shared.client.get_async_pubsub().await?.split();
        sink.subscribe(&shared.channel).await?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(PUBLISH_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(MAX_BACKOFF);
        let publisher = shared
            .client
            .get_connection_manager_with_config(config)
            .await?;
        Ok::<_, redis::RedisError>(Connection {
            sink,
            stream,
            publisher,
        })
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// The subscription task: connect, serve, and after any failure reconnect with backoff,
/// until the bus is closed.
async fn run(shared: Arc<Shared>) {
    let mut closing = shared.closing.subscribe();
    let mut epoch = 0u64;
    let mut backoff = MIN_BACKOFF;
    // Whether an outage was reported and has not ended yet.
    let mut outage = false;
    loop {
        let attempt = tokio::select! {
            attempt = connect(&shared) => attempt,
            () = closed(&mut closing) => break,
        };
        let failure = match attempt {
            Ok(mut connection) => match shared.make_good(&mut connection.publisher).await {
                Ok(()) => {
                    shared.set_publisher(Some(connection.publisher));
                    epoch += 1;
                    shared.epoch.store(epoch, Ordering::SeqCst);
                    // Messages may have been missed before this subscription.
                    shared.forget_everything();
                    backoff = MIN_BACKOFF;
                    metrics::cache_invalidation_connected(true);
                    if outage {
                        outage = false;
                        tracing::info!(
                            channel = %shared.channel,
                            "cache invalidation channel is back; cached entries were dropped"
                        );
                    }
                    let ended =
                        serve(&shared, connection.sink, connection.stream, &mut closing).await;
                    shared.epoch.store(0, Ordering::SeqCst);
                    shared.set_publisher(None);
                    match ended {
                        Some(reason) => reason,
                        None => break,
                    }
                }
                Err(reason) => reason,
            },
            Err(reason) => reason,
        };
        if outage {
            tracing::debug!(reason = %failure, "cache invalidation channel still down");
        } else {
            outage = true;
            metrics::cache_invalidation_connected(false);
            metrics::cache_invalidation_outage();
            tracing::warn!(
                reason = %failure,
                channel = %shared.channel,
                "cache invalidation channel (Redis at REDIS_URL) is down: cached users are \
                 served for at most USER_CACHE_FALLBACK_TTL_SECONDS until it is back"
            );
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = closed(&mut closing) => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    shared.epoch.store(0, Ordering::SeqCst);
    shared.set_publisher(None);
}

/// Resolves once the bus is closed.
async fn closed(closing: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens with the bus itself.
    let _ = closing.wait_for(|closed| *closed).await;
}

/// Hands the messages to the listeners until the subscription fails (its reason) or the
/// bus is closed (`None`).
async fn serve(
    shared: &Shared,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    closing: &mut watch::Receiver<bool>,
) -> Option<String> {
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => shared.receive(message.get_payload_bytes()),
                None => return Some("the connection closed".to_owned()),
            },
            _ = heartbeat.tick() => {
                match tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return Some(error.to_string()),
                    Err(_) => return Some("no answer to PING in time".to_owned()),
                }
            }
            () = shared.trouble.notified() => {
                // A publish failed: say so to the others now if the channel still works.
                let Some(mut publisher) = shared.publisher() else {
                    return Some("no publishing connection".to_owned());
                };
                if let Err(error) = shared.make_good(&mut publisher).await {
                    return Some(error);
                }
            }
            () = closed(closing) => return None,
        }
    }
}

#[cfg(test)]
mod tests;
