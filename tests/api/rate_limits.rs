//! Rate limits end to end (in-memory backend): the figures on every `/api/` answer, 429
//! over the budget and a slot freed after `Retry-After`, budgets per user and per client
//! address (forwarding headers only from trusted proxies), password attempts per (IP,
//! account), and the per-user cap of active jobs.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, assert_problem, json, paths, spawn_app_with};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn limited_app(requests: u32) -> TestApp {
    spawn_app_with(move |vars| {
        vars.insert("RATE_LIMIT_REQUESTS".into(), requests.to_string());
    })
    .await
}

#[tokio::test]
async fn every_api_answer_carries_the_budget_and_others_do_not() {
    let app = limited_app(60).await;
    let jane = app.user("jane").await;
    let first = app.get_me(&jane.access_token).await;
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(header(&first, "x-ratelimit-limit").as_deref(), Some("60"));
    let remaining: u32 = header(&first, "x-ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("number");
    let second = app.get_me(&jane.access_token).await;
    let after: u32 = header(&second, "x-ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("number");
    assert_eq!(after, remaining - 1);
    let reset: u64 = header(&second, "x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("number");
    assert!(reset <= 1, "one slot frees within a second: {reset}");
    assert_eq!(
        header(&second, "ratelimit-policy").as_deref(),
        Some("60;w=60")
    );
    assert_eq!(
        header(&second, "ratelimit"),
        Some(format!("limit=60, remaining={after}, reset={reset}"))
    );
    // Errors carry them too; unversioned routes do not.
    let missing = app.get_video(999, &jane.access_token).await;
    assert_eq!(missing.status().as_u16(), 404);
    assert!(header(&missing, "x-ratelimit-limit").is_some());
    let health = app.get("/health").await;
    assert!(header(&health, "x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn over_the_budget_is_429_until_retry_after_has_passed() {
    let app = limited_app(120).await;
    let jane = app.user("jane").await;
    let mut refused = None;
    for _ in 0..400 {
        let response = app.get_me(&jane.access_token).await;
        if response.status().as_u16() == 429 {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the budget of 120 ran out");
    let retry_after: u64 = header(&refused, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&refused, "x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    let body = assert_problem(refused, 429, "RATE_LIMITED").await;
    assert_eq!(body["instance"], paths::me());

    // Another client has a budget of its own.
    let bob = app.user("bob").await;
    assert_eq!(app.get_me(&bob.access_token).await.status().as_u16(), 200);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(app.get_me(&jane.access_token).await.status().as_u16(), 200);
}

/// `GET /users/me` without a token from `forwarded_for`, until refused (at most `tries`).
async fn anonymous_until_refused(app: &TestApp, forwarded_for: &str, tries: usize) -> bool {
    for _ in 0..tries {
        let response = app
            .client
            .get(app.url(&paths::me()))
            .header("X-Forwarded-For", forwarded_for)
            .send()
            .await
            .expect("send");
        if response.status().as_u16() == 429 {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    // Not trusted: every claimed address shares the peer's budget.
    let app = limited_app(5).await;
    assert!(anonymous_until_refused(&app, "198.51.100.1", 10).await);
    assert!(anonymous_until_refused(&app, "198.51.100.2", 1).await);

    // Trusted: the client named by the proxy has a budget of its own.
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_REQUESTS".into(), "5".into());
        vars.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    })
    .await;
    assert!(anonymous_until_refused(&app, "198.51.100.1", 10).await);
    assert!(!anonymous_until_refused(&app, "198.51.100.2", 3).await);
    // The right-most untrusted hop counts, not what the client put first.
    assert!(!anonymous_until_refused(&app, "198.51.100.1, 198.51.100.3", 3).await);
}

#[tokio::test]
async fn password_attempts_are_limited_per_client_and_account() {
    let app = spawn_app_with(|vars| {
        vars.insert("LOGIN_RATE_LIMIT".into(), "3".into());
    })
    .await;
    let jane = app.user("jane").await;
    app.register("bob").await;
    // The login of `app.user` counted once; two wrong guesses use up the rest.
    for _ in 0..2 {
        let wrong = app.post_login("jane", "Wr0ngPassword").await;
        assert_eq!(wrong.status().as_u16(), 401);
    }
    // Even the right password is refused now, before it is checked.
    let refused = app.post_login("jane", PASSWORD).await;
    assert!(header(&refused, "retry-after").is_some());
    assert_problem(refused, 429, "RATE_LIMITED").await;
    // Neither case nor the e-mail address makes another account.
    assert_problem(app.post_login("JANE", PASSWORD).await, 429, "RATE_LIMITED").await;
    assert_problem(
        app.post_login("jane@example.com", PASSWORD).await,
        429,
        "RATE_LIMITED",
    )
    .await;
    // Another account from the same client is not affected.
    assert_eq!(app.post_login("bob", PASSWORD).await.status().as_u16(), 200);

    // Guesses of the current password count against the same budget of the account.
    let change = json!({"current_password": "Wr0ngPassword", "new_password": "N3wPassword1", "confirm_password": "N3wPassword1"});
    let response = app
        .change_password(jane.id, &jane.access_token, &change)
        .await;
    assert_problem(response, 429, "RATE_LIMITED").await;
    let response = app
        .update_user(
            jane.id,
            &jane.access_token,
            &json!({"email": "jane@elsewhere.example", "current_password": "Wr0ngPassword"}),
        )
        .await;
    assert_problem(response, 429, "RATE_LIMITED").await;

    // Bob's budget of 3: two logins, one wrong guess of his password, then refused.
    let bob = app.login("bob", PASSWORD).await;
    let bob_token = crate::helpers::access_token(&bob).to_owned();
    let bob_id = json(app.get_me(&bob_token).await).await["id"]
        .as_i64()
        .expect("id");
    let response = app.change_password(bob_id, &bob_token, &change).await;
    assert_ne!(response.status().as_u16(), 429, "refused too early");
    let response = app.change_password(bob_id, &bob_token, &change).await;
    assert_problem(response, 429, "RATE_LIMITED").await;
}

#[tokio::test]
async fn a_user_may_have_only_so_many_videos_in_the_queue() {
    let app = spawn_app_with(|vars| {
        vars.insert("MAX_ACTIVE_JOBS_PER_USER".into(), "2".into());
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let body = json!({"title": "Queued", "prompt": "A lake"});
    for _ in 0..2 {
        assert_eq!(
            app.create_video(&jane.access_token, &body)
                .await
                .status()
                .as_u16(),
            202
        );
    }
    let refused = app.create_video(&jane.access_token, &body).await;
    assert!(header(&refused, "retry-after").is_some());
    let problem = assert_problem(refused, 429, "RATE_LIMITED").await;
    assert!(
        problem["message"]
            .as_str()
            .expect("message")
            .contains("2 videos pending or processing"),
        "{problem}"
    );
    let upload = reqwest::multipart::Form::new().text("title", "Up").part(
        "file",
        reqwest::multipart::Part::bytes(include_bytes!("../fixtures/sample.webm").to_vec())
            .file_name("a.webm"),
    );
    let refused = app.upload_video(&jane.access_token, upload, None).await;
    assert_problem(refused, 429, "RATE_LIMITED").await;
    // Others are not affected; deleting one frees a place.
    let bob = app.user("bob").await;
    assert_eq!(
        app.create_video(&bob.access_token, &body)
            .await
            .status()
            .as_u16(),
        202
    );
    let list = json(app.list_videos("", &jane.access_token).await).await;
    let first = list[0]["id"].as_i64().expect("id");
    assert_eq!(
        app.delete_video(first, &jane.access_token)
            .await
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        app.create_video(&jane.access_token, &body)
            .await
            .status()
            .as_u16(),
        202
    );
}

#[tokio::test]
async fn the_document_shows_the_limits() {
    let app = limited_app(60).await;
    let spec = json(app.get("/openapi.json").await).await;
    let me = &spec["paths"]["/api/v1/users/me"]["get"]["responses"];
    assert_eq!(me["429"]["$ref"], "#/components/responses/TooManyRequests");
    for name in [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "RateLimit-Policy",
        "RateLimit",
    ] {
        assert!(me["200"]["headers"][name].is_object(), "200 lacks {name}");
        assert!(
            spec["components"]["responses"]["TooManyRequests"]["headers"][name].is_object(),
            "429 lacks {name}"
        );
    }
    assert!(spec["paths"]["/health"]["get"]["responses"]["429"].is_null());
}

/// A Redis server of the test's own on a free port, stopped when dropped.
struct PrivateRedis {
    child: std::process::Child,
    url: String,
}

impl PrivateRedis {
    // The child is waited for in `stop`, which `Drop` calls.
    #[allow(clippy::zombie_processes)]
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is needed for the Redis tests: {e}"));
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self { child, url };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn redis_app(url: &str, database: Option<String>) -> TestApp {
    let url = url.to_owned();
    spawn_app_with(move |vars| {
        vars.insert("RATE_LIMIT_BACKEND".into(), "redis".into());
        vars.insert("REDIS_URL".into(), url);
        vars.insert("RATE_LIMIT_REQUESTS".into(), "6".into());
        if let Some(database) = database {
            vars.insert("DATABASE_URL".into(), database);
        }
    })
    .await
}

#[tokio::test]
async fn instances_on_one_redis_share_one_budget_and_serve_through_its_outage() {
    let mut redis = PrivateRedis::start().await;
    let first = redis_app(&redis.url, None).await;
    let second = redis_app(&redis.url, Some(first.database_url.clone())).await;
    let jane = first.user("jane").await;
    let mut allowed = 0;
    let mut refused = false;
    for n in 0..20 {
        let app = if n % 2 == 0 { &first } else { &second };
        match app.get_me(&jane.access_token).await.status().as_u16() {
            200 => allowed += 1,
            429 => {
                refused = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused, "the shared budget never ran out");
    // Six per minute in all (the registration and login counted by address, not user).
    assert!((5..=7).contains(&allowed), "{allowed} allowed across both");
    let other = second.get_me(&jane.access_token).await;
    assert_eq!(
        other.status().as_u16(),
        429,
        "the second instance sees the same budget"
    );

    // Redis goes away: both instances keep answering, without limits, and count it.
    let failures_before = store_failures(&first).await;
    redis.stop();
    for app in [&first, &second] {
        for _ in 0..3 {
            let response = app.get_me(&jane.access_token).await;
            assert_eq!(response.status().as_u16(), 200);
        }
    }
    let failures_after = store_failures(&first).await;
    assert!(
        failures_after >= failures_before + 6.0,
        "{failures_before} -> {failures_after}"
    );
}

/// `vidgen_rate_limit_store_failures_total{store="redis"}` as `/metrics` shows it (the
/// recorder is shared by every app of the process).
async fn store_failures(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .find(|line| {
            line.starts_with("vidgen_rate_limit_store_failures_total")
                && line.contains("store=\"redis\"")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_redis_backend_needs_a_redis_that_answers_at_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let dir = tempfile::tempdir().expect("dir");
    let mut vars = crate::helpers::base_vars(dir.path());
    vars.insert(
        "DATABASE_URL".into(),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        ),
    );
    vars.insert("RATE_LIMIT_BACKEND".into(), "redis".into());
    vars.insert("REDIS_URL".into(), format!("redis://127.0.0.1:{port}"));
    let settings = vidgen_infrastructure::settings::Settings::from_map(&vars).expect("settings");
    let started = std::time::Instant::now();
    let error = match vidgen_server::Application::build(settings).await {
        Ok(_) => panic!("started without Redis"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.starts_with("RATE_LIMIT_BACKEND=redis: cannot reach Redis"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn limits_and_metrics_can_be_switched_off() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_ENABLED".into(), "false".into());
        vars.insert("METRICS_ENABLED".into(), "false".into());
        vars.insert("RATE_LIMIT_REQUESTS".into(), "1".into());
        vars.insert("LOGIN_RATE_LIMIT".into(), "1".into());
    })
    .await;
    let jane = app.user("jane").await;
    for _ in 0..3 {
        let response = app.get_me(&jane.access_token).await;
        assert_eq!(response.status().as_u16(), 200);
        assert!(header(&response, "x-ratelimit-limit").is_none());
        assert_eq!(
            app.post_login("jane", PASSWORD).await.status().as_u16(),
            200
        );
    }
    assert_problem(app.get("/metrics").await, 404, "NOT_FOUND").await;
}
