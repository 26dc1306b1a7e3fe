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
        acquire_timeout: Duration::from_secs(5),
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
        .claim("a", &JobKind::ALL, LEASE, now)
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
            .claim("b", &JobKind::ALL, LEASE, now)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        q.queue
            .complete(id, &claimed.lease, now)
            .await
            .expect("complete")
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Succeeded)
    );
    assert!(
        q.queue
            .claim("b", &JobKind::ALL, LEASE, now + secs(3600))
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
            .claim("a", &JobKind::ALL, LEASE, now)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        q.queue
            .claim("a", &JobKind::ALL, LEASE, now + secs(11))
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
        .claim("crashed", &JobKind::ALL, Duration::from_secs(5), now)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        q.queue
            .claim("b", &JobKind::ALL, LEASE, now + secs(4))
            .await
            .expect("claim")
            .is_none()
    );
    let second = q
        .queue
        .claim("b", &JobKind::ALL, LEASE, now + secs(6))
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert!(
        !q.queue
            .complete(id, &first.lease, now + secs(7))
            .await
            .expect("complete")
    );
    assert!(
        !q.queue
            .extend_lease(id, &first.lease, now + secs(60))
            .await
            .expect("extend")
    );
    assert!(
        q.queue
            .extend_lease(id, &second.lease, now + secs(60))
            .await
            .expect("extend")
    );
    assert!(
        q.queue
            .complete(id, &second.lease, now + secs(8))
            .await
            .expect("complete")
    );
}

