//! The Prometheus side of `/metrics`: the process-wide recorder behind the `metrics`
//! facade, the optional scrape token, and the job gauges read from the database at each
//! scrape. The names themselves live in [`vidgen_application::metrics`].
//!
//! The `metrics` facade has one global recorder per process, so the recorder is
//! installed once ([`exporter`]) and every app built in the process (tests build many)
//! renders the same registry: its counters are process-wide.

use std::fmt::Write as _;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use vidgen_application::jobs::JobKind;
use vidgen_application::metrics::{HTTP_REQUEST_DURATION, JOB_DURATION, JOB_QUEUE_DEPTH, JOBS};
use vidgen_domain::videos::JobState;

/// Latency buckets of HTTP requests (seconds): from a fast answer to a slow upload.
pub const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Duration buckets of job runs (seconds): from a sweep to a long render.
pub const JOB_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// The media type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders what the process recorded.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// The recorded metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(HTTP_REQUEST_DURATION.to_owned()),
            HTTP_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(JOB_DURATION.to_owned()), JOB_BUCKETS)
}

/// The process's exporter: on first call builds the Prometheus recorder and installs
/// it as the global `metrics` recorder; later calls return the same one.
///
/// Should another recorder already be installed (an embedding program's), this one
/// still renders, but only what is recorded through it: a warning says so.
pub fn exporter() -> &'static Exporter {
    static EXPORTER: OnceLock<Exporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let recorder = match builder() {
            Ok(builder) => builder,
            Err(error) => {
                // Only an empty bucket list fails, and ours are non-empty constants.
                tracing::warn!(%error, "metrics buckets refused: histograms become summaries");
                PrometheusBuilder::new()
            }
        }
        .build_recorder();
        let handle = recorder.handle();
        spawn_upkeep(handle.clone());
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed: /metrics shows only its own");
        } else {
            vidgen_application::metrics::describe();
        }
        Exporter { handle }
    })
}

/// How often recorded histogram samples are folded into their buckets.
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds histogram samples into their buckets every [`UPKEEP_INTERVAL`]. The recorder
/// keeps every sample until then (and, without this, until the next scrape: memory that
/// grows with each request when nobody scrapes, and a scrape that does all the work).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the metrics upkeep thread: histograms are folded at each scrape only");
    }
}

/// The bearer token `/metrics` requires (`METRICS_TOKEN`), kept only as its SHA-256
/// digest and compared in constant time.
#[derive(Clone)]
pub struct MetricsToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken([REDACTED])")
    }
}

impl MetricsToken {
    /// The token a scraper must present.
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is the token (in time independent of where they differ).
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&presented).into()
    }
}

/// Who may scrape: anyone, or only holders of the token.
#[derive(Debug, Clone, Default)]
pub struct MetricsAccess {
    pub token: Option<MetricsToken>,
    /// `METRICS_ENABLED=false`: nothing is recorded and `/metrics` answers 404.
    pub disabled: bool,
}

impl MetricsAccess {
    /// Whether a request with this `Authorization` header value may scrape.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        authorization
            .and_then(|value| {
                let (scheme, credentials) = value.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| credentials.trim())
            })
            .is_some_and(|credentials| token.matches(credentials))
    }
}

/// The job gauges of one scrape, in the text format: jobs by kind and state, and the
/// queue depth (queued jobs of every kind). Read from the database, so every instance
/// sharing it reports the same numbers.
pub fn render_jobs(counts: &[(JobKind, JobState, u64)]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# HELP {JOBS} Jobs in the database by kind and state."
    );
    let _ = writeln!(text, "# TYPE {JOBS} gauge");
    for (kind, state, count) in counts {
        let _ = writeln!(
            text,
            "{JOBS}{{kind=\"{}\",state=\"{}\"}} {count}",
            kind.as_str(),
            state.as_str()
        );
    }
    let queued: u64 = counts
        .iter()
        .filter(|(_, state, _)| *state == JobState::Queued)
        .map(|(_, _, count)| count)
        .sum();
    let _ = writeln!(
        text,
        "# HELP {JOB_QUEUE_DEPTH} Queued jobs in the database, all kinds."
    );
    let _ = writeln!(text, "# TYPE {JOB_QUEUE_DEPTH} gauge");
    let _ = writeln!(text, "{JOB_QUEUE_DEPTH} {queued}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_required_exactly_when_configured() {
        let open = MetricsAccess::default();
        assert!(open.allows(None));
        assert!(open.allows(Some("Bearer anything")));

        let guarded = MetricsAccess {
            token: Some(MetricsToken::new("s3cret")),
            disabled: false,
        };
        for (header, allowed) in [
            (None, false),
            (Some("Bearer s3cret"), true),
            (Some("bearer s3cret"), true),
            (Some("Bearer s3cre"), false),
            (Some("Bearer s3cretX"), false),
            (Some("Basic s3cret"), false),
            (Some("s3cret"), false),
            (Some("Bearer "), false),
        ] {
            assert_eq!(guarded.allows(header), allowed, "header {header:?}");
        }
        assert_eq!(
            format!("{:?}", MetricsToken::new("s3cret")),
            "MetricsToken([REDACTED])"
        );
    }

    #[test]
    fn job_gauges_list_each_pair_and_the_queue_depth() {
        let text = render_jobs(&[
            (JobKind::RenderVideo, JobState::Queued, 2),
            (JobKind::RenderVideo, JobState::Running, 1),
            (JobKind::SweepMedia, JobState::Queued, 3),
        ]);
        assert!(text.contains("vidgen_jobs{kind=\"render_video\",state=\"running\"} 1\n"));
        assert!(text.contains("vidgen_jobs{kind=\"sweep_media\",state=\"queued\"} 3\n"));
        assert!(text.contains("# TYPE vidgen_job_queue_depth gauge\nvidgen_job_queue_depth 5\n"));
    }

    #[test]
    fn the_exporter_renders_what_the_facade_records() {
        let exporter = exporter();
        vidgen_application::metrics::user_cache_lookup(true);
        vidgen_application::metrics::http_request(
            "GET",
            std::borrow::Cow::Borrowed("/api/v1/users/{user_id}"),
            200,
            std::time::Duration::from_millis(3),
        );
        let text = exporter.render();
        assert!(
            text.contains("vidgen_user_cache_lookups_total{result=\"hit\"}"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE vidgen_http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(text.contains(
            "vidgen_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/users/{user_id}\",status=\"200\",le=\"0.005\"} 1"
        ), "{text}");
    }

    #[test]
    fn kept_series_handles_count_like_fresh_lookups() {
        let exporter = exporter();
        let route = "/test/kept/{id}";
        for _ in 0..2 {
            vidgen_application::metrics::http_request(
                "PUT",
                std::borrow::Cow::Borrowed(route),
                404,
                std::time::Duration::from_millis(1),
            );
        }
        vidgen_application::metrics::http_request(
            "PUT",
            std::borrow::Cow::Owned(route.to_owned()),
            404,
            std::time::Duration::from_millis(1),
        );
        let text = exporter.render();
        assert!(
            text.contains(
                "vidgen_http_requests_total{method=\"PUT\",route=\"/test/kept/{id}\",status=\"404\"} 3\n"
            ),
            "{text}"
        );
    }
}
