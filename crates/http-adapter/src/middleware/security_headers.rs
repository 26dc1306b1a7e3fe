//! Security headers set on every response, with a looser content security policy for
//! the documentation pages.

use actix_web::http::header::{self, HeaderMap, HeaderValue};

/// CSP for API responses: nothing may be loaded or framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// CSP for the documentation pages (Swagger UI and ReDoc are served from here; ReDoc's
/// script may come from its CDN when `REDOC_SCRIPT_URL` says so). Images only from here:
/// ReDoc's sidebar logo from its CDN is refused, and the page hides it.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.redoc.ly; \
style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src 'self' data: https://fonts.gstatic.com; \
img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'";

/// Paths whose pages run the documentation UIs and so need a looser CSP.
pub fn is_docs_path(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/") || path == "/redoc"
}

/// Sets `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy` and the CSP.
pub fn apply(headers: &mut HeaderMap, docs: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_CSP } else { API_CSP }),
    );
}
