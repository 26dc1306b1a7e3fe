//! The upload sink against a real folder (mocked store naming, real files) and the
//! `process_upload` job with mocked ports.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use vidgen_domain::videos::{VideoId, VideoStatus};

use super::super::ports::{LocalFile, MockMediaStore, MockVideoRepository};
use super::super::probe::{MockMediaProbe, ProbeError, ProbedMedia, Sniffed, UploadFormat};
use super::super::process_upload::ProcessUpload;
use super::*;
use crate::clock::MockClock;
use crate::jobs::{ClaimedJob, JobContext, JobFailure, JobHandler, JobId, LeaseToken};
use crate::videos::tests_support;
use crate::webhooks::outbox::WebhookOutbox;

fn store(dir: &std::path::Path) -> Arc<MockMediaStore> {
    let mut media = MockMediaStore::new();
    let root = dir.to_path_buf();
    media
        .expect_new_key()
        .returning(|extension| format!("upload.{extension}"));
    media
        .expect_staging_path()
        .returning(move |key| root.join(format!("{key}.part")));
    Arc::new(media)
}

/// A probe that knows a video by its first four bytes (`VID!`).
fn probe() -> Arc<MockMediaProbe> {
    let mut probe = MockMediaProbe::new();
    probe.expect_sniff().returning(|head, complete| {
        if head.len() < 4 {
            if complete {
                Sniffed::Unsupported
            } else {
                Sniffed::NeedMore
            }
        } else if head.starts_with(b"VID!") {
            Sniffed::Format(UploadFormat::WebM)
        } else {
            Sniffed::Unsupported
        }
    });
    Arc::new(probe)
}

fn sink(dir: &std::path::Path, limit: u64) -> UploadSink {
    UploadSink {
        media: store(dir),
        probe: probe(),
        limit,
        head: Vec::new(),
        staged: None,
        size: 0,
        hasher: Some(Sha256::new()),
    }
}

fn hex_sha256(bytes: &[u8]) -> Option<String> {
    Some(
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect()
}

#[tokio::test]
async fn a_file_is_staged_as_it_arrives_and_decided_by_its_first_bytes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = sink(dir.path(), 1000);
    // The type is undecided until enough bytes arrived: nothing is written yet.
    sink.write(b"VI").await.expect("first");
    assert!(files(dir.path()).is_empty());
    sink.write(b"D!rest").await.expect("second");
    sink.write(b" of it").await.expect("third");
    let staged = sink.finish().await.expect("finish");
    assert_eq!(staged.format, UploadFormat::WebM);
    assert_eq!(staged.size, 14);
    assert_eq!(staged.sha256, hex_sha256(b"VID!rest of it"));
    let path = dir.path().join("upload.webm.part");
    assert_eq!(std::fs::read(&path).expect("staged"), b"VID!rest of it");
    // Nobody took it over: dropping it removes the file.
    drop(staged);
    assert!(files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_file_of_many_buffers_arrives_whole_whatever_the_chunk_sizes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = sink(dir.path(), 10 * 1024 * 1024);
    // Three and a half write buffers, in chunks that never line up with a buffer.
    let mut bytes = b"VID!".to_vec();
    bytes.extend((0..(WRITE_BUFFER * 7 / 2) as u32).map(|i| (i % 251) as u8));
    for chunk in bytes.chunks(65_537) {
        sink.write(chunk).await.expect("write");
    }
    let staged = sink.finish().await.expect("finish");
    assert_eq!(staged.size, bytes.len() as u64);
    assert_eq!(staged.sha256, hex_sha256(&bytes));
    let written = std::fs::read(dir.path().join("upload.webm.part")).expect("staged");
    assert!(
        written == bytes,
        "the staged file differs from what was sent"
    );
}

#[tokio::test]
async fn a_file_past_the_limit_is_refused_and_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = sink(dir.path(), 10);
    sink.write(b"VID!1234").await.expect("within");
    assert_eq!(files(dir.path()).len(), 1);
    let refused = sink.write(b"567").await;
    assert!(matches!(
        refused,
        Err(UploadFileError::TooLarge { limit: 10 })
    ));
    drop(sink);
    assert!(files(dir.path()).is_empty());
}

#[tokio::test]
async fn other_bytes_and_empty_files_are_unsupported_and_never_written() {
    let dir = tempfile::tempdir().expect("dir");
    let mut gif = sink(dir.path(), 100);
    assert!(matches!(
        gif.write(b"GIF89a").await,
        Err(UploadFileError::Unsupported)
    ));
    assert!(files(dir.path()).is_empty());
    assert!(matches!(
        sink(dir.path(), 100).finish().await,
        Err(UploadFileError::Unsupported)
    ));
    let mut short = sink(dir.path(), 100);
    short.write(b"VI").await.expect("undecided");
    assert!(matches!(
        short.finish().await,
        Err(UploadFileError::Unsupported)
    ));
    assert!(files(dir.path()).is_empty());
}

