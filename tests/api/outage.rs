//! A database outage is a 503 with `Retry-After`, never a 500; readiness answers within
//! a second; and the service recovers by itself. The server talks to PostgreSQL through
//! a TCP relay that the test cuts and restores, as if the database went away and came
//! back. Needs PostgreSQL (`TEST_DATABASE_URL`), which CI's second test run sets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{assert_problem, eventually, spawn_app_with};

/// A TCP relay to the database that can be cut (every connection dropped, new ones
/// closed at once) and restored.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Relay {
    /// Starts relaying to `target` (`host:port`). Runs inside the test's runtime.
    fn start(target: String) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind relay");
        listener.set_nonblocking(true).expect("non-blocking relay");
        let port = listener.local_addr().expect("relay address").port();
        let listener = TcpListener::from_std(listener).expect("relay listener");
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = watch::channel(0u64);
        let accepting = up.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The URL with its `host:port` replaced by the relay's, and the `host:port` it had.
fn through_relay(url: &str, relay_port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => (format!("{user}@"), host_port),
        None => (String::new(), authority),
    };
    let target = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    (
        format!("{scheme}://{user}127.0.0.1:{relay_port}/{path}"),
        target,
    )
}

#[tokio::test]
async fn a_database_outage_is_a_503_and_the_service_recovers_by_itself() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |url| url.is_empty()) {
        eprintln!("a database outage needs PostgreSQL: set TEST_DATABASE_URL (CI does)");
        return;
    }
    let mut relay = None;
    let app = spawn_app_with(|vars| {
        // Authentication must reach the database too, not a cached user.
        vars.insert("USER_CACHE_TTL_SECONDS".into(), "0".into());
        let url = vars
            .get("DATABASE_URL")
            .cloned()
            .expect("the test settings name a database");
        let (_, target) = through_relay(&url, 0);
        let started = Relay::start(target);
        let (relayed, _) = through_relay(&url, started.port);
        vars.insert("DATABASE_URL".into(), relayed);
        relay = Some(started);
    })
    .await;
    let relay = relay.expect("the relay started");
    let admin = app.admin().await;
    assert_eq!(app.list_videos("", &admin.access_token).await.status(), 200);
    assert_eq!(app.get("/health/ready").await.status(), 200);

    relay.cut();
    let started = Instant::now();
    let ready = app.get("/health/ready").await;
    let waited = started.elapsed();
    assert_eq!(ready.status(), 503);
    assert!(
        waited < Duration::from_millis(1500),
        "readiness took {waited:?} with the database down"
    );
    for _ in 0..3 {
        let response = app.list_videos("", &admin.access_token).await;
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("5"),
            "an outage asks the client to come back"
        );
        assert_problem(response, 503, "SERVICE_UNAVAILABLE").await;
    }

    relay.restore();
    eventually(Duration::from_secs(20), async || {
        match app.list_videos("", &admin.access_token).await.status() {
            reqwest::StatusCode::OK => Ok(()),
            other => Err(format!("still {other} 20 s after the database came back")),
        }
    })
    .await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
}
