//! Use-case tests of the video service and the render job with mocked ports.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};
use vidgen_domain::videos::{
    DurationSeconds, Prompt, Resolution, Title, Video, VideoId, VideoSource, VideoStatus,
};

use super::VideoService;
use super::create::{CreateVideo, CreateVideoError};
use super::files::VideoFileError;
use super::ports::{MediaError, MediaObject, MockMediaStore, MockVideoRepository};
use super::queries::GetVideoError;
use super::render::{MockVideoRenderer, RenderError, RenderedVideo};
use super::render_job::{JobFailure, RenderJob};
use super::retry::RetryVideoError;
use crate::clock::MockClock;
use crate::idempotency::{
    Claim, Created, Fingerprint, IdempotencyKey, Keyed, MockIdempotencyStore, StoredResponse,
};
use crate::jobs::{ClaimedJob, JobContext, JobHandler, JobId, JobKind, LeaseToken, MockJobQueue};
use crate::webhooks::outbox::{MockWebhookBodies, WebhookOutbox};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("time")
}

fn clock() -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    Arc::new(clock)
}

fn owner(status: UserStatus) -> User {
    User {
        id: UserId::new(1).expect("id"),
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        role: Role::User,
        status,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version: 0,
        created_at: now(),
        updated_at: now(),
    }
}

fn video(status: VideoStatus, owner: i64) -> Video {
    Video {
        id: VideoId::new(5).expect("id"),
        owner_id: UserId::new(owner).expect("owner"),
        title: Title::parse("Lake").expect("title"),
        description: None,
        prompt: Some(Prompt::parse("A lake").expect("prompt")),
        source: VideoSource::Generated,
        status,
        progress: 0,
        resolution: Some(Resolution::P720),
        fps: Some(24),
        requested_duration: Some(DurationSeconds::new(2).expect("duration")),
        duration: None,
        width: None,
        height: None,
        file_size: None,
        content_type: None,
        codec: None,
        media_key: (status == VideoStatus::Completed).then(|| "a.mp4".to_owned()),
        thumbnail_key: (status == VideoStatus::Completed).then(|| "a.png".to_owned()),
        error: None,
        webhook_url: None,
        created_at: now(),
        updated_at: now(),
        completed_at: None,
    }
}

struct Ports {
    videos: MockVideoRepository,
    jobs: MockJobQueue,
    media: MockMediaStore,
    keys: MockIdempotencyStore,
    renderer: MockVideoRenderer,
    webhooks: WebhookOutbox,
}

impl Ports {
    fn new() -> Self {
        Self {
            videos: MockVideoRepository::new(),
            jobs: MockJobQueue::new(),
            media: MockMediaStore::new(),
            keys: MockIdempotencyStore::new(),
            renderer: MockVideoRenderer::new(),
            webhooks: WebhookOutbox::disabled(),
        }
    }

    fn service(self) -> VideoService {
        VideoService::new(
            Arc::new(self.videos),
            Arc::new(self.jobs),
            Arc::new(self.media),
            Arc::new(self.keys),
            clock(),
        )
    }

    fn render_job(self) -> RenderJob {
        RenderJob::new(
            Arc::new(self.videos),
            Arc::new(self.media),
            Arc::new(self.renderer),
            clock(),
            self.webhooks,
        )
    }
}

fn request() -> CreateVideo {
    CreateVideo {
        title: Title::parse("Lake").expect("title"),
        description: None,
        prompt: Prompt::parse("A lake").expect("prompt"),
        resolution: Resolution::P1080,
        duration: DurationSeconds::new(2).expect("duration"),
        webhook_url: None,
    }
}

fn actor(id: i64, role: Role) -> Actor {
    Actor {
        id: UserId::new(id).expect("id"),
        role,
    }
}

