//! The job queue adapter against a real database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): leases, retries, expiry, cancellation and concurrent
//! claims that never hand one job to two workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use vidgen_application::jobs::{JobKind, JobQueue, NewJob};
use vidgen_domain::videos::{JobState, VideoId};
use vidgen_infrastructure::database::{self, DatabaseOptions};
use vidgen_infrastructure::repositories::SeaOrmJobQueue;

use crate::helpers::{PostgresDatabase, fresh_database};

struct Queue {
    queue: SeaOrmJobQueue,
    _dir: tempfile::TempDir,
    _pg: Option<PostgresDatabase>,
}

async fn queue() -> Queue {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, pg) = fresh_database(dir.path()).await;
    let db = database::connect(&DatabaseOptions {
        url,
        pool_size: 10,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect");
    database::migrate(&db).await.expect("migrate");
    Queue {
        queue: SeaOrmJobQueue::new(db),
        _dir: dir,
        _pg: pg,
    }
}

fn job(video: i64, run_after: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: JobKind::RenderVideo,
        video_id: VideoId::new(video),
        payload: format!("{{\"video_id\":{video}}}"),
        max_attempts: 3,
        run_after,
    }
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn claim_complete_and_nothing_left() {
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let claimed = q
        .queue
        .claim("a", LEASE, now)
        .await
        .expect("claim")
        .expect("a job");
    assert_eq!(claimed.id, id);
    assert_eq!(claimed.kind, JobKind::RenderVideo);
    assert_eq!(claimed.video_id, VideoId::new(1));
    assert_eq!(claimed.payload, "{\"video_id\":1}");
    assert_eq!((claimed.attempt, claimed.max_attempts), (1, 3));
    assert!(
        q.queue
            .claim("b", LEASE, now)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(q.queue.complete(id, "a", now).await.expect("complete"));
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Succeeded)
    );
    assert!(
        q.queue
            .claim("b", LEASE, now + secs(3600))
            .await
            .expect("claim")
            .is_none()
    );
}

#[tokio::test]
async fn future_jobs_wait_for_their_time() {
    let q = queue().await;
    let now = Utc::now();
    q.queue
        .enqueue(job(1, now + secs(10)))
        .await
        .expect("enqueue");
    assert!(
        q.queue
            .claim("a", LEASE, now)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        q.queue
            .claim("a", LEASE, now + secs(11))
            .await
            .expect("claim")
            .is_some()
    );
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_holder_loses_it() {
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let first = q
        .queue
        .claim("crashed", Duration::from_secs(5), now)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        q.queue
            .claim("b", LEASE, now + secs(4))
            .await
            .expect("claim")
            .is_none()
    );
    let second = q
        .queue
        .claim("b", LEASE, now + secs(6))
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert!(
        !q.queue
            .complete(id, "crashed", now + secs(7))
            .await
            .expect("complete")
    );
    assert!(
        !q.queue
            .extend_lease(id, "crashed", now + secs(60))
            .await
            .expect("extend")
    );
    assert!(
        q.queue
            .extend_lease(id, "b", now + secs(60))
            .await
            .expect("extend")
    );
    assert!(
        q.queue
            .complete(id, "b", now + secs(8))
            .await
            .expect("complete")
    );
}

#[tokio::test]
async fn failures_retry_later_then_die() {
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    q.queue
        .claim("a", LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        q.queue
            .fail(id, "a", "encoder crashed", Some(now + secs(10)), now)
            .await
            .expect("fail")
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Queued)
    );
    assert!(
        q.queue
            .claim("a", LEASE, now + secs(5))
            .await
            .expect("claim")
            .is_none()
    );
    let again = q
        .queue
        .claim("a", LEASE, now + secs(11))
        .await
        .expect("claim")
        .expect("retry");
    assert_eq!(again.attempt, 2);
    assert!(
        q.queue
            .fail(id, "a", "still broken", None, now + secs(12))
            .await
            .expect("fail")
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Dead)
    );
    assert!(
        q.queue
            .claim("a", LEASE, now + secs(9999))
            .await
            .expect("claim")
            .is_none()
    );
}

