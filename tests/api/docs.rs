//! `/openapi.json`, `/docs` (Swagger UI) and `/redoc`.

use crate::helpers::{assert_problem, json, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status().as_u16(), 200);
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let spec = json(response).await;
    assert_eq!(spec["openapi"], "3.0.3");
    assert_eq!(spec["info"]["title"], "vidgen API");
    assert!(
        spec["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("Authentication"))
    );
    assert!(spec["info"]["contact"].is_object());
    assert!(spec["info"]["license"].is_object());
    assert!(spec["paths"]["/health"]["get"].is_object());
    assert!(spec["paths"]["/health/ready"]["get"]["responses"]["503"].is_object());
    assert_eq!(
        spec["components"]["securitySchemes"]["bearerAuth"]["type"],
        "http"
    );

    let cached = app
        .client
        .get(app.url("/openapi.json"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(cached.status().as_u16(), 304);
}

#[tokio::test]
async fn swagger_ui_is_served_by_the_service() {
    let app = spawn_app().await;
    let redirect = app.get("/docs").await;
    assert!(redirect.status().is_redirection());
    let location = redirect.headers()["location"].to_str().expect("location");
    assert!(location.contains("url=/openapi.json"), "{location}");

    let page = app.get("/docs/index.html").await;
    assert_eq!(page.status().as_u16(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(page.text().await.expect("body").contains("swagger-ui"));

    for file in vidgen_http_adapter::docs::SWAGGER_UI_FILES {
        let response = app.get(&format!("/docs/{file}")).await;
        assert_eq!(response.status().as_u16(), 200, "/docs/{file}");
    }
}

#[tokio::test]
async fn missing_docs_files_are_404_not_a_dropped_connection() {
    let app = spawn_app().await;
    for path in ["/docs/nope.js", "/docs/../Cargo.toml", "/docs/a/b/c"] {
        assert_problem(app.get(path).await, 404, "NOT_FOUND").await;
    }
    // The server is still there.
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
}

#[tokio::test]
async fn redoc_loads_the_document_with_a_configurable_script() {
    let app = spawn_app_with(|vars| {
        vars.insert("REDOC_SCRIPT_URL".into(), "/static/redoc.js".into());
    })
    .await;
    let page = app.get("/redoc").await;
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("body");
    assert!(html.contains(r#"spec-url="/openapi.json""#), "{html}");
    assert!(html.contains(r#"src="/static/redoc.js""#), "{html}");
}

#[tokio::test]
async fn redoc_is_served_by_the_service_by_default() {
    let app = spawn_app().await;
    let html = app.get("/redoc").await.text().await.expect("body");
    assert!(
        html.contains(r#"src="/redoc/redoc.standalone.js""#),
        "{html}"
    );
    let bundle = app.get("/redoc/redoc.standalone.js").await;
    assert_eq!(bundle.status().as_u16(), 200);
    let content_type = bundle.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_owned();
    assert!(
        content_type.starts_with("text/javascript"),
        "{content_type}"
    );
    let etag = bundle.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(bundle.text().await.expect("body").len() > 500_000);
    let cached = app
        .client
        .get(app.url("/redoc/redoc.standalone.js"))
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("request");
    assert_eq!(cached.status().as_u16(), 304);

    let redirect = app.get("/docs").await;
    let location = redirect.headers()["location"].to_str().expect("location");
    assert!(location.contains("validatorUrl=none"), "{location}");
}

#[tokio::test]
async fn docs_can_be_turned_off() {
    let app = spawn_app_with(|vars| {
        vars.insert("DOCS_ENABLED".into(), "false".into());
    })
    .await;
    for path in ["/docs", "/docs/index.html", "/redoc", "/openapi.json"] {
        assert_problem(app.get(path).await, 404, "NOT_FOUND").await;
    }
}