#[tokio::test]
async fn create_stores_the_video_and_its_job_together() {
    let mut ports = Ports::new();
    ports
        .videos
        .expect_create_with_job()
        .withf(|new, job, key| {
            new.resolution == Some(Resolution::P1080)
                && new.source == VideoSource::Generated
                && new.prompt.is_some()
                && job.kind == JobKind::RenderVideo
                && job.run_after == now()
                && key.is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(video(VideoStatus::Pending, 1)));
    let created = ports
        .service()
        .create(&owner(UserStatus::Active), request(), None)
        .await;
    assert!(matches!(created, Ok(Created::New(_))), "{created:?}");

    let refused = Ports::new()
        .service()
        .create(&owner(UserStatus::PendingVerification), request(), None)
        .await;
    assert!(matches!(refused, Err(CreateVideoError::Forbidden)));
}

fn keyed() -> Keyed<Video> {
    Keyed {
        key: IdempotencyKey::parse("k-1").expect("key"),
        route: "POST /api/v1/videos",
        respond: Box::new(|_| StoredResponse {
            status: 202,
            body: "{}".into(),
            location: None,
        }),
    }
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_or_wait() {
    let stored = StoredResponse {
        status: 202,
        body: "{\"id\":5}".into(),
        location: Some("/api/v1/videos/5".into()),
    };
    let cases = [
        (Claim::Replay(stored.clone()), "replay"),
        (Claim::Mismatch, "mismatch"),
        (Claim::InProgress, "in progress"),
    ];
    for (claim, name) in cases {
        let mut ports = Ports::new();
        let hash = request().fingerprint();
        ports
            .keys
            .expect_claim()
            .withf(move |claimed, at, lease_until| {
                *lease_until == *at + chrono::Duration::seconds(30)
                    && claimed.user_id == UserId::new(1).expect("id")
                    && claimed.route == "POST /api/v1/videos"
                    && claimed.key.as_str() == "k-1"
                    && claimed.request_hash == hash
            })
            .returning(move |_, _, _| Ok(claim.clone()));
        ports.videos.expect_create_with_job().never();
        let outcome = ports
            .service()
            .create(&owner(UserStatus::Active), request(), Some(keyed()))
            .await;
        let got = match outcome {
            Ok(Created::Replay(body)) => {
                assert_eq!(body, stored, "{name}");
                "replay"
            }
            Err(CreateVideoError::KeyMismatch) => "mismatch",
            Err(CreateVideoError::KeyInProgress) => "in progress",
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(got, name);
    }

    // A fresh key is completed with the video; a failed create gives the key back.
    let mut ports = Ports::new();
    ports
        .keys
        .expect_claim()
        .returning(|_, _, _| Ok(Claim::Fresh { record_id: 9 }));
    ports
        .videos
        .expect_create_with_job()
        .withf(|_, _, key| key.as_ref().is_some_and(|k| k.record_id == 9))
        .returning(|_, _, _| {
            Err(crate::storage::RepositoryError::new(std::io::Error::other(
                "down",
            )))
        });
    ports
        .keys
        .expect_abandon()
        .with(eq(9))
        .times(1)
        .returning(|_| Ok(()));
    let outcome = ports
        .service()
        .create(&owner(UserStatus::Active), request(), Some(keyed()))
        .await;
    assert!(matches!(outcome, Err(CreateVideoError::Unexpected(_))));
}

#[tokio::test]
async fn only_owners_and_admins_reach_a_video() {
    for (who, expected_ok) in [
        (actor(1, Role::User), true),
        (actor(2, Role::User), false),
        (actor(2, Role::Moderator), false),
        (actor(3, Role::Admin), true),
    ] {
        let mut ports = Ports::new();
        ports
            .videos
            .expect_get()
            .returning(|_| Ok(Some(video(VideoStatus::Pending, 1))));
        let outcome = ports.service().get(who, VideoId::new(5).expect("id")).await;
        assert_eq!(outcome.is_ok(), expected_ok, "{who:?}");
        if !expected_ok {
            assert!(matches!(outcome, Err(GetVideoError::NotFound)));
        }
    }
}

#[tokio::test]
async fn delete_cancels_jobs_and_removes_files() {
    let mut ports = Ports::new();
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Completed, 1))));
    ports
        .jobs
        .expect_cancel_for_video()
        .times(1)
        .returning(|_, _| Ok(1));
    ports
        .videos
        .expect_delete()
        .returning(|_| Ok(Some(video(VideoStatus::Completed, 1))));
    ports.media.expect_remove().times(2).returning(|_| Ok(()));
    let outcome = ports
        .service()
        .delete(actor(1, Role::User), VideoId::new(5).expect("id"))
        .await;
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn only_failed_videos_are_retried_and_files_wait_for_completion() {
    for status in [
        VideoStatus::Pending,
        VideoStatus::Processing,
        VideoStatus::Completed,
    ] {
        let mut ports = Ports::new();
        ports
            .videos
            .expect_get()
            .returning(move |_| Ok(Some(video(status, 1))));
        ports.videos.expect_retry_with_job().never();
        let outcome = ports
            .service()
            .retry(actor(1, Role::User), VideoId::new(5).expect("id"))
            .await;
        assert!(
            matches!(outcome, Err(RetryVideoError::NotFailed(_))),
            "{status:?}"
        );
    }
    let mut ports = Ports::new();
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Processing, 1))));
    let outcome = ports
        .service()
        .content(actor(1, Role::User), VideoId::new(5).expect("id"))
        .await;
    assert!(matches!(outcome, Err(VideoFileError::NotReady)));

    let mut ports = Ports::new();
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Completed, 1))));
    ports
        .media
        .expect_open()
        .withf(|key| key == "a.mp4")
        .returning(|_| {
            Ok(MediaObject {
                size: 1234,
                modified: now(),
                etag: "tag".into(),
            })
        });
    let file = ports
        .service()
        .content(actor(1, Role::User), VideoId::new(5).expect("id"))
        .await
        .expect("file");
    assert_eq!(file.key, "a.mp4");
    assert_eq!(file.object.size, 1234);
    assert_eq!(file.content_type, "video/mp4");

    // A completed video whose file the store has lost is a server error, not a 404.
    let mut ports = Ports::new();
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Completed, 1))));
    ports
        .media
        .expect_open()
        .returning(|_| Err(MediaError(std::io::ErrorKind::NotFound.into())));
    let outcome = ports
        .service()
        .content(actor(1, Role::User), VideoId::new(5).expect("id"))
        .await;
    assert!(matches!(outcome, Err(VideoFileError::Unexpected(_))));
}

