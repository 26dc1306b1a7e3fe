//! The service's metrics: every name and label set lives here, once, with one small
//! function per event, so that whoever records an event (a use case, an adapter, the
//! worker runtime, the HTTP middleware) cannot misspell a name or a label.
//!
//! The functions go through the `metrics` facade (like `tracing`, it names no backend):
//! with no recorder installed they do nothing. The HTTP adapter installs the Prometheus
//! recorder and serves `/metrics`; `docs/operations.md` documents each metric.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};

use crate::jobs::JobKind;

/// Counter: HTTP requests answered, by `method`, `route` (the template) and `status`.
pub const HTTP_REQUESTS: &str = "vidgen_http_requests_total";
/// Histogram (seconds): time to answer an HTTP request, same labels as [`HTTP_REQUESTS`].
pub const HTTP_REQUEST_DURATION: &str = "vidgen_http_request_duration_seconds";
/// Counter: rate-limit decisions, by `policy` and `decision` (`allowed` or `limited`).
pub const RATE_LIMIT_DECISIONS: &str = "vidgen_rate_limit_decisions_total";
/// Counter: rate-limit store failures (the request is then decided without the store),
/// by `store` (`redis`, `memory`).
pub const RATE_LIMIT_STORE_FAILURES: &str = "vidgen_rate_limit_store_failures_total";
/// Histogram (seconds): how long a job's handler ran, by `kind` and `outcome`.
pub const JOB_DURATION: &str = "vidgen_job_duration_seconds";
/// Counter: webhook delivery attempts, by `outcome`.
pub const WEBHOOK_DELIVERIES: &str = "vidgen_webhook_deliveries_total";
/// Gauge: password hashes running or waiting in this instance's hashing queue.
pub const HASHING_QUEUE_DEPTH: &str = "vidgen_password_hashing_queue_depth";
/// Counter: password hashes refused because the queue was full (answered 503).
pub const HASHING_REJECTIONS: &str = "vidgen_password_hashing_rejected_total";
/// Counter: reads of the in-memory user cache, by `result` (`hit` or `miss`).
pub const USER_CACHE_LOOKUPS: &str = "vidgen_user_cache_lookups_total";
/// Counter: reads of the in-memory cache of list pages, by `collection` (`users`,
/// `videos`) and `result` (`hit`, `miss`).
pub const LIST_CACHE_LOOKUPS: &str = "vidgen_list_cache_lookups_total";
/// Gauge: 1 while the cache invalidation channel between instances (Redis) works, 0
/// while it is down (caches then keep entries only for their fallback TTL).
pub const CACHE_INVALIDATION_CONNECTED: &str = "vidgen_cache_invalidation_connected";
/// Counter: outages of the cache invalidation channel (each logged once when it starts).
pub const CACHE_INVALIDATION_OUTAGES: &str = "vidgen_cache_invalidation_outages_total";
/// Counter: cache invalidation messages, by `outcome` (`published`, `received`, or
/// `failed`: could not be published).
pub const CACHE_INVALIDATIONS: &str = "vidgen_cache_invalidations_total";
/// Gauge (rendered from the database at each scrape): jobs by `kind` and `state`.
pub const JOBS: &str = "vidgen_jobs";
/// Gauge (rendered from the database at each scrape): queued jobs, all kinds.
pub const JOB_QUEUE_DEPTH: &str = "vidgen_job_queue_depth";

/// Registers the help text of every recorded metric with the installed recorder (call
/// once, after installing it).
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered.");
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request."
    );
    describe_counter!(RATE_LIMIT_DECISIONS, "Rate-limit decisions.");
    describe_counter!(
        RATE_LIMIT_STORE_FAILURES,
        "Rate-limit decisions taken without the store because it failed."
    );
    describe_histogram!(JOB_DURATION, Unit::Seconds, "How long a job's handler ran.");
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts by outcome.");
    describe_gauge!(
        HASHING_QUEUE_DEPTH,
        "Password hashes running or waiting in the hashing queue."
    );
    describe_counter!(
        HASHING_REJECTIONS,
        "Password hashes refused with 503 because the hashing queue was full."
    );
    describe_counter!(USER_CACHE_LOOKUPS, "Reads of the in-memory user cache.");
    describe_counter!(
        LIST_CACHE_LOOKUPS,
        "Reads of the in-memory cache of list pages."
    );
    describe_gauge!(
        CACHE_INVALIDATION_CONNECTED,
        "1 while the cache invalidation channel between instances works, 0 while it is down."
    );
    describe_counter!(
        CACHE_INVALIDATION_OUTAGES,
        "Outages of the cache invalidation channel between instances."
    );
    describe_counter!(
        CACHE_INVALIDATIONS,
        "Cache invalidation messages published, received, or failed to publish."
    );
}

