//! The test harness: `spawn_app()` builds the real application on port 0 with a fresh
//! database (a SQLite file in a temporary folder, or, when `TEST_DATABASE_URL` is set, a
//! uniquely named PostgreSQL database that is dropped afterwards).
//!
//! `TestApp` has one helper per endpoint (`create_user`, `get_me`, `create_video`, ...)
//! answering the raw response, and helpers that build users in a known state (`user`,
//! `admin`, `moderator`); `paths` builds every API path, so test bodies spell none out.
//! `eventually` is the one way to wait for something that happens in the background.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Once;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use vidgen_infrastructure::render::{Openh264Renderer, RenderPriority};
use vidgen_infrastructure::settings::Settings;
use vidgen_server::Application;

/// The server under test and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The test's own pool on the app's database (it outlives the server).
    pub db: DatabaseConnection,
    /// The server's pool itself (closing it is a database outage for the server).
    pub server_db: DatabaseConnection,
    server: vidgen_server::ShutdownHandle,
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
        // Tests of the limits themselves set their own.
        ("RATE_LIMIT_REQUESTS", "1000000"),
        ("LOGIN_RATE_LIMIT", "1000000"),
        ("PASSWORD_RECOVERY_RATE_LIMIT", "1000000"),
        ("ACCOUNT_MAIL_RATE_LIMIT", "1000000"),
        ("MAX_ACTIVE_JOBS_PER_USER", "100000"),
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
    // The service's own renderer, at the suite's priority rather than nice 19: on a busy
    // CI machine a nice-19 thread can wait minutes behind the other tests' work.
    let renderer = renderer.or_else(|| {
        let renderer = Openh264Renderer::with_priority(
            settings.jobs.workers.max(1),
            RenderPriority::Inherited,
        )
        .unwrap_or_else(|e| panic!("renderer: {e}"));
        Some(std::sync::Arc::new(renderer))
    });
    let app = Application::build_with(settings, renderer)
        .await
        .unwrap_or_else(|e| panic!("application failed to build: {e:?}"));
    let port = app.port();
    // The test keeps a pool of its own: the server's connections belong to its worker
    // runtimes, which end when the server is stopped.
    let db = Database::connect(&database_url)
        .await
        .unwrap_or_else(|e| panic!("test connection: {e}"));
    let server_db = app.db().clone();
    let server = app.shutdown_handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client,
        db,
        server_db,
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
        self.server.stop().await;
    }
}

