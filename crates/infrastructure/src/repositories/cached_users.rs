//! A read-through cache of users by id in front of any [`UserRepository`].
//!
//! Every authenticated request loads its user by id; serving that from memory keeps the
//! database out of the hot path. Writes through this repository update the cache before
//! they return, so on one instance a read after a write never sees the old state. A
//! deleted user is cached as absent. Entries live at most `ttl`, which bounds how long
//! another instance sharing the database can serve a user changed elsewhere.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use vidgen_application::metrics;
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::ports::{
    NewUser, PasswordHash, UserChanges, UserQuery, UserRepository, UserWriteError,
};
use vidgen_domain::listing::Paged;
use vidgen_domain::users::{User, UserId};

/// See the module docs.
pub struct CachedUserRepository<R> {
    inner: R,
    cache: Cache<i64, Option<User>>,
}

impl<R> std::fmt::Debug for CachedUserRepository<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedUserRepository")
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl<R: UserRepository> CachedUserRepository<R> {
    pub fn new(inner: R, ttl: Duration, capacity: u64) -> Self {
        Self {
            inner,
            cache: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
        }
    }
}

#[async_trait]
impl<R: UserRepository> UserRepository for CachedUserRepository<R> {
    async fn insert(&self, user: NewUser) -> Result<User, UserWriteError> {
        let user = self.inner.insert(user).await?;
        self.cache.insert(user.id.get(), Some(user.clone()));
        Ok(user)
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        if let Some(cached) = self.cache.get(&id.get()) {
            metrics::user_cache_lookup(true);
            return Ok(cached);
        }
        metrics::user_cache_lookup(false);
        let loaded = self.inner.get(id).await?;
        // A write that landed while we were loading has already put the newer state in
        // the cache: `or_insert` keeps it, and we return it.
        Ok(self.cache.entry(id.get()).or_insert(loaded).into_value())
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
        self.inner.list(query).await
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        at: DateTime<Utc>,
    ) -> Result<User, UserWriteError> {
        match self.inner.update(id, changes, at).await {
            Ok(user) => {
                self.cache.insert(id.get(), Some(user.clone()));
                Ok(user)
            }
            Err(error) => {
                // The stored state is unknown now: read it again next time.
                self.cache.invalidate(&id.get());
                Err(error)
            }
        }
    }

    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        let deleted = self.inner.delete(id).await;
        if matches!(deleted, Ok(true)) {
            self.cache.insert(id.get(), None);
        } else {
            self.cache.invalidate(&id.get());
        }
        deleted
    }

    async fn admin_exists(&self) -> Result<bool, RepositoryError> {
        self.inner.admin_exists().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
