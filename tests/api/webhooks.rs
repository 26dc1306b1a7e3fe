//! Webhooks end to end: a receiver in the test gets one signed delivery per completed or
//! failed video, verified with the Standard Webhooks reference library for Python;
//! failed deliveries are retried with the same `webhook-id` and survive a restart; URLs
//! naming or resolving to internal addresses are refused unless allowed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vidgen_application::videos::render::{
    CancelFlag, RenderError, RenderProgress, RenderRequest, RenderTarget, RenderedVideo,
    VideoRenderer,
};

use crate::helpers::{
    TestApp, TestUser, assert_problem, eventually, json, paths, spawn_app_full, spawn_app_with,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    headers: HashMap<String, String>,
    body: String,
}

impl Delivery {
    fn id(&self) -> &str {
        self.headers.get("webhook-id").map_or("", String::as_str)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body {}: {e}", self.body))
    }
}

/// A webhook receiver on loopback: records every request and answers the next planned
/// status (204 once the plan is used up).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    plan: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(plan: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://127.0.0.1:{}/hooks/vidgen",
            listener.local_addr().expect("addr").port()
        );
        let receiver = Self {
            url,
            got: Arc::default(),
            plan: Arc::new(Mutex::new(plan.iter().copied().collect())),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let serving = serving.clone();
                tokio::spawn(async move { serving.answer(stream).await });
            }
        });
        receiver
    }

    async fn answer(&self, mut stream: tokio::net::TcpStream) {
        let mut raw = Vec::new();
        let mut buffer = [0u8; 4096];
        let (head_end, length) = loop {
            let Ok(n) = stream.read(&mut buffer).await else {
                return;
            };
            if n == 0 {
                return;
            }
            raw.extend_from_slice(&buffer[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
        };
        while raw.len() < head_end + length {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => raw.extend_from_slice(&buffer[..n]),
            }
        }
        let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_owned()))
            .collect();
        let body = String::from_utf8_lossy(&raw[head_end..head_end + length]).into_owned();
        self.got
            .lock()
            .expect("lock")
            .push(Delivery { headers, body });
        let status = self.plan.lock().expect("lock").pop_front().unwrap_or(204);
        let answer =
            format!("HTTP/1.1 {status} Planned\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits until `count` requests arrived.
    async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        eventually(Duration::from_secs(60), async || {
            let got = self.deliveries();
            if got.len() >= count {
                Ok(got)
            } else {
                Err(format!(
                    "{} of {count} deliveries arrived: {got:?}",
                    got.len()
                ))
            }
        })
        .await
    }
}

/// Checks every delivery with the Standard Webhooks reference library for Python
/// (installed by `.ci/run`; installed here on first use when missing).
fn verify_with_reference_library(deliveries: &[Delivery]) {
    let input = serde_json::to_string(
        &deliveries
            .iter()
            .map(|d| json!({"headers": d.headers, "body": d.body}))
            .collect::<Vec<_>>(),
    )
    .expect("json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/support/verify_webhooks.py");
    let run = || {
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(SECRET)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 is needed to verify webhooks: {e}"));
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("python3 output")
    };
    let mut output = run();
    if output.status.code() == Some(3) {
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "standardwebhooks==1.1.0"])
            .status()
            .expect("pip");
        assert!(installed.success(), "pip install standardwebhooks failed");
        output = run();
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the reference library refused a delivery:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("verified")).count(),
        deliveries.len(),
        "{stdout}"
    );
}

/// A fast renderer: fails every video whose title starts with "fail", renders the rest
/// into small files.
struct QuickRenderer;

#[async_trait::async_trait]
impl VideoRenderer for QuickRenderer {
    async fn render(
        &self,
        request: RenderRequest,
        target: RenderTarget,
        _progress: Arc<dyn RenderProgress>,
        _cancel: CancelFlag,
    ) -> Result<RenderedVideo, RenderError> {
        if request.title.starts_with("fail") {
            return Err(RenderError::Encoder("the encoder gave up".into()));
        }
        std::fs::write(&target.video, b"\0\0\0\x18ftypisom").map_err(RenderError::Io)?;
        std::fs::write(&target.thumbnail, b"\x89PNG").map_err(RenderError::Io)?;
        Ok(RenderedVideo {
            duration_seconds: f64::from(request.duration_seconds),
            width: request.width,
            height: request.height,
            frame_count: request.fps * request.duration_seconds,
            file_size: 12,
            content_type: "video/mp4",
            thumbnail_content_type: "image/png",
        })
    }
}

