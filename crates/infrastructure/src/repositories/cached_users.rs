//! A read-through cache of users by id in front of any [`UserRepository`], kept coherent
//! across instances by an [`InvalidationBus`].
//!
//! Every authenticated request loads its user by id; serving that from memory keeps the
//! database out of the hot path. Writes through this repository update the cache before
//! they return, so on one instance a read after a write never sees the old state, and
//! publish the user's key, so every other instance sharing the database drops its copy
//! at once ([`InvalidationListener`]). A deleted user is cached as absent.
//!
//! An entry is served while it is younger than `ttl` and either the bus was live, in the
//! same epoch, when it was loaded (every change since would have been delivered), or it
//! is younger than the fallback TTL (the bus is degraded: changes on other instances
//! may not arrive). With a single instance the bus is always live.
//!
//! A load that overlaps a remote invalidation is not kept: it may have read the row
//! before the other instance's write committed.
//!
//! With [`with_lists`](CachedUserRepository::with_lists), list pages are cached too
//! (see [`ListCache`]): any user's write, here or announced by another instance, drops
//! them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use vidgen_application::invalidation::{
    CacheKey, Coherence, InvalidationBus, InvalidationListener,
};
use vidgen_application::metrics;
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::ports::{
    NewUser, PasswordHash, UserChanges, UserQuery, UserRepository, UserWriteError,
};
use vidgen_domain::listing::Paged;
use vidgen_domain::users::{User, UserId};

use super::list_cache::{ListCache, ListCacheOptions};
use crate::invalidation::LocalInvalidationBus;

/// One cached answer and what it can be trusted for.
#[derive(Clone)]
struct Entry {
    user: Option<User>,
    /// When the read or write that produced it began.
    since: Instant,
    /// The bus's epoch then, `None` when it was degraded.
    epoch: Option<u64>,
}

/// Taken before a read or write of the store: what its result may be cached with.
struct Stamp {
    since: Instant,
    epoch: Option<u64>,
    /// Remote invalidations applied by then.
    seen: u64,
}

impl Stamp {
    fn entry(&self, user: Option<User>) -> Entry {
        Entry {
            user,
            since: self.since,
            epoch: self.epoch,
        }
    }
}

/// See the module docs.
pub struct CachedUserRepository<R> {
    inner: R,
    cache: Cache<i64, Entry, crate::CacheHasher>,
    bus: Arc<dyn InvalidationBus>,
    fallback_ttl: Duration,
    /// Remote invalidations applied so far.
    invalidations: AtomicU64,
    lists: Option<ListCache<UserQuery, User>>,
}

impl<R> std::fmt::Debug for CachedUserRepository<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUserRepository")
            .field("entries", &self.cache.entry_count())
            .field("coherence", &self.bus.coherence())
            .finish_non_exhaustive()
    }
}

impl<R: UserRepository> CachedUserRepository<R> {
    /// A cache for a single instance: entries live at most `ttl`.
    pub fn new(inner: R, ttl: Duration, capacity: u64) -> Self {
        Self {
            inner,
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build_with_hasher(crate::CacheHasher::default()),
            bus: Arc::new(LocalInvalidationBus),
            fallback_ttl: ttl,
            invalidations: AtomicU64::new(0),
            lists: None,
        }
    }

    /// Caches list pages as well.
    #[must_use]
    pub fn with_lists(mut self, options: ListCacheOptions) -> Self {
        self.lists = Some(ListCache::new(options));
        self
    }

    /// Publishes every write on `bus`, and keeps entries at most `fallback_ttl` while it
    /// is degraded. Subscribe the cache to the bus too (see
    /// [`vidgen_application::invalidation::subscribe`]), or remote writes are not seen.
    #[must_use]
    pub fn with_invalidation(
        mut self,
        bus: Arc<dyn InvalidationBus>,
        fallback_ttl: Duration,
    ) -> Self {
        self.bus = bus;
        self.fallback_ttl = fallback_ttl;
        self
    }

    /// The state of the bus as a new entry records it.
    fn epoch(&self) -> Option<u64> {
        match self.bus.coherence() {
            Coherence::Live { epoch } => Some(epoch),
            Coherence::Degraded => None,
        }
    }

