//! Trusted hosts, CORS, compression and security headers.

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn untrusted_hosts_are_refused() {
    let app = spawn_app_with(|vars| {
        vars.insert("ALLOWED_HOSTS".into(), "127.0.0.1,*.example.com".into());
    })
    .await;
    let refused = app
        .client
        .get(app.url("/health"))
        .header("Host", "evil.test")
        .send()
        .await
        .expect("request");
    assert_problem(refused, 400, "INVALID_HOST").await;

    for host in ["api.example.com", "API.EXAMPLE.COM:8443", "127.0.0.1"] {
        let allowed = app
            .client
            .get(app.url("/health"))
            .header("Host", host)
            .send()
            .await
            .expect("request");
        assert_eq!(allowed.status().as_u16(), 200, "{host}");
    }
    let apex = app
        .client
        .get(app.url("/health"))
        .header("Host", "example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(apex.status().as_u16(), 400);
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins() {
    let app = spawn_app_with(|vars| {
        vars.insert("CORS_ORIGINS".into(), "https://app.example.com".into());
    })
    .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/health"))
        .header("Origin", "https://app.example.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("request");
    assert_eq!(preflight.status().as_u16(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(preflight.headers()["access-control-max-age"], "3600");

    let simple = app
        .client
        .get(app.url("/health"))
        .header("Origin", "https://app.example.com")
        .send()
        .await
        .expect("request");
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    for header in [
        "x-total-count",
        "x-page-count",
        "link",
        "x-request-id",
        "x-ratelimit-remaining",
    ] {
        assert!(exposed.contains(header), "{header} not exposed: {exposed}");
    }

    let other = app
        .client
        .get(app.url("/health"))
        .header("Origin", "https://evil.example.org")
        .send()
        .await
        .expect("request");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn large_bodies_are_compressed_small_ones_are_not() {
    let app = spawn_app().await;
    for encoding in ["gzip", "br"] {
        let large = app
            .client
            .get(app.url("/openapi.json"))
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .expect("request");
        assert_eq!(large.headers()["content-encoding"], encoding);
    }
    let small = app
        .client
        .get(app.url("/health"))
        .header("Accept-Encoding", "gzip, br")
        .send()
        .await
        .expect("request");
    assert!(small.headers().get("content-encoding").is_none());
    let body: serde_json::Value =
        serde_json::from_str(&small.text().await.expect("body")).expect("plain JSON");
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn security_headers_are_set() {
    let app = spawn_app().await;
    for path in ["/health", "/nope"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }
}