fn claimed(attempt: u32) -> ClaimedJob {
    ClaimedJob {
        id: JobId(3),
        kind: JobKind::RenderVideo,
        video_id: VideoId::new(5),
        payload: "{}".into(),
        attempt,
        max_attempts: 3,
        lease_expires_at: now(),
        lease: LeaseToken::new("lease"),
    }
}

fn media_ports(ports: &mut Ports) {
    ports
        .media
        .expect_new_key()
        .returning(|extension| format!("key.{extension}"));
    ports
        .media
        .expect_staging_path()
        .returning(|key| PathBuf::from(format!("/media/{key}.part")));
}

#[tokio::test]
async fn a_render_completes_the_video_with_its_files() {
    let mut ports = Ports::new();
    media_ports(&mut ports);
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Pending, 1))));
    ports
        .videos
        .expect_transition()
        .withf(|_, _, status, _, _, _| *status == VideoStatus::Processing)
        .returning(|_, _, _, _, _, _| Ok(true));
    ports
        .renderer
        .expect_render()
        .withf(|request, target, _, _| {
            (
                request.width,
                request.height,
                request.fps,
                request.duration_seconds,
            ) == (1280, 720, 24, 2)
                && target.video == std::path::Path::new("/media/key.mp4.part")
        })
        .returning(|request, _, _, _| {
            Ok(RenderedVideo {
                duration_seconds: 2.0,
                width: request.width,
                height: request.height,
                frame_count: 48,
                file_size: 1000,
                content_type: "video/mp4",
                thumbnail_content_type: "image/png",
            })
        });
    ports.media.expect_commit().times(2).returning(|_| Ok(()));
    ports
        .videos
        .expect_complete()
        .withf(|_, facts, _, notice| {
            facts.media_key == "key.mp4"
                && facts.thumbnail_key.as_deref() == Some("key.png")
                && facts.codec.as_deref() == Some("h264")
                && notice.is_none()
        })
        .returning(|_, _, _, _| Ok(true));
    let outcome = ports.render_job().run(&JobContext::new(claimed(1))).await;
    assert_eq!(outcome, Ok(()));
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn what_the_renderer_logs_names_the_job_and_the_video() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    // The test runtime has one thread: the subscriber sees the whole run.
    let _default = tracing::subscriber::set_default(subscriber);
    let mut ports = Ports::new();
    media_ports(&mut ports);
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Pending, 1))));
    ports
        .videos
        .expect_transition()
        .returning(|_, _, _, _, _, _| Ok(true));
    ports.renderer.expect_render().returning(|_, _, _, _| {
        tracing::info!("captions shortened");
        Err(RenderError::Encoder("stop here".into()))
    });
    ports.media.expect_remove().returning(|_| Ok(()));
    let _ = ports.render_job().run(&JobContext::new(claimed(1))).await;
    let log = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
    let line = log
        .lines()
        .find(|line| line.contains("captions shortened"))
        .unwrap_or_else(|| panic!("the renderer's event was not logged: {log}"));
    assert!(line.contains("job_id=3"), "{line}");
    assert!(line.contains("video_id=5"), "{line}");
}

#[tokio::test]
async fn a_failed_render_leaves_no_files_and_is_retried_then_fails_the_video() {
    let mut ports = Ports::new();
    media_ports(&mut ports);
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Pending, 1))));
    ports
        .videos
        .expect_transition()
        .returning(|_, _, _, _, _, _| Ok(true));
    ports
        .renderer
        .expect_render()
        .returning(|_, _, _, _| Err(RenderError::Encoder("boom".into())));
    ports.media.expect_remove().times(2).returning(|_| Ok(()));
    let outcome = ports.render_job().run(&JobContext::new(claimed(1))).await;
    assert_eq!(
        outcome,
        Err(JobFailure(
            "rendering failed: the encoder failed: boom".into()
        ))
    );

    // Early attempts leave the video pending for the retry (the runtime queues the job
    // again); the last fails it with the reason.
    for (attempt, retried) in [(1, true), (3, false)] {
        let mut ports = Ports::new();
        if retried {
            ports
                .videos
                .expect_transition()
                .withf(|_, _, to, _, error, _| *to == VideoStatus::Pending && error.is_none())
                .times(1)
                .returning(|_, _, _, _, _, _| Ok(true));
        } else {
            ports
                .videos
                .expect_fail()
                .withf(|_, error, _, _| error == "boom")
                .times(1)
                .returning(|_, _, _, _| Ok(true));
        }
        let handler = ports.render_job();
        let job = claimed(attempt);
        assert_eq!(job.is_last_attempt(), !retried);
        let failure = JobFailure("boom".into());
        let recorded = if retried {
            handler.on_retry(&job, &failure).await
        } else {
            handler.on_final_failure(&job, &failure).await
        };
        recorded.expect("recorded");
    }
}

