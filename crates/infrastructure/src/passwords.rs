//! [`PasswordHasher`] with argon2id on a small dedicated thread pool, so hashing never
//! runs on (or starves) the HTTP workers.
//!
//! The pool's queue is bounded: at most [`QUEUE_SLOTS_PER_THREAD`] hashes per pool
//! thread may be running or waiting. A hash beyond that fails at once with
//! [`HashError::overloaded`] (the HTTP layer answers 503 with `Retry-After`) instead of
//! building a backlog that stalls every login; a login takes its place
//! ([`PasswordHasher::reserve`]) before it reads the stored hash, so a refusal costs no
//! database work. A waiting hash whose caller went away (its future dropped before its
//! turn) is skipped, not computed.
//!
//! The pool threads run at a higher priority than the HTTP workers
//! ([`HASHING_NICE`]): clients that ignore `Retry-After` keep a worker busy answering
//! 503s, and at the same priority it would take half the core from the hashes that
//! serve the logins that got in.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use vidgen_application::metrics;
use vidgen_application::users::ports::{HashError, HashSlot, PasswordHash, PasswordHasher};
use vidgen_domain::users::PlainPassword;

use crate::settings::HashingSettings;

/// Hashes that may be running or waiting at once, per pool thread: enough to keep the
/// threads busy through a short burst, small enough that a waiting login is answered in
/// a few hash durations.
pub const QUEUE_SLOTS_PER_THREAD: usize = 8;

/// The nice value of the pool threads on Linux (the HTTP workers run at 0, renders at
/// 19): a weight about nine times the workers', so that a worker busy refusing logins
/// leaves the hashes about nine tenths of a shared core, and still runs every few
/// milliseconds. Raising a priority needs `CAP_SYS_NICE` (or `RLIMIT_NICE`); without it
/// the threads stay at the process's priority, with a warning at start-up.
pub const HASHING_NICE: i32 = -10;

/// Raises the calling thread's priority to [`HASHING_NICE`].
fn raise_priority() -> Result<(), thread_priority::Error> {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    let policy = thread_priority::thread_schedule_policy()?;
    // The crate maps its 0-99 scale onto nice values: the value that maps to ours.
    let priority = (u8::from(ThreadPriorityValue::MIN)..=u8::from(ThreadPriorityValue::MAX))
        .filter_map(|value| ThreadPriorityValue::try_from(value).ok())
        .map(ThreadPriority::Crossplatform)
        .find(|priority| priority.to_posix(policy).ok() == Some(HASHING_NICE))
        .ok_or(thread_priority::Error::Priority(
            "no value maps to HASHING_NICE",
        ))?;
    thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        priority,
        policy,
    )
}

/// A held queue slot: the queue-depth gauge counts it until it is dropped, and when the
/// last one is given back (nothing running or waiting) every pool thread hands its
/// working memory back (a hash arriving meanwhile just allocates it again).
struct QueueSlot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Semaphore>,
    capacity: usize,
    pool: Weak<rayon::ThreadPool>,
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        metrics::hashing_queue_changed(-1.0);
        drop(self.permit.take());
        if self.slots.available_permits() == self.capacity
            && let Some(pool) = self.pool.upgrade()
        {
            pool.spawn_broadcast(|_| release_working_memory());
        }
    }
}

/// Why the hasher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HasherSetupError {
    #[error("invalid argon2 parameters")]
    Params(#[source] argon2::Error),
    #[error("cannot start the hashing pool")]
    Pool(#[source] rayon::ThreadPoolBuildError),
    #[error("cannot hash the dummy password")]
    Dummy(#[source] argon2::password_hash::Error),
}

/// The bytes of salt each new hash gets (argon2's recommended length).
const SALT_LEN: usize = argon2::RECOMMENDED_SALT_LEN;

thread_local! {
    /// argon2's working memory (19 MiB at the OWASP cost) for the hashes of this thread:
    /// kept from one hash to the next while the queue has work, so a busy pool neither
    /// allocates nor zeroes it per hash, and handed back to the allocator (whose
    /// background thread returns it to the system) once the queue drains.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with `blocks` blocks of this thread's working memory, or fails with
/// [`argon2::Error::OutOfMemory`] when they cannot be allocated (as argon2 itself does).
fn with_working_memory(
    blocks: usize,
    work: impl FnOnce(&mut [Block]) -> argon2::Result<()>,
) -> argon2::Result<()> {
    WORKING_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory
                .try_reserve_exact(blocks - memory.len())
                .map_err(|_| argon2::Error::OutOfMemory)?;
            memory.resize(blocks, Block::new());
        }
        work(&mut memory[..blocks])
    })
}