#[tokio::test]
async fn an_interrupted_upload_leaves_no_file() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = sink(dir.path(), 1000);
    sink.write(b"VID!partial").await.expect("write");
    assert_eq!(files(dir.path()).len(), 1);
    drop(sink);
    assert!(files(dir.path()).is_empty());
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0)
        .single()
        .expect("time")
}

fn job() -> JobContext {
    JobContext::new(ClaimedJob {
        id: JobId(4),
        kind: JobKind::ProcessUpload,
        video_id: VideoId::new(7),
        payload: r#"{"format":"mp4"}"#.into(),
        attempt: 1,
        max_attempts: 3,
        lease_expires_at: now(),
        lease: LeaseToken::new("lease"),
    })
}

/// A repository holding one pending upload, which the run moves to `processing`.
fn processing_upload() -> MockVideoRepository {
    let mut videos = MockVideoRepository::new();
    videos
        .expect_get()
        .returning(|_| Ok(Some(pending_upload())));
    videos
        .expect_transition()
        .returning(|_, _, _, _, _, _| Ok(true));
    videos
}

fn pending_upload() -> Video {
    let mut video = tests_support::video(7, None);
    video.status = VideoStatus::Pending;
    video.media_key = Some("upload.mp4".into());
    video
}

fn handler(videos: MockVideoRepository, probe: MockMediaProbe) -> ProcessUpload {
    handler_keeping(videos, probe, Arc::default())
}

/// [`handler`] whose store writes down the keys it removes into `removed`.
fn handler_keeping(
    videos: MockVideoRepository,
    probe: MockMediaProbe,
    removed: Arc<std::sync::Mutex<Vec<String>>>,
) -> ProcessUpload {
    let mut media = MockMediaStore::new();
    media
        .expect_new_key()
        .returning(|extension| format!("thumb.{extension}"));
    media
        .expect_local_copy()
        .returning(|key| Ok(LocalFile::stored(PathBuf::from(format!("/media/{key}")))));
    media
        .expect_staging_path()
        .returning(|key| PathBuf::from(format!("/media/{key}.part")));
    media.expect_commit().returning(|_| Ok(()));
    media.expect_remove().returning(move |key| {
        removed.lock().expect("lock").push(key.to_owned());
        Ok(())
    });
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    ProcessUpload::new(
        Arc::new(videos),
        Arc::new(media),
        Arc::new(probe),
        Arc::new(clock),
        WebhookOutbox::disabled(),
    )
}

#[tokio::test]
async fn a_probed_upload_completes_with_the_facts_of_its_file() {
    let mut videos = MockVideoRepository::new();
    videos
        .expect_get()
        .returning(|_| Ok(Some(pending_upload())));
    videos
        .expect_transition()
        .withf(|_, _, to, _, _, _| *to == VideoStatus::Processing)
        .returning(|_, _, _, _, _, _| Ok(true));
    videos
        .expect_complete()
        .withf(|_, facts, _, _| {
            facts.media_key == "upload.mp4"
                && facts.thumbnail_key.as_deref() == Some("thumb.png")
                && facts.codec.as_deref() == Some("h264")
                && facts.content_type == "video/mp4"
                && (facts.duration - 2.5).abs() < f64::EPSILON
                && (facts.width, facts.height, facts.file_size) == (640, 360, 1234)
        })
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let mut probe = MockMediaProbe::new();
    probe
        .expect_probe()
        .withf(|file, format, thumbnail| {
            file == std::path::Path::new("/media/upload.mp4")
                && *format == UploadFormat::Mp4
                && thumbnail == std::path::Path::new("/media/thumb.png.part")
        })
        .returning(|_, _, _| {
            Ok(ProbedMedia {
                duration: 2.5,
                width: 640,
                height: 360,
                codec: "h264".into(),
                file_size: 1234,
                thumbnail: true,
            })
        });
    let outcome = handler(videos, probe).run(&job()).await;
    assert_eq!(outcome, Ok(()));
}

#[tokio::test]
async fn an_unparseable_upload_fails_at_once_with_the_probes_reason() {
    let mut videos = processing_upload();
    videos.expect_complete().never();
    videos
        .expect_fail()
        .withf(|_, error, _, _| error == "the file ends before its video data")
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let mut probe = MockMediaProbe::new();
    probe
        .expect_probe()
        .returning(|_, _, _| Err(ProbeError("the file ends before its video data".into())));
    // Not a job failure: retrying cannot change the bytes.
    let removed = Arc::default();
    assert_eq!(
        handler_keeping(videos, probe, Arc::clone(&removed))
            .run(&job())
            .await,
        Ok(())
    );
    let removed = removed.lock().expect("lock").clone();
    assert!(
        removed.contains(&"upload.mp4".to_owned()),
        "the failed upload's file is removed: {removed:?}"
    );
}

