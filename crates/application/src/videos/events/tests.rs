//! The watch hub against a mocked repository: one read per tick for every stream,
//! wake-ups only on change, limits, release on drop, and shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use vidgen_domain::videos::VideoStatus;

use super::*;
use crate::videos::ports::MockVideoRepository;
use crate::videos::tests_support;

fn processing(id: i64, progress: u8) -> Video {
    let mut video = tests_support::video(id, None);
    video.status = VideoStatus::Processing;
    video.progress = progress;
    video.updated_at += chrono::Duration::seconds(i64::from(progress));
    video
}

fn user(id: i64) -> UserId {
    UserId::new(id).expect("id")
}

/// A repository whose videos the test sets, counting the reads.
fn repository(rows: Arc<Mutex<Vec<Video>>>, reads: Arc<AtomicUsize>) -> Arc<MockVideoRepository> {
    let mut videos = MockVideoRepository::new();
    videos.expect_get_many().returning(move |ids| {
        reads.fetch_add(1, Ordering::SeqCst);
        let rows = rows.lock().expect("rows");
        Ok(rows
            .iter()
            .filter(|v| ids.contains(&v.id))
            .cloned()
            .collect())
    });
    Arc::new(videos)
}

const LIMITS: StreamLimits = StreamLimits {
    per_user: 2,
    total: 3,
};

#[tokio::test]
async fn every_stream_is_served_by_one_read_per_tick_and_woken_only_on_change() {
    let rows = Arc::new(Mutex::new(vec![processing(1, 10), processing(2, 10)]));
    let reads = Arc::new(AtomicUsize::new(0));
    let watch = VideoWatch::new(repository(rows.clone(), reads.clone()), LIMITS);
    let mut first = watch.subscribe(user(1), processing(1, 10)).expect("first");
    let mut second = watch.subscribe(user(2), processing(1, 10)).expect("second");
    let mut other = watch.subscribe(user(2), processing(2, 10)).expect("other");
    for stream in [&mut first, &mut second] {
        assert_eq!(
            stream.current(),
            StreamUpdate::Changed(Box::new(processing(1, 10)))
        );
    }
    other.current();

    rows.lock().expect("rows")[0] = processing(1, 40);
    watch.tick().await.expect("tick");
    assert_eq!(
        reads.load(Ordering::SeqCst),
        1,
        "one read for three streams"
    );
    for stream in [&mut first, &mut second] {
        assert_eq!(
            stream.next().await,
            StreamUpdate::Changed(Box::new(processing(1, 40)))
        );
    }
    // Video 2 did not change: its stream is not woken.
    let quiet = tokio::time::timeout(Duration::from_millis(50), other.next()).await;
    assert!(quiet.is_err(), "woken without a change");

    rows.lock().expect("rows").remove(0);
    watch.tick().await.expect("tick");
    assert_eq!(first.next().await, StreamUpdate::Gone);
}

#[tokio::test]
async fn streams_are_bounded_per_user_and_in_all_and_freed_when_dropped() {
    let rows = Arc::new(Mutex::new(Vec::new()));
    let watch = VideoWatch::new(repository(rows, Arc::new(AtomicUsize::new(0))), LIMITS);
    let a = watch.subscribe(user(1), processing(1, 0)).expect("a");
    let _b = watch.subscribe(user(1), processing(2, 0)).expect("b");
    assert_eq!(
        watch.subscribe(user(1), processing(3, 0)).err(),
        Some(WatchVideoError::TooManyForUser { limit: 2 })
    );
    let _c = watch.subscribe(user(2), processing(3, 0)).expect("c");
    assert_eq!(
        watch.subscribe(user(3), processing(3, 0)).err(),
        Some(WatchVideoError::TooMany)
    );
    assert_eq!(watch.open_streams(), 3);
    drop(a);
    assert_eq!(watch.open_streams(), 2);
    watch
        .subscribe(user(1), processing(4, 0))
        .expect("a place came free");
}

#[tokio::test]
async fn nothing_is_read_without_streams() {
    let reads = Arc::new(AtomicUsize::new(0));
    let watch = VideoWatch::new(
        repository(Arc::new(Mutex::new(Vec::new())), reads.clone()),
        LIMITS,
    );
    drop(watch.subscribe(user(1), processing(1, 0)).expect("stream"));
    watch.tick().await.expect("tick");
    assert_eq!(reads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn closing_ends_open_streams_and_refuses_new_ones() {
    let rows = Arc::new(Mutex::new(vec![processing(1, 0)]));
    let watch = Arc::new(VideoWatch::new(
        repository(rows, Arc::new(AtomicUsize::new(0))),
        LIMITS,
    ));
    let poller = tokio::spawn(watch.clone().run(Duration::from_millis(10)));
    let mut stream = watch.subscribe(user(1), processing(1, 0)).expect("stream");
    stream.current();
    watch.close();
    assert_eq!(stream.next().await, StreamUpdate::Closing);
    assert_eq!(
        watch.subscribe(user(1), processing(1, 0)).err(),
        Some(WatchVideoError::Closing)
    );
    tokio::time::timeout(Duration::from_secs(1), poller)
        .await
        .expect("the poller stops")
        .expect("poller");
}
