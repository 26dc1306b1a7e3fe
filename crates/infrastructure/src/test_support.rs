//! What the S3 tests of this crate and the end-to-end tests share (feature
//! `test-support`, and this crate's own tests): the S3-compatible server they run against,
//! and fresh buckets on it.

use std::sync::OnceLock;
use std::time::Duration;

/// The S3-compatible server of the tests: `TEST_S3_ENDPOINT`, or a `moto_server` started
/// once for this test process (and stopped when it exits). Fails the test, never skips
/// it, when neither is there.
///
/// # Panics
/// Without `TEST_S3_ENDPOINT` and without `moto_server` on the `PATH`, or when the server
/// does not listen within 30 s.
pub fn s3_endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| match std::env::var("TEST_S3_ENDPOINT") {
            Ok(endpoint) if !endpoint.trim().is_empty() => {
                endpoint.trim().trim_end_matches('/').to_owned()
            }
            _ => start_moto(),
        })
        .clone()
}

fn start_moto() -> String {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "the S3 tests need an S3-compatible server: set TEST_S3_ENDPOINT, or install \
         moto_server (python3 -m pip install \"moto[server]==5.2.5\")"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|error| panic!("a free port for moto_server: {error}"))
        .port();
    // The shell stops moto when the test process (its parent) is gone.
    let script = format!(
        "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 $PPID 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null"
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .unwrap_or_else(|error| panic!("start moto_server: {error}"));
    // Reaped when it ends (with this process).
    std::thread::spawn(move || child.wait());
    let address = format!("127.0.0.1:{port}");
    for _ in 0..300 {
        if std::net::TcpStream::connect(&address).is_ok() {
            return format!("http://{address}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto_server did not listen on {address} within 30 s");
}

/// A new empty bucket named `{prefix}-{random}` on the test server: (endpoint, bucket).
///
/// # Panics
/// When the server refuses to create it.
pub async fn new_bucket(prefix: &str) -> (String, String) {
    let endpoint = s3_endpoint();
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .unwrap_or_else(|error| panic!("create the bucket {name}: {error}"));
    assert!(created.status().is_success(), "create bucket: {created:?}");
    (endpoint, name)
}