/// Hands this thread's working memory back to the allocator.
fn release_working_memory() {
    WORKING_MEMORY.with_borrow_mut(|memory| *memory = Vec::new());
}

/// A new PHC-format argon2id hash of `password` with `params` and a random salt: what
/// `argon2::PasswordHasher::hash_password` makes, in this thread's working memory.
fn hash_phc(params: &Params, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; SALT_LEN];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = out
        .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
        .ok_or(argon2::password_hash::Error::OutputSize)?;
    with_working_memory(params.block_count(), |memory| {
        argon2(params).hash_password_into_with_memory(password, &salt, out, memory)
    })?;
    let hash = argon2::PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(Salt::new(&salt)?),
        hash: Some(Output::new(out)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC-format argon2 hash `stored`, whose own algorithm,
/// version and parameters are used (as `argon2::PasswordVerifier` does), in this thread's
/// working memory; the outputs are compared in constant time. A hash that does not parse
/// matches nothing.
fn verify_phc(password: &[u8], stored: &str) -> bool {
    recomputed_matches(password, stored).unwrap_or(false)
}

/// Whether `password` hashes to `stored`; `None` when `stored` does not parse or names
/// parameters argon2 refuses.
fn recomputed_matches(password: &[u8], stored: &str) -> Option<bool> {
    let parsed = argon2::PasswordHash::new(stored).ok()?;
    let (salt, expected) = (parsed.salt.as_ref()?, parsed.hash.as_ref()?);
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
        .ok()?;
    let params = Params::try_from(&parsed).ok()?;
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = out.get_mut(..expected.len())?;
    with_working_memory(params.block_count(), |memory| {
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(password, salt, out, memory)
    })
    .ok()?;
    Some(Output::new(out).ok()? == *expected)
}

/// argon2id with the configured cost, on `threads` dedicated threads behind a bounded
/// queue.
pub struct Argon2PasswordHasher {
    params: Params,
    pool: Arc<rayon::ThreadPool>,
    /// One permit per queue slot; a hash holds one from submission (or reservation)
    /// until it is done.
    slots: Arc<Semaphore>,
    capacity: usize,
    dummy: PasswordHash,
    /// Whether every pool thread runs at [`HASHING_NICE`] (cleared by a thread that
    /// could not raise its priority).
    raised: Arc<AtomicBool>,
}

impl std::fmt::Debug for Argon2PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2PasswordHasher")
            .field("params", &self.params)
            .field("threads", &self.pool.current_num_threads())
            .field("queue_capacity", &self.capacity)
            .field("priority_raised", &self.raised.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn params_of(settings: HashingSettings) -> Result<Params, HasherSetupError> {
    Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(HasherSetupError::Params)
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

impl Argon2PasswordHasher {
    /// A hasher with `settings`' cost. `threads` bounds how many hashes run at once, and
    /// `threads` × [`QUEUE_SLOTS_PER_THREAD`] how many may be running or waiting.
    ///
    /// # Errors
    /// Parameters argon2 refuses; a pool that cannot start.
    pub fn new(settings: HashingSettings, threads: usize) -> Result<Self, HasherSetupError> {
        let threads = threads.max(1);
        Self::with_queue(settings, threads, threads * QUEUE_SLOTS_PER_THREAD)
    }

    /// A hasher whose queue holds `capacity` hashes (running or waiting) in all.
    ///
    /// # Errors
    /// As for [`Argon2PasswordHasher::new`].
    pub fn with_queue(
        settings: HashingSettings,
        threads: usize,
        capacity: usize,
    ) -> Result<Self, HasherSetupError> {
        let params = params_of(settings)?;
        let raised = Arc::new(AtomicBool::new(true));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("argon2-{i}"))
            // Above the HTTP workers (see the module docs).
            .start_handler({
                let raised = raised.clone();
                move |_| {
                    if let Err(error) = raise_priority() {
                        raised.store(false, Ordering::Relaxed);
                        tracing::warn!(
                            error = ?error,
                            nice = HASHING_NICE,
                            "could not raise the hashing thread's priority (needs CAP_SYS_NICE \
                             or RLIMIT_NICE): under a flood of logins it shares the CPU \
                             with the HTTP workers"
                        );
                    }
                }
            })
            .build()
            .map_err(HasherSetupError::Pool)?;
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let dummy = hash_phc(&params, &random).map_err(HasherSetupError::Dummy)?;
        release_working_memory();
        let capacity = capacity.max(1);
        Ok(Self {
            params,
            pool: Arc::new(pool),
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            dummy: PasswordHash::new(dummy),
            raised,
        })
    }

    /// Takes a queue slot, or fails at once with [`HashError::overloaded`] when every
    /// slot is taken.
    fn take_slot(&self) -> Result<QueueSlot, HashError> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            metrics::hashing_rejected();
            HashError::overloaded()
        })?;
        metrics::hashing_queue_changed(1.0);
        Ok(QueueSlot {
            permit: Some(permit),
            slots: self.slots.clone(),
            capacity: self.capacity,
            pool: Arc::downgrade(&self.pool),
        })
    }

    /// Queues `work` on the pool, or fails at once with [`HashError::overloaded`] when
    /// every slot is taken. The work is skipped if the receiver is dropped before a pool
    /// thread picks it up.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, HashError> {
        Ok(self.submit_in(self.take_slot()?, work))
    }

    /// Queues `work` on the pool in `slot`, as [`Self::submit`] does.
    fn submit_in<T: Send + 'static>(
        &self,
        slot: QueueSlot,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (sender, receiver) = oneshot::channel();
        let span = tracing::Span::current();
        self.pool.spawn(move || {
            if sender.is_closed() {
                // The caller went away before its turn: skip the work.
                drop(slot);
                return;
            }
            let outcome = {
                let _entered = span.enter();
                work()
            };
            // Free the slot before answering, so whoever got the answer finds it free.
            drop(slot);
            let _ = sender.send(outcome);
        });
        receiver
    }

    /// Runs `work` on the pool and waits for it without blocking the async worker.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        Self::answer(self.submit(work)?).await
    }

    /// The answer of queued work.
    async fn answer<T>(receiver: oneshot::Receiver<T>) -> Result<T, HashError> {
        receiver.await.map_err(|e| HashError(Box::new(e)))
    }
}