fn webhook_vars(vars: &mut HashMap<String, String>) {
    for (name, value) in [
        ("WEBHOOK_SECRET", SECRET),
        ("ALLOW_PRIVATE_WEBHOOKS", "true"),
        ("ALLOW_INSECURE_WEBHOOKS", "true"),
        ("JOB_RETRY_BASE_MS", "50"),
    ] {
        vars.insert(name.into(), value.into());
    }
}

async fn app_with_webhooks() -> TestApp {
    spawn_app_full(webhook_vars, Some(Arc::new(QuickRenderer))).await
}

async fn create(app: &TestApp, user: &TestUser, title: &str, url: &str) -> i64 {
    let response = app
        .create_video(
            &user.access_token,
            &json!({"title": title, "prompt": "A lake", "duration_seconds": 1, "webhook_url": url}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202, "create {title}");
    json(response).await["id"].as_i64().expect("id")
}

#[tokio::test]
async fn each_completed_or_failed_video_gets_exactly_one_verified_delivery() {
    let receiver = Receiver::start(&[]).await;
    let app = app_with_webhooks().await;
    let jane = app.user("jane").await;
    let done = create(&app, &jane, "Lake", &receiver.url).await;
    let failed = create(&app, &jane, "fail on purpose", &receiver.url).await;
    let deliveries = receiver.wait_for(2).await;
    // Nothing else arrives: one message per settled video.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deliveries_later = receiver.deliveries();
    assert_eq!(deliveries_later.len(), 2, "{deliveries_later:?}");

    let by_video: HashMap<i64, &Delivery> = deliveries
        .iter()
        .map(|d| (d.json()["data"]["id"].as_i64().expect("data.id"), d))
        .collect();
    let completed = by_video[&done].json();
    assert_eq!(completed["type"], "video.completed");
    assert_eq!(completed["data"]["status"], "completed");
    assert_eq!(completed["data"]["progress"], 100);
    assert!(
        completed["timestamp"]
            .as_str()
            .expect("timestamp")
            .ends_with('Z')
    );
    let failure = by_video[&failed].json();
    assert_eq!(failure["type"], "video.failed");
    assert_eq!(failure["data"]["status"], "failed");
    assert!(
        failure["data"]["error"]
            .as_str()
            .expect("error")
            .contains("the encoder gave up"),
        "{failure}"
    );
    // The body is the API's own view of the video, except for its media links: a
    // webhook carries their paths (opened with the bearer token), not signed links.
    let mut shown = json(app.get_video(done, &jane.access_token).await).await;
    assert_eq!(completed["data"]["content_url"], paths::video_content(done));
    assert_eq!(
        completed["data"]["thumbnail_url"],
        paths::video_thumbnail(done)
    );
    for field in ["content_url", "thumbnail_url"] {
        shown[field] = completed["data"][field].clone();
    }
    assert_eq!(completed["data"], shown);
    for delivery in &deliveries {
        assert!(delivery.id().starts_with("msg_"), "{delivery:?}");
        assert_eq!(delivery.headers["content-type"], "application/json");
        assert!(delivery.headers["webhook-signature"].starts_with("v1,"));
    }
    assert_ne!(deliveries[0].id(), deliveries[1].id());
    verify_with_reference_library(&deliveries);
    documented_examples_accept(by_video[&done]);
}

/// Runs one of the receiver examples of docs/webhooks.md on `delivery`.
fn run_example(program: &str, script: &str, delivery: &Delivery) -> std::process::Output {
    use std::io::Write;
    let path = format!("{}/../docs/examples/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = std::process::Command::new(program)
        .arg(&path)
        .env("WEBHOOK_SECRET", SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} {path}: {e}"));
    let input = json!({"headers": delivery.headers, "body": delivery.body}).to_string();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("output")
}

/// The documented receivers (Python with the reference library, Node.js with its
/// standard library) accept a real delivery and reject it once its body is altered.
fn documented_examples_accept(delivery: &Delivery) {
    let mut tampered = delivery.clone();
    tampered.body = tampered.body.replacen("completed", "cancelled", 1);
    let mut examples = vec![("python3", "verify_webhook.py")];
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok()
    {
        examples.push(("node", "verify-webhook.mjs"));
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "node is needed in CI to check the Node.js example"
        );
        eprintln!("node not found: the Node.js webhook example was not run");
    }
    for (program, script) in examples {
        let good = run_example(program, script, delivery);
        let out = String::from_utf8_lossy(&good.stdout);
        assert!(
            good.status.success() && out.contains("video.completed for video"),
            "{script}: {out}{}",
            String::from_utf8_lossy(&good.stderr)
        );
        let bad = run_example(program, script, &tampered);
        assert!(!bad.status.success(), "{script} accepted an altered body");
    }
}

#[tokio::test]
async fn a_receiver_failing_four_times_gets_the_same_message_on_the_fifth_try() {
    let receiver = Receiver::start(&[500, 503, 404, 500]).await;
    let app = app_with_webhooks().await;
    let jane = app.user("jane").await;
    create(&app, &jane, "Lake", &receiver.url).await;
    let deliveries = receiver.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.deliveries().len(), 5, "the 2xx ends the delivery");
    let id = deliveries[0].id();
    assert!(
        deliveries
            .iter()
            .all(|d| d.id() == id && d.body == deliveries[0].body),
        "every try carries the same message: {deliveries:?}"
    );
    verify_with_reference_library(&deliveries);
}

