//! Generated videos through real HTTP: creation, the job to completion, downloads with
//! and without ranges, thumbnails, lists, changes, deletion, retries of failed renders,
//! and no access to anyone else's videos.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use vidgen_application::videos::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, RenderedVideo,
    VideoRenderer,
};

use vidgen_domain::videos::{GENERATED_FPS, Prompt};
use vidgen_infrastructure::render::{Painter, Shot, Spec, render, write_png};

use crate::helpers::wait_for_video as wait_for;
use crate::helpers::{
    TestApp, TestUser, access_token, assert_problem, eventually, json, paths, spawn_app,
    spawn_app_full, spawn_app_with,
};

async fn create(app: &TestApp, user: &TestUser, body: serde_json::Value) -> serde_json::Value {
    let response = app.create_video(&user.access_token, &body).await;
    assert_eq!(response.status().as_u16(), 202, "create");
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let video = json(response).await;
    assert_eq!(location, paths::video(&video["id"]));
    video
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_generated_video_renders_and_downloads() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let created = create(
        &app,
        &jane,
        json!({"title": "Lake", "description": "Dawn", "prompt": "A quiet lake at dawn", "duration_seconds": 2}),
    )
    .await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["source"], "generated");
    assert_eq!(created["progress"], 0);
    assert!(created["content_url"].is_null());
    let id = created["id"].as_i64().expect("id");

    let done = wait_for(&app, &jane, id, "completed").await;
    assert_eq!(done["progress"], 100);
    assert_eq!(
        (done["width"].as_i64(), done["height"].as_i64()),
        (Some(1280), Some(720))
    );
    assert!((done["duration"].as_f64().expect("duration") - 2.0).abs() < 0.05);
    assert_eq!(done["content_type"], "video/mp4");
    assert!(done["completed_at"].is_string());
    let size = done["file_size"].as_i64().expect("size");

    let content = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(content.status().as_u16(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    assert_eq!(content.headers()["accept-ranges"], "bytes");
    assert!(content.headers().contains_key("etag"));
    assert!(content.headers().contains_key("last-modified"));
    assert_eq!(content.headers()["cache-control"], "private, no-cache");
    let etag = content.headers()["etag"].clone();
    let bytes = content.bytes().await.expect("body");
    assert_eq!(bytes.len() as i64, size);
    assert_eq!(&bytes[4..8], b"ftyp");

    let partial = app
        .client
        .get(app.url(&paths::video_content(id)))
        .bearer_auth(&jane.access_token)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .expect("range");
    assert_eq!(partial.status().as_u16(), 206);
    assert_eq!(
        partial.headers()["content-range"],
        format!("bytes 0-99/{size}").as_str()
    );
    assert_eq!(partial.headers()["cache-control"], "private, no-cache");
    assert_eq!(partial.bytes().await.expect("body").len(), 100);

    let revalidated = app
        .client
        .get(app.url(&paths::video_content(id)))
        .bearer_auth(&jane.access_token)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(revalidated.status().as_u16(), 304);
    assert_eq!(revalidated.headers()["cache-control"], "private, no-cache");

    let unsatisfiable = app
        .client
        .get(app.url(&paths::video_content(id)))
        .bearer_auth(&jane.access_token)
        .header("Range", format!("bytes={}-", size + 10))
        .send()
        .await
        .expect("range");
    assert_problem(unsatisfiable, 416, "RANGE_NOT_SATISFIABLE").await;

    let thumbnail = app.get_video_thumbnail(id, &jane.access_token).await;
    assert_eq!(thumbnail.status().as_u16(), 200);
    assert_eq!(thumbnail.headers()["content-type"], "image/png");
    assert_eq!(thumbnail.headers()["cache-control"], "private, no-cache");
    assert_eq!(&thumbnail.bytes().await.expect("png")[..4], b"\x89PNG");

    // Deleting removes the row and both files.
    assert_eq!(files_in(&app.media_root), 2);
    let deleted = app.delete_video(id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(files_in(&app.media_root), 0);
    assert_problem(
        app.get_video(id, &jane.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_prompt_far_too_long_for_its_duration_completes_with_a_shortened_caption() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let sentence = "Waves roll in over the pebbles while gulls circle above the harbour. ";
    let prompt: String = sentence.chars().cycle().take(Prompt::MAX_LEN).collect();
    let created = create(
        &app,
        &jane,
        json!({"title": "Harbour", "prompt": prompt, "duration_seconds": 5}),
    )
    .await;
    let id = created["id"].as_i64().expect("id");

    let done = wait_for(&app, &jane, id, "completed").await;
    assert!((done["duration"].as_f64().expect("duration") - 5.0).abs() < 0.05);
    let video = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(video.status().as_u16(), 200);
    let video = video.bytes().await.expect("video");
    let thumbnail = app.get_video_thumbnail(id, &jane.access_token).await;
    assert_eq!(thumbnail.status().as_u16(), 200);
    let thumbnail = thumbnail.bytes().await.expect("thumbnail");

    // The renderer is deterministic: the same render in process gives the bytes the API
    // must have served, and its plan says what the video shows.
    let spec = Spec {
        title: "Harbour".into(),
        prompt,
        width: 1280,
        height: 720,
        fps: GENERATED_FPS,
        duration_seconds: 5,
    };
    let plan = Painter::new(&spec).expect("painter").plan().clone();
    let cut = plan.shortened.expect("the prompt was shortened");
    assert!(
        cut.kept_words * 50 < cut.total_words,
        "most of the prompt was left out: {cut:?}"
    );
    let captions: Vec<&str> = plan
        .cues
        .iter()
        .filter_map(|cue| match &cue.shot {
            Shot::Caption(text) => Some(text.as_str()),
            Shot::Title => None,
        })
        .collect();
    let words: usize = captions.iter().map(|c| c.split_whitespace().count()).sum();
    assert!(words <= 15, "about three words a second: {captions:?}");
    let last = captions.last().expect("a caption");
    assert!(last.ends_with('\u{2026}'), "ends with an ellipsis: {last}");

    let dir = tempfile::tempdir().expect("tempdir");
    let expected_video = dir.path().join("expected.mp4");
    let thumbnail_frame = spec.thumbnail_frame();
    let mut expected_thumbnail = None;
    render(
        &spec,
        &expected_video,
        || false,
        |_| {},
        |index, canvas| {
            if index == thumbnail_frame {
                expected_thumbnail = Some(canvas.clone());
            }
        },
    )
    .expect("the same render in process");
    let expected_png = dir.path().join("expected.png");
    write_png(
        &expected_thumbnail.expect("the thumbnail's frame"),
        &expected_png,
    )
    .expect("png");
    assert!(
        std::fs::read(&expected_video).expect("expected video") == video.as_ref(),
        "the served video is the shortened render"
    );
    assert!(
        std::fs::read(&expected_png).expect("expected thumbnail") == thumbnail.as_ref(),
        "the served thumbnail shows the shortened caption"
    );
}

#[tokio::test]
async fn videos_are_validated_and_files_wait_for_completion() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let bad = [
        (json!({"title": "", "prompt": "x"}), "title"),
        (json!({"title": "t", "prompt": ""}), "prompt"),
        (
            json!({"title": "t", "prompt": "x", "duration_seconds": 61}),
            "duration_seconds",
        ),
        (
            json!({"title": "t", "prompt": "x", "duration_seconds": 0}),
            "duration_seconds",
        ),
        (
            json!({"title": "t", "prompt": "x", "resolution": "4k"}),
            "resolution",
        ),
        (
            json!({"title": "t", "prompt": "x", "owner_id": 5}),
            "owner_id",
        ),
    ];
    for (body, field) in bad {
        let response = app.create_video(&jane.access_token, &body).await;
        let problem = assert_problem(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(problem["error_details"][0]["field"], field, "{body}");
    }

    let video = create(
        &app,
        &jane,
        json!({"title": "Later", "prompt": "Not yet", "resolution": "1080p"}),
    )
    .await;
    let id = video["id"].as_i64().expect("id");
    for path in ["content", "thumbnail"] {
        let response = app
            .get_as(&format!("{}/{path}", paths::video(id)), &jane.access_token)
            .await;
        assert_problem(response, 409, "VIDEO_NOT_READY").await;
    }
    let retry = app.retry_video(id, &jane.access_token).await;
    assert_problem(retry, 409, "CONFLICT").await;
}

/// Titles and statuses of a list response, in order.
async fn listed(response: reqwest::Response) -> Vec<(String, String)> {
    json(response)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|v| {
            let field = |name: &str| v[name].as_str().unwrap_or_default().to_owned();
            (field("title"), field("status"))
        })
        .collect()
}

/// The list pages are cached in memory (LIST_CACHE_TTL_SECONDS, on by default): every
/// write, the render job's included, must show in the next list.
#[tokio::test]
async fn a_list_after_any_write_shows_it() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let admin = app.admin().await;
    let mine = async || listed(app.list_videos("", &jane.access_token).await).await;
    assert_eq!(mine().await, []);
    let video = create(&app, &jane, json!({"title": "Cached", "prompt": "A lake"})).await;
    let id = video["id"].as_i64().expect("id");
    assert_eq!(mine().await.len(), 1, "a new video is listed");
    wait_for(&app, &jane, id, "completed").await;
    assert_eq!(
        mine().await,
        [("Cached".to_owned(), "completed".to_owned())],
        "the render's status changes are listed"
    );
    let renamed = app
        .update_video(id, &jane.access_token, &json!({"title": "Renamed"}))
        .await;
    assert_eq!(renamed.status().as_u16(), 200);
    assert_eq!(mine().await[0].0, "Renamed");
    let everyone = async || listed(app.list_videos("", &admin.access_token).await).await;
    assert_eq!(everyone().await.len(), 1);

    // The users' list follows user writes; deleting a user takes their videos off the
    // video list too.
    let names = async || {
        json(app.list_users("search=jane", &admin.access_token).await)
            .await
            .as_array()
            .expect("array")
            .iter()
            .map(|u| format!("{} {}", u["name"], u["status"]))
            .collect::<Vec<_>>()
    };
    let before = names().await;
    assert_eq!(before.len(), 1, "{before:?}");
    let patched = app
        .update_user(jane.id, &jane.access_token, &json!({"name": "Jane Cached"}))
        .await;
    assert_eq!(patched.status().as_u16(), 200);
    assert_eq!(names().await, [r#""Jane Cached" "active""#]);
    let suspended = app
        .set_user_status(jane.id, &admin.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    assert_eq!(names().await, [r#""Jane Cached" "suspended""#]);
    let deleted = app.delete_user(jane.id, &admin.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(names().await, Vec::<String>::new());
    assert_eq!(
        everyone().await,
        [],
        "the deleted user's video is gone from the list"
    );
}

#[tokio::test]
async fn lists_changes_and_no_access_to_others_videos() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let john = app.user("john").await;
    let admin = app.admin().await;
    for title in ["Alpha", "Bravo", "Charlie"] {
        create(&app, &jane, json!({"title": title, "prompt": "p"})).await;
    }
    let johns = create(&app, &john, json!({"title": "John's", "prompt": "p"})).await;
    let johns_id = johns["id"].as_i64().expect("id");

    let mine = app
        .list_videos("sort_by=title&sort_order=asc&limit=2", &jane.access_token)
        .await;
    assert_eq!(mine.headers()["x-total-count"], "3");
    assert_eq!(mine.headers()["x-page-count"], "2");
    assert!(mine.headers().contains_key("link"));
    let titles: Vec<String> = json(mine)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(titles, vec!["Alpha", "Bravo"]);
    let searched = app.list_videos("search=RAV", &jane.access_token).await;
    assert_eq!(searched.headers()["x-total-count"], "1");
    let pending = app
        .list_videos("status=pending&source=generated", &jane.access_token)
        .await;
    assert_eq!(pending.headers()["x-total-count"], "3");
    let everyone = app.list_videos("", &admin.access_token).await;
    assert_eq!(everyone.headers()["x-total-count"], "4");
    let filtered = app
        .list_videos(&format!("owner_id={}", john.id), &admin.access_token)
        .await;
    assert_eq!(filtered.headers()["x-total-count"], "1");
    // A plain user's owner_id filter cannot widen the view.
    let sneaky = app
        .list_videos(&format!("owner_id={}", john.id), &jane.access_token)
        .await;
    assert_eq!(sneaky.headers()["x-total-count"], "3");
    for bad in ["sort_by=owner", "status=done", "limit=0"] {
        let response = app.list_videos(bad, &jane.access_token).await;
        assert_problem(response, 422, "VALIDATION_ERROR").await;
    }

    let nested = app.list_user_videos(jane.id, &jane.access_token).await;
    assert_eq!(nested.headers()["x-total-count"], "3");
    let nested_other = app.list_user_videos(john.id, &jane.access_token).await;
    assert_problem(nested_other, 404, "NOT_FOUND").await;
    let by_admin = app
        .get_user_video(john.id, johns_id, &admin.access_token)
        .await;
    assert_eq!(by_admin.status().as_u16(), 200);

    let patched = app
        .update_video(
            johns_id,
            &john.access_token,
            &json!({"title": "Renamed", "description": "New"}),
        )
        .await;
    let body = json(patched).await;
    assert_eq!(
        (body["title"].as_str(), body["description"].as_str()),
        (Some("Renamed"), Some("New"))
    );
    let cleared = app
        .update_video(johns_id, &john.access_token, &json!({"description": ""}))
        .await;
    assert!(json(cleared).await["description"].is_null());

    // Jane reaches none of John's video routes.
    let theirs = paths::video(johns_id);
    let attempts: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, theirs.clone(), None),
        (
            Method::PATCH,
            theirs.clone(),
            Some(json!({"title": "Mine now"})),
        ),
        (Method::DELETE, theirs.clone(), None),
        (Method::GET, format!("{theirs}/content"), None),
        (Method::GET, format!("{theirs}/thumbnail"), None),
        (Method::POST, format!("{theirs}/retry"), None),
        (Method::GET, paths::user_video(john.id, johns_id), None),
        (Method::GET, paths::user_video(jane.id, johns_id), None),
    ];
    for (method, path, body) in attempts {
        let response = app
            .send(method.clone(), &path, &jane.access_token, body.as_ref())
            .await;
        assert_problem(response, 404, "NOT_FOUND").await;
    }
    let still = json(app.get_as(&theirs, &john.access_token).await).await;
    assert_eq!(still["title"], "Renamed");
}

/// A renderer that always fails, injected through the port.
struct BrokenRenderer;

#[async_trait::async_trait]
impl VideoRenderer for BrokenRenderer {
    async fn render(
        &self,
        _request: RenderRequest,
        _target: RenderTarget,
        _progress: Arc<dyn RenderProgress>,
        _cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        Err(RenderError::Encoder("the GPU caught fire".into()))
    }
}

#[tokio::test]
async fn failed_renders_are_retried_then_fail_and_can_be_queued_again() {
    let app = spawn_app_full(|_| {}, Some(Arc::new(BrokenRenderer))).await;
    let jane = app.user("jane").await;
    let video = create(
        &app,
        &jane,
        json!({"title": "Doomed", "prompt": "p", "duration_seconds": 1}),
    )
    .await;
    let id = video["id"].as_i64().expect("id");
    let failed = wait_for(&app, &jane, id, "failed").await;
    let error = failed["error"].as_str().expect("error");
    assert!(error.contains("GPU caught fire"), "{error}");

    let retried = app.retry_video(id, &jane.access_token).await;
    assert_eq!(retried.status().as_u16(), 202);
    let body = json(retried).await;
    assert!(
        body["status"] == "pending" || body["status"] == "processing",
        "{body}"
    );
    assert!(body["error"].is_null());
}

#[tokio::test]
async fn unverified_users_cannot_create_videos() {
    let app = spawn_app_with(|vars| {
        vars.insert("REQUIRE_EMAIL_VERIFICATION".into(), "true".into());
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let response = app
        .create_video(&jane.access_token, &json!({"title": "t", "prompt": "p"}))
        .await;
    assert_problem(response, 403, "EMAIL_NOT_VERIFIED").await;
}

#[tokio::test]
async fn idempotency_keys_make_retries_safe() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let john = app.user("john").await;
    let body = json!({"title": "Once", "prompt": "Only one of me"});
    let post = |user: &TestUser, key: &str, body: &serde_json::Value| {
        app.client
            .post(app.url(&paths::videos()))
            .bearer_auth(&user.access_token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
    };

    let first = post(&jane, "order-1", &body).await.expect("first");
    assert_eq!(first.status().as_u16(), 202);
    let location = first.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let first_body = first.text().await.expect("body");

    let again = post(&jane, "order-1", &body).await.expect("retry");
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(again.headers()["location"], location.as_str());
    assert_eq!(
        again.text().await.expect("body"),
        first_body,
        "the first answer is replayed"
    );

    let different = post(&jane, "order-1", &json!({"title": "Other", "prompt": "x"}))
        .await
        .expect("other");
    let problem = assert_problem(different, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        problem["error_details"][0]["code"],
        "idempotency_key_reused"
    );

    // Keys are per user: John's identical key is his own.
    let johns = post(&john, "order-1", &body).await.expect("john");
    assert_eq!(johns.status().as_u16(), 202);
    assert_ne!(johns.headers()["location"], location.as_str());

    let bad = post(&jane, "not valid!", &body).await.expect("bad key");
    assert_problem(bad, 422, "VALIDATION_ERROR").await;

    // Concurrent first uses of one key: one video, the others replay or wait (409).
    let racers = (0..5).map(|_| post(&jane, "race-7", &body));
    let answers = futures_util::future::join_all(racers).await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.expect("answer").status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&202), "{statuses:?}");
    let list = app.list_videos("", &jane.access_token).await;
    assert_eq!(
        list.headers()["x-total-count"],
        "2",
        "order-1 and race-7 made one video each"
    );
}

/// A fast stand-in renderer that writes small files, counts renders per title and can
/// hold a render until it is cancelled.
#[derive(Default)]
struct FakeRenderer {
    renders: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    hold_until_cancelled: bool,
    saw_cancel: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl VideoRenderer for FakeRenderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        if let Ok(mut renders) = self.renders.lock() {
            *renders.entry(request.title.clone()).or_default() += 1;
        }
        progress.report(50);
        if self.hold_until_cancelled {
            let started = Instant::now();
            while !cancel.is_cancelled() && started.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            self.saw_cancel
                .store(cancel.is_cancelled(), std::sync::atomic::Ordering::SeqCst);
            return Err(RenderError::Cancelled);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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

#[tokio::test]
async fn a_job_whose_worker_died_is_finished_by_another() {
    // The first instance only takes requests; its "worker" dies holding the lease.
    let first = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = first.user("jane").await;
    let video = create(&first, &jane, json!({"title": "Orphan", "prompt": "p"})).await;
    let id = video["id"].as_i64().expect("id");
    use sea_orm::ConnectionTrait;
    let backend = first.db.get_database_backend();
    first
        .db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE jobs SET state = 'running', lease_owner = 'dead-worker', attempts = 1, lease_expires_at = $1::timestamptz",
                _ => "UPDATE jobs SET state = 'running', lease_owner = 'dead-worker', attempts = 1, lease_expires_at = ?1",
            },
            [sea_orm::Value::from(chrono::Utc::now() - chrono::Duration::minutes(5))],
        ))
        .await
        .unwrap_or_else(|e| panic!("simulate a crash: {e}"));
    sea_orm_video_status(&first, id, "processing").await;

    // A second instance on the same database takes the expired lease over.
    let renderer = Arc::new(FakeRenderer::default());
    let url = first.database_url.clone();
    let second = spawn_app_full(
        |vars| {
            vars.insert("DATABASE_URL".into(), url);
        },
        Some(renderer.clone()),
    )
    .await;
    let done = wait_for(&second, &jane, id, "completed").await;
    assert_eq!(done["progress"], 100);
    assert_eq!(
        renderer.renders.lock().expect("lock").get("Orphan"),
        Some(&1)
    );
}

/// Sets a video's status directly, as a crashed worker would have left it.
async fn sea_orm_video_status(app: &TestApp, id: i64, status: &str) {
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(&format!(
            "UPDATE videos SET status = '{status}' WHERE id = {id}"
        ))
        .await
        .expect("set status");
}

#[tokio::test]
async fn two_instances_never_render_the_same_job() {
    let renderer = Arc::new(FakeRenderer::default());
    let first = spawn_app_full(
        |vars| {
            vars.insert("JOB_WORKERS".into(), "3".into());
        },
        Some(renderer.clone()),
    )
    .await;
    let url = first.database_url.clone();
    let second = spawn_app_full(
        |vars| {
            vars.insert("DATABASE_URL".into(), url);
            vars.insert("JOB_WORKERS".into(), "3".into());
        },
        Some(renderer.clone()),
    )
    .await;
    let jane = first.user("jane").await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let app = if n % 2 == 0 { &first } else { &second };
        let video = create(app, &jane, json!({"title": format!("v{n}"), "prompt": "p"})).await;
        ids.push(video["id"].as_i64().expect("id"));
    }
    for id in ids {
        wait_for(&first, &jane, id, "completed").await;
    }
    let renders = renderer.renders.lock().expect("lock").clone();
    assert_eq!(renders.len(), 8, "{renders:?}");
    assert!(
        renders.values().all(|n| *n == 1),
        "a job ran twice: {renders:?}"
    );
}

#[tokio::test]
async fn deleting_a_video_stops_its_running_render() {
    let renderer = Arc::new(FakeRenderer {
        hold_until_cancelled: true,
        ..FakeRenderer::default()
    });
    let app = spawn_app_full(
        |vars| {
            vars.insert("JOB_LEASE_SECONDS".into(), "3".into());
        },
        Some(renderer.clone()),
    )
    .await;
    let jane = app.user("jane").await;
    let video = create(&app, &jane, json!({"title": "Long", "prompt": "p"})).await;
    let id = video["id"].as_i64().expect("id");
    wait_for(&app, &jane, id, "processing").await;
    // The render reports 50%: the API shows it while it runs.
    eventually(Duration::from_secs(10), async || {
        let video = json(app.get_video(id, &jane.access_token).await).await;
        if video["progress"] == 50 {
            Ok(())
        } else {
            Err(format!("progress never showed: {video}"))
        }
    })
    .await;
    let deleted = app.delete_video(id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    eventually(Duration::from_secs(15), async || {
        if renderer
            .saw_cancel
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            Ok(())
        } else {
            Err("the render never noticed".to_owned())
        }
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_removes_their_videos_and_files() {
    let renderer = Arc::new(FakeRenderer::default());
    let app = spawn_app_full(|_| {}, Some(renderer)).await;
    let jane = app.user("jane").await;
    let video = create(&app, &jane, json!({"title": "Mine", "prompt": "p"})).await;
    let id = video["id"].as_i64().expect("id");
    wait_for(&app, &jane, id, "completed").await;
    assert_eq!(files_in(&app.media_root), 2);
    let gone = app.delete_user(jane.id, &jane.access_token).await;
    assert_eq!(gone.status().as_u16(), 204);
    assert_eq!(files_in(&app.media_root), 0);
    let admin = app.admin().await;
    let list = app.list_videos("", &admin.access_token).await;
    assert_eq!(list.headers()["x-total-count"], "0");
}

#[tokio::test]
async fn shutdown_releases_a_render_that_outlives_the_grace_period() {
    let renderer = Arc::new(FakeRenderer {
        hold_until_cancelled: true,
        ..FakeRenderer::default()
    });
    let app = spawn_app_full(
        |vars| {
            vars.insert("SHUTDOWN_TIMEOUT_SECONDS".into(), "1".into());
        },
        Some(renderer.clone()),
    )
    .await;
    let jane = app.user("jane").await;
    let video = create(&app, &jane, json!({"title": "Interrupted", "prompt": "p"})).await;
    let id = video["id"].as_i64().expect("id");
    wait_for(&app, &jane, id, "processing").await;
    app.stop().await;

    use sea_orm::{ConnectionTrait, Statement};
    let (owner, attempts) = eventually(Duration::from_secs(15), async || {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT state, lease_owner, attempts FROM jobs WHERE kind = 'render_video'"
                    .to_owned(),
            ))
            .await
            .expect("query")
            .expect("a job");
        let state: String = row.try_get("", "state").expect("state");
        let owner: Option<String> = row.try_get("", "lease_owner").expect("owner");
        let attempts: i32 = row.try_get("", "attempts").expect("attempts");
        if state == "queued" {
            Ok((owner, attempts))
        } else {
            Err(format!("still {state} after shutdown"))
        }
    })
    .await;
    assert_eq!(owner, None, "the lease is released");
    assert_eq!(attempts, 0, "an interrupted run does not count");
    assert!(
        renderer
            .saw_cancel
            .load(std::sync::atomic::Ordering::SeqCst)
    );
}

#[tokio::test]
async fn shutdown_lets_a_short_render_finish() {
    let renderer = Arc::new(FakeRenderer::default());
    let app = spawn_app_full(
        |vars| {
            vars.insert("SHUTDOWN_TIMEOUT_SECONDS".into(), "10".into());
        },
        Some(renderer.clone()),
    )
    .await;
    let jane = app.user("jane").await;
    let video = create(&app, &jane, json!({"title": "Almost done", "prompt": "p"})).await;
    let id = video["id"].as_i64().expect("id");
    wait_for(&app, &jane, id, "processing").await;
    app.stop().await;

    use sea_orm::{ConnectionTrait, Statement};
    eventually(Duration::from_secs(10), async || {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT status FROM videos WHERE id = {id}"),
            ))
            .await
            .expect("query")
            .expect("the video");
        let status: String = row.try_get("", "status").expect("status");
        if status == "completed" {
            Ok(())
        } else {
            Err(format!("still {status} after shutdown"))
        }
    })
    .await;
}

#[tokio::test]
async fn locations_are_absolute_under_a_configured_public_base_url() {
    let app = spawn_app_with(|vars| {
        vars.insert("PUBLIC_BASE_URL".into(), "https://api.example.test/".into());
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let registered = app
        .create_user(
            &json!({"username": "jane", "name": "Jane", "email": "jane@example.com",
                    "password": crate::helpers::PASSWORD, "confirm_password": crate::helpers::PASSWORD}),
        )
        .await;
    let location = registered.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let id = json(registered).await["id"].as_i64().expect("id");
    assert_eq!(
        location,
        format!("https://api.example.test{}", paths::user(id))
    );

    let tokens = app.login("jane", crate::helpers::PASSWORD).await;
    let token = access_token(&tokens);
    let send = || {
        app.client
            .post(app.url(&paths::videos()))
            .bearer_auth(token)
            .header("Idempotency-Key", "abs-1")
            .json(&json!({"title": "t", "prompt": "p"}))
            .send()
    };
    let first = send().await.expect("create");
    let replay = send().await.expect("replay");
    let expected = format!("https://api.example.test{}", paths::video(1));
    assert_eq!(first.headers()["location"], expected.as_str());
    assert_eq!(replay.headers()["location"], expected.as_str());
}

#[tokio::test]
async fn a_deleted_users_videos_are_not_found_even_for_admins() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let admin = app.admin().await;
    let jane = app.user("jane").await;
    assert_eq!(
        app.list_user_videos(jane.id, &admin.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        app.delete_user(jane.id, &admin.access_token)
            .await
            .status()
            .as_u16(),
        204
    );
    assert_problem(
        app.list_user_videos(jane.id, &admin.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
}