/// How many argon2id verifications and hashes one thread completes per second with
/// `settings`' cost, by the same code the hasher runs (without its pool and queue): the
/// ceiling that login and registration throughput is compared with (`just bench`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawHashRates {
    pub verify_per_second: f64,
    pub hash_per_second: f64,
}

/// Measures [`RawHashRates`], each for about `each`, on a thread of its own at the pool
/// threads' priority (as far as it can be raised, as for them): what one pool thread
/// would do with the core to itself.
///
/// # Errors
/// Parameters argon2 refuses, or a hash that fails.
pub fn measure_raw_rates(
    settings: HashingSettings,
    each: std::time::Duration,
) -> Result<RawHashRates, HasherSetupError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // Failing is fine: then the pool threads could not raise theirs either.
                let _ = raise_priority();
                measure_here(settings, each)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// [`measure_raw_rates`] on the calling thread.
fn measure_here(
    settings: HashingSettings,
    each: std::time::Duration,
) -> Result<RawHashRates, HasherSetupError> {
    let params = params_of(settings)?;
    let password = b"Sup3rSecret";
    let stored = hash_phc(&params, password).map_err(HasherSetupError::Dummy)?;
    let rate = |work: &mut dyn FnMut() -> Result<(), HasherSetupError>| {
        let started = std::time::Instant::now();
        let mut done = 0u32;
        while done == 0 || started.elapsed() < each {
            work()?;
            done += 1;
        }
        Ok::<f64, HasherSetupError>(f64::from(done) / started.elapsed().as_secs_f64())
    };
    let verify_per_second = rate(&mut || {
        std::hint::black_box(verify_phc(password, &stored));
        Ok(())
    })?;
    let hash_per_second = rate(&mut || {
        let hash = hash_phc(&params, password).map_err(HasherSetupError::Dummy)?;
        std::hint::black_box(hash);
        Ok(())
    })?;
    release_working_memory();
    Ok(RawHashRates {
        verify_per_second,
        hash_per_second,
    })
}