#[tokio::test]
async fn a_released_job_runs_again_at_once_without_counting() {
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    q.queue
        .claim("stopping", LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    assert!(q.queue.release(id, "stopping", now).await.expect("release"));
    let again = q
        .queue
        .claim("b", LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    assert_eq!(again.attempt, 1);
}

#[tokio::test]
async fn cancelling_a_video_stops_its_jobs() {
    let q = queue().await;
    let now = Utc::now();
    let running = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let queued = q
        .queue
        .enqueue(job(1, now + secs(100)))
        .await
        .expect("enqueue");
    let other = q
        .queue
        .enqueue(job(2, now + secs(100)))
        .await
        .expect("enqueue");
    q.queue
        .claim("a", LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    let video = VideoId::new(1).expect("id");
    assert_eq!(
        q.queue.cancel_for_video(video, now).await.expect("cancel"),
        2
    );
    assert_eq!(
        q.queue.state(running).await.expect("state"),
        Some(JobState::Cancelled)
    );
    assert_eq!(
        q.queue.state(queued).await.expect("state"),
        Some(JobState::Cancelled)
    );
    assert_eq!(
        q.queue.state(other).await.expect("state"),
        Some(JobState::Queued)
    );
    assert!(
        !q.queue
            .extend_lease(running, "a", now + secs(60))
            .await
            .expect("extend")
    );
    let counts = q.queue.counts().await.expect("counts");
    let count = |state| counts.iter().find(|(s, _)| *s == state).map(|(_, n)| *n);
    assert_eq!(count(JobState::Cancelled), Some(2));
    assert_eq!(count(JobState::Queued), Some(1));
    assert_eq!(count(JobState::Running), Some(0));
}

#[tokio::test]
async fn concurrent_workers_never_share_a_job() {
    let q = queue().await;
    let now = Utc::now();
    let total = 40;
    for video in 1..=total {
        q.queue.enqueue(job(video, now)).await.expect("enqueue");
    }
    let queue = Arc::new(q.queue.clone());
    let mut workers = Vec::new();
    for worker in 0..6 {
        let queue = queue.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut mine = Vec::new();
            while let Some(job) = queue.claim(&owner, LEASE, now).await.expect("claim") {
                mine.push(job.id.0);
                tokio::task::yield_now().await;
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut claimed = 0;
    for worker in workers {
        for id in worker.await.expect("worker") {
            claimed += 1;
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(claimed, total);
}

#[tokio::test]
async fn idempotency_keys_are_claimed_once_and_expire() {
    use vidgen_application::idempotency::{
        Claim, IdempotencyKey, IdempotencyStore, IdempotentRequest,
    };
    use vidgen_infrastructure::repositories::SeaOrmIdempotencyStore;

    let dir = tempfile::tempdir().expect("tempdir");
    let (url, _pg) = fresh_database(dir.path()).await;
    let db = database::connect(&DatabaseOptions {
        url,
        pool_size: 5,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect");
    database::migrate(&db).await.expect("migrate");
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(
        "INSERT INTO users (username, username_normalized, name, email, password_hash, role, status, token_version, created_at, updated_at) \
         VALUES ('jane', 'jane', 'Jane', 'jane@example.com', 'x', 'user', 'active', 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
    )
    .await
    .expect("a user");
    let store = SeaOrmIdempotencyStore::new(db);
    let request = |hash: &str| IdempotentRequest {
        user_id: vidgen_domain::users::UserId::new(1).expect("id"),
        route: crate::helpers::paths::CREATE_VIDEO_ROUTE,
        key: IdempotencyKey::parse("k").expect("key"),
        request_hash: hash.to_owned(),
    };
    let now = Utc::now();
    let Claim::Fresh { record_id } = store.claim(&request("h1"), now).await.expect("claim") else {
        panic!("first use should hold the key");
    };
    assert_eq!(
        store.claim(&request("h1"), now).await.expect("claim"),
        Claim::InProgress
    );
    assert_eq!(
        store.claim(&request("h2"), now).await.expect("claim"),
        Claim::Mismatch
    );
    store.abandon(record_id).await.expect("abandon");
    assert!(matches!(
        store.claim(&request("h2"), now).await.expect("claim"),
        Claim::Fresh { .. }
    ));
    // A day later the key is free again, and the cleanup removes it.
    let later = now + secs(25 * 3600);
    assert_eq!(store.delete_expired(later).await.expect("cleanup"), 1);
    assert!(matches!(
        store.claim(&request("h3"), later).await.expect("claim"),
        Claim::Fresh { .. }
    ));
}