    fn trusted(&self, entry: &Entry) -> bool {
        let live = self.epoch();
        (live.is_some() && entry.epoch == live) || entry.since.elapsed() <= self.fallback_ttl
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            since: Instant::now(),
            epoch: self.epoch(),
            seen: self.invalidations.load(Ordering::SeqCst),
        }
    }

    /// Caches what a write of the store answered, unless it was overtaken.
    fn keep(&self, id: UserId, stamp: &Stamp, user: Option<User>) {
        self.cache.insert(id.get(), stamp.entry(user));
        self.forget_if_overtaken(id, stamp);
    }

    /// Drops the entry of `id` if a remote invalidation was applied since `stamp`: the
    /// entry may then predate the write it announced. (Checked after inserting, so an
    /// invalidation applied at any moment either is seen here or removes the entry.)
    fn forget_if_overtaken(&self, id: UserId, stamp: &Stamp) {
        if self.invalidations.load(Ordering::SeqCst) != stamp.seen {
            self.cache.invalidate(&id.get());
        }
    }

    /// Tells the list cache and the other instances that `id` changed (or may have).
    async fn announce(&self, id: UserId) {
        if let Some(lists) = &self.lists {
            lists.invalidate();
        }
        self.bus.publish(CacheKey::User(id)).await;
    }
}

impl<R: Send + Sync> InvalidationListener for CachedUserRepository<R> {
    fn invalidate(&self, key: CacheKey) {
        let CacheKey::User(id) = key else { return };
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(&id.get());
        if let Some(lists) = &self.lists {
            lists.invalidate();
        }
    }

    fn invalidate_all(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
        if let Some(lists) = &self.lists {
            lists.invalidate();
        }
    }
}

#[async_trait]
impl<R: UserRepository> UserRepository for CachedUserRepository<R> {
    async fn insert(&self, user: NewUser) -> Result<User, UserWriteError> {
        let stamp = self.stamp();
        let user = self.inner.insert(user).await?;
        self.keep(user.id, &stamp, Some(user.clone()));
        // Another instance may have cached this id as absent.
        self.announce(user.id).await;
        Ok(user)
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        if let Some(cached) = self.cache.get(&id.get()) {
            if self.trusted(&cached) {
                metrics::user_cache_lookup(true);
                return Ok(cached.user);
            }
            self.cache.invalidate(&id.get());
        }
        metrics::user_cache_lookup(false);
        let stamp = self.stamp();
        let loaded = self.inner.get(id).await?;
        // A write that landed while we were loading has already put the newer state in
        // the cache: `or_insert` keeps it, and we return it.
        let kept = self
            .cache
            .entry(id.get())
            .or_insert(stamp.entry(loaded))
            .into_value();
        self.forget_if_overtaken(id, &stamp);
        Ok(kept.user)
    }

    async fn get_by_username(&self, username: &str) -> Result<Option<User>, RepositoryError> {
        self.inner.get_by_username(username).await
    }

    async fn get_credentials(
        &self,
        login: &str,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError> {
        self.inner.get_credentials(login).await
    }

    async fn get_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<(User, PasswordHash)>, RepositoryError> {
        self.inner.get_credentials_by_id(id).await
    }

    async fn list(&self, query: &UserQuery) -> Result<Paged<User>, RepositoryError> {
        let Some(lists) = &self.lists else {
            return self.inner.list(query).await;
        };
        let coherence = self.bus.coherence();
        if let Some(page) = lists.get(query, coherence) {
            metrics::list_cache_lookup("users", true);
            return Ok(page);
        }
        metrics::list_cache_lookup("users", false);
        let stamp = lists.stamp(coherence);
        let page = self.inner.list(query).await?;
        lists.keep(query.clone(), stamp, &page);
        Ok(page)
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        let stamp = self.stamp();
        let updated = self.inner.update(id, changes, at).await;
        match &updated {
            Ok(user) => self.keep(id, &stamp, Some(user.clone())),
            // The stored state is unknown now: read it again next time.
            Err(_) => self.cache.invalidate(&id.get()),
        }
        // Even a failed write may have committed (an answer lost on the way back).
        self.announce(id).await;
        updated
    }

    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        let stamp = self.stamp();
        let deleted = self.inner.delete(id).await;
        match deleted {
            Ok(true) => self.keep(id, &stamp, None),
            // Nothing was there to change.
            Ok(false) => {
                self.cache.invalidate(&id.get());
                return deleted;
            }
            Err(_) => self.cache.invalidate(&id.get()),
        }
        self.announce(id).await;
        deleted
    }

