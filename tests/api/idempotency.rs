//! The idempotency-key store against a real database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): one holder per key, short `in_progress` leases that a
//! running request renews and a dropped one lets lapse, and completions that only the
//! current holder can make.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use vidgen_application::idempotency::{
    Claim, IdempotencyKey, IdempotencyStore, IdempotentRequest, KeyCompletion, StoredResponse,
};
use vidgen_application::videos::ports::{NewVideo, VideoQuery, VideoRepository};
use vidgen_application::videos::render_job;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Title, VideoSource};
use vidgen_infrastructure::database::{self, DatabaseOptions};
use vidgen_infrastructure::repositories::{SeaOrmIdempotencyStore, SeaOrmVideoRepository};

use crate::helpers::{PostgresDatabase, fresh_database, paths};

struct Store {
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
    _pg: Option<PostgresDatabase>,
}

/// A migrated database with one user (id 1).
async fn store() -> Store {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, pg) = fresh_database(dir.path()).await;
    let db = database::connect(&DatabaseOptions {
        url,
        pool_size: 5,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect");
    database::migrate(&db).await.expect("migrate");
    db.execute_unprepared(
        "INSERT INTO users (username, username_normalized, name, email, password_hash, role, status, token_version, created_at, updated_at) \
         VALUES ('jane', 'jane', 'Jane', 'jane@example.com', 'x', 'user', 'active', 0, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
    )
    .await
    .expect("a user");
    Store {
        db,
        _dir: dir,
        _pg: pg,
    }
}

fn request(hash: &str) -> IdempotentRequest {
    IdempotentRequest {
        user_id: UserId::new(1).expect("id"),
        route: paths::CREATE_VIDEO_ROUTE,
        key: IdempotencyKey::parse("k").expect("key"),
        request_hash: hash.to_owned(),
    }
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn fresh(claim: Claim) -> i64 {
    match claim {
        Claim::Fresh { record_id } => record_id,
        other => panic!("expected a fresh claim, got {other:?}"),
    }
}

fn new_video(now: DateTime<Utc>) -> NewVideo {
    NewVideo {
        owner_id: UserId::new(1).expect("id"),
        title: Title::parse("Lake").expect("title"),
        description: None,
        prompt: None,
        source: VideoSource::Generated,
        resolution: None,
        fps: None,
        requested_duration: None,
        webhook_url: None,
        media_key: None,
        created_at: now,
    }
}

fn completion(record_id: i64, now: DateTime<Utc>) -> KeyCompletion<vidgen_domain::videos::Video> {
    KeyCompletion {
        record_id,
        respond: Box::new(|video| StoredResponse {
            status: 202,
            body: format!("{{\"id\":{}}}", video.id),
            location: Some(paths::video(video.id)),
        }),
        expires_at: now + secs(24 * 3600),
    }
}

#[tokio::test]
async fn idempotency_keys_are_claimed_once_and_expire() {
    let store = store().await;
    let keys = SeaOrmIdempotencyStore::new(store.db.clone());
    let now = Utc::now();
    let lease = now + secs(30);
    let record_id = fresh(keys.claim(&request("h1"), now, lease).await.expect("claim"));
    assert_eq!(
        keys.claim(&request("h1"), now, lease).await.expect("claim"),
        Claim::InProgress
    );
    assert_eq!(
        keys.claim(&request("h2"), now, lease).await.expect("claim"),
        Claim::Mismatch
    );
    keys.abandon(record_id).await.expect("abandon");
    fresh(keys.claim(&request("h2"), now, lease).await.expect("claim"));
    // Long after, the key is free again, and the cleanup removes it.
    let later = now + secs(25 * 3600);
    assert_eq!(keys.delete_expired(later).await.expect("cleanup"), 1);
    fresh(
        keys.claim(&request("h3"), later, later + secs(30))
            .await
            .expect("claim"),
    );
}

#[tokio::test]
async fn a_lapsed_lease_lets_a_retry_start_afresh_and_the_old_holder_complete_nothing() {
    let store = store().await;
    let keys = SeaOrmIdempotencyStore::new(store.db.clone());
    let videos = SeaOrmVideoRepository::new(store.db.clone());
    let now = Utc::now();

    // A request claims the key, renews it once, then is dropped (never completes).
    let dropped = fresh(
        keys.claim(&request("h"), now, now + secs(30))
            .await
            .expect("claim"),
    );
    assert!(keys.renew(dropped, now + secs(40)).await.expect("renew"));
    assert_eq!(
        keys.claim(&request("h"), now + secs(35), now + secs(65))
            .await
            .expect("claim"),
        Claim::InProgress,
        "a renewed lease still holds the key"
    );

    // Past the lease, a retry holds the key afresh; the dropped holder has lost it.
    let retry_at = now + secs(41);
    let retry = fresh(
        keys.claim(&request("h"), retry_at, retry_at + secs(30))
            .await
            .expect("claim"),
    );
    assert_ne!(retry, dropped);
    assert!(
        !keys
            .renew(dropped, retry_at + secs(30))
            .await
            .expect("renew")
    );

    // The old holder's creation rolls back instead of completing the retry's key.
    let stale = videos
        .create_with_job(
            new_video(now),
            render_job(now),
            Some(completion(dropped, now)),
        )
        .await;
    assert!(stale.is_err(), "a lost key must not be completed");
    let listed = videos.list(&VideoQuery::default()).await.expect("list");
    assert_eq!(listed.total, 0, "the stale creation left a video behind");

    // The retry completes, and later claims replay its answer for a day.
    let video = videos
        .create_with_job(
            new_video(retry_at),
            render_job(retry_at),
            Some(completion(retry, retry_at)),
        )
        .await
        .expect("the holder completes");
    let replay_at = retry_at + secs(3600);
    match keys
        .claim(&request("h"), replay_at, replay_at + secs(30))
        .await
        .expect("claim")
    {
        Claim::Replay(stored) => assert_eq!(stored.body, format!("{{\"id\":{}}}", video.id)),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(
        !keys.renew(retry, replay_at).await.expect("renew"),
        "completed keys are not leased"
    );
}
