//! The test harness: `spawn_app()` builds the real application on port 0 with a fresh
//! database (a SQLite file in a temporary folder, or, when `TEST_DATABASE_URL` is set, a
//! uniquely named PostgreSQL database that is dropped afterwards).

use std::collections::HashMap;
use std::sync::Once;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use vidgen_infrastructure::settings::Settings;
use vidgen_server::Application;

/// The server under test and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    server: actix_web::dev::ServerHandle,
    pub media_root: std::path::PathBuf,
    pub database_url: String,
    _postgres: Option<PostgresDatabase>,
    _dir: tempfile::TempDir,
}

/// A throwaway PostgreSQL database, dropped with the test app.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async work on a thread of its own.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let db = Database::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                db.execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .await
                    .map_err(|e| e.to_string())?;
                db.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) = outcome {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

static TRACING: Once = Once::new();

/// Logs from the app under test when `TEST_LOG` is set.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter =
                vidgen_server::telemetry::filter("info").unwrap_or_else(|e| panic!("filter: {e}"));
            vidgen_server::telemetry::init(
                vidgen_infrastructure::settings::LogFormat::Pretty,
                filter,
            );
        }
    });
}

/// Variables of a test configuration: fast hashing, port 0, a temporary media root.
pub fn base_vars(dir: &std::path::Path) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for (key, value) in [
        ("APP_ENV", "test"),
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("WORKERS", "1"),
        (
            "SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789",
        ),
        ("PASSWORD_HASH_MEMORY_KIB", "64"),
        ("PASSWORD_HASH_ITERATIONS", "1"),
        ("LOG_LEVEL", "info"),
        ("SHUTDOWN_TIMEOUT_SECONDS", "1"),
        ("JOB_WORKERS", "1"),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
    ] {
        vars.insert(key.to_owned(), value.to_owned());
    }
    vars.insert(
        "MEDIA_ROOT".to_owned(),
        dir.join("media").display().to_string(),
    );
    vars
}

/// A fresh database URL: a new PostgreSQL database when `TEST_DATABASE_URL` is set,
/// else a SQLite file in `dir`.
pub async fn fresh_database(dir: &std::path::Path) -> (String, Option<PostgresDatabase>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("vidgen_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unreachable: {e}"));
            admin
                .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
            let _ = admin.close().await;
            let url = replace_database_name(&admin_url, &name);
            (url, Some(PostgresDatabase { admin_url, name }))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.join("vidgen.db").display()),
            None,
        ),
    }
}

/// `postgres://user@host:port/db?x` with `db` replaced.
pub fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

/// Starts the app with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after `customise` has adjusted the test variables.
pub async fn spawn_app_with(customise: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn_app_full(customise, None).await
}

/// Starts the app with another video renderer behind the port.
pub async fn spawn_app_full(
    customise: impl FnOnce(&mut HashMap<String, String>),
    renderer: Option<std::sync::Arc<dyn vidgen_application::videos::render::VideoRenderer>>,
) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (database_url, postgres) = fresh_database(dir.path()).await;
    let mut vars = base_vars(dir.path());
    vars.insert("DATABASE_URL".to_owned(), database_url);
    customise(&mut vars);
    let settings = Settings::from_map(&vars).unwrap_or_else(|e| panic!("test settings: {e}"));
    let media_root = settings.media.root.clone();
    let database_url = settings.database.url.clone();
    let app = Application::build_with(settings, renderer)
        .await
        .unwrap_or_else(|e| panic!("application failed to build: {e:?}"));
    let port = app.port();
    let db = app.db().clone();
    let server = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client,
        db,
        server,
        media_root,
        database_url,
        _postgres: postgres,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Stops the server (in-flight requests may finish) and waits for it.
    pub async fn stop(&self) {
        self.server.stop(true).await;
    }
}

/// Reads a response as JSON, failing the test with the body when it is not.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts that a response is an error envelope with this status and code, and returns
/// its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    error_code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "content type"
    );
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no X-Request-ID"));
    let body = json(response).await;
    assert_eq!(body["error_code"], error_code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["message"], body["detail"], "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(
        body["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with('/')),
        "{body}"
    );
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    body
}

/// The signing key of every test app.
pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";

/// The admin every test app gets (created at start-up from `ADMIN_*`).
pub const ADMIN_EMAIL: &str = "root@vidgen.test";
pub const ADMIN_PASSWORD: &str = "Adm1nPassword";
pub const PASSWORD: &str = "Sup3rSecret";

/// A user created through the API, with a fresh token pair.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Sends `method path` with a bearer token and an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method.clone(), self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn register(&self, username: &str) -> serde_json::Value {
        let response = self
            .post_json(
                "/api/v1/users",
                &serde_json::json!({
                    "username": username,
                    "name": format!("{username} Name"),
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                    "confirm_password": PASSWORD,
                }),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201, "register {username}");
        json(response).await
    }

    /// Logs in with JSON; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let response = self
            .post_json(
                "/api/v1/users/login",
                &serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "login {username}");
        json(response).await
    }

    /// Registers and logs in a user.
    pub async fn user(&self, username: &str) -> TestUser {
        let created = self.register(username).await;
        let tokens = self.login(username, PASSWORD).await;
        TestUser {
            id: created["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("id: {created}")),
            access_token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// The admin created at start-up, logged in.
    pub async fn admin(&self) -> TestUser {
        let tokens = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let me = json(
            self.get_as(
                "/api/v1/users/me",
                tokens["access_token"].as_str().unwrap_or_default(),
            )
            .await,
        )
        .await;
        TestUser {
            id: me["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("admin id: {me}")),
            access_token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    /// A user promoted to moderator by the admin, logged in again (roles live in tokens).
    pub async fn moderator(&self, username: &str) -> TestUser {
        let user = self.user(username).await;
        let admin = self.admin().await;
        let response = self
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/users/{}/role", user.id),
                &admin.access_token,
                Some(&serde_json::json!({"role": "moderator"})),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "promote {username}");
        let tokens = self.login(username, PASSWORD).await;
        TestUser {
            access_token: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            ..user
        }
    }
}
