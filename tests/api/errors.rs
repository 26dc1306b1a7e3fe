//! The error envelope on the service's own error paths, and request ids.

use crate::helpers::{assert_problem, paths, spawn_app};

#[tokio::test]
async fn unknown_routes_answer_404_in_the_envelope() {
    let app = spawn_app().await;
    let missing = paths::api("/nothing-here");
    let body = assert_problem(app.get(&missing).await, 404, "NOT_FOUND").await;
    assert_eq!(body["instance"], missing.as_str());
    assert_eq!(body["type"], "about:blank");
    assert_eq!(body["title"], "Not Found");
    assert!(body["error_details"].is_null());
}

#[tokio::test]
async fn wrong_methods_answer_405_in_the_envelope() {
    let app = spawn_app().await;
    let response = app
        .client
        .delete(app.url("/health"))
        .send()
        .await
        .expect("request");
    assert_problem(response, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    for path in ["/health", "/nope", "/openapi.json"] {
        let response = app.get(path).await;
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no X-Request-ID"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{path}: {id}");
    }
}

#[tokio::test]
async fn sane_request_ids_are_echoed_and_others_replaced() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("X-Request-ID", "client-trace-42")
        .send()
        .await
        .expect("request");
    assert_eq!(echoed.headers()["x-request-id"], "client-trace-42");

    let long = "x".repeat(129);
    for bad in [long.as_str(), "has space", "quote\"d"] {
        let response = app
            .client
            .get(app.url("/nope"))
            .header("X-Request-ID", bad)
            .send()
            .await
            .expect("request");
        let id = response.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_ne!(id, bad);
        let body = assert_problem(response, 404, "NOT_FOUND").await;
        assert_eq!(body["request_id"], id.as_str());
    }
}

#[tokio::test]
async fn stopping_the_server_finishes_cleanly() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
    app.stop().await;
    assert!(app.client.get(app.url("/health")).send().await.is_err());
}
