//! The rate-limit middleware alone, with a mocked limiter: which key each request counts
//! under (client address through trusted proxies only), the exact headers of an allowed
//! answer, the refusal, and the routes it leaves alone.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, test, web};
use vidgen_application::rate_limits::{MockRateLimiter, Quota, RateDecision, RateLimits};
use vidgen_http_adapter::middleware::{TrustedProxies, rate_limit};

const QUOTA: Quota = Quota {
    limit: 10,
    window: Duration::from_secs(60),
};

/// A limiter that records the keys it is asked about and allows while `allow` says so.
fn limiter(allow: bool, keys: Arc<Mutex<Vec<String>>>) -> RateLimits {
    let mut mock = MockRateLimiter::new();
    mock.expect_store().return_const("memory");
    mock.expect_quota().return_const(QUOTA);
    mock.expect_check().returning(move |_, key| {
        keys.lock().expect("lock").push(key.to_owned());
        Ok(RateDecision {
            allowed: allow,
            quota: QUOTA,
            remaining: if allow { 7 } else { 0 },
            reset: Duration::from_millis(if allow { 6000 } else { 4500 }),
        })
    });
    RateLimits::new(Arc::new(mock))
}

async fn call(
    allow: bool,
    proxies: TrustedProxies,
    request: test::TestRequest,
) -> (actix_web::dev::ServiceResponse, Vec<String>) {
    let keys = Arc::new(Mutex::new(Vec::new()));
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(limiter(allow, keys.clone())))
            .app_data(web::Data::new(proxies))
            .route("/api/v1/things", web::get().to(HttpResponse::Ok))
            .route("/health", web::get().to(HttpResponse::Ok))
            .wrap(from_fn(rate_limit)),
    )
    .await;
    let response = test::call_service(&app, request.to_request()).await;
    let keys = keys.lock().expect("lock").clone();
    (response, keys)
}

fn peer(raw: &str) -> SocketAddr {
    raw.parse().expect("address")
}

fn header<'a>(response: &'a actix_web::dev::ServiceResponse, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[actix_web::test]
async fn an_allowed_request_carries_exact_figures() {
    let (response, keys) = call(
        true,
        TrustedProxies::none(),
        test::TestRequest::get()
            .uri("/api/v1/things")
            .peer_addr(peer("203.0.113.5:4000")),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(keys, ["ip:203.0.113.5"]);
    assert_eq!(header(&response, "x-ratelimit-limit"), Some("10"));
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("7"));
    assert_eq!(header(&response, "x-ratelimit-reset"), Some("6"));
    assert_eq!(header(&response, "ratelimit-policy"), Some("10;w=60"));
    assert_eq!(
        header(&response, "ratelimit"),
        Some("limit=10, remaining=7, reset=6")
    );
}

#[actix_web::test]
async fn a_refused_request_is_429_with_retry_after_and_never_reaches_the_route() {
    let (response, _) = call(
        false,
        TrustedProxies::none(),
        test::TestRequest::get()
            .uri("/api/v1/things")
            .peer_addr(peer("203.0.113.5:4000")),
    )
    .await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(header(&response, "retry-after"), Some("5"));
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        header(&response, "content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error_code"], "RATE_LIMITED");
}

#[actix_web::test]
async fn forwarded_addresses_count_only_through_trusted_proxies() {
    let forwarded = || {
        test::TestRequest::get()
            .uri("/api/v1/things")
            .insert_header(("X-Forwarded-For", "198.51.100.9, 10.0.0.3"))
            .peer_addr(peer("10.0.0.2:4000"))
    };
    let (_, keys) = call(true, TrustedProxies::none(), forwarded()).await;
    assert_eq!(keys, ["ip:10.0.0.2"]);
    let tens =
        TrustedProxies::new(|ip| matches!(ip, std::net::IpAddr::V4(v4) if v4.octets()[0] == 10));
    let (_, keys) = call(true, tens, forwarded()).await;
    assert_eq!(keys, ["ip:198.51.100.9"]);
}

#[actix_web::test]
async fn routes_outside_the_api_are_not_counted() {
    let (response, keys) = call(
        false,
        TrustedProxies::none(),
        test::TestRequest::get()
            .uri("/health")
            .peer_addr(peer("203.0.113.5:4000")),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(keys.is_empty());
    assert!(header(&response, "x-ratelimit-limit").is_none());
}