#[async_trait]
impl PasswordHasher for Argon2PasswordHasher {
    async fn hash(&self, password: PlainPassword) -> Result<PasswordHash, HashError> {
        let params = self.params.clone();
        let hashed = self
            .run(move || hash_phc(&params, password.expose().as_bytes()))
            .await?;
        hashed
            .map(PasswordHash::new)
            .map_err(|e| HashError(Box::new(e)))
    }

    async fn verify(&self, password: PlainPassword, hash: PasswordHash) -> Result<bool, HashError> {
        // The parameters stored in the hash win over the configured ones.
        self.run(move || verify_phc(password.expose().as_bytes(), hash.as_str()))
            .await
    }

    fn reserve(&self) -> Result<HashSlot, HashError> {
        self.take_slot().map(HashSlot::new)
    }

    async fn verify_reserved(
        &self,
        slot: HashSlot,
        password: PlainPassword,
        hash: PasswordHash,
    ) -> Result<bool, HashError> {
        let slot = match slot.into_place().downcast::<QueueSlot>() {
            Ok(slot) if Arc::ptr_eq(&slot.slots, &self.slots) => *slot,
            // Another hasher's slot: this hasher's queue was never counted.
            _ => self.take_slot()?,
        };
        Self::answer(self.submit_in(slot, move || {
            verify_phc(password.expose().as_bytes(), hash.as_str())
        }))
        .await
    }

    fn dummy_hash(&self) -> PasswordHash {
        self.dummy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Argon2PasswordHasher {
        Argon2PasswordHasher::new(
            HashingSettings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher")
    }

    #[test]
    fn raw_rates_count_completed_hashes_and_refuse_bad_parameters() {
        let cheap = HashingSettings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let rates = measure_raw_rates(cheap, std::time::Duration::from_millis(20)).expect("rates");
        assert!(rates.verify_per_second.is_finite() && rates.verify_per_second > 0.0);
        assert!(rates.hash_per_second.is_finite() && rates.hash_per_second > 0.0);
        let refused = HashingSettings {
            memory_kib: 1,
            ..cheap
        };
        assert!(matches!(
            measure_raw_rates(refused, std::time::Duration::from_millis(1)),
            Err(HasherSetupError::Params(_))
        ));
    }

    fn password(raw: &str) -> PlainPassword {
        PlainPassword::new(raw.to_owned())
    }

    /// One pool thread and `capacity` slots, at the cheapest cost.
    fn with_queue(capacity: usize) -> Argon2PasswordHasher {
        Argon2PasswordHasher::with_queue(
            HashingSettings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            1,
            capacity,
        )
        .expect("hasher")
    }

    /// Work that holds the pool thread until the returned sender is used or dropped.
    fn gate() -> (
        std::sync::mpsc::Sender<()>,
        impl FnOnce() -> bool + Send + 'static,
    ) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        (release, move || wait.recv().is_ok())
    }

    /// Fails instead of hanging when `future` waits for the gated pool.
    async fn at_once<T>(future: impl Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(30), future)
            .await
            .expect("answered without waiting for the pool")
    }

    #[test]
    fn the_queue_is_sized_from_the_pool() {
        for threads in [0, 1, 3] {
            let hasher = Argon2PasswordHasher::new(
                HashingSettings {
                    memory_kib: 64,
                    iterations: 1,
                    parallelism: 1,
                },
                threads,
            )
            .expect("hasher");
            assert_eq!(
                hasher.capacity,
                threads.max(1) * QUEUE_SLOTS_PER_THREAD,
                "{threads} threads"
            );
            assert_eq!(hasher.slots.available_permits(), hasher.capacity);
        }
    }

