//! Against the Redis server of the test machine (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; CI starts one). Each test has its own channel, and outages
//! are made with a TCP proxy the test cuts, never by stopping the shared server.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use vidgen_domain::users::UserId;

use super::*;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The address of the test Redis; fails loudly when it does not answer, so that these
/// tests never pass without it.
async fn redis_address() -> SocketAddr {
    let url = url::Url::parse(&redis_url()).expect("TEST_REDIS_URL is a URL");
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(6379);
    let address = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("resolve the test Redis")
        .next()
        .expect("an address for the test Redis");
    TcpStream::connect(address).await.unwrap_or_else(|e| {
        panic!(
            "these tests need Redis at {} (TEST_REDIS_URL): {e}",
            redis_url()
        )
    });
    address
}

fn channel() -> String {
    format!("vidgen-test:{}", uuid::Uuid::new_v4().simple())
}

fn user(id: i64) -> CacheKey {
    CacheKey::User(UserId::new(id).expect("id"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Key(CacheKey),
    All,
}

/// A listener that writes down what it is told.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl InvalidationListener for Recorder {
    fn invalidate(&self, key: CacheKey) {
        self.events.lock().expect("lock").push(Event::Key(key));
    }

    fn invalidate_all(&self) {
        self.events.lock().expect("lock").push(Event::All);
    }
}

impl Recorder {
    fn subscribed(bus: &RedisInvalidationBus) -> Arc<Self> {
        let recorder = Arc::new(Self::default());
        vidgen_application::invalidation::subscribe(bus, &recorder);
        recorder
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().expect("lock").clone()
    }

    /// Waits up to `within` for `event`.
    async fn expect(&self, event: Event, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.events().contains(&event) {
            assert!(
                Instant::now() < deadline,
                "{event:?} did not arrive within {within:?}; got {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn wait_for(
    bus: &RedisInvalidationBus,
    what: &str,
    within: Duration,
    ok: impl Fn(Coherence) -> bool,
) {
    let deadline = Instant::now() + within;
    while !ok(bus.coherence()) {
        assert!(
            Instant::now() < deadline,
            "{what} not reached within {within:?}: {:?}",
            bus.coherence()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn started(url: &str, channel: &str) -> RedisInvalidationBus {
    let bus = RedisInvalidationBus::new(url, channel).expect("bus");
    bus.start(Duration::from_secs(3)).await;
    bus
}

/// A TCP proxy to Redis that the test can cut (every connection closed, new ones
/// dropped at once) and restore.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_open, tasks) = (open.clone(), connections.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("lock").push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            open,
            connections,
            accepting,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}

#[tokio::test]
async fn a_message_reaches_the_other_instances_and_not_its_sender() {
    redis_address().await;
    let channel = channel();
    let a = started(&redis_url(), &channel).await;
    let b = started(&redis_url(), &channel).await;
    let elsewhere = started(&redis_url(), &self::channel()).await;
    for bus in [&a, &b, &elsewhere] {
        assert_eq!(bus.coherence(), Coherence::Live { epoch: 1 });
    }
    let (seen_by_a, seen_by_b, seen_elsewhere) = (
        Recorder::subscribed(&a),
        Recorder::subscribed(&b),
        Recorder::subscribed(&elsewhere),
    );

    a.publish(user(7)).await;
    seen_by_b
        .expect(Event::Key(user(7)), Duration::from_secs(2))
        .await;
    b.publish(user(8)).await;
    seen_by_a
        .expect(Event::Key(user(8)), Duration::from_secs(2))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        seen_by_a.events(),
        vec![Event::Key(user(8))],
        "own message skipped"
    );
    assert_eq!(
        seen_by_b.events(),
        vec![Event::Key(user(7))],
        "own message skipped"
    );
    assert!(
        seen_elsewhere.events().is_empty(),
        "another channel hears nothing"
    );

    // A listener that is gone is simply not called.
    drop(seen_by_b);
    a.publish(user(9)).await;
    for bus in [a, b, elsewhere] {
        bus.close();
        wait_for(&bus, "closed", Duration::from_secs(2), |c| {
            c == Coherence::Degraded
        })
        .await;
    }
}

#[tokio::test]
async fn the_heartbeat_keeps_a_healthy_subscription() {
    redis_address().await;
    let channel = channel();
    let a = started(&redis_url(), &channel).await;
    let b = started(&redis_url(), &channel).await;
    let seen_by_b = Recorder::subscribed(&b);
    tokio::time::sleep(HEARTBEAT + Duration::from_secs(1)).await;
    assert_eq!(
        b.coherence(),
        Coherence::Live { epoch: 1 },
        "still the first epoch"
    );
    a.publish(user(5)).await;
    seen_by_b
        .expect(Event::Key(user(5)), Duration::from_secs(2))
        .await;
    assert_eq!(
        seen_by_b.events(),
        vec![Event::Key(user(5))],
        "nothing was cleared"
    );
    a.close();
    b.close();
}

#[tokio::test]
async fn redis_going_away_degrades_the_bus_and_coming_back_clears_the_caches() {
    let target = redis_address().await;
    let proxy = Proxy::start(target).await;
    let channel = channel();
    let a = started(&redis_url(), &channel).await;
    let b = started(&proxy.url(), &channel).await;
    assert_eq!(b.coherence(), Coherence::Live { epoch: 1 });
    let (seen_by_a, seen_by_b) = (Recorder::subscribed(&a), Recorder::subscribed(&b));

    proxy.cut();
    wait_for(&b, "degraded", Duration::from_secs(3), |c| {
        c == Coherence::Degraded
    })
    .await;
    // Missed by b while it is cut off; b's own publish fails (quickly).
    a.publish(user(1)).await;
    let started_at = Instant::now();
    b.publish(user(2)).await;
    assert!(
        started_at.elapsed() < Duration::from_secs(1),
        "publishing does not hang"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen_by_b.events().is_empty(), "{:?}", seen_by_b.events());
    assert!(seen_by_a.events().is_empty(), "{:?}", seen_by_a.events());

    proxy.restore();
    wait_for(&b, "live again", Duration::from_secs(10), |c| {
        c == Coherence::Live { epoch: 2 }
    })
    .await;
    // b may have missed messages: it forgets everything; a hears that b lost one.
    seen_by_b.expect(Event::All, Duration::from_secs(1)).await;
    seen_by_a.expect(Event::All, Duration::from_secs(2)).await;
    a.publish(user(3)).await;
    seen_by_b
        .expect(Event::Key(user(3)), Duration::from_secs(2))
        .await;
    b.publish(user(4)).await;
    seen_by_a
        .expect(Event::Key(user(4)), Duration::from_secs(2))
        .await;
    a.close();
    b.close();
}

#[tokio::test]
async fn an_unreachable_redis_at_start_leaves_the_bus_degraded_and_retrying() {
    let target = redis_address().await;
    let proxy = Proxy::start(target).await;
    proxy.cut();
    let channel = channel();
    let bus = RedisInvalidationBus::new(&proxy.url(), &channel).expect("bus");
    let started_at = Instant::now();
    bus.start(Duration::from_millis(300)).await;
    assert!(started_at.elapsed() < Duration::from_secs(2));
    assert_eq!(bus.coherence(), Coherence::Degraded);
    let started_at = Instant::now();
    bus.publish(user(1)).await;
    assert!(
        started_at.elapsed() < Duration::from_millis(100),
        "no connection: no wait"
    );

    let other = started(&redis_url(), &channel).await;
    let seen_by_other = Recorder::subscribed(&other);
    proxy.restore();
    wait_for(&bus, "live", Duration::from_secs(10), |c| {
        matches!(c, Coherence::Live { .. })
    })
    .await;
    // The write made while Redis was unreachable reaches the others as "forget all".
    seen_by_other
        .expect(Event::All, Duration::from_secs(2))
        .await;
    bus.close();
    other.close();
}

#[test]
fn a_url_that_is_not_redis_is_refused() {
    let error = RedisInvalidationBus::new("http://example.com", "c").expect_err("refused");
    assert!(error.to_string().starts_with("REDIS_URL: "), "{error}");
}
