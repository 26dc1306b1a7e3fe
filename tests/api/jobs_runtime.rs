//! The job runtime against a real database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): stale leases, workers that die during every attempt,
//! kinds without a handler, periodic jobs shared by two instances, and the media sweep on
//! real files.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use vidgen_application::clock::{Clock, SystemClock};
use vidgen_application::jobs::sweep_media::SweepMedia;
use vidgen_application::jobs::{
    ClaimedJob, JobContext, JobFailure, JobHandler, JobId, JobKind, JobQueue, JobRegistry,
    LeaseToken, NewJob,
};
use vidgen_application::storage::RepositoryError;
use vidgen_application::videos::ports::MediaStore;
use vidgen_application::videos::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, RenderedVideo,
    VideoRenderer,
};
use vidgen_domain::videos::JobState;
use vidgen_infrastructure::database::{self, DatabaseOptions, Db};
use vidgen_infrastructure::media::FsMediaStore;
use vidgen_infrastructure::repositories::{SeaOrmJobQueue, SeaOrmMediaReferences};
use vidgen_server::workers::{WorkerSettings, Workers, schedule_periodic};

use crate::helpers::{PostgresDatabase, TestApp, eventually, fresh_database, json, spawn_app_full};

struct Database {
    url: String,
    db: Db,
    _dir: tempfile::TempDir,
    _pg: Option<PostgresDatabase>,
}