    #[test]
    fn the_queue_depth_and_refusals_are_recorded() {
        let hasher = with_queue(2);
        let (release, held) = gate();
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        // The local recorder sees what this thread records (taking slots, refusing);
        // slots are given back on the pool's thread, outside it.
        let (running, waiting, refused) = ::metrics::with_local_recorder(&recorder, || {
            (
                hasher.submit(held),
                hasher.submit(|| 2),
                hasher.submit(|| 3).is_err(),
            )
        });
        assert!(refused, "the third submission finds the queue full");
        let text = recorder.handle().render();
        assert!(
            text.contains("vidgen_password_hashing_queue_depth 2\n"),
            "{text}"
        );
        assert!(
            text.contains("vidgen_password_hashing_rejected_total 1\n"),
            "{text}"
        );
        release.send(()).expect("release the pool");
        drop((running, waiting));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_serves_again_once_drained() {
        let hasher = with_queue(2);
        let (release, held) = gate();
        let running = hasher.submit(held).expect("first slot");
        let waiting = hasher.submit(|| 2).expect("second slot");

        // Both slots are taken: hashing and verifying are refused without waiting.
        let hashed = at_once(hasher.hash(password("Correct1horse"))).await;
        assert!(
            matches!(&hashed, Err(e) if e.is_overloaded()),
            "hash on a full queue: {hashed:?}"
        );
        let verified = at_once(hasher.verify(password("x"), hasher.dummy_hash())).await;
        assert!(
            matches!(&verified, Err(e) if e.is_overloaded()),
            "verify on a full queue: {verified:?}"
        );
        assert!(hasher.submit(|| 3).is_err(), "any other work too");

        release.send(()).expect("release the pool");
        assert!(running.await.expect("the held work ran"));
        assert_eq!(waiting.await.expect("the waiting work ran"), 2);
        // The slots are free again.
        let hash = hasher
            .hash(password("Correct1horse"))
            .await
            .expect("hash after the burst");
        assert!(
            hasher
                .verify(password("Correct1horse"), hash)
                .await
                .expect("verify after the burst")
        );
    }

    #[tokio::test]
    async fn work_whose_caller_went_away_is_skipped() {
        let hasher = with_queue(3);
        let (release, held) = gate();
        let running = hasher.submit(held).expect("first slot");
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = hasher
            .submit({
                let ran = ran.clone();
                move || ran.store(true, Ordering::SeqCst)
            })
            .expect("second slot");
        // The client gives up while its hash waits for the pool.
        drop(abandoned);
        // A hash future dropped while it waits gives its slot back too.
        let dropped = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            hasher.hash(password("Correct1horse")),
        )
        .await;
        assert!(dropped.is_err(), "the gated pool cannot have hashed it");

        release.send(()).expect("release the pool");
        assert!(running.await.expect("the held work ran"));
        // One thread takes work in order: once later work is done, the abandoned work
        // and the dropped hash had their turn.
        hasher
            .submit(|| ())
            .expect("a free slot")
            .await
            .expect("later work ran");
        assert!(!ran.load(Ordering::SeqCst), "the abandoned work never ran");
        assert_eq!(
            hasher.slots.available_permits(),
            3,
            "every slot is free again"
        );
    }

    #[tokio::test]
    async fn a_reserved_slot_holds_its_place_until_the_verification_uses_it() {
        let hasher = with_queue(2);
        let hash = hasher.hash(password("Correct1horse")).await.expect("hash");
        let first = hasher.reserve().expect("a free slot");
        let second = hasher.reserve().expect("another free slot");
        // Both places are held: a reservation, a hash and any other work are refused.
        let refused = hasher.reserve();
        assert!(
            matches!(&refused, Err(e) if e.is_overloaded()),
            "reserve on a full queue: {refused:?}"
        );
        let hashed = at_once(hasher.hash(password("Correct1horse"))).await;
        assert!(
            matches!(&hashed, Err(e) if e.is_overloaded()),
            "hash on a full queue: {hashed:?}"
        );
        // A reservation's verification needs no other place.
        assert!(
            at_once(hasher.verify_reserved(first, password("Correct1horse"), hash.clone()))
                .await
                .expect("verified in its reserved slot")
        );
        assert_eq!(
            hasher.slots.available_permits(),
            1,
            "its place is free again"
        );
        // A reservation dropped unused gives its place back.
        drop(second);
        assert_eq!(hasher.slots.available_permits(), 2, "every place is free");
        assert!(
            !hasher
                .verify_reserved(hasher.reserve().expect("free"), password("wrong"), hash)
                .await
                .expect("verified")
        );
    }

