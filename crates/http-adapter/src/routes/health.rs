//! Operations routes: liveness (`/health`) and readiness (`/health/ready`).

use paperclip::actix::{Apiv2Schema, api_v2_operation, web};
use serde::Serialize;
use vidgen_application::health::{HealthService, Readiness};

use actix_web::http::Method;

use crate::error::ApiError;
use crate::error_map::NotReady;
use crate::registry::{Registry, RouteEntry};

/// The probes' routes.
pub fn registry() -> Registry {
    Registry::new(
        "Operations",
        "Liveness and readiness probes for load balancers and orchestrators.",
    )
    .route(RouteEntry::public(Method::GET, "/health", "health", health))
    .route(
        RouteEntry::public(Method::GET, "/health/ready", "health_ready", ready).maps::<NotReady>(),
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
