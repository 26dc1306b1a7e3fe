//! Two instances on one database keep their user caches coherent through Redis: a write
//! through one is seen by the other as soon as the announcement is delivered, although each caches users
//! for minutes (`USER_CACHE_TTL_SECONDS=300`). With Redis unreachable they fall back to
//! the short `USER_CACHE_FALLBACK_TTL_SECONDS`.
//!
//! Needs the Redis of the test machine (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; CI starts one): these tests fail without it. Each pair of
//! instances has a channel of its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::helpers::{
    PASSWORD, TestApp, access_token, assert_problem, eventually, json, spawn_app_with,
};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The test Redis's URL, after checking that it answers.
async fn live_redis() -> String {
    let url = redis_url();
    let address = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    TcpStream::connect(&address)
        .await
        .unwrap_or_else(|e| panic!("these tests need Redis at {url} (TEST_REDIS_URL): {e}"));
    url
}

/// Two instances on one database and one invalidation channel of their own, with a
/// fallback TTL far longer than [`DELIVERY`]: what they see within it came through Redis.
async fn pair(redis_url: &str) -> (TestApp, TestApp) {
    pair_on(redis_url, redis_url, 60).await
}

/// How long an invalidation may take to reach the other instance. It is published before
/// the write answers, but applied by the other instance's listener task whenever that is
/// next scheduled: microseconds later on an idle machine, longer on a loaded one. Far
/// shorter than any TTL of these tests, so it still tells a message from an expiry.
const DELIVERY: Duration = Duration::from_secs(2);

/// Waits (at most [`DELIVERY`]) until `app` refuses `token` with 401.
async fn refused_soon(app: &TestApp, token: &str) {
    eventually(DELIVERY, async || {
        match app.get_me(token).await.status().as_u16() {
            401 => Ok(()),
            other => Err(format!("the token is still answered {other}")),
        }
    })
    .await;
}

/// Waits (at most [`DELIVERY`]) until `app` accepts `token`, and answers the role it
/// reports.
async fn accepted_soon(app: &TestApp, token: &str) -> String {
    eventually(DELIVERY, async || {
        let me = app.get_me(token).await;
        match me.status().as_u16() {
            200 => Ok(json(me).await["role"].as_str().expect("a role").to_owned()),
            other => Err(format!("the token is still answered {other}")),
        }
    })
    .await
}

/// As [`pair`], each instance reaching Redis at its own URL, with a fallback TTL of
/// `fallback_seconds`.
async fn pair_on(a_redis: &str, b_redis: &str, fallback_seconds: u64) -> (TestApp, TestApp) {
    let channel = format!("vidgen-e2e:{}", uuid::Uuid::new_v4().simple());
    let settings = move |vars: &mut std::collections::HashMap<String, String>, url: &str| {
        vars.insert("REDIS_URL".into(), url.to_owned());
        vars.insert("CACHE_INVALIDATION_CHANNEL".into(), channel.clone());
        vars.insert("USER_CACHE_TTL_SECONDS".into(), "300".into());
        vars.insert(
            "USER_CACHE_FALLBACK_TTL_SECONDS".into(),
            fallback_seconds.to_string(),
        );
    };
    let for_b = settings.clone();
    let a = spawn_app_with(|vars| settings(vars, a_redis)).await;
    let database = a.database_url.clone();
    let b = spawn_app_with(move |vars| {
        for_b(vars, b_redis);
        vars.insert("DATABASE_URL".into(), database);
    })
    .await;
    (a, b)
}

