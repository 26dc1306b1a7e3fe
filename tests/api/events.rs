//! Progress streams (`GET /api/v1/videos/{id}/events`) through real HTTP: a render
//! followed from `pending` through rising progress to `completed`, also when another
//! instance renders; the end of the stream; limits and their release when a client goes
//! away; access; and shutdown ending open streams.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vidgen_application::videos::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, RenderedVideo,
    VideoRenderer,
};

use crate::helpers::{TestApp, TestUser, assert_problem, eventually, json, paths, spawn_app_full};

/// Reports progress in steps, slowly enough for the stream to see each stage.
struct SteppingRenderer;

#[async_trait::async_trait]
impl VideoRenderer for SteppingRenderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        progress: Arc<dyn RenderProgress>,
        _cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        for percent in [20, 40, 60, 80] {
            progress.report(percent);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
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

/// One event as received.
#[derive(Debug)]
struct Event {
    id: String,
    name: String,
    data: serde_json::Value,
}

/// Reads a stream to its end (or fails the test after `limit`), parsing its events and
/// counting its comments.
async fn read_stream(response: reqwest::Response, limit: Duration) -> (Vec<Event>, usize) {
    let mut response = response;
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            text.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    };
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or_else(|_| panic!("the stream did not end within {limit:?}"));
    let mut events = Vec::new();
    let mut comments = 0;
    for block in text.split("\n\n").filter(|b| !b.is_empty()) {
        if block.starts_with(':') {
            comments += 1;
            continue;
        }
        let field = |name: &str| {
            block
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} in {block:?}"))
                .to_owned()
        };
        events.push(Event {
            id: field("id"),
            name: field("event"),
            data: serde_json::from_str(&field("data")).expect("JSON data"),
        });
    }
    (events, comments)
}

async fn open(app: &TestApp, user: &TestUser, id: i64) -> reqwest::Response {
    app.client
        .get(app.url(&format!("{}/events", paths::video(id))))
        .bearer_auth(&user.access_token)
        .send()
        .await
        .expect("events")
}

async fn create(app: &TestApp, user: &TestUser) -> i64 {
    let response = app
        .create_video(
            &user.access_token,
            &json!({"title": "Followed", "prompt": "A kite in the wind"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    json(response).await["id"].as_i64().expect("id")
}

/// The events of a whole render: `pending` or `processing` first, progress that only
/// rises with some values between 0 and 100 seen, and `completed` last.
fn assert_followed_to_completion(events: &[Event]) {
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().all(|e| e.name == "status"), "{events:?}");
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e.data["status"].as_str().expect("status"))
        .collect();
    assert!(
        matches!(statuses[0], "pending" | "processing"),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&"completed"), "{statuses:?}");
    let progress: Vec<i64> = events
        .iter()
        .map(|e| e.data["progress"].as_i64().expect("progress"))
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(
        progress.iter().any(|p| (1..100).contains(p)),
        "no progress in between: {progress:?}"
    );
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "each event has its own id");
    let last = &events[events.len() - 1].data;
    assert!(
        last["content_url"]
            .as_str()
            .is_some_and(|u| u.contains("signature="))
    );
}

#[tokio::test]
async fn a_stream_follows_a_render_from_pending_to_completed() {
    let app = spawn_app_full(|_| {}, Some(Arc::new(SteppingRenderer))).await;
    let jane = app.user("jane").await;
    let id = create(&app, &jane).await;
    let response = open(&app, &jane, id).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert!(!response.headers().contains_key("content-encoding"));
    let (events, _) = read_stream(response, Duration::from_secs(30)).await;
    assert_followed_to_completion(&events);

    // A completed video's stream gives its final state and ends, with or without a
    // Last-Event-ID.
    let last_id = events.last().expect("events").id.clone();
    let again = app
        .client
        .get(app.url(&format!("{}/events", paths::video(id))))
        .bearer_auth(&jane.access_token)
        .header("Last-Event-ID", &last_id)
        .send()
        .await
        .expect("reconnect");
    let (replayed, _) = read_stream(again, Duration::from_secs(5)).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].id, last_id);
    assert_eq!(replayed[0].data["status"], "completed");
}

#[tokio::test]
async fn a_stream_sees_a_render_made_by_another_instance() {
    // The first instance only serves the stream; the second renders.
    let first = spawn_app_full(
        |vars| {
            vars.insert("JOB_WORKERS".into(), "0".into());
        },
        Some(Arc::new(SteppingRenderer)),
    )
    .await;
    let jane = first.user("jane").await;
    let id = create(&first, &jane).await;
    let response = open(&first, &jane, id).await;
    assert_eq!(response.status().as_u16(), 200);
    let url = first.database_url.clone();
    let second = spawn_app_full(
        |vars| {
            vars.insert("DATABASE_URL".into(), url);
        },
        Some(Arc::new(SteppingRenderer)),
    )
    .await;
    let (events, _) = read_stream(response, Duration::from_secs(30)).await;
    assert_followed_to_completion(&events);
    second.stop().await;
}

#[tokio::test]
async fn streams_are_limited_and_a_client_that_leaves_frees_its_place() {
    let app = spawn_app_full(
        |vars| {
            vars.insert("EVENT_STREAMS_PER_USER".into(), "1".into());
            vars.insert("JOB_WORKERS".into(), "0".into());
        },
        Some(Arc::new(SteppingRenderer)),
    )
    .await;
    let jane = app.user("jane").await;
    let id = create(&app, &jane).await;
    let held = open(&app, &jane, id).await;
    assert_eq!(held.status().as_u16(), 200);
    let refused = open(&app, &jane, id).await;
    let body = assert_problem(refused, 429, "RATE_LIMITED").await;
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("streams"),
        "{body}"
    );
    // Another user has a budget of their own (and cannot see Jane's video).
    let bob = app.user("bob").await;
    assert_problem(open(&app, &bob, id).await, 404, "NOT_FOUND").await;
    drop(held);
    eventually(Duration::from_secs(5), async || {
        let retry = open(&app, &jane, id).await;
        if retry.status().as_u16() == 200 {
            Ok(())
        } else {
            Err(format!("still {}", retry.status()))
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let app = spawn_app_full(
        |vars| {
            vars.insert("JOB_WORKERS".into(), "0".into());
            vars.insert("SHUTDOWN_TIMEOUT_SECONDS".into(), "30".into());
        },
        Some(Arc::new(SteppingRenderer)),
    )
    .await;
    let jane = app.user("jane").await;
    let id = create(&app, &jane).await;
    let response = open(&app, &jane, id).await;
    assert_eq!(response.status().as_u16(), 200);
    let reading = tokio::spawn(read_stream(response, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = std::time::Instant::now();
    app.stop().await;
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "the stop waited for the stream"
    );
    let (events, _) = reading.await.expect("reader");
    assert_eq!(
        events.len(),
        1,
        "the current state, then the end: {events:?}"
    );
    assert_eq!(events[0].data["status"], "pending");
}