/// Reads a response as JSON, failing the test with the body when it is not.
/// The names of the files under the app's `MEDIA_ROOT` (staged ones included; with S3,
/// only staging files live there, and only while a file is written).
pub fn media_files(app: &TestApp) -> Vec<String> {
    std::fs::read_dir(&app.media_root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

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

/// How often [`eventually`] looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `check` until it returns `Ok`, every [`POLL_INTERVAL`]; fails the test with the
/// last `Err` (which says what never happened) once `timeout` has passed.
pub async fn eventually<T>(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let started = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) => assert!(started.elapsed() < timeout, "{state}"),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls the video until its `status` is `status` (90 s at most), and answers it.
pub async fn wait_for_video(
    app: &TestApp,
    user: &TestUser,
    id: i64,
    status: &str,
) -> serde_json::Value {
    eventually(Duration::from_secs(90), async || {
        let video = json(app.get_video(id, &user.access_token).await).await;
        if video["status"] == status {
            Ok(video)
        } else {
            Err(format!("video {id} never became {status}: {video}"))
        }
    })
    .await
}

/// Paths of the API's routes. Test bodies build every path here, so none spells out
/// `/api/v1` itself.
pub mod paths {
    use std::fmt::Display;

    /// The API's prefix.
    pub const API: &str = "/api/v1";

    /// `rest` under the API's prefix (for paths no route serves).
    pub fn api(rest: &str) -> String {
        format!("{API}{rest}")
    }

    /// `path?query`, or `path` when `query` is empty.
    pub fn with_query(path: &str, query: &str) -> String {
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    pub fn users() -> String {
        api("/users")
    }

    /// One user; `id` may be anything, to test how bad ids are answered.
    pub fn user(id: impl Display) -> String {
        format!("{API}/users/{id}")
    }

    pub fn user_profile(id: impl Display) -> String {
        format!("{API}/users/{id}/profile")
    }

    pub fn user_avatar(id: impl Display) -> String {
        format!("{API}/users/{id}/avatar")
    }

    pub fn me() -> String {
        api("/users/me")
    }

    pub fn user_by_username(username: &str) -> String {
        format!("{API}/users/by-username/{username}")
    }

    pub fn user_password(id: impl Display) -> String {
        format!("{}/password", user(id))
    }

    pub fn user_status(id: impl Display) -> String {
        format!("{}/status", user(id))
    }

    pub fn user_role(id: impl Display) -> String {
        format!("{}/role", user(id))
    }

    pub fn user_videos(id: impl Display) -> String {
        format!("{}/videos", user(id))
    }

    pub fn user_video(user_id: impl Display, video_id: impl Display) -> String {
        format!("{}/videos/{video_id}", user(user_id))
    }

    pub fn login() -> String {
        api("/users/login")
    }

    pub fn password_recovery() -> String {
        api("/users/password-recovery")
    }

    pub fn password_reset() -> String {
        api("/users/password-reset")
    }

    pub fn verify_email() -> String {
        api("/users/verify-email")
    }

    pub fn verify_email_resend() -> String {
        api("/users/verify-email/resend")
    }

    pub fn refresh() -> String {
        api("/users/token/refresh")
    }

    pub fn logout() -> String {
        api("/users/logout")
    }

    pub fn videos() -> String {
        api("/videos")
    }

    pub fn video_upload() -> String {
        api("/videos/upload")
    }

    pub fn video(id: impl Display) -> String {
        format!("{API}/videos/{id}")
    }

    pub fn video_content(id: impl Display) -> String {
        format!("{}/content", video(id))
    }

    pub fn video_thumbnail(id: impl Display) -> String {
        format!("{}/thumbnail", video(id))
    }

    pub fn video_retry(id: impl Display) -> String {
        format!("{}/retry", video(id))
    }

    pub fn my_analytics() -> String {
        format!("{API}/analytics/me")
    }

    pub fn analytics_overview() -> String {
        format!("{API}/analytics/overview")
    }

    /// The route key under which video creation stores idempotent answers.
    pub const CREATE_VIDEO_ROUTE: &str = "POST /api/v1/videos";
}

/// The access token of a token response; fails loudly when there is none.
pub fn access_token(tokens: &serde_json::Value) -> &str {
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login returned no access token: {tokens}"))
}

/// The refresh token of a token response; fails loudly when there is none.
pub fn refresh_token(tokens: &serde_json::Value) -> &str {
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("login returned no refresh token: {tokens}"))
}

/// A user created through the API, with a fresh token pair.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestUser {
    fn new(id: i64, tokens: &serde_json::Value) -> Self {
        Self {
            id,
            access_token: access_token(tokens).to_owned(),
            refresh_token: refresh_token(tokens).to_owned(),
        }
    }
}

/// Generic requests.
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
}

/// One helper per users endpoint, answering the raw response.
impl TestApp {
    /// `POST /users` with any body.
    pub async fn create_user(&self, body: &serde_json::Value) -> reqwest::Response {
        self.post_json(&paths::users(), body).await
    }

    pub async fn get_me(&self, token: &str) -> reqwest::Response {
        self.get_as(&paths::me(), token).await
    }

