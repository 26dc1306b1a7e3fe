//! `/metrics`: the Prometheus text parsed by the Prometheus project's own parser
//! (`prometheus-client` from PyPI), counters labelled with route templates, the job
//! gauges read from the database, and the optional `METRICS_TOKEN`.
//!
//! The recorder is process-wide and the tests of this binary run in parallel, so
//! counters are compared before and after an action, never as absolute values.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, eventually, paths, spawn_app, spawn_app_with};

const TOKEN: &str = "scrape-me-0123456789";

/// One parsed scrape.
struct Scrape {
    /// Family name (without `_total` for counters) to its type.
    families: BTreeMap<String, String>,
    samples: Vec<Value>,
}

impl Scrape {
    /// The value of the sample with this name whose labels include `labels`; 0 when
    /// there is none (a counter not yet incremented has no series).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s["name"] == name)
            .find(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .map_or(0.0, |s| {
                s["value"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name} has a non-numeric value: {s}"))
            })
    }

    /// The sum over every sample with this name whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s["name"] == name)
            .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .filter_map(|s| s["value"].as_f64())
            .sum()
    }

    fn family(&self, name: &str) -> Option<&str> {
        self.families.get(name).map(String::as_str)
    }
}

/// Parses the text with `prometheus_client.parser` (installed by `.ci/run`; installed
/// here on first use when missing). Fails the test when the text does not parse.
fn parse(text: &str) -> Scrape {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/support/parse_metrics.py");
    let run = || {
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is needed to parse the metrics: {e}"));
        use std::io::Write;
        // Without prometheus_client the script exits (code 3) before reading: the text
        // then meets a closed pipe, and its exit code tells what happened.
        match child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write: {e}"),
            _ => {}
        }
        child.wait_with_output().expect("python3 output")
    };
    let mut output = run();
    if output.status.code() == Some(3) {
        let installed = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "prometheus-client==0.26.0",
            ])
            .status()
            .expect("pip");
        assert!(installed.success(), "pip install prometheus-client failed");
        output = run();
    }
    assert!(
        output.status.success(),
        "the Prometheus parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("parser output is JSON");
    Scrape {
        families: parsed["families"]
            .as_object()
            .expect("families")
            .iter()
            .map(|(name, kind)| (name.clone(), kind.as_str().unwrap_or_default().to_owned()))
            .collect(),
        samples: parsed["samples"].as_array().expect("samples").clone(),
    }
}

impl TestApp {
    async fn get_metrics(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"))
    }

    /// Scrapes (with the token when given) and parses the answer.
    async fn scrape(&self, token: Option<&str>) -> Scrape {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let response = self.get_metrics(authorization.as_deref()).await;
        assert_eq!(response.status().as_u16(), 200, "scrape");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "content type {content_type}"
        );
        parse(&response.text().await.expect("metrics body"))
    }
}

const REQUESTS: &str = "vidgen_http_requests_total";
const DURATION_COUNT: &str = "vidgen_http_request_duration_seconds_count";
const DURATION_BUCKET: &str = "vidgen_http_request_duration_seconds_bucket";