#[tokio::test]
async fn an_upload_settled_elsewhere_keeps_its_file_when_the_probe_fails() {
    let mut videos = processing_upload();
    videos
        .expect_fail()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    let mut probe = MockMediaProbe::new();
    probe
        .expect_probe()
        .returning(|_, _, _| Err(ProbeError("no video track".into())));
    let removed = Arc::default();
    assert_eq!(
        handler_keeping(videos, probe, Arc::clone(&removed))
            .run(&job())
            .await,
        Ok(())
    );
    let removed = removed.lock().expect("lock").clone();
    assert!(
        !removed.contains(&"upload.mp4".to_owned()),
        "a video that did not move to failed keeps its file: {removed:?}"
    );
}

#[tokio::test]
async fn the_final_failure_of_an_upload_removes_its_file() {
    for (moved, removed_expected) in [(true, vec!["upload.mp4".to_owned()]), (false, vec![])] {
        let mut videos = MockVideoRepository::new();
        videos
            .expect_get()
            .returning(|_| Ok(Some(pending_upload())));
        videos
            .expect_fail()
            .withf(|id, error, _, _| {
                *id == VideoId::new(7).expect("id")
                    && error == "the stored upload could not be read"
            })
            .times(1)
            .returning(move |_, _, _, _| Ok(moved));
        let removed = Arc::default();
        let handler = handler_keeping(videos, MockMediaProbe::new(), Arc::clone(&removed));
        let failure = JobFailure("the stored upload could not be read".into());
        handler
            .on_final_failure(&job().job, &failure)
            .await
            .expect("final failure recorded");
        assert_eq!(
            *removed.lock().expect("lock"),
            removed_expected,
            "files removed when the video moved to failed: {moved}"
        );
    }
}

#[tokio::test]
async fn a_video_deleted_before_processing_ends_the_job_quietly() {
    let mut videos = MockVideoRepository::new();
    videos.expect_get().returning(|_| Ok(None));
    videos.expect_transition().never();
    let mut probe = MockMediaProbe::new();
    probe.expect_probe().never();
    assert_eq!(handler(videos, probe).run(&job()).await, Ok(()));
}

#[tokio::test]
async fn a_remote_uploads_local_copy_is_probed_and_then_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("copy.mp4.part");
    std::fs::write(&copy, b"bytes").expect("write");
    let mut videos = processing_upload();
    videos
        .expect_complete()
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let mut media = MockMediaStore::new();
    media.expect_new_key().returning(|e| format!("thumb.{e}"));
    media
        .expect_staging_path()
        .returning(|key| PathBuf::from(format!("/media/{key}.part")));
    let held = copy.clone();
    media
        .expect_local_copy()
        .withf(|key| key == "upload.mp4")
        .returning(move |_| Ok(LocalFile::temporary(held.clone())));
    media.expect_commit().returning(|_| Ok(()));
    let mut probe = MockMediaProbe::new();
    let probed = copy.clone();
    probe
        .expect_probe()
        .withf(move |file, _, _| file == probed && probed.exists())
        .returning(|_, _, _| {
            Ok(ProbedMedia {
                duration: 1.0,
                width: 2,
                height: 2,
                codec: "h264".into(),
                file_size: 5,
                thumbnail: false,
            })
        });
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let handler = ProcessUpload::new(
        Arc::new(videos),
        Arc::new(media),
        Arc::new(probe),
        Arc::new(clock),
        WebhookOutbox::disabled(),
    );
    assert_eq!(handler.run(&job()).await, Ok(()));
    assert!(
        !copy.exists(),
        "the temporary copy is removed after the probe"
    );
}

#[tokio::test]
async fn an_unreadable_stored_upload_fails_the_run_to_be_retried() {
    let mut videos = processing_upload();
    videos.expect_fail().never();
    let mut media = MockMediaStore::new();
    media.expect_new_key().returning(|e| format!("thumb.{e}"));
    media.expect_local_copy().returning(|_| {
        Err(super::super::ports::MediaError(std::io::Error::other(
            "bucket down",
        )))
    });
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let handler = ProcessUpload::new(
        Arc::new(videos),
        Arc::new(media),
        Arc::new(MockMediaProbe::new()),
        Arc::new(clock),
        WebhookOutbox::disabled(),
    );
    let outcome = handler.run(&job()).await;
    assert_eq!(
        outcome,
        Err(JobFailure("the stored upload could not be read".into()))
    );
}

#[tokio::test]
async fn without_an_idempotency_key_the_file_is_not_hashed() {
    let dir = tempfile::tempdir().expect("dir");
    let mut sink = sink(dir.path(), 1000);
    sink.hasher = None;
    sink.write(b"VID!unhashed").await.expect("write");
    let staged = sink.finish().await.expect("finish");
    assert_eq!(staged.sha256, None);
    assert_eq!(staged.size, 12);
}
