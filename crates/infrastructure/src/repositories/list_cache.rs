//! Pages of a collection kept in memory between writes, for the read-through caches in
//! front of the user and video repositories.
//!
//! A list page depends on every row that could match its query, so one write anywhere in
//! the collection makes every cached page of it suspect. Rather than working out which
//! pages a write touched, each write (on this instance, or announced by another one
//! through the [`InvalidationBus`](vidgen_application::invalidation::InvalidationBus))
//! moves the collection to a new generation, and a page is served only if it was loaded
//! in the current one. A load records the generation before it reads the store, so a load
//! that overlaps a write is never served. Pages are also served only while the bus is
//! live in the epoch they were loaded in, or else younger than the fallback TTL (the bus
//! is degraded: another instance's write may not have been announced).

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use vidgen_application::invalidation::Coherence;
use vidgen_domain::listing::Paged;

/// Settings of a list cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCacheOptions {
    /// The longest a page is kept.
    pub ttl: Duration,
    /// The longest a page is served while the invalidation bus is degraded.
    pub fallback_ttl: Duration,
    /// Rows kept at most, counted over all pages (the least used pages go first).
    pub capacity: u64,
}

struct Entry<T> {
    page: Paged<T>,
    generation: u64,
    /// The bus's epoch when the load began, `None` when it was degraded.
    epoch: Option<u64>,
    since: Instant,
}

/// When and in which generation a load began: what its page may be kept with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListStamp {
    generation: u64,
    epoch: Option<u64>,
    since: Instant,
}

/// See the module docs.
pub(crate) struct ListCache<Q, T> {
    pages: Cache<Q, Arc<Entry<T>>>,
    generation: AtomicU64,
    fallback_ttl: Duration,
}

impl<Q, T> std::fmt::Debug for ListCache<Q, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListCache")
            .field("pages", &self.pages.entry_count())
            .field("generation", &self.generation.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

fn epoch_of(coherence: Coherence) -> Option<u64> {
    match coherence {
        Coherence::Live { epoch } => Some(epoch),
        Coherence::Degraded => None,
    }
}

impl<Q, T> ListCache<Q, T>
where
    Q: Hash + Eq + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(options: ListCacheOptions) -> Self {
        Self {
            pages: Cache::builder()
                .time_to_live(options.ttl)
                .weigher(|_, entry: &Arc<Entry<T>>| {
                    u32::try_from(entry.page.items.len() + 1).unwrap_or(u32::MAX)
                })
                .max_capacity(options.capacity)
                .build(),
            generation: AtomicU64::new(0),
            fallback_ttl: options.fallback_ttl.min(options.ttl),
        }
    }

    /// The page cached for `query`, if it can be trusted now.
    pub(crate) fn get(&self, query: &Q, coherence: Coherence) -> Option<Paged<T>> {
        let entry = self.pages.get(query)?;
        let live = epoch_of(coherence);
        let current = entry.generation == self.generation.load(Ordering::SeqCst);
        let trusted =
            (live.is_some() && entry.epoch == live) || entry.since.elapsed() <= self.fallback_ttl;
        (current && trusted).then(|| entry.page.clone())
    }

    /// Taken before reading the store.
    pub(crate) fn stamp(&self, coherence: Coherence) -> ListStamp {
        ListStamp {
            generation: self.generation.load(Ordering::SeqCst),
            epoch: epoch_of(coherence),
            since: Instant::now(),
        }
    }

    /// Keeps what a load that began at `stamp` read, unless a write came since.
    pub(crate) fn keep(&self, query: Q, stamp: ListStamp, page: &Paged<T>) {
        if stamp.generation != self.generation.load(Ordering::SeqCst) {
            return;
        }
        self.pages.insert(
            query,
            Arc::new(Entry {
                page: page.clone(),
                generation: stamp.generation,
                epoch: stamp.epoch,
                since: stamp.since,
            }),
        );
    }

    /// Something in the collection changed (or may have): no page cached so far is
    /// served again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.pages.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use vidgen_domain::listing::Page;

    use super::*;

    const LIVE: Coherence = Coherence::Live { epoch: 1 };

    fn cache(fallback: Duration) -> ListCache<u8, u32> {
        ListCache::new(ListCacheOptions {
            ttl: Duration::from_secs(60),
            fallback_ttl: fallback,
            capacity: 100,
        })
    }

    fn page(items: Vec<u32>) -> Paged<u32> {
        Paged {
            total: items.len() as u64,
            items,
            page: Page::default(),
        }
    }

    #[test]
    fn a_kept_page_is_served_until_a_write() {
        let cache = cache(Duration::ZERO);
        assert_eq!(cache.get(&1, LIVE), None);
        let stamp = cache.stamp(LIVE);
        cache.keep(1, stamp, &page(vec![7, 8]));
        assert_eq!(cache.get(&1, LIVE), Some(page(vec![7, 8])));
        assert_eq!(cache.get(&2, LIVE), None, "another query");
        cache.invalidate();
        assert_eq!(cache.get(&1, LIVE), None);
    }

    #[test]
    fn the_capacity_counts_rows() {
        let cache: ListCache<u8, u32> = ListCache::new(ListCacheOptions {
            ttl: Duration::from_secs(60),
            fallback_ttl: Duration::ZERO,
            capacity: 10,
        });
        for query in 0..5 {
            cache.keep(query, cache.stamp(LIVE), &page(vec![1, 2, 3, 4]));
        }
        cache.pages.run_pending_tasks();
        assert!(
            cache.pages.weighted_size() <= 10,
            "{} rows kept",
            cache.pages.weighted_size()
        );
        assert!(cache.pages.entry_count() < 5);
    }

    #[test]
    fn a_load_that_overlapped_a_write_is_not_kept() {
        let cache = cache(Duration::ZERO);
        let stamp = cache.stamp(LIVE);
        cache.invalidate();
        cache.keep(1, stamp, &page(vec![1]));
        assert_eq!(cache.get(&1, LIVE), None);
    }

    #[test]
    fn pages_of_another_epoch_or_a_degraded_bus_are_served_only_within_the_fallback_ttl() {
        let strict = cache(Duration::ZERO);
        strict.keep(1, strict.stamp(LIVE), &page(vec![1]));
        assert_eq!(strict.get(&1, Coherence::Live { epoch: 2 }), None);
        assert_eq!(strict.get(&1, Coherence::Degraded), None);
        strict.keep(2, strict.stamp(Coherence::Degraded), &page(vec![2]));
        assert_eq!(strict.get(&2, LIVE), None, "loaded while degraded");

        let lenient = cache(Duration::from_secs(60));
        lenient.keep(1, lenient.stamp(Coherence::Degraded), &page(vec![1]));
        assert_eq!(lenient.get(&1, Coherence::Degraded), Some(page(vec![1])));
        assert_eq!(lenient.get(&1, LIVE), Some(page(vec![1])));
    }
}