    pub async fn get_user(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::user(id), token).await
    }

    pub async fn get_user_by_username(&self, username: &str, token: &str) -> reqwest::Response {
        self.get_as(&paths::user_by_username(username), token).await
    }

    /// `GET /users?query` (`query` may be empty).
    pub async fn list_users(&self, query: &str, token: &str) -> reqwest::Response {
        self.get_as(&paths::with_query(&paths::users(), query), token)
            .await
    }

    /// `PATCH /users/{id}`.
    pub async fn update_user(
        &self,
        id: impl Display,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, &paths::user(id), token, Some(body))
            .await
    }

    /// `PUT /users/{id}`.
    pub async fn replace_user(
        &self,
        id: impl Display,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PUT, &paths::user(id), token, Some(body))
            .await
    }

    pub async fn delete_user(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, &paths::user(id), token, None)
            .await
    }

    /// `PUT /users/{id}/password`.
    pub async fn change_password(
        &self,
        id: impl Display,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(
            reqwest::Method::PUT,
            &paths::user_password(id),
            token,
            Some(body),
        )
        .await
    }

    /// `PATCH /users/{id}/status` to `status`.
    pub async fn set_user_status(
        &self,
        id: impl Display,
        token: &str,
        status: &str,
    ) -> reqwest::Response {
        self.send(
            reqwest::Method::PATCH,
            &paths::user_status(id),
            token,
            Some(&serde_json::json!({"status": status})),
        )
        .await
    }

    /// `PATCH /users/{id}/role` to `role`.
    pub async fn set_user_role(
        &self,
        id: impl Display,
        token: &str,
        role: &str,
    ) -> reqwest::Response {
        self.send(
            reqwest::Method::PATCH,
            &paths::user_role(id),
            token,
            Some(&serde_json::json!({"role": role})),
        )
        .await
    }
}

/// One helper per auth endpoint, answering the raw response.
impl TestApp {
    /// `POST /users/login` with JSON.
    pub async fn post_login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            &paths::login(),
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// `POST /users/token/refresh` with this refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.post_json(
            &paths::refresh(),
            &serde_json::json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// `POST /users/logout` of the session of `refresh_token`, as `access_token`.
    pub async fn logout(&self, access_token: &str, refresh_token: &str) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            &paths::logout(),
            access_token,
            Some(&serde_json::json!({"refresh_token": refresh_token})),
        )
        .await
    }
}

/// One helper per videos endpoint, answering the raw response.
impl TestApp {
    /// `POST /videos`.
    pub async fn create_video(&self, token: &str, body: &serde_json::Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, &paths::videos(), token, Some(body))
            .await
    }

    /// `POST /videos/upload` with `form`, and an `Idempotency-Key` when given.
    pub async fn upload_video(
        &self,
        token: &str,
        form: reqwest::multipart::Form,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&paths::video_upload()))
            .bearer_auth(token)
            .multipart(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST upload: {e}"))
    }

    /// `GET /videos?query` (`query` may be empty).
    pub async fn list_videos(&self, query: &str, token: &str) -> reqwest::Response {
        self.get_as(&paths::with_query(&paths::videos(), query), token)
            .await
    }

    pub async fn get_video(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::video(id), token).await
    }

    /// `PATCH /videos/{id}`.
    pub async fn update_video(
        &self,
        id: impl Display,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, &paths::video(id), token, Some(body))
            .await
    }

    pub async fn delete_video(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, &paths::video(id), token, None)
            .await
    }

    pub async fn get_video_content(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::video_content(id), token).await
    }

    pub async fn get_video_thumbnail(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::video_thumbnail(id), token).await
    }

    /// `POST /videos/{id}/retry`.
    pub async fn retry_video(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.send(reqwest::Method::POST, &paths::video_retry(id), token, None)
            .await
    }

    pub async fn list_user_videos(&self, user_id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::user_videos(user_id), token).await
    }

    pub async fn get_user_video(
        &self,
        user_id: impl Display,
        video_id: impl Display,
        token: &str,
    ) -> reqwest::Response {
        self.get_as(&paths::user_video(user_id, video_id), token)
            .await
    }
}

/// One helper per analytics endpoint, answering the raw response.
impl TestApp {
    pub async fn get_my_analytics(&self, token: &str) -> reqwest::Response {
        self.get_as(&paths::my_analytics(), token).await
    }

    pub async fn get_analytics_overview(&self, token: &str) -> reqwest::Response {
        self.get_as(&paths::analytics_overview(), token).await
    }
}