#[tokio::test]
async fn a_delivery_pending_across_a_restart_still_arrives() {
    let receiver = Receiver::start(&[503]).await;
    // The first instance retries only after seconds: it is stopped before that.
    let first = spawn_app_full(
        |vars| {
            webhook_vars(vars);
            vars.insert("JOB_RETRY_BASE_MS".into(), "3000".into());
        },
        Some(Arc::new(QuickRenderer)),
    )
    .await;
    let jane = first.user("jane").await;
    create(&first, &jane, "Lake", &receiver.url).await;
    let first_try = receiver.wait_for(1).await;
    first.stop().await;

    let url = first.database_url.clone();
    let second = spawn_app_full(
        |vars| {
            webhook_vars(vars);
            vars.insert("DATABASE_URL".into(), url);
        },
        Some(Arc::new(QuickRenderer)),
    )
    .await;
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[1].id(), first_try[0].id());
    verify_with_reference_library(&deliveries[1..]);
    second.stop().await;
}

#[tokio::test]
async fn internal_targets_are_refused_unless_allowed() {
    let receiver = Receiver::start(&[]).await;
    let app = spawn_app_full(
        |vars| {
            webhook_vars(vars);
            vars.insert("ALLOW_PRIVATE_WEBHOOKS".into(), "false".into());
        },
        Some(Arc::new(QuickRenderer)),
    )
    .await;
    let jane = app.user("jane").await;
    // An internal address in the URL itself is refused at once, with the other problems.
    let response = app
        .create_video(
            &jane.access_token,
            &json!({"title": "", "prompt": "p", "webhook_url": receiver.url}),
        )
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    let fields: Vec<&str> = body["error_details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["title", "webhook_url"], "{body}");
    assert_eq!(body["error_details"][1]["code"], "webhook_internal_address");

    // A name that resolves to one (this machine's own name) passes the form check, and
    // is refused when the delivery resolves it: nothing reaches the receiver.
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let by_name = receiver.url.replace("127.0.0.1", &host);
    create(&app, &jane, "Lake", &by_name).await;
    let error = eventually(Duration::from_secs(30), async || {
        use sea_orm::ConnectionTrait;
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                app.db.get_database_backend(),
                "SELECT state, last_error FROM jobs WHERE kind = 'deliver_webhook'",
            ))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no delivery job yet")?;
        let error: Option<String> = row.try_get("", "last_error").map_err(|e| e.to_string())?;
        error.ok_or_else(|| "the delivery has not been tried yet".to_owned())
    })
    .await;
    assert!(error.contains("internal address"), "{error}");
    assert!(receiver.deliveries().is_empty());
}