    #[tokio::test]
    async fn a_slot_of_another_hasher_is_given_back_and_a_place_taken_here() {
        let (hasher, other) = (with_queue(1), with_queue(1));
        let hash = hasher.hash(password("Correct1horse")).await.expect("hash");
        let foreign = other.reserve().expect("a free slot there");
        let taken = hasher.reserve().expect("a free slot here");
        // This hasher's queue is full: the foreign slot cannot stand in for a place.
        let refused =
            at_once(hasher.verify_reserved(foreign, password("Correct1horse"), hash.clone())).await;
        assert!(
            matches!(&refused, Err(e) if e.is_overloaded()),
            "a foreign slot on a full queue: {refused:?}"
        );
        assert_eq!(
            other.slots.available_permits(),
            1,
            "the foreign slot is given back"
        );
        drop(taken);
        let foreign = other.reserve().expect("free again there");
        assert!(
            hasher
                .verify_reserved(foreign, password("Correct1horse"), hash)
                .await
                .expect("verified in a place of its own")
        );
        assert_eq!(hasher.slots.available_permits(), 1);
        assert_eq!(other.slots.available_permits(), 1);
    }

    #[test]
    fn refused_reservations_are_recorded() {
        let hasher = with_queue(1);
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        ::metrics::with_local_recorder(&recorder, || {
            let held = hasher.reserve().expect("a free slot");
            assert!(hasher.reserve().is_err(), "the queue is full");
            let text = recorder.handle().render();
            assert!(
                text.contains("vidgen_password_hashing_queue_depth 1\n"),
                "{text}"
            );
            assert!(
                text.contains("vidgen_password_hashing_rejected_total 1\n"),
                "{text}"
            );
            drop(held);
            let text = recorder.handle().render();
            assert!(
                text.contains("vidgen_password_hashing_queue_depth 0\n"),
                "{text}"
            );
        });
    }

    /// The last slot given back hands the working memory back, also when it was a
    /// reservation dropped unused.
    #[tokio::test]
    async fn an_unused_reservation_that_drains_the_queue_hands_the_memory_back() {
        let hasher = with_queue(4);
        let hash = hasher.hash(password("Sup3rSecret")).await.expect("hash");
        // What each pool thread holds, once the hand-backs queued so far have run (a
        // thread runs the broadcasts it is sent in order).
        let memory = || {
            hasher
                .pool
                .broadcast(|_| WORKING_MEMORY.with_borrow(Vec::len))
        };
        let reserved = hasher.reserve().expect("a free slot");
        assert!(
            hasher
                .verify(password("Sup3rSecret"), hash)
                .await
                .expect("verified")
        );
        assert_eq!(memory(), [64], "kept while a reservation is held");
        drop(reserved);
        assert_eq!(memory(), [0], "handed back with the last slot");
    }

