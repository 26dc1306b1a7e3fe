//! actix's own error paths (bad JSON, wrong content type, oversized bodies, unparsable
//! query strings and path ids) and panicking handlers, through the real middleware stack.

use actix_web::middleware::from_fn;
use actix_web::{App, test};
use paperclip::actix::{Apiv2Schema, OpenApiExt, api_v2_operation, web};
use serde::Deserialize;
use vidgen_http_adapter::middleware::envelope::not_found;
use vidgen_http_adapter::middleware::{envelope, request_context};
use vidgen_http_adapter::routes::resource;

#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
struct Payload {
    name: String,
    count: u32,
}

#[derive(Debug, Deserialize, Apiv2Schema)]
struct Paging {
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, Apiv2Schema)]
struct ItemPath {
    item_id: u64,
}

#[api_v2_operation]
async fn echo(body: web::Json<Payload>) -> web::Json<String> {
    web::Json(format!("{} x{}", body.name, body.count))
}

#[api_v2_operation]
async fn list(query: web::Query<Paging>) -> web::Json<u32> {
    web::Json(query.limit.unwrap_or(0))
}

#[api_v2_operation]
async fn item(path: web::Path<ItemPath>) -> web::Json<u64> {
    web::Json(path.item_id)
}

#[api_v2_operation]
#[allow(clippy::unused_async)]
async fn explode() -> web::Json<String> {
    let secret = "SELECT password FROM users";
    panic!("boom: {secret}");
}

async fn call(request: test::TestRequest) -> (u16, serde_json::Value) {
    let app = test::init_service(
        App::new()
            .configure(|cfg| vidgen_http_adapter::extract::configure(cfg, 64))
            .wrap_api()
            .service(resource("/echo").route(web::post().to(echo)))
            .service(resource("/list").route(web::get().to(list)))
            .service(resource("/items/{item_id}").route(web::get().to(item)))
            .service(resource("/explode").route(web::get().to(explode)))
            .build()
            .default_service(actix_web::web::to(not_found))
            .wrap(from_fn(envelope))
            .wrap(from_fn(request_context)),
    )
    .await;
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: serde_json::Value =
        serde_json::from_slice(&test::read_body(response).await).unwrap_or_default();
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{body}");
        assert_eq!(body["request_id"], request_id.as_str(), "{body}");
        assert_eq!(body["status"], status, "{body}");
    }
    (status, body)
}

fn post_json(body: &'static str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/echo")
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

#[actix_web::test]
async fn well_formed_requests_pass() {
    let (status, body) = call(post_json(r#"{"name":"a","count":2}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(body, "a x2");
}

#[actix_web::test]
async fn malformed_json_is_a_400() {
    let (status, body) = call(post_json(r#"{"name": "#)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error_code"], "BAD_REQUEST");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Malformed JSON")),
        "{body}"
    );
}

#[actix_web::test]
async fn wrong_shapes_and_unknown_fields_are_422_per_field() {
    let cases = [
        (
            r#"{"name":"a","count":2,"role":"admin"}"#,
            "role",
            "unknown_field",
        ),
        (r#"{"name":"a"}"#, "count", "missing"),
        (r#"{"name":"a","count":-1}"#, "__all__", "invalid"),
    ];
    for (input, field, code) in cases {
        let (status, body) = call(post_json(input)).await;
        assert_eq!(status, 422, "{input}");
        assert_eq!(body["error_code"], "VALIDATION_ERROR", "{input}");
        assert_eq!(body["error_details"][0]["field"], field, "{input}: {body}");
        assert_eq!(body["error_details"][0]["code"], code, "{input}: {body}");
    }
}

#[actix_web::test]
async fn wrong_content_type_is_a_415() {
    let request = test::TestRequest::post()
        .uri("/echo")
        .insert_header(("content-type", "text/plain"))
        .set_payload(r#"{"name":"a","count":2}"#);
    let (status, body) = call(request).await;
    assert_eq!(status, 415);
    assert_eq!(body["error_code"], "UNSUPPORTED_MEDIA_TYPE");
}

#[actix_web::test]
async fn oversized_bodies_are_a_413() {
    let big = Box::leak(format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(100)).into_boxed_str());
    let (status, body) = call(post_json(big)).await;
    assert_eq!(status, 413);
    assert_eq!(body["error_code"], "PAYLOAD_TOO_LARGE");
}

#[actix_web::test]
async fn unparsable_query_and_path_values_are_422() {
    let (status, body) = call(test::TestRequest::get().uri("/list?limit=lots")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error_code"], "VALIDATION_ERROR");
    let (status, ok) = call(test::TestRequest::get().uri("/list?limit=5")).await;
    assert_eq!((status, ok), (200, serde_json::json!(5)));

    for bad in ["/items/abc", "/items/-3", "/items/1.5"] {
        let (status, body) = call(test::TestRequest::get().uri(bad)).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error_code"], "VALIDATION_ERROR", "{bad}");
    }
}

#[actix_web::test]
async fn panics_become_an_opaque_500() {
    let (status, body) = call(test::TestRequest::get().uri("/explode")).await;
    assert_eq!(status, 500);
    assert_eq!(body["error_code"], "INTERNAL_ERROR");
    assert_eq!(body["message"], "Internal server error");
    assert!(!body.to_string().contains("SELECT"), "{body}");
}

#[actix_web::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    let (status, body) = call(test::TestRequest::get().uri("/missing")).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let (status, body) = call(test::TestRequest::delete().uri("/echo")).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
}