#[tokio::test]
async fn a_deleted_video_ends_the_job_quietly() {
    let mut ports = Ports::new();
    ports.videos.expect_get().returning(|_| Ok(None));
    ports.renderer.expect_render().never();
    let outcome = ports.render_job().run(&JobContext::new(claimed(1))).await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test]
async fn the_files_of_a_video_deleted_while_its_render_finished_are_removed() {
    let mut ports = Ports::new();
    media_ports(&mut ports);
    ports
        .videos
        .expect_get()
        .returning(|_| Ok(Some(video(VideoStatus::Pending, 1))));
    ports
        .videos
        .expect_transition()
        .returning(|_, _, _, _, _, _| Ok(true));
    ports
        .renderer
        .expect_render()
        .returning(|request, _, _, _| {
            Ok(RenderedVideo {
                duration_seconds: 2.0,
                width: request.width,
                height: request.height,
                frame_count: 48,
                file_size: 1000,
                content_type: "video/mp4",
                thumbnail_content_type: "image/png",
            })
        });
    ports.media.expect_commit().times(2).returning(|_| Ok(()));
    // The row is gone by the time the render is recorded.
    ports
        .videos
        .expect_complete()
        .returning(|_, _, _, _| Ok(false));
    ports
        .media
        .expect_remove()
        .withf(|key| key == "key.mp4" || key == "key.png")
        .times(2)
        .returning(|_| Ok(()));
    let outcome = ports.render_job().run(&JobContext::new(claimed(1))).await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test]
async fn the_render_handler_reports_progress_on_its_video_and_is_not_periodic() {
    let mut ports = Ports::new();
    ports
        .videos
        .expect_set_progress()
        .with(eq(VideoId::new(5).expect("id")), eq(40u8), eq(now()))
        .times(1)
        .returning(|_, _, _| Ok(()));
    let handler = ports.render_job();
    assert_eq!(handler.kind(), JobKind::RenderVideo);
    assert_eq!(handler.period(), None);
    handler
        .record_progress(&claimed(1), 40)
        .await
        .expect("recorded");
}

fn webhooks_on() -> WebhookOutbox {
    let mut bodies = MockWebhookBodies::new();
    bodies
        .expect_body()
        .returning(|event, _, video| format!("{} {}", event.as_str(), video.status.as_str()));
    WebhookOutbox::new(Arc::new(bodies), false, false)
}

#[tokio::test]
async fn with_webhooks_on_a_final_failure_enqueues_the_delivery_with_the_state_change() {
    let mut ports = Ports::new();
    ports.webhooks = webhooks_on();
    ports
        .videos
        .expect_fail()
        .times(1)
        .returning(|_, error, _, notice| {
            let mut failed = video(VideoStatus::Failed, 1);
            failed.error = Some(error);
            failed.webhook_url = Some("https://hooks.example.com/v".into());
            let job = notice.expect("a notice")(&failed).expect("a delivery");
            assert_eq!(job.kind, JobKind::DeliverWebhook);
            let payload: serde_json::Value = serde_json::from_str(&job.payload).expect("json");
            assert_eq!(payload["body"], "video.failed failed");
            assert_eq!(payload["url"], "https://hooks.example.com/v");
            Ok(true)
        });
    ports
        .render_job()
        .on_final_failure(&claimed(3), &JobFailure("boom".into()))
        .await
        .expect("recorded");
}

#[tokio::test]
async fn webhook_urls_are_accepted_only_when_webhooks_are_on() {
    let off = Ports::new().service();
    assert_eq!(
        off.check_webhook_url("https://hooks.example.com/v")
            .expect_err("off")
            .code,
        "webhooks_disabled"
    );
    let on = Ports::new().service().with_webhooks(webhooks_on());
    assert!(on.check_webhook_url("https://hooks.example.com/v").is_ok());
    assert_eq!(
        on.check_webhook_url("ftp://hooks.example.com/v")
            .expect_err("scheme")
            .code,
        "webhook_scheme"
    );
}
