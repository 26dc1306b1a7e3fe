//! Documentation pages: `/openapi.json` (the post-processed document), Swagger UI at
//! `/docs` (paperclip's bundled copy, served by the service itself) and ReDoc at `/redoc`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, guard, web};

use crate::error::Problem;

/// Files of paperclip's bundled Swagger UI. Paperclip's handler panics on any other
/// name, so requests for other files are answered 404 before they reach it.
pub const SWAGGER_UI_FILES: &[&str] = &[
    "favicon-16x16.png",
    "favicon-32x32.png",
    "index.html",
    "oauth2-redirect.html",
    "swagger-ui-bundle.js",
    "swagger-ui-bundle.js.map",
    "swagger-ui-es-bundle-core.js",
    "swagger-ui-es-bundle-core.js.map",
    "swagger-ui-es-bundle.js",
    "swagger-ui-es-bundle.js.map",
    "swagger-ui-standalone-preset.js",
    "swagger-ui-standalone-preset.js.map",
    "swagger-ui.css",
    "swagger-ui.css.map",
    "swagger-ui.js",
    "swagger-ui.js.map",
];

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The serialized OpenAPI document, built once at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiDocument {
    body: Arc<str>,
    etag: Arc<str>,
}

impl OpenApiDocument {
    pub fn new(document: &serde_json::Value) -> Self {
        let body = document.to_string();
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        Self {
            body: body.into(),
            etag: etag.into(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.body
    }
}

/// A small stable hash for the document's ETag (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn openapi_json(
    request: actix_web::HttpRequest,
    document: web::Data<OpenApiDocument>,
) -> HttpResponse {
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == &*document.etag));
    if matches {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, &*document.etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, &*document.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document.body.to_string())
}

async fn redoc(script: web::Data<RedocScript>) -> HttpResponse {
    let page = format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>vidgen API - ReDoc</title>
    <style>body {{ margin: 0; padding: 0; }}</style>
  </head>
  <body>
    <redoc spec-url="{OPENAPI_PATH}"></redoc>
    <script src="{}"></script>
  </body>
</html>
"#,
        html_attribute(&script.0)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

fn html_attribute(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// URL of ReDoc's standalone script.
#[derive(Debug, Clone)]
pub struct RedocScript(pub String);

async fn missing_docs_file() -> HttpResponse {
    Problem::for_status(actix_web::http::StatusCode::NOT_FOUND).to_response()
}

fn is_unknown_docs_file(ctx: &guard::GuardContext<'_>) -> bool {
    let path = ctx.head().uri.path();
    let file = path.strip_prefix("/docs/").unwrap_or_default();
    !SWAGGER_UI_FILES.contains(&file)
}

/// Registers the document, the ReDoc page and the Swagger UI guard. Swagger UI itself
/// is mounted by paperclip (see `app::build`).
pub fn configure(cfg: &mut web::ServiceConfig, document: OpenApiDocument, redoc_script: String) {
    cfg.app_data(web::Data::new(document))
        .app_data(web::Data::new(RedocScript(redoc_script)))
        .service(web::resource(OPENAPI_PATH).route(web::get().to(openapi_json)))
        .service(web::resource("/redoc").route(web::get().to(redoc)))
        .service(
            web::resource("/docs/{filename:.*}")
                .guard(guard::fn_guard(is_unknown_docs_file))
                .to(missing_docs_file),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_changes_with_the_document() {
        let a = OpenApiDocument::new(&serde_json::json!({"a": 1}));
        let b = OpenApiDocument::new(&serde_json::json!({"a": 2}));
        assert_ne!(a.etag, b.etag);
        assert_eq!(
            a.etag,
            OpenApiDocument::new(&serde_json::json!({"a": 1})).etag
        );
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(html_attribute("a\"><script>"), "a&quot;&gt;&lt;script&gt;");
    }
}