/// One HTTP request answered. `route` is the matched template, never the raw path: a
/// borrowed one (the route table's own `&'static str`) has its series handles kept per
/// worker thread, so the hot path neither allocates labels nor looks the series up in
/// the recorder's registry again; an owned one (a route outside the table) is looked up
/// each time.
pub fn http_request(
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
    elapsed: Duration,
) {
    let seconds = elapsed.as_secs_f64();
    match route {
        Cow::Borrowed(route) => HTTP_SERIES.with_borrow_mut(|series| {
            let (count, time) = series
                .entry((method, route, status))
                .or_insert_with(|| http_series(method, Cow::Borrowed(route), status));
            count.increment(1);
            time.record(seconds);
        }),
        Cow::Owned(route) => {
            let (count, time) = http_series(method, Cow::Owned(route), status);
            count.increment(1);
            time.record(seconds);
        }
    }
}

/// A thread's series handles by their labels: the labels are this program's own strings,
/// so foldhash rather than SipHash (which hashing the route on every request cost).
type SeriesMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The request counter and latency histogram of one (method, route, status) series.
type HttpSeries = (metrics::Counter, metrics::Histogram);

thread_local! {
    /// This thread's handles of the series it has recorded. Bounded: the methods are a
    /// closed set, the routes the route table's templates, the statuses the few the
    /// service answers.
    static HTTP_SERIES: RefCell<SeriesMap<(&'static str, &'static str, u16), HttpSeries>> =
        RefCell::new(SeriesMap::default());
}

fn http_series(method: &'static str, route: Cow<'static, str>, status: u16) -> HttpSeries {
    let labels = [
        ("method", Cow::Borrowed(method)),
        ("route", route),
        ("status", Cow::Owned(status.to_string())),
    ];
    (
        counter!(HTTP_REQUESTS, &labels),
        metrics::histogram!(HTTP_REQUEST_DURATION, &labels),
    )
}

/// What the rate limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitDecision {
    Allowed,
    Limited,
}

impl RateLimitDecision {
    /// The `decision` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Limited => "limited",
        }
    }
}

/// One rate-limit decision under `policy` (a fixed name such as `login` or `api`, never
/// a client key).
pub fn rate_limit_decision(policy: &'static str, decision: RateLimitDecision) {
    increment_fixed(
        (RATE_LIMIT_DECISIONS, policy, decision.as_str()),
        || counter!(RATE_LIMIT_DECISIONS, "policy" => policy, "decision" => decision.as_str()),
    );
}

/// A counter series whose name and label values are all fixed strings: the name, then
/// up to two label values (`""` for none).
type FixedSeries = (&'static str, &'static str, &'static str);

thread_local! {
    /// This thread's handles of the fixed-label counters it has incremented (rate-limit
    /// decisions, user and list cache lookups: a handful, each touched on every request),
    /// kept like [`HTTP_SERIES`] so that the recorder's registry is not searched each time.
    static FIXED_COUNTERS: RefCell<SeriesMap<FixedSeries, metrics::Counter>> =
        RefCell::new(SeriesMap::default());
}

/// Adds one to `series`, registering it with `register` the first time on this thread.
fn increment_fixed(series: FixedSeries, register: impl FnOnce() -> metrics::Counter) {
    FIXED_COUNTERS.with_borrow_mut(|counters| {
        counters.entry(series).or_insert_with(register).increment(1);
    });
}

/// The rate-limit store (`redis`, `memory`) failed to answer a decision.
pub fn rate_limit_store_failure(store: &'static str) {
    counter!(RATE_LIMIT_STORE_FAILURES, "store" => store).increment(1);
}

/// How a job's run ended, as the worker runtime saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded,
    Failed,
    /// The lease passed to another worker while it ran.
    LeaseLost,
    /// Stopped at shutdown and given back to the queue.
    Released,
}

impl JobOutcome {
    /// The `outcome` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::LeaseLost => "lease_lost",
            Self::Released => "released",
        }
    }
}