/// A TCP proxy to Redis that the test can cut (every connection closed, new ones
/// dropped at once) and restore, so the shared Redis itself never stops.
struct Proxy {
    port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl Proxy {
    async fn start(redis_url: &str) -> Self {
        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (is_open, tasks) = (open.clone(), connections.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !is_open.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
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

async fn role_of(app: &TestApp, token: &str) -> String {
    let me = app.get_me(token).await;
    assert_eq!(me.status().as_u16(), 200, "GET /users/me");
    json(me).await["role"].as_str().expect("a role").to_owned()
}

#[tokio::test]
async fn a_suspension_through_one_instance_stops_the_token_on_the_other_at_once() {
    let (a, b) = pair(&live_redis().await).await;
    let admin = a.admin().await;
    let jane = a.user("jane").await;
    // Both instances have jane in their cache.
    assert_eq!(role_of(&a, &jane.access_token).await, "user");
    assert_eq!(role_of(&b, &jane.access_token).await, "user");

    let suspended = a
        .set_user_status(jane.id, &admin.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    refused_soon(&b, &jane.access_token).await;
    assert_problem(b.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    assert_problem(b.post_login("jane", PASSWORD).await, 403, "FORBIDDEN").await;

    // Reactivated through B: A lets her back in at once.
    let admin_on_b = b.admin().await;
    let active = b
        .set_user_status(jane.id, &admin_on_b.access_token, "active")
        .await;
    assert_eq!(active.status().as_u16(), 200);
    let tokens = b.login("jane", PASSWORD).await;
    assert_eq!(accepted_soon(&a, access_token(&tokens)).await, "user");
}

#[tokio::test]
async fn a_role_change_through_one_instance_is_seen_by_the_other_at_once() {
    let (a, b) = pair(&live_redis().await).await;
    let jane = a.user("jane").await;
    assert_eq!(role_of(&a, &jane.access_token).await, "user");
    assert_eq!(role_of(&b, &jane.access_token).await, "user");

    let admin = b.admin().await;
    let promoted = b
        .set_user_role(jane.id, &admin.access_token, "moderator")
        .await;
    assert_eq!(promoted.status().as_u16(), 200);
    // Her old token (role user) is refused on A, her new one accepted with the new role.
    refused_soon(&a, &jane.access_token).await;
    assert_problem(a.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    let tokens = b.login("jane", PASSWORD).await;
    assert_eq!(role_of(&a, access_token(&tokens)).await, "moderator");
    let listed = a.list_users("", access_token(&tokens)).await;
    let status = listed.status().as_u16();
    let body = listed.text().await.unwrap_or_default();
    assert_eq!(status, 200, "a moderator lists users on A: {body}");
}

#[tokio::test]
async fn a_password_change_and_a_deletion_reach_the_other_instance_at_once() {
    let (a, b) = pair(&live_redis().await).await;
    let jane = a.user("jane").await;
    let john = b.user("john").await;
    for app in [&a, &b] {
        role_of(app, &jane.access_token).await;
        role_of(app, &john.access_token).await;
    }

    let changed = a
        .change_password(
            jane.id,
            &jane.access_token,
            &json!({"current_password": PASSWORD, "new_password": "N3wPassword", "confirm_password": "N3wPassword"}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 204);
    refused_soon(&b, &jane.access_token).await;
    assert_problem(b.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    let tokens = b.login("jane", "N3wPassword").await;
    role_of(&a, access_token(&tokens)).await;

    let deleted = b.delete_user(john.id, &john.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    refused_soon(&a, &john.access_token).await;
    assert_problem(a.get_me(&john.access_token).await, 401, "UNAUTHORIZED").await;
    let admin = a.admin().await;
    assert_problem(
        a.get_user(john.id, &admin.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn with_redis_unreachable_the_instances_serve_and_lag_only_the_fallback_ttl() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let started = Instant::now();
    let unreachable = format!("redis://127.0.0.1:{port}");
    let (a, b) = pair_on(&unreachable, &unreachable, 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "start-up does not wait long for Redis"
    );
    let admin = a.admin().await;
    let jane = a.user("jane").await;
    assert_eq!(role_of(&b, &jane.access_token).await, "user");
    let suspended = a
        .set_user_status(jane.id, &admin.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    let changed_at = Instant::now();
    eventually(Duration::from_secs(5), async || {
        match b.get_me(&jane.access_token).await.status().as_u16() {
            401 => Ok(()),
            other => Err(format!("still {other}")),
        }
    })
    .await;
    assert!(
        changed_at.elapsed() < Duration::from_secs(4),
        "B followed within the fallback TTL, not USER_CACHE_TTL_SECONDS"
    );

    let metrics = a.get("/metrics").await.text().await.expect("metrics");
    let outages = metrics
        .lines()
        .find(|line| line.starts_with("vidgen_cache_invalidation_outages_total"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(outages >= 1.0, "the outage is counted:\n{metrics}");
}

/// The fallback TTL of the outage test: long enough to tell an invalidation from an
/// expiry.
const FALLBACK_SECONDS: u64 = 3;

#[tokio::test]
async fn after_a_redis_outage_an_instance_is_coherent_again() {
    let redis = live_redis().await;
    let proxy = Proxy::start(&redis).await;
    let (a, b) = pair_on(&redis, &proxy.url(), FALLBACK_SECONDS).await;
    let admin = a.admin().await;
    let jane = a.user("jane").await;
    assert_eq!(role_of(&b, &jane.access_token).await, "user");

    // B loses Redis: it follows A's writes within the fallback TTL.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let suspended = a
        .set_user_status(jane.id, &admin.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    eventually(Duration::from_secs(FALLBACK_SECONDS + 2), async || match b
        .get_me(&jane.access_token)
        .await
        .status()
        .as_u16()
    {
        401 => Ok(()),
        other => Err(format!("still {other}")),
    })
    .await;
    let active = a
        .set_user_status(jane.id, &admin.access_token, "active")
        .await;
    assert_eq!(active.status().as_u16(), 200);

    // Redis is back and B resubscribes (its backoff is at most 5 s). Then a write
    // through A reaches B at once: well before B's entry, fresh enough for the fallback
    // TTL, would expire. (Not on the very next request here: the message also crosses
    // the proxy, a task of the test's own runtime.)
    proxy.restore();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let tokens = a.login("jane", PASSWORD).await;
    let token = access_token(&tokens);
    assert_eq!(role_of(&b, token).await, "user");
    let promoted = a
        .set_user_role(jane.id, &admin.access_token, "moderator")
        .await;
    assert_eq!(promoted.status().as_u16(), 200);
    let changed_at = Instant::now();
    eventually(Duration::from_secs(FALLBACK_SECONDS), async || {
        match b.get_me(token).await.status().as_u16() {
            401 => Ok(()),
            other => Err(format!("still {other}")),
        }
    })
    .await;
    assert!(
        changed_at.elapsed() < Duration::from_millis(500),
        "B saw the change through Redis, not by its entry expiring"
    );
}