    /// The pool threads run at [`HASHING_NICE`] when the process may raise a priority,
    /// else at the process's own (with a warning); `Debug` says which.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_pool_threads_run_above_the_http_workers_when_allowed() {
        fn nice() -> i32 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
            // The fields after the command name (in parentheses): nice is the 19th field.
            let after = stat.rsplit_once(')').expect("command").1;
            after
                .split_whitespace()
                .nth(16)
                .expect("nice")
                .parse()
                .expect("number")
        }
        let hasher = hasher();
        let (pool, own) = (
            hasher.submit(nice).expect("queued").await.expect("ran"),
            nice(),
        );
        if hasher.raised.load(Ordering::Relaxed) {
            assert_eq!(pool, HASHING_NICE, "a raised pool thread");
        } else {
            assert_eq!(pool, own, "a pool thread that could not be raised");
        }
        assert!(
            format!("{hasher:?}").contains(&format!(
                "priority_raised: {}",
                hasher.raised.load(Ordering::Relaxed)
            )),
            "{hasher:?}"
        );
    }

    #[test]
    fn the_hashing_priority_maps_onto_the_crates_scale() {
        // The crate's scale reaches the nice value asked for (else raising always fails).
        let policy = thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Other,
        );
        assert!(
            (0..=99u8)
                .filter_map(|v| thread_priority::ThreadPriorityValue::try_from(v).ok())
                .any(|v| thread_priority::ThreadPriority::Crossplatform(v)
                    .to_posix(policy)
                    .ok()
                    == Some(HASHING_NICE)),
            "no value maps to nice {HASHING_NICE}"
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let hasher = hasher();
        let first = hasher.hash(password("Correct1horse")).await.expect("hash");
        let second = hasher.hash(password("Correct1horse")).await.expect("hash");
        assert!(first.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(first, second, "salts differ");
        assert!(
            hasher
                .verify(password("Correct1horse"), first.clone())
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify(password("correct1horse"), first)
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn garbage_hashes_never_match() {
        let hasher = hasher();
        let garbage = PasswordHash::new("not a phc string");
        assert!(
            !hasher
                .verify(password("anything"), garbage)
                .await
                .expect("verify")
        );
        let dummy = hasher.dummy_hash();
        assert!(
            !hasher
                .verify(password("anything"), dummy)
                .await
                .expect("verify")
        );
    }

    #[test]
    fn default_parameters_are_owasps() {
        let hasher = Argon2PasswordHasher::new(
            HashingSettings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .expect("hasher");
        assert!(
            hasher
                .dummy_hash()
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
    }

    /// Hashes made by the argon2 crate's own `PasswordHasher` (with their own algorithm,
    /// version and cost) verify here, and ours verify there: the stored format is the
    /// standard PHC string either way.
    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let theirs = [
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(64, 1, 1, None).expect("params"),
            ),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x10,
                Params::new(32, 3, 2, Some(24)).expect("params"),
            ),
        ];
        for argon in &theirs {
            let stored = argon
                .hash_password(b"Sup3rSecret")
                .expect("hash")
                .to_string();
            assert!(verify_phc(b"Sup3rSecret", &stored), "{stored}");
            assert!(!verify_phc(b"Sup3rSecres", &stored), "{stored}");
        }
        let params = Params::new(64, 1, 1, None).expect("params");
        let ours = hash_phc(&params, b"Sup3rSecret").expect("hash");
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        let parsed = argon2::PasswordHash::new(&ours).expect("parses");
        let argon = Argon2::default();
        assert!(argon.verify_password(b"Sup3rSecret", &parsed).is_ok());
        assert!(argon.verify_password(b"Sup3rSecreT", &parsed).is_err());
        // A stored hash with a longer cost than the last one still verifies (the
        // working memory grows), and a truncated one matches nothing.
        assert!(verify_phc(b"Sup3rSecret", &ours));
        assert!(!verify_phc(b"Sup3rSecret", &ours[..ours.len() - 4]));
        assert!(!verify_phc(
            b"Sup3rSecret",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"
        ));
        assert!(!verify_phc(
            b"Sup3rSecret",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
    }

    /// The pool thread keeps its working memory only while the queue has work.
    #[tokio::test]
    async fn the_working_memory_is_handed_back_once_the_queue_drains() {
        let hasher = with_queue(4);
        let hash = hasher.hash(password("Sup3rSecret")).await.expect("hash");
        let held =
            |hasher: &Argon2PasswordHasher| hasher.submit(|| WORKING_MEMORY.with_borrow(Vec::len));
        // The hand-back is queued on every pool thread once the queue is empty (and
        // the check itself drains it again).
        let released = async || {
            while held(&hasher).expect("queued").await.expect("ran") != 0 {
                tokio::task::yield_now().await;
            }
        };
        at_once(released()).await;
        // Work queued behind a verification finds the memory still there.
        let (release, gated) = gate();
        let waiting = hasher.submit(gated).expect("queued");
        let verified = hasher.submit({
            let hash = hash.clone();
            move || verify_phc(b"Sup3rSecret", hash.as_str())
        });
        let after = held(&hasher).expect("queued");
        release.send(()).expect("gate open");
        assert!(waiting.await.expect("ran"));
        assert!(verified.expect("queued").await.expect("ran"));
        assert_eq!(at_once(after).await.expect("ran"), 64);
        // Skipped work (its caller went away) that drains the queue hands it back too.
        let (release, gated) = gate();
        let waiting = hasher.submit(gated).expect("queued");
        let verified = hasher.submit(move || verify_phc(b"Sup3rSecret", hash.as_str()));
        drop(hasher.submit(|| ()).expect("queued"));
        release.send(()).expect("gate open");
        assert!(waiting.await.expect("ran"));
        assert!(verified.expect("queued").await.expect("ran"));
        at_once(released()).await;
    }
}