/// One run of a job's handler ended.
pub fn job_run(kind: JobKind, outcome: JobOutcome, elapsed: Duration) {
    histogram(
        JOB_DURATION,
        [
            ("kind", kind.as_str().to_owned()),
            ("outcome", outcome.as_str().to_owned()),
        ],
        elapsed,
    );
}

/// How one webhook delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Refused or unreachable: tried again later.
    Failed,
    /// The last attempt failed: the delivery ends.
    GivenUp,
    /// The stored payload could not be read: nothing was sent.
    Invalid,
}

impl WebhookOutcome {
    /// The `outcome` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::GivenUp => "given_up",
            Self::Invalid => "invalid",
        }
    }
}

/// One webhook delivery attempt ended.
pub fn webhook_delivery(outcome: WebhookOutcome) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome.as_str()).increment(1);
}

/// A password hash entered (`+1`) or left (`-1`) the hashing queue.
pub fn hashing_queue_changed(delta: f64) {
    gauge!(HASHING_QUEUE_DEPTH).increment(delta);
}

/// A password hash was refused because the hashing queue was full.
pub fn hashing_rejected() {
    counter!(HASHING_REJECTIONS).increment(1);
}

/// One read of the user cache.
pub fn user_cache_lookup(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    increment_fixed(
        (USER_CACHE_LOOKUPS, result, ""),
        || counter!(USER_CACHE_LOOKUPS, "result" => result),
    );
}

/// One read of the list page cache of `collection` (`users` or `videos`).
pub fn list_cache_lookup(collection: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    increment_fixed(
        (LIST_CACHE_LOOKUPS, collection, result),
        || counter!(LIST_CACHE_LOOKUPS, "collection" => collection, "result" => result),
    );
}

/// What became of one cache invalidation message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidationOutcome {
    /// Handed to the channel for the other instances.
    Published,
    /// Received from another instance and applied.
    Received,
    /// Could not be published (the channel is down).
    Failed,
}

impl InvalidationOutcome {
    /// The `outcome` label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Received => "received",
            Self::Failed => "failed",
        }
    }
}

/// One cache invalidation message published, received or lost.
pub fn cache_invalidation(outcome: InvalidationOutcome) {
    counter!(CACHE_INVALIDATIONS, "outcome" => outcome.as_str()).increment(1);
}

/// The cache invalidation channel came up (`true`) or went down (`false`).
pub fn cache_invalidation_connected(connected: bool) {
    gauge!(CACHE_INVALIDATION_CONNECTED).set(if connected { 1.0 } else { 0.0 });
}

/// An outage of the cache invalidation channel began.
pub fn cache_invalidation_outage() {
    counter!(CACHE_INVALIDATION_OUTAGES).increment(1);
}

fn histogram<const N: usize>(
    name: &'static str,
    labels: [(&'static str, String); N],
    elapsed: Duration,
) {
    metrics::histogram!(name, &labels).record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_label_counters_keep_each_series_apart() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        ::metrics::with_local_recorder(&recorder, || {
            for _ in 0..3 {
                rate_limit_decision("api", RateLimitDecision::Allowed);
            }
            rate_limit_decision("api", RateLimitDecision::Limited);
            rate_limit_decision("login", RateLimitDecision::Allowed);
            user_cache_lookup(true);
            user_cache_lookup(true);
            user_cache_lookup(false);
            list_cache_lookup("users", true);
            list_cache_lookup("videos", false);
            list_cache_lookup("videos", false);
        });
        let text = recorder.handle().render();
        for line in [
            "vidgen_rate_limit_decisions_total{policy=\"api\",decision=\"allowed\"} 3\n",
            "vidgen_rate_limit_decisions_total{policy=\"api\",decision=\"limited\"} 1\n",
            "vidgen_rate_limit_decisions_total{policy=\"login\",decision=\"allowed\"} 1\n",
            "vidgen_user_cache_lookups_total{result=\"hit\"} 2\n",
            "vidgen_user_cache_lookups_total{result=\"miss\"} 1\n",
            "vidgen_list_cache_lookups_total{collection=\"users\",result=\"hit\"} 1\n",
            "vidgen_list_cache_lookups_total{collection=\"videos\",result=\"miss\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(
            !text.contains("collection=\"users\",result=\"miss\""),
            "{text}"
        );
    }
}