async fn connect(url: &str) -> Db {
    database::connect(&DatabaseOptions {
        url: url.to_owned(),
        pool_size: 10,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect")
}

async fn database() -> Database {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, pg) = fresh_database(dir.path()).await;
    let db = connect(&url).await;
    database::migrate(&db).await.expect("migrate");
    Database {
        url,
        db,
        _dir: dir,
        _pg: pg,
    }
}

fn worker_settings(owner: &str, count: usize, lease: Duration) -> WorkerSettings {
    WorkerSettings {
        count,
        owner: owner.to_owned(),
        lease,
        poll_interval: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(1),
        retry_base: vidgen_domain::videos::RETRY_BASE,
    }
}

/// [`eventually`] for a condition: polls `check` until it holds, failing with `what`
/// after `limit`.
async fn until(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    eventually(limit, async || {
        if check().await {
            Ok(())
        } else {
            Err(format!("{what}: not within {limit:?}"))
        }
    })
    .await;
}

/// What a test handler saw.
#[derive(Default)]
struct Seen {
    runs: AtomicUsize,
    retries: AtomicUsize,
    final_failures: AtomicUsize,
    saw_cancel: AtomicBool,
    running: AtomicUsize,
    overlapped: AtomicBool,
    starts: Mutex<Vec<Instant>>,
}

/// A handler whose runs hold until `finish` is raised (if `hold`), then fail.
struct TestHandler {
    kind: JobKind,
    period: Option<Duration>,
    hold: bool,
    /// Runs that do not hold fail at once instead of succeeding.
    fails: bool,
    finish: Arc<AtomicBool>,
    seen: Arc<Seen>,
}

impl TestHandler {
    fn new(kind: JobKind, seen: Arc<Seen>) -> Self {
        Self {
            kind,
            period: None,
            hold: false,
            fails: false,
            finish: Arc::new(AtomicBool::new(false)),
            seen,
        }
    }
}

#[async_trait]
impl JobHandler for TestHandler {
    fn kind(&self) -> JobKind {
        self.kind
    }

    fn period(&self) -> Option<Duration> {
        self.period
    }

    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        if self.seen.running.fetch_add(1, Ordering::SeqCst) > 0 {
            self.seen.overlapped.store(true, Ordering::SeqCst);
        }
        self.seen.starts.lock().expect("lock").push(Instant::now());
        self.seen.runs.fetch_add(1, Ordering::SeqCst);
        let outcome = if self.hold {
            let started = Instant::now();
            while !self.finish.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30)
            {
                if context.cancel.is_cancelled() {
                    self.seen.saw_cancel.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(JobFailure("the stale run failed".into()))
        } else if self.fails {
            Err(JobFailure("the remote end refused".into()))
        } else {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok(())
        };
        self.seen.running.fetch_sub(1, Ordering::SeqCst);
        outcome
    }

    async fn record_progress(
        &self,
        _job: &ClaimedJob,
        _percent: u8,
    ) -> Result<(), RepositoryError> {
        Ok(())
    }

    async fn on_retry(
        &self,
        _job: &ClaimedJob,
        _failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        self.seen.retries.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn on_final_failure(
        &self,
        _job: &ClaimedJob,
        _failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        self.seen.final_failures.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn registry(handler: TestHandler) -> Arc<JobRegistry> {
    Arc::new(
        JobRegistry::new()
            .with(Arc::new(handler))
            .expect("one handler"),
    )
}

fn webhook_job(max_attempts: u32) -> NewJob {
    NewJob {
        kind: JobKind::DeliverWebhook,
        video_id: None,
        payload: "{}".into(),
        max_attempts,
        run_after: Utc::now(),
    }
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_overwrite_the_new_owners_result() {
    let database = database().await;
    let queue: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(database.db.clone()));
    let id = queue.enqueue(webhook_job(1)).await.expect("enqueue");
    let seen = Arc::new(Seen::default());
    let handler = TestHandler {
        hold: true,
        ..TestHandler::new(JobKind::DeliverWebhook, seen.clone())
    };
    let finish = handler.finish.clone();
    let workers = Workers::spawn(
        worker_settings("instance-a", 1, Duration::from_millis(900)),
        queue.clone(),
        registry(handler),
        Arc::new(SystemClock),
    );
    until(Duration::from_secs(10), "the run started", async || {
        seen.runs.load(Ordering::SeqCst) == 1
    })
    .await;

    // The database was away longer than the lease: another worker of the same instance
    // took the job over and is running it.
    let later = Utc::now() + chrono::Duration::hours(1);
    let takeover = queue
        .claim(
            "instance-a",
            &[JobKind::DeliverWebhook],
            Duration::from_secs(30),
            later,
        )
        .await
        .expect("claim")
        .expect("the lease looked expired");
    assert_eq!(takeover.id, id);
    until(
        Duration::from_secs(5),
        "the stale run was cancelled when its lease could not be renewed",
        async || seen.saw_cancel.load(Ordering::SeqCst),
    )
    .await;
    // The stale run fails on its last attempt: that must not touch the job.
    finish.store(true, Ordering::SeqCst);
    until(Duration::from_secs(5), "the stale run ended", async || {
        seen.running.load(Ordering::SeqCst) == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        queue.state(id).await.expect("state"),
        Some(JobState::Running),
        "the stale worker settled the new owner's job"
    );
    assert!(
        queue
            .complete(id, &takeover.lease, Utc::now())
            .await
            .expect("complete"),
        "the new owner lost its job"
    );
    workers.shutdown().await;
    assert_eq!(
        queue.state(id).await.expect("state"),
        Some(JobState::Succeeded)
    );
    assert_eq!(seen.final_failures.load(Ordering::SeqCst), 0);
    assert_eq!(seen.retries.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_job_whose_worker_dies_every_time_fails_after_the_maximum() {
    let database = database().await;
    let queue: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(database.db.clone()));
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let id = queue
        .enqueue(NewJob {
            run_after: long_ago,
            ..webhook_job(2)
        })
        .await
        .expect("enqueue");
    // Two workers claimed it and died holding the lease.
    for n in 0..2 {
        queue
            .claim(
                "dead",
                &[JobKind::DeliverWebhook],
                Duration::from_secs(1),
                long_ago + chrono::Duration::seconds(10 * n),
            )
            .await
            .expect("claim")
            .expect("the job");
    }
    let seen = Arc::new(Seen::default());
    let workers = Workers::spawn(
        worker_settings("survivor", 1, Duration::from_secs(30)),
        queue.clone(),
        registry(TestHandler::new(JobKind::DeliverWebhook, seen.clone())),
        Arc::new(SystemClock),
    );
    until(Duration::from_secs(10), "the job ended dead", async || {
        queue.state(id).await.expect("state") == Some(JobState::Dead)
    })
    .await;
    workers.shutdown().await;
    assert_eq!(
        seen.runs.load(Ordering::SeqCst),
        0,
        "a job past its attempts ran again"
    );
    assert_eq!(seen.final_failures.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_run_is_retried_after_a_jittered_backoff() {
    let database = database().await;
    let queue: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(database.db.clone()));
    let id = queue.enqueue(webhook_job(3)).await.expect("enqueue");
    let seen = Arc::new(Seen::default());
    let handler = TestHandler {
        fails: true,
        ..TestHandler::new(JobKind::DeliverWebhook, seen.clone())
    };
    let workers = Workers::spawn(
        worker_settings("a", 1, Duration::from_secs(30)),
        queue.clone(),
        registry(handler),
        Arc::new(SystemClock),
    );
    until(
        Duration::from_secs(10),
        "the failure was recorded",
        async || seen.retries.load(Ordering::SeqCst) == 1,
    )
    .await;
    workers.shutdown().await;
    use sea_orm::{ConnectionTrait, Statement};
    let row = database
        .db
        .query_one_raw(Statement::from_string(
            database.db.get_database_backend(),
            format!(
                "SELECT state, run_after, updated_at, last_error FROM jobs WHERE id = {}",
                id.0
            ),
        ))
        .await
        .expect("query")
        .expect("the job");
    let state: String = row.try_get("", "state").expect("state");
    let run_after: chrono::DateTime<Utc> = row.try_get("", "run_after").expect("run_after");
    let failed_at: chrono::DateTime<Utc> = row.try_get("", "updated_at").expect("updated_at");
    let error: Option<String> = row.try_get("", "last_error").expect("last_error");
    assert_eq!(state, "queued");
    assert_eq!(error.as_deref(), Some("the remote end refused"));
    let delay = (run_after - failed_at)
        .to_std()
        .expect("a delay after the failure");
    let base = vidgen_domain::videos::retry_backoff(1);
    assert!(
        delay >= base / 2 && delay <= base,
        "retry after {delay:?}, backoff {base:?}"
    );
    assert_eq!(seen.runs.load(Ordering::SeqCst), 1, "retried too early");
    assert_eq!(seen.final_failures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn jobs_of_a_kind_without_a_handler_are_left_queued() {
    let database = database().await;
    let queue: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(database.db.clone()));
    let orphan = queue
        .enqueue(NewJob {
            kind: JobKind::ProcessUpload,
            ..webhook_job(3)
        })
        .await
        .expect("enqueue");
    let handled = queue.enqueue(webhook_job(3)).await.expect("enqueue");
    let seen = Arc::new(Seen::default());
    let workers = Workers::spawn(
        worker_settings("a", 2, Duration::from_secs(30)),
        queue.clone(),
        registry(TestHandler::new(JobKind::DeliverWebhook, seen.clone())),
        Arc::new(SystemClock),
    );
    until(Duration::from_secs(10), "the handled job ran", async || {
        queue.state(handled).await.expect("state") == Some(JobState::Succeeded)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    workers.shutdown().await;
    assert_eq!(
        queue.state(orphan).await.expect("state"),
        Some(JobState::Queued),
        "a job nobody handles here waits for a process that does"
    );
}

#[tokio::test]
async fn two_instances_run_each_occurrence_of_a_periodic_job_once() {
    let database = database().await;
    let period = Duration::from_millis(400);
    let seen = Arc::new(Seen::default());
    let mut instances = Vec::new();
    for owner in ["instance-a", "instance-b"] {
        // Each instance has its own connection pool and registry, as separate processes.
        let queue: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(connect(&database.url).await));
        let handler = TestHandler {
            period: Some(period),
            ..TestHandler::new(JobKind::SweepMedia, seen.clone())
        };
        let registry = registry(handler);
        schedule_periodic(queue.as_ref(), &registry, SystemClock.now())
            .await
            .expect("seed");
        instances.push((queue, registry, owner));
    }
    let started = Instant::now();
    let workers: Vec<Workers> = instances
        .iter()
        .map(|(queue, registry, owner)| {
            Workers::spawn(
                worker_settings(owner, 2, Duration::from_secs(30)),
                queue.clone(),
                registry.clone(),
                Arc::new(SystemClock),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for workers in workers {
        workers.shutdown().await;
    }
    let elapsed = started.elapsed();

    let runs = seen.runs.load(Ordering::SeqCst);
    let most = usize::try_from(elapsed.as_millis() / period.as_millis()).expect("small") + 1;
    assert!(
        (3..=most).contains(&runs),
        "{runs} runs in {elapsed:?} with a period of {period:?}"
    );
    assert!(
        !seen.overlapped.load(Ordering::SeqCst),
        "two instances ran one occurrence"
    );
    let starts = seen.starts.lock().expect("lock").clone();
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= period - Duration::from_millis(50),
            "runs only {gap:?} apart: {starts:?}"
        );
    }
    use sea_orm::{ConnectionTrait, Statement};
    let row = database
        .db
        .query_one_raw(Statement::from_string(
            database.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'sweep_media'".to_owned(),
        ))
        .await
        .expect("query")
        .expect("a row");
    let rows: i64 = row.try_get("", "n").expect("count");
    assert_eq!(rows, 1, "one row per periodic kind");
}

/// A renderer that writes small files at once.
struct QuickRenderer;

#[async_trait]
impl VideoRenderer for QuickRenderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        _cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        progress.report(100);
        std::fs::write(&target.video, b"\0\0\0\x18ftypisom").map_err(RenderError::Io)?;
        std::fs::write(&target.thumbnail, b"\x89PNG").map_err(RenderError::Io)?;
        Ok(RenderedVideo {
            duration_seconds: f64::from(request.duration_seconds),
            width: request.width,
            height: request.height,
            frame_count: request.fps * request.duration_seconds,
            file_size: 12,
            content_type: "video/mp4",
            thumbnail_content_type: "image/png",
        })
    }
}

/// A renderer that must never be called.
#[derive(Default)]
struct CountingRenderer(AtomicUsize);

#[async_trait]
impl VideoRenderer for CountingRenderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        QuickRenderer
            .render(request, target, progress, cancel)
            .await
    }
}

async fn create_video(app: &TestApp, token: &str, title: &str) -> i64 {
    let response = app
        .create_video(
            token,
            &json!({"title": title, "prompt": "p", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202, "create");
    json(response).await["id"].as_i64().expect("id")
}

async fn video_status(app: &TestApp, token: &str, id: i64) -> serde_json::Value {
    json(app.get_video(id, token).await).await
}

#[tokio::test]
async fn a_render_whose_workers_died_during_every_attempt_fails_the_video() {
    let first = spawn_app_full(
        |vars| {
            vars.insert("JOB_WORKERS".into(), "0".into());
        },
        None,
    )
    .await;
    let jane = first.user("jane").await;
    let id = create_video(&first, &jane.access_token, "Cursed").await;
    // Every allowed attempt was claimed by a worker that then died.
    use sea_orm::ConnectionTrait;
    let backend = first.db.get_database_backend();
    first
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE jobs SET state = 'running', lease_owner = 'dead', lease_token = 'dead', attempts = max_attempts, lease_expires_at = $1::timestamptz WHERE kind = 'render_video'",
                _ => "UPDATE jobs SET state = 'running', lease_owner = 'dead', lease_token = 'dead', attempts = max_attempts, lease_expires_at = ?1 WHERE kind = 'render_video'",
            },
            [sea_orm::Value::from(Utc::now() - chrono::Duration::minutes(5))],
        ))
        .await
        .unwrap_or_else(|e| panic!("simulate crashes: {e}"));

    let renderer = Arc::new(CountingRenderer::default());
    let url = first.database_url.clone();
    let second = spawn_app_full(
        |vars| {
            vars.insert("DATABASE_URL".into(), url);
        },
        Some(renderer.clone()),
    )
    .await;
    let failed = eventually(Duration::from_secs(20), async || {
        let video = video_status(&second, &jane.access_token, id).await;
        if video["status"] == "failed" {
            Ok(video)
        } else {
            Err(format!("the video never failed: {video}"))
        }
    })
    .await;
    let error = failed["error"].as_str().expect("an error");
    assert!(error.contains("attempts"), "{error}");
    assert_eq!(renderer.0.load(Ordering::SeqCst), 0, "it rendered again");
}

#[tokio::test]
async fn every_instance_seeds_the_periodic_jobs_without_duplicates() {
    let first = spawn_app_full(|_| {}, None).await;
    let url = first.database_url.clone();
    let _second = spawn_app_full(
        |vars| {
            vars.insert("DATABASE_URL".into(), url);
        },
        None,
    )
    .await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = first
        .db
        .query_all_raw(Statement::from_string(
            first.db.get_database_backend(),
            "SELECT kind FROM jobs ORDER BY kind".to_owned(),
        ))
        .await
        .expect("query");
    let kinds: Vec<String> = rows
        .iter()
        .map(|row| row.try_get("", "kind").expect("kind"))
        .collect();
    assert_eq!(kinds, ["cleanup_idempotency_keys", "sweep_media"]);
}

fn age(path: &std::path::Path, by: Duration) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.set_modified(SystemTime::now() - by)
        .unwrap_or_else(|e| panic!("age {}: {e}", path.display()));
}

#[tokio::test]
async fn the_media_sweep_removes_dead_renders_and_orphans_but_keeps_what_rows_use() {
    let app = spawn_app_full(|_| {}, Some(Arc::new(QuickRenderer))).await;
    let jane = app.user("jane").await;
    let id = create_video(&app, &jane.access_token, "Kept").await;
    let video = eventually(Duration::from_secs(20), async || {
        let video = video_status(&app, &jane.access_token, id).await;
        if video["status"] == "completed" {
            Ok(video)
        } else {
            Err(format!("the video never completed: {video}"))
        }
    })
    .await;
    assert_eq!(video["status"], "completed");

    let store = FsMediaStore::new(&app.media_root).expect("store");
    let kept: Vec<std::path::PathBuf> = std::fs::read_dir(&app.media_root)
        .expect("media")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(kept.len(), 2, "the video and its thumbnail");
    // A render killed mid-way, a video deleted while its render finished (its files were
    // committed but never recorded), and an orphan too young to judge.
    let dead_render = store.staging_path(&store.new_key("mp4"));
    let orphan = store.path(&store.new_key("mp4"));
    let orphan_thumbnail = store.path(&store.new_key("png"));
    let young_orphan = store.path(&store.new_key("mp4"));
    let young_part = store.staging_path(&store.new_key("mp4"));
    let foreign = app.media_root.join("notes.txt");
    let avatar_key = store.new_key("png");
    let avatar = store.path(&avatar_key);
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE users SET avatar_key = '{avatar_key}' WHERE id = {}",
            jane.id
        ))
        .await
        .expect("an avatar");
    for path in [
        &avatar,
        &dead_render,
        &orphan,
        &orphan_thumbnail,
        &young_orphan,
        &young_part,
        &foreign,
    ] {
        std::fs::write(path, b"bytes").expect("write");
    }
    for path in kept
        .iter()
        .chain([&avatar, &dead_render, &orphan, &orphan_thumbnail, &foreign])
    {
        age(path, Duration::from_secs(2 * 3600));
    }

    let store = Arc::new(store);
    let sweep = SweepMedia::new(
        store,
        Arc::new(SeaOrmMediaReferences::new(app.db.clone())),
        Arc::new(SystemClock),
        Duration::from_secs(3600),
        SweepMedia::DEFAULT_PERIOD,
    );
    let context = JobContext::new(ClaimedJob {
        id: JobId(0),
        kind: JobKind::SweepMedia,
        video_id: None,
        payload: "{}".into(),
        attempt: 1,
        max_attempts: 3,
        lease_expires_at: Utc::now(),
        lease: LeaseToken::new("test"),
    });
    sweep.run(&context).await.expect("sweep");

    let left: HashSet<std::path::PathBuf> = std::fs::read_dir(&app.media_root)
        .expect("media")
        .map(|entry| entry.expect("entry").path())
        .collect();
    let expected: HashSet<std::path::PathBuf> = kept
        .into_iter()
        .chain([avatar, young_orphan, young_part, foreign])
        .collect();
    assert_eq!(left, expected);
    // The files the video row names still download.
    let content = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(content.status().as_u16(), 200);
}
