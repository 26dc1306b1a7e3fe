//! Operations routes: liveness (`/health`), readiness (`/health/ready`) and the
//! Prometheus scrape (`/metrics`).

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use paperclip::actix::{Apiv2Schema, OperationModifier, api_v2_operation, web};
use serde::Serialize;
use vidgen_application::health::{HealthService, Readiness};
use vidgen_application::videos::VideoService;

use crate::error::ApiError;
use crate::error_map::{NotReady, ScrapeError};
use crate::metrics::{self, Exporter, MetricsAccess};
use crate::registry::{Registry, RouteEntry};

/// The probes' routes.
pub fn registry() -> Registry {
    Registry::new(
        "Operations",
        "Liveness and readiness probes for load balancers and orchestrators, and the \
         Prometheus scrape.",
    )
    .route(RouteEntry::public(Method::GET, "/health", "health", health))
    .route(
        RouteEntry::public(Method::GET, "/health/ready", "health_ready", ready).maps::<NotReady>(),
    )
    .route(
        RouteEntry::public(Method::GET, "/metrics", "metrics", scrape)
            .maps::<ScrapeError>()
            .with_text(
                metrics::CONTENT_TYPE,
                "The metrics in the Prometheus text format.",
            ),
    )
}

/// Liveness of the process.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct HealthResponse {
    /// Always `ok` when the process answers.
    #[openapi(example = "\"ok\"")]
    pub status: String,
    /// Version of the running service.
    #[openapi(example = "\"0.1.0\"")]
    pub version: String,
}

/// Readiness of the instance.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ReadinessResponse {
    /// `ready` when the database answers and every migration is applied.
    #[openapi(example = "\"ready\"")]
    pub status: String,
}

/// Liveness probe
///
/// Answers as long as the process can serve HTTP. It does not touch the database, so it
/// stays cheap enough for frequent probes.
#[api_v2_operation]
async fn health() -> web::Json<HealthResponse> {
    web::Json(HealthResponse {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// Readiness probe
///
/// 200 when the database answers and every migration is applied; 503 in the error
/// envelope otherwise, so a load balancer stops sending traffic to this instance.
#[api_v2_operation]
async fn ready(
    service: web::Data<HealthService>,
) -> Result<web::Json<ReadinessResponse>, ApiError> {
    match service.readiness().await {
        Readiness::Ready => Ok(web::Json(ReadinessResponse {
            status: "ready".into(),
        })),
        Readiness::NotReady { reason } => Err(NotReady { reason }.into()),
    }
}

/// A scrape's answer: the Prometheus text exposition.
#[derive(Debug)]
pub struct MetricsText(String);

impl Responder for MetricsText {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, metrics::CONTENT_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(self.0)
    }
}

impl paperclip::v2::schema::Apiv2Schema for MetricsText {}

impl OperationModifier for MetricsText {}

/// Prometheus metrics
///
/// The instance's metrics in the Prometheus text format: requests by method, route
/// template and status with their latency, job durations, webhook deliveries, the
/// password-hashing queue, the user cache and rate limiting, plus the jobs by kind and
/// state read from the database (the same on every instance). `docs/operations.md`
/// describes each metric. When `METRICS_TOKEN` is set the scrape must send
/// `Authorization: Bearer <METRICS_TOKEN>`, or it gets 401.
#[api_v2_operation]
async fn scrape(
    http: HttpRequest,
    access: web::Data<MetricsAccess>,
    exporter: web::Data<Exporter>,
    videos: web::Data<VideoService>,
) -> Result<MetricsText, ApiError> {
    let authorization = http
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if access.disabled {
        return Err(ScrapeError::Disabled.into());
    }
    if !access.allows(authorization) {
        return Err(ScrapeError::Unauthorized.into());
    }
    let jobs = videos
        .job_counts_by_kind()
        .await
        .map_err(ScrapeError::Unexpected)?;
    let mut text = exporter.render();
    text.push_str(&metrics::render_jobs(&jobs));
    Ok(MetricsText(text))
}