    async fn admin_exists(&self) -> Result<bool, RepositoryError> {
        self.inner.admin_exists().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Mutex, OnceLock, Weak};

    use vidgen_application::invalidation::MockInvalidationBus;
    use vidgen_application::users::ports::MockUserRepository;
    use vidgen_domain::users::{Email, PersonName, Role, UserStatus, Username};

    use super::*;

    fn user(name: &str) -> User {
        User {
            id: UserId::new(1).expect("id"),
            username: Username::parse("jane").expect("username"),
            name: PersonName::parse(name).expect("name"),
            email: Email::parse("jane@example.com").expect("email"),
            role: Role::User,
            status: UserStatus::Active,
            age: None,
            birth_date: None,
            avatar_key: None,
            token_version: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn id() -> UserId {
        UserId::new(1).expect("id")
    }

    #[tokio::test]
    async fn reads_are_served_from_memory_and_writes_replace_them() {
        let loads = Arc::new(AtomicUsize::new(0));
        let mut inner = MockUserRepository::new();
        let counter = loads.clone();
        inner.expect_get().returning(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Some(user("Old Name")))
        });
        inner
            .expect_update()
            .returning(|_, _, _| Ok(user("New Name")));
        inner.expect_delete().returning(|_| Ok(true));
        let cached = CachedUserRepository::new(inner, Duration::from_secs(60), 100);

        for _ in 0..3 {
            let got = cached.get(id()).await.expect("get").expect("user");
            assert_eq!(got.name.as_ref(), "Old Name");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "loaded once");

        cached
            .update(id(), UserChanges::default(), Utc::now())
            .await
            .expect("update");
        let got = cached.get(id()).await.expect("get").expect("user");
        assert_eq!(
            got.name.as_ref(),
            "New Name",
            "a read after a write sees the write"
        );

        assert!(cached.delete(id()).await.expect("delete"));
        assert_eq!(
            cached.get(id()).await.expect("get"),
            None,
            "deleted stays deleted"
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn lookups_are_counted_as_hits_and_misses() {
        let mut inner = MockUserRepository::new();
        inner.expect_get().returning(|_| Ok(Some(user("Name"))));
        let cached = CachedUserRepository::new(inner, Duration::from_secs(60), 100);
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // The local recorder sees what this thread records while the closure runs.
        ::metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                for _ in 0..3 {
                    cached.get(id()).await.expect("get");
                }
            });
        });
        let text = recorder.handle().render();
        assert!(
            text.contains("vidgen_user_cache_lookups_total{result=\"miss\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("vidgen_user_cache_lookups_total{result=\"hit\"} 2\n"),
            "{text}"
        );
    }

    fn page_of(name: &str) -> Paged<User> {
        Paged {
            items: vec![user(name)],
            total: 1,
            page: vidgen_domain::listing::Page::default(),
        }
    }

    #[tokio::test]
    async fn list_pages_are_served_from_memory_until_any_write_here_or_elsewhere() {
        let loads = Arc::new(AtomicUsize::new(0));
        let mut inner = MockUserRepository::new();
        let counter = loads.clone();
        inner.expect_list().returning(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Ok(page_of(&format!("Name {n}")))
        });
        inner
            .expect_update()
            .returning(|_, _, _| Ok(user("New Name")));
        let state = Arc::new(AtomicU64::new(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let cached = Arc::new(
            CachedUserRepository::new(inner, Duration::from_secs(60), 100)
                .with_invalidation(Arc::new(bus(&state, &published)), Duration::ZERO)
                .with_lists(ListCacheOptions {
                    ttl: Duration::from_secs(60),
                    fallback_ttl: Duration::ZERO,
                    capacity: 10,
                }),
        );
        let first = UserQuery::default();
        let second = UserQuery {
            search: Some("jane".into()),
            ..UserQuery::default()
        };
        let name = |page: Paged<User>| page.items[0].name.as_ref().to_owned();

        assert_eq!(name(cached.list(&first).await.expect("list")), "Name 0");
        assert_eq!(name(cached.list(&first).await.expect("list")), "Name 0");
        assert_eq!(name(cached.list(&second).await.expect("list")), "Name 1");
        assert_eq!(loads.load(Ordering::SeqCst), 2, "one load per query");

        cached
            .update(id(), UserChanges::default(), Utc::now())
            .await
            .expect("update");
        assert_eq!(
            name(cached.list(&first).await.expect("list")),
            "Name 2",
            "a list after a write sees the write"
        );
        cached.invalidate(CacheKey::User(UserId::new(9).expect("id")));
        assert_eq!(
            name(cached.list(&first).await.expect("list")),
            "Name 3",
            "another instance's write to any user drops the pages"
        );
        cached.invalidate(CacheKey::Videos);
        assert_eq!(name(cached.list(&first).await.expect("list")), "Name 3");
        state.store(0, Ordering::SeqCst);
        assert_eq!(
            name(cached.list(&first).await.expect("list")),
            "Name 4",
            "nothing is served from memory while the bus is degraded (fallback 0)"
        );
    }

    #[tokio::test]
    async fn entries_expire() {
        let mut inner = MockUserRepository::new();
        inner
            .expect_get()
            .times(2)
            .returning(|_| Ok(Some(user("Name"))));
        let cached = CachedUserRepository::new(inner, Duration::from_millis(50), 100);
        cached.get(id()).await.expect("get");
        tokio::time::sleep(Duration::from_millis(120)).await;
        cached.get(id()).await.expect("get");
    }

    /// A bus whose state the test sets: 0 is degraded, else the live epoch.
    fn bus(state: &Arc<AtomicU64>, published: &Arc<Mutex<Vec<CacheKey>>>) -> MockInvalidationBus {
        let mut bus = MockInvalidationBus::new();
        let state = state.clone();
        bus.expect_coherence()
            .returning(move || match state.load(Ordering::SeqCst) {
                0 => Coherence::Degraded,
                epoch => Coherence::Live { epoch },
            });
        let published = published.clone();
        bus.expect_publish().returning(move |key| {
            published.lock().expect("lock").push(key);
        });
        bus
    }

    fn counting_store(loads: &Arc<AtomicUsize>) -> MockUserRepository {
        let mut inner = MockUserRepository::new();
        let counter = loads.clone();
        inner.expect_get().returning(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Some(user("Name")))
        });
        inner
    }

    fn coherent(
        inner: MockUserRepository,
        bus: MockInvalidationBus,
        fallback: Duration,
    ) -> Arc<CachedUserRepository<MockUserRepository>> {
        Arc::new(
            CachedUserRepository::new(inner, Duration::from_secs(60), 100)
                .with_invalidation(Arc::new(bus), fallback),
        )
    }

    #[tokio::test]
    async fn every_write_publishes_the_users_key() {
        let state = Arc::new(AtomicU64::new(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let mut inner = MockUserRepository::new();
        inner.expect_insert().returning(|_| Ok(user("Name")));
        let mut updates = 0;
        inner.expect_update().returning(move |_, _, _| {
            updates += 1;
            if updates == 1 {
                Ok(user("New"))
            } else {
                Err(UserWriteError::EmailTaken)
            }
        });
        let mut deletes = 0;
        inner.expect_delete().returning(move |_| {
            deletes += 1;
            Ok(deletes == 1)
        });
        let cached = coherent(inner, bus(&state, &published), Duration::from_secs(1));
        let new_user = NewUser {
            username: Username::parse("jane").expect("username"),
            name: PersonName::parse("Jane").expect("name"),
            email: Email::parse("jane@example.com").expect("email"),
            password_hash: PasswordHash::new("hash"),
            role: Role::User,
            status: UserStatus::Active,
            age: None,
            birth_date: None,
            created_at: Utc::now(),
        };
        cached.insert(new_user).await.expect("insert");
        cached
            .update(id(), UserChanges::default(), Utc::now())
            .await
            .expect("update");
        assert!(
            cached
                .update(id(), UserChanges::default(), Utc::now())
                .await
                .is_err()
        );
        assert!(cached.delete(id()).await.expect("delete"));
        assert!(!cached.delete(id()).await.expect("delete again"));
        let key = CacheKey::User(id());
        assert_eq!(
            *published.lock().expect("lock"),
            vec![key, key, key, key],
            "insert, update, failed update, delete; not the delete that found nothing"
        );
    }

    #[tokio::test]
    async fn a_remote_invalidation_drops_the_entry_at_once() {
        let state = Arc::new(AtomicU64::new(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let loads = Arc::new(AtomicUsize::new(0));
        let cached = coherent(
            counting_store(&loads),
            bus(&state, &published),
            Duration::ZERO,
        );
        cached.get(id()).await.expect("get");
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "live: served from memory");
        cached.invalidate(CacheKey::User(id()));
        cached.get(id()).await.expect("get");
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "reloaded after the invalidation"
        );
        cached.invalidate_all();
        cached.get(id()).await.expect("get");
        assert_eq!(
            loads.load(Ordering::SeqCst),
            3,
            "reloaded after forgetting all"
        );
        assert!(
            published.lock().expect("lock").is_empty(),
            "reads publish nothing"
        );
    }

    #[tokio::test]
    async fn while_the_bus_is_degraded_entries_live_only_the_fallback_ttl() {
        let state = Arc::new(AtomicU64::new(0));
        let published = Arc::new(Mutex::new(Vec::new()));
        let loads = Arc::new(AtomicUsize::new(0));
        let cached = coherent(
            counting_store(&loads),
            bus(&state, &published),
            Duration::from_millis(300),
        );
        cached.get(id()).await.expect("get");
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 1, "young enough");
        tokio::time::sleep(Duration::from_millis(400)).await;
        cached.get(id()).await.expect("get");
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "older than the fallback TTL"
        );

        // Live again (a new epoch): an entry from the degraded time is trusted by age
        // only, one loaded now by its epoch.
        state.store(2, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(400)).await;
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 3);
        tokio::time::sleep(Duration::from_millis(400)).await;
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 3, "live in its own epoch");
    }

    #[tokio::test]
    async fn an_entry_of_an_earlier_epoch_is_not_trusted() {
        let state = Arc::new(AtomicU64::new(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let loads = Arc::new(AtomicUsize::new(0));
        let cached = coherent(
            counting_store(&loads),
            bus(&state, &published),
            Duration::ZERO,
        );
        cached.get(id()).await.expect("get");
        // The channel was interrupted and is back: messages may have been missed.
        state.store(2, Ordering::SeqCst);
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_load_overtaken_by_a_remote_invalidation_is_not_kept() {
        let state = Arc::new(AtomicU64::new(1));
        let published = Arc::new(Mutex::new(Vec::new()));
        let loads = Arc::new(AtomicUsize::new(0));
        // The store's answer is read before another instance's write commits; its
        // invalidation arrives before the load returns.
        let listener: Arc<OnceLock<Weak<dyn InvalidationListener>>> = Arc::new(OnceLock::new());
        let mut inner = MockUserRepository::new();
        let (counter, during) = (loads.clone(), listener.clone());
        inner.expect_get().returning(move |_| {
            if counter.fetch_add(1, Ordering::SeqCst) == 0
                && let Some(listener) = during.get().and_then(Weak::upgrade)
            {
                listener.invalidate(CacheKey::User(id()));
            }
            Ok(Some(user("Old")))
        });
        let cached = coherent(inner, bus(&state, &published), Duration::ZERO);
        let as_listener: Arc<dyn InvalidationListener> = cached.clone();
        listener
            .set(Arc::downgrade(&as_listener))
            .unwrap_or_else(|_| panic!("set once"));
        cached.get(id()).await.expect("get");
        cached.get(id()).await.expect("get");
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "the overtaken load was not kept"
        );
        cached.get(id()).await.expect("get");
        assert_eq!(loads.load(Ordering::SeqCst), 2, "the next one was");
    }

    #[tokio::test]
    async fn a_failed_write_forgets_the_entry() {
        let mut inner = MockUserRepository::new();
        inner
            .expect_get()
            .times(2)
            .returning(|_| Ok(Some(user("Name"))));
        inner
            .expect_update()
            .returning(|_, _, _| Err(UserWriteError::EmailTaken));
        let cached = CachedUserRepository::new(inner, Duration::from_secs(60), 100);
        cached.get(id()).await.expect("get");
        assert!(
            cached
                .update(id(), UserChanges::default(), Utc::now())
                .await
                .is_err()
        );
        cached.get(id()).await.expect("get");
    }
}
