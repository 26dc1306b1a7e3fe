//! Benchmark baseline: a bare actix-web handler that only verifies the same JWT as
//! `GET /api/v1/users/me` (same issuer, algorithm and claims checks), with no database,
//! middleware or envelope. `bench/run.sh` compares vidgen's throughput against it.
//!
//! Usage: `jwt_baseline <port> <secret>`; prints one line per request-free start.

use std::sync::Arc;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use vidgen_application::auth::ports::TokenVerifier;
use vidgen_infrastructure::auth::{JwtSettings, JwtTokenIssuer};

async fn me(request: HttpRequest, verifier: web::Data<Arc<JwtTokenIssuer>>) -> HttpResponse {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.map(|t| verifier.verify(t)) {
        Some(Ok(claims)) => HttpResponse::Ok()
            .content_type("application/json")
            .body(format!("{{\"id\":{}}}", claims.user_id)),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18_081);
    let secret = args.next().unwrap_or_default();
    let verifier = Arc::new(JwtTokenIssuer::new(&JwtSettings {
        secret: secret.into_bytes(),
        lifetime: std::time::Duration::from_secs(1800),
    }));
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(verifier.clone()))
            .route("/api/v1/users/me", web::get().to(me))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