#[tokio::test]
async fn request_counters_grow_under_the_route_template() {
    let app = spawn_app().await;
    let jane = app.user("metrics_jane").await;
    let template = "/api/v1/users/{user_id}";
    let raw = paths::user(jane.id);
    let labels = [("method", "GET"), ("route", template), ("status", "200")];

    let before = app.scrape(None).await;
    for _ in 0..3 {
        let response = app.get_user(jane.id, &jane.access_token).await;
        assert_eq!(response.status().as_u16(), 200, "get user");
    }
    let missing = app.get(&format!("/no/such/place/{}", jane.id)).await;
    assert_eq!(missing.status().as_u16(), 404);
    let after = app.scrape(None).await;

    assert_eq!(after.family("vidgen_http_requests"), Some("counter"));
    assert_eq!(
        after.family("vidgen_http_request_duration_seconds"),
        Some("histogram")
    );
    assert!(
        after.value(REQUESTS, &labels) - before.value(REQUESTS, &labels) >= 3.0,
        "three GETs of {raw} counted under {template}"
    );
    assert!(
        after.value(DURATION_COUNT, &labels) - before.value(DURATION_COUNT, &labels) >= 3.0,
        "three latencies observed under {template}"
    );
    assert!(
        after.value(
            DURATION_BUCKET,
            &[
                ("method", "GET"),
                ("route", template),
                ("status", "200"),
                ("le", "+Inf")
            ]
        ) >= 3.0,
        "the histogram has its +Inf bucket"
    );
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert!(
        after.value(REQUESTS, &unmatched) - before.value(REQUESTS, &unmatched) >= 1.0,
        "an unknown path is counted as unmatched"
    );
    for sample in &after.samples {
        let route = sample["labels"]["route"].as_str().unwrap_or_default();
        assert_ne!(route, raw, "a raw path became a label: {sample}");
        assert!(!route.starts_with("/no/such"), "{sample}");
    }
}

#[tokio::test]
async fn user_cache_and_job_metrics_are_reported() {
    let app = spawn_app().await;
    let jane = app.user("metrics_cache").await;
    let before = app.scrape(None).await;
    for _ in 0..2 {
        assert_eq!(app.get_me(&jane.access_token).await.status().as_u16(), 200);
    }
    let response = app
        .create_video(
            &jane.access_token,
            &json!({"title": "Lake", "prompt": "A quiet lake at dawn", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202, "create video");
    let after = app.scrape(None).await;

    let hits = [("result", "hit")];
    assert!(
        after.value("vidgen_user_cache_lookups_total", &hits)
            - before.value("vidgen_user_cache_lookups_total", &hits)
            >= 2.0,
        "authenticated requests are served from the user cache"
    );
    // Job gauges come from this app's database: one render job, in some state.
    assert_eq!(after.family("vidgen_jobs"), Some("gauge"));
    assert_eq!(
        after.sum("vidgen_jobs", &[("kind", "render_video")]),
        1.0,
        "the one render job of this database"
    );
    assert!(after.sum("vidgen_jobs", &[("kind", "sweep_media")]) >= 1.0);
    assert_eq!(
        after.value("vidgen_job_queue_depth", &[]),
        after.sum("vidgen_jobs", &[("state", "queued")]),
        "the queue depth is the queued jobs of every kind"
    );
    for family in [
        "vidgen_http_requests",
        "vidgen_user_cache_lookups",
        "vidgen_job_queue_depth",
    ] {
        assert!(after.family(family).is_some(), "{family} is exported");
    }

    // The render job runs on this app's worker: its duration is observed.
    eventually(Duration::from_secs(30), async || {
        let scrape = app.scrape(None).await;
        let runs = scrape.sum(
            "vidgen_job_duration_seconds_count",
            &[("kind", "render_video"), ("outcome", "succeeded")],
        );
        if runs >= 1.0 {
            Ok(())
        } else {
            Err("no render job duration was recorded".to_owned())
        }
    })
    .await;
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let app = spawn_app_with(|vars| {
        vars.insert("METRICS_TOKEN".to_owned(), TOKEN.to_owned());
    })
    .await;
    for authorization in [
        None,
        Some("Bearer wrong-token".to_owned()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {TOKEN}x")),
    ] {
        let response = app.get_metrics(authorization.as_deref()).await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{authorization:?}"
        );
        assert_problem(response, 401, "UNAUTHORIZED").await;
    }
    let scrape = app.scrape(Some(TOKEN)).await;
    assert!(scrape.family("vidgen_jobs").is_some());
}

#[tokio::test]
async fn without_a_token_anyone_may_scrape() {
    let app = spawn_app().await;
    let response = app.get_metrics(Some("Bearer anything")).await;
    assert_eq!(response.status().as_u16(), 200);
}
