//! Video list pages cached in memory in front of any [`VideoRepository`], kept coherent
//! across instances by an [`InvalidationBus`] (see [`ListCache`] for the rules).
//!
//! Every write through this repository (a new video, an edit, a status change, render
//! progress, a deletion) drops the cached pages before it returns and announces
//! [`CacheKey::Videos`], so every other instance drops its pages too. A user's write drops
//! them as well: deleting a user deletes their videos with them. Reads by id are not
//! cached: progress streams and media routes need the row as it is now.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_application::idempotency::KeyCompletion;
use vidgen_application::invalidation::{CacheKey, InvalidationBus, InvalidationListener};
use vidgen_application::jobs::NewJob;
use vidgen_application::metrics;
use vidgen_application::storage::RepositoryError;
use vidgen_application::videos::ports::{MediaFacts, NewVideo, VideoQuery, VideoRepository};
use vidgen_application::webhooks::outbox::SettleNotice;
use vidgen_domain::listing::Paged;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Description, Title, Video, VideoId, VideoStatus};

use super::list_cache::{ListCache, ListCacheOptions};
use crate::invalidation::LocalInvalidationBus;

/// See the module docs.
pub struct CachedVideoRepository<R> {
    inner: R,
    lists: ListCache<VideoQuery, Video>,
    bus: Arc<dyn InvalidationBus>,
}

impl<R> std::fmt::Debug for CachedVideoRepository<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedVideoRepository")
            .field("lists", &self.lists)
            .field("coherence", &self.bus.coherence())
            .finish_non_exhaustive()
    }
}

impl<R: VideoRepository> CachedVideoRepository<R> {
    /// A cache for a single instance.
    pub fn new(inner: R, options: ListCacheOptions) -> Self {
        Self {
            inner,
            lists: ListCache::new(options),
            bus: Arc::new(LocalInvalidationBus),
        }
    }

    /// Publishes every write on `bus`. Subscribe the cache to the bus too (see
    /// [`vidgen_application::invalidation::subscribe`]), or remote writes are not seen.
    #[must_use]
    pub fn with_invalidation(mut self, bus: Arc<dyn InvalidationBus>) -> Self {
        self.bus = bus;
        self
    }

    /// After a write (whatever its outcome: a failed one may have committed).
    async fn changed(&self) {
        self.lists.invalidate();
        self.bus.publish(CacheKey::Videos).await;
    }
}

impl<R: Send + Sync> InvalidationListener for CachedVideoRepository<R> {
    fn invalidate(&self, key: CacheKey) {
        match key {
            CacheKey::Videos | CacheKey::User(_) => self.lists.invalidate(),
        }
    }

    fn invalidate_all(&self) {
        self.lists.invalidate();
    }
}

#[async_trait]
impl<R: VideoRepository> VideoRepository for CachedVideoRepository<R> {
    async fn create_with_job(
        &self,
        video: NewVideo,
        job: NewJob,
        key: Option<KeyCompletion<Video>>,
    ) -> Result<Video, RepositoryError> {
        let created = self.inner.create_with_job(video, job, key).await;
        self.changed().await;
        created
    }

    async fn get(&self, id: VideoId) -> Result<Option<Video>, RepositoryError> {
        self.inner.get(id).await
    }

    async fn get_many(&self, ids: &[VideoId]) -> Result<Vec<Video>, RepositoryError> {
        self.inner.get_many(ids).await
    }

    async fn list(&self, query: &VideoQuery) -> Result<Paged<Video>, RepositoryError> {
        let coherence = self.bus.coherence();
        if let Some(page) = self.lists.get(query, coherence) {
            metrics::list_cache_lookup("videos", true);
            return Ok(page);
        }
        metrics::list_cache_lookup("videos", false);
        let stamp = self.lists.stamp(coherence);
        let page = self.inner.list(query).await?;
        self.lists.keep(query.clone(), stamp, &page);
        Ok(page)
    }

    async fn update_details(
        &self,
        id: VideoId,
        title: Option<Title>,
        description: Option<Option<Description>>,
        at: DateTime<Utc>,
    ) -> Result<Option<Video>, RepositoryError> {
        let updated = self.inner.update_details(id, title, description, at).await;
        self.changed().await;
        updated
    }

    async fn transition(
        &self,
        id: VideoId,
        from: &[VideoStatus],
        status: VideoStatus,
        progress: u8,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let moved = self
            .inner
            .transition(id, from, status, progress, error, at)
            .await;
        self.changed().await;
        moved
    }

    async fn set_progress(
        &self,
        id: VideoId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        let set = self.inner.set_progress(id, progress, at).await;
        self.changed().await;
        set
    }

