//! Documentation pages: `/openapi.json` (the post-processed document), Swagger UI at
//! `/docs` (paperclip's bundled copy, served by the service itself) and ReDoc at `/redoc`
//! (its standalone bundle vendored under `assets/redoc` and embedded in the binary, so the
//! page works without internet access unless `REDOC_SCRIPT_URL` points elsewhere).

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

/// Where the embedded ReDoc bundle is served (the default `REDOC_SCRIPT_URL`).
pub const REDOC_BUNDLE_PATH: &str = "/redoc/redoc.standalone.js";

/// ReDoc's standalone bundle (the `redoc` npm package, see `assets/redoc/README.md`).
const REDOC_BUNDLE: &str = include_str!("../assets/redoc/redoc.standalone.js");

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

/// The embedded bundle: immutable for a given build, so cached by its hash.
async fn redoc_bundle(request: actix_web::HttpRequest) -> HttpResponse {
    let etag = redoc_bundle_etag();
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(REDOC_BUNDLE)
}

fn redoc_bundle_etag() -> &'static str {
    static ETAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ETAG.get_or_init(|| format!("\"{:016x}\"", fnv1a(REDOC_BUNDLE.as_bytes())))
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

/// Swagger UI's entry: its page with the document and without the online validator
/// badge (which would send the document's URL to validator.swagger.io). Registered before
/// paperclip's own redirect, which it replaces.
async fn swagger_ui_entry() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((
            header::LOCATION,
            format!("/docs/index.html?url={OPENAPI_PATH}&validatorUrl=none"),
        ))
        .finish()
}

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
        .service(web::resource(REDOC_BUNDLE_PATH).route(web::get().to(redoc_bundle)))
        .service(web::resource("/docs").route(web::get().to(swagger_ui_entry)))
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
    fn the_embedded_redoc_bundle_is_the_standalone_build() {
        assert!(REDOC_BUNDLE.len() > 500_000, "{} bytes", REDOC_BUNDLE.len());
        assert!(REDOC_BUNDLE.contains("Redoc"));
        assert_eq!(redoc_bundle_etag(), redoc_bundle_etag());
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(html_attribute("a\"><script>"), "a&quot;&gt;&lt;script&gt;");
    }
}