#[tokio::test]
async fn webhook_urls_follow_the_contract() {
    let app = spawn_app_with(|vars| {
        vars.insert("WEBHOOK_SECRET".into(), SECRET.into());
    })
    .await;
    let jane = app.user("jane").await;
    for (url, code) in [
        ("http://hooks.example.com/x", "webhook_scheme"),
        ("ftp://hooks.example.com/x", "webhook_scheme"),
        ("https://user:pw@hooks.example.com/x", "webhook_credentials"),
        ("not a url", "url"),
        ("https://10.0.0.7/x", "webhook_internal_address"),
    ] {
        let response = app
            .create_video(
                &jane.access_token,
                &json!({"title": "t", "prompt": "p", "webhook_url": url}),
            )
            .await;
        let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(body["error_details"][0]["field"], "webhook_url", "{url}");
        assert_eq!(body["error_details"][0]["code"], code, "{url}: {body}");
    }
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    let response = app
        .create_video(
            &jane.access_token,
            &json!({"title": "t", "prompt": "p", "webhook_url": long}),
        )
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["error_details"][0]["code"], "too_long");
    let accepted = app
        .create_video(
            &jane.access_token,
            &json!({"title": "t", "prompt": "p", "webhook_url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(accepted.status().as_u16(), 202);
}

#[tokio::test]
async fn without_a_signing_key_webhooks_are_refused_clearly() {
    let app = spawn_app_with(|_| {}).await;
    let jane = app.user("jane").await;
    let response = app
        .create_video(
            &jane.access_token,
            &json!({"title": "t", "prompt": "p", "webhook_url": "https://hooks.example.com/x"}),
        )
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["error_details"][0]["code"], "webhooks_disabled");
}

#[tokio::test]
async fn the_document_describes_the_webhook_as_a_callback_of_video_creation() {
    let app = spawn_app_with(|_| {}).await;
    let spec = json(app.get("/openapi.json").await).await;
    let callback = &spec["paths"]["/api/v1/videos"]["post"]["callbacks"]["videoSettled"]["{$request.body#/webhook_url}"]
        ["post"];
    assert_eq!(
        callback["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookEvent"
    );
    let headers: Vec<&str> = callback["parameters"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        headers,
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    let event = &spec["components"]["schemas"]["WebhookEvent"];
    assert_eq!(
        event["properties"]["type"]["enum"],
        json!(["video.completed", "video.failed"])
    );
    assert_eq!(
        event["properties"]["data"]["allOf"][0]["$ref"],
        "#/components/schemas/VideoResponse"
    );
    let url = &spec["components"]["schemas"]["VideoCreate"]["properties"]["webhook_url"];
    assert_eq!(url["maxLength"], 2048);
    assert_eq!(url["format"], "uri");
}

#[tokio::test]
async fn an_uploaded_video_reports_its_completion_too() {
    let receiver = Receiver::start(&[]).await;
    let app = app_with_webhooks().await;
    let jane = app.user("jane").await;
    let form = reqwest::multipart::Form::new()
        .text("title", "Uploaded")
        .text("webhook_url", receiver.url.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(include_bytes!("../fixtures/sample.webm").to_vec())
                .file_name("clip.webm"),
        );
    let response = app.upload_video(&jane.access_token, form, None).await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    let deliveries = receiver.wait_for(1).await;
    let event = deliveries[0].json();
    assert_eq!(event["type"], "video.completed");
    assert_eq!(event["data"]["id"], id);
    assert_eq!(event["data"]["source"], "upload");
    assert_eq!(event["data"]["content_type"], "video/webm");
    verify_with_reference_library(&deliveries);
}