    async fn complete(
        &self,
        id: VideoId,
        facts: MediaFacts,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError> {
        let completed = self.inner.complete(id, facts, at, notice).await;
        self.changed().await;
        completed
    }

    async fn fail(
        &self,
        id: VideoId,
        error: String,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError> {
        let failed = self.inner.fail(id, error, at, notice).await;
        self.changed().await;
        failed
    }

    async fn retry_with_job(
        &self,
        id: VideoId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let retried = self.inner.retry_with_job(id, job, at).await;
        self.changed().await;
        retried
    }

    async fn delete(&self, id: VideoId) -> Result<Option<Video>, RepositoryError> {
        let deleted = self.inner.delete(id).await;
        self.changed().await;
        deleted
    }

    async fn owner_exists(&self, owner: UserId) -> Result<bool, RepositoryError> {
        self.inner.owner_exists(owner).await
    }

    async fn count_active(&self, owner: UserId) -> Result<u64, RepositoryError> {
        self.inner.count_active(owner).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use vidgen_application::invalidation::{Coherence, MockInvalidationBus};
    use vidgen_application::videos::ports::MockVideoRepository;
    use vidgen_application::videos::tests_support;
    use vidgen_domain::listing::Page;

    use super::*;

    fn video(title: &str) -> Video {
        let now = Utc::now();
        Video {
            title: Title::parse(title).expect("title"),
            thumbnail_key: Some("a.png".into()),
            created_at: now,
            updated_at: now,
            completed_at: Some(now),
            ..tests_support::video(5, None)
        }
    }

    fn id() -> VideoId {
        VideoId::new(5).expect("id")
    }

    /// A store whose list answers "Title n" on its nth load, and whose writes succeed.
    fn store(loads: &Arc<AtomicUsize>) -> MockVideoRepository {
        let mut inner = MockVideoRepository::new();
        let counter = loads.clone();
        inner.expect_list().returning(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Ok(Paged {
                items: vec![video(&format!("Title {n}"))],
                total: 1,
                page: Page::default(),
            })
        });
        inner
            .expect_update_details()
            .returning(|_, _, _, _| Ok(Some(video("Edited"))));
        inner
            .expect_transition()
            .returning(|_, _, _, _, _, _| Ok(true));
        inner.expect_set_progress().returning(|_, _, _| Ok(()));
        inner.expect_complete().returning(|_, _, _, _| Ok(true));
        inner.expect_fail().returning(|_, _, _, _| Ok(false));
        inner.expect_retry_with_job().returning(|_, _, _| Ok(true));
        inner
            .expect_delete()
            .returning(|_| Err(RepositoryError::new(std::io::Error::other("lost"))));
        inner
    }

    fn cached(
        loads: &Arc<AtomicUsize>,
        published: &Arc<Mutex<Vec<CacheKey>>>,
    ) -> CachedVideoRepository<MockVideoRepository> {
        let mut bus = MockInvalidationBus::new();
        bus.expect_coherence()
            .return_const(Coherence::Live { epoch: 1 });
        let published = published.clone();
        bus.expect_publish().returning(move |key| {
            published.lock().expect("lock").push(key);
        });
        CachedVideoRepository::new(
            store(loads),
            ListCacheOptions {
                ttl: Duration::from_secs(60),
                fallback_ttl: Duration::ZERO,
                capacity: 10,
            },
        )
        .with_invalidation(Arc::new(bus))
    }

    async fn title(repo: &CachedVideoRepository<MockVideoRepository>) -> String {
        let page = repo.list(&VideoQuery::default()).await.expect("list");
        page.items[0].title.as_ref().to_owned()
    }

    #[tokio::test]
    async fn every_write_drops_the_pages_and_is_announced_even_when_it_failed() {
        let loads = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(Mutex::new(Vec::new()));
        let repo = cached(&loads, &published);
        assert_eq!(title(&repo).await, "Title 0");
        assert_eq!(title(&repo).await, "Title 0", "served from memory");

        let now = Utc::now();
        let edit = Title::parse("Edited").expect("title");
        repo.update_details(id(), Some(edit), None, now)
            .await
            .expect("update");
        assert_eq!(title(&repo).await, "Title 1");
        repo.transition(id(), &[], VideoStatus::Processing, 0, None, now)
            .await
            .expect("transition");
        assert_eq!(title(&repo).await, "Title 2");
        repo.set_progress(id(), 50, now).await.expect("progress");
        assert_eq!(title(&repo).await, "Title 3");
        repo.fail(id(), "no".into(), now, None).await.expect("fail");
        assert_eq!(title(&repo).await, "Title 4");
        assert!(repo.delete(id()).await.is_err());
        assert_eq!(
            title(&repo).await,
            "Title 5",
            "a failed write may have committed"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 6);
        assert_eq!(
            *published.lock().expect("lock"),
            [CacheKey::Videos; 5],
            "each write told the other instances"
        );
    }

    #[tokio::test]
    async fn another_instances_video_write_or_any_users_write_drops_the_pages() {
        let loads = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(Mutex::new(Vec::new()));
        let repo = cached(&loads, &published);
        assert_eq!(title(&repo).await, "Title 0");
        repo.invalidate(CacheKey::Videos);
        assert_eq!(title(&repo).await, "Title 1");
        repo.invalidate(CacheKey::User(UserId::new(3).expect("id")));
        assert_eq!(title(&repo).await, "Title 2");
        repo.invalidate_all();
        assert_eq!(title(&repo).await, "Title 3");
        assert_eq!(title(&repo).await, "Title 3");
        assert!(
            published.lock().expect("lock").is_empty(),
            "reads announce nothing"
        );
    }
}