/// One helper per profile and avatar endpoint, answering the raw response.
impl TestApp {
    pub async fn get_profile(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::user_profile(id), token).await
    }

    pub async fn put_profile(
        &self,
        id: impl Display,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send(
            reqwest::Method::PUT,
            &paths::user_profile(id),
            token,
            Some(body),
        )
        .await
    }

    /// `PUT /users/{id}/avatar` with `form`.
    pub async fn put_avatar(
        &self,
        id: impl Display,
        token: &str,
        form: reqwest::multipart::Form,
    ) -> reqwest::Response {
        let path = paths::user_avatar(id);
        self.client
            .put(self.url(&path))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e}"))
    }

    /// `PUT /users/{id}/avatar` with one `file` part holding `bytes` (declared as
    /// `image/png`, whatever they are: the server decides from the bytes).
    pub async fn put_avatar_bytes(
        &self,
        id: impl Display,
        token: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("avatar.png")
            .mime_str("image/png")
            .unwrap_or_else(|e| panic!("mime: {e}"));
        self.put_avatar(
            id,
            token,
            reqwest::multipart::Form::new().part("file", part),
        )
        .await
    }

    pub async fn get_avatar(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.get_as(&paths::user_avatar(id), token).await
    }

    pub async fn delete_avatar(&self, id: impl Display, token: &str) -> reqwest::Response {
        self.send(
            reqwest::Method::DELETE,
            &paths::user_avatar(id),
            token,
            None,
        )
        .await
    }
}

/// Users in a known state, for tests that need one; each fails unless the API agrees.
impl TestApp {
    /// Registers `username` (e-mail `username@example.com`, password [`PASSWORD`]).
    pub async fn register(&self, username: &str) -> serde_json::Value {
        let response = self
            .create_user(&serde_json::json!({
                "username": username,
                "name": format!("{username} Name"),
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
                "confirm_password": PASSWORD,
            }))
            .await;
        assert_eq!(response.status().as_u16(), 201, "register {username}");
        json(response).await
    }

    /// Logs in with JSON; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let response = self.post_login(username, password).await;
        assert_eq!(response.status().as_u16(), 200, "login {username}");
        json(response).await
    }

    /// Registers and logs in a user.
    pub async fn user(&self, username: &str) -> TestUser {
        let created = self.register(username).await;
        let tokens = self.login(username, PASSWORD).await;
        let id = created["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("registration returned no id: {created}"));
        TestUser::new(id, &tokens)
    }

    /// The admin created at start-up, logged in.
    pub async fn admin(&self) -> TestUser {
        let tokens = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let me = json(self.get_me(access_token(&tokens)).await).await;
        let id = me["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("admin id: {me}"));
        TestUser::new(id, &tokens)
    }

    /// A user promoted to moderator by the admin, logged in again (roles live in tokens).
    pub async fn moderator(&self, username: &str) -> TestUser {
        let user = self.user(username).await;
        let admin = self.admin().await;
        let response = self
            .set_user_role(user.id, &admin.access_token, "moderator")
            .await;
        assert_eq!(response.status().as_u16(), 200, "promote {username}");
        let tokens = self.login(username, PASSWORD).await;
        TestUser::new(user.id, &tokens)
    }
}

#[tokio::test]
async fn eventually_returns_the_first_success() {
    let mut calls = 0;
    let value = eventually(Duration::from_secs(5), async || {
        calls += 1;
        if calls == 3 {
            Ok(calls)
        } else {
            Err(format!("only {calls} calls"))
        }
    })
    .await;
    assert_eq!(value, 3);
}

#[tokio::test]
#[should_panic(expected = "still waiting after")]
async fn eventually_fails_with_the_last_state() {
    let mut calls = 0;
    eventually(
        Duration::from_millis(250),
        async || -> Result<(), String> {
            calls += 1;
            Err(format!("still waiting after {calls} calls"))
        },
    )
    .await;
}

#[test]
#[should_panic(expected = "login returned no access token")]
fn a_token_response_without_an_access_token_fails_loudly() {
    access_token(&serde_json::json!({"refresh_token": "r"}));
}

#[test]
#[should_panic(expected = "login returned no refresh token")]
fn a_token_response_without_a_refresh_token_fails_loudly() {
    refresh_token(&serde_json::json!({"access_token": "a"}));
}