#[tokio::test]
async fn failures_retry_later_then_die() {
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let first = q
        .queue
        .claim("a", &JobKind::ALL, LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        q.queue
            .fail(
                id,
                &first.lease,
                "encoder crashed",
                Some(now + secs(10)),
                now
            )
            .await
            .expect("fail")
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Queued)
    );
    assert!(
        q.queue
            .claim("a", &JobKind::ALL, LEASE, now + secs(5))
            .await
            .expect("claim")
            .is_none()
    );
    let again = q
        .queue
        .claim("a", &JobKind::ALL, LEASE, now + secs(11))
        .await
        .expect("claim")
        .expect("retry");
    assert_eq!(again.attempt, 2);
    assert!(
        q.queue
            .fail(id, &again.lease, "still broken", None, now + secs(12))
            .await
            .expect("fail")
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Dead)
    );
    assert!(
        q.queue
            .claim("a", &JobKind::ALL, LEASE, now + secs(9999))
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
    let held = q
        .queue
        .claim("stopping", &JobKind::ALL, LEASE, now)
        .await
        .expect("claim")
        .expect("job");
    assert!(
        q.queue
            .release(id, &held.lease, now)
            .await
            .expect("release")
    );
    let again = q
        .queue
        .claim("b", &JobKind::ALL, LEASE, now)
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
    let held = q
        .queue
        .claim("a", &JobKind::ALL, LEASE, now)
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
            .extend_lease(running, &held.lease, now + secs(60))
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
            while let Some(job) = queue
                .claim(&owner, &JobKind::ALL, LEASE, now)
                .await
                .expect("claim")
            {
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
async fn a_claim_taken_over_by_the_same_instance_can_neither_renew_nor_settle() {
    // Both claims come from one instance (its workers share an owner name): only the
    // lease token tells the stale holder from the new one.
    let q = queue().await;
    let now = Utc::now();
    let id = q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let stale = q
        .queue
        .claim("instance", &JobKind::ALL, Duration::from_secs(5), now)
        .await
        .expect("claim")
        .expect("job");
    let current = q
        .queue
        .claim("instance", &JobKind::ALL, LEASE, now + secs(6))
        .await
        .expect("claim")
        .expect("taken over");
    assert_eq!(current.id, stale.id);
    assert_ne!(current.lease, stale.lease, "each claim has its own token");
    let later = now + secs(7);
    assert!(
        !q.queue
            .extend_lease(id, &stale.lease, later + secs(60))
            .await
            .expect("extend"),
        "the stale holder extended the new owner's lease"
    );
    assert!(
        !q.queue
            .fail(id, &stale.lease, "stale failure", None, later)
            .await
            .expect("fail"),
        "the stale holder failed the new owner's job"
    );
    assert!(
        !q.queue
            .reschedule(id, &stale.lease, later + secs(60), None, later)
            .await
            .expect("reschedule"),
        "the stale holder re-armed the new owner's job"
    );
    assert!(
        !q.queue
            .release(id, &stale.lease, later)
            .await
            .expect("release"),
        "the stale holder released the new owner's job"
    );
    assert!(
        !q.queue
            .complete(id, &stale.lease, later)
            .await
            .expect("complete"),
        "the stale holder completed the new owner's job"
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Running)
    );
    assert!(
        q.queue
            .extend_lease(id, &current.lease, later + secs(60))
            .await
            .expect("extend")
    );
    assert!(
        q.queue
            .complete(id, &current.lease, later)
            .await
            .expect("complete")
    );
    assert!(
        !q.queue
            .complete(id, &current.lease, later)
            .await
            .expect("complete"),
        "a settled job has no lease left"
    );
    assert_eq!(
        q.queue.state(id).await.expect("state"),
        Some(JobState::Succeeded)
    );
}

#[tokio::test]
async fn every_claim_counts_an_attempt_including_takeovers() {
    let q = queue().await;
    let now = Utc::now();
    q.queue.enqueue(job(1, now)).await.expect("enqueue");
    let mut attempts = Vec::new();
    for n in 0..4 {
        let claimed = q
            .queue
            .claim(
                "dies",
                &JobKind::ALL,
                Duration::from_secs(5),
                now + secs(10 * n),
            )
            .await
            .expect("claim")
            .expect("the expired lease is taken over");
        attempts.push((claimed.attempt, claimed.attempts_exhausted()));
    }
    assert_eq!(attempts, [(1, false), (2, false), (3, false), (4, true)]);
}

#[tokio::test]
async fn only_the_kinds_asked_for_are_claimed() {
    let q = queue().await;
    let now = Utc::now();
    let upload = q
        .queue
        .enqueue(NewJob {
            kind: JobKind::ProcessUpload,
            ..job(1, now)
        })
        .await
        .expect("enqueue");
    assert!(
        q.queue
            .claim("a", &[JobKind::RenderVideo], LEASE, now)
            .await
            .expect("claim")
            .is_none(),
        "a job of a kind without a handler was claimed"
    );
    assert!(
        q.queue
            .claim("a", &[], LEASE, now)
            .await
            .expect("claim")
            .is_none()
    );
    assert_eq!(
        q.queue.state(upload).await.expect("state"),
        Some(JobState::Queued)
    );
    let claimed = q
        .queue
        .claim(
            "b",
            &[JobKind::RenderVideo, JobKind::ProcessUpload],
            LEASE,
            now,
        )
        .await
        .expect("claim")
        .expect("a handler for it");
    assert_eq!((claimed.id, claimed.kind), (upload, JobKind::ProcessUpload));
}

#[tokio::test]
async fn a_periodic_job_is_seeded_once_and_rearmed_after_each_run() {
    let q = queue().await;
    let now = Utc::now();
    let queue = Arc::new(q.queue.clone());
    let seeds: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .ensure_periodic(JobKind::SweepMedia, 3, now)
                    .await
                    .expect("seed")
            })
        })
        .collect();
    let mut created = 0;
    for seed in seeds {
        if seed.await.expect("seeder") {
            created += 1;
        }
    }
    assert_eq!(created, 1, "one row per periodic kind");
    let counts = q.queue.counts().await.expect("counts");
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, 1);

    let run = q
        .queue
        .claim("a", &[JobKind::SweepMedia], LEASE, now)
        .await
        .expect("claim")
        .expect("the seeded job");
    assert_eq!((run.kind, run.attempt), (JobKind::SweepMedia, 1));
    assert!(
        !q.queue
            .ensure_periodic(JobKind::SweepMedia, 3, now)
            .await
            .expect("seed"),
        "seeding while it runs adds nothing"
    );
    assert!(
        q.queue
            .reschedule(run.id, &run.lease, now + secs(60), Some("boom".into()), now)
            .await
            .expect("reschedule")
    );
    assert_eq!(
        q.queue.state(run.id).await.expect("state"),
        Some(JobState::Queued)
    );
    assert!(
        q.queue
            .claim("a", &[JobKind::SweepMedia], LEASE, now + secs(59))
            .await
            .expect("claim")
            .is_none(),
        "the next run waits for its period"
    );
    let next = q
        .queue
        .claim("a", &[JobKind::SweepMedia], LEASE, now + secs(61))
        .await
        .expect("claim")
        .expect("the next run");
    assert_eq!(
        (next.id, next.attempt),
        (run.id, 1),
        "attempts start afresh"
    );

    // Settled for good by hand: the next seeding schedules it again.
    assert!(
        q.queue
            .fail(next.id, &next.lease, "stopped", None, now + secs(62))
            .await
            .expect("fail")
    );
    assert!(
        q.queue
            .ensure_periodic(JobKind::SweepMedia, 3, now + secs(63))
            .await
            .expect("seed")
    );
    let revived = q
        .queue
        .claim("a", &[JobKind::SweepMedia], LEASE, now + secs(63))
        .await
        .expect("claim")
        .expect("scheduled again");
    assert_eq!((revived.id, revived.attempt), (run.id, 1));
}
