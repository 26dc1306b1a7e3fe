//! `/api/v1/analytics`: figures about the caller's videos, and the overview of every
//! user and video for admins. Handlers call one use case and map the result.

pub mod dto;

use actix_web::http::Method;
use paperclip::actix::{api_v2_operation, web};
use vidgen_application::analytics::AnalyticsService;
use vidgen_application::analytics::mine::GetMyAnalyticsError;
use vidgen_application::analytics::overview::GetOverviewError;

use self::dto::{AnalyticsOverview, VideoAnalytics};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::registry::{Registry, RouteEntry};

/// The caller's own figures.
pub const MY_ANALYTICS: &str = "/api/v1/analytics/me";
/// Everyone's figures.
pub const OVERVIEW: &str = "/api/v1/analytics/overview";

/// Video and user figures.
pub fn registry() -> Registry {
    use RouteEntry as R;
    Registry::new(
        "Analytics",
        "Figures about videos and users, counted by the database.",
    )
    .route(
        R::secured(Method::GET, MY_ANALYTICS, "get_my_analytics", mine)
            .maps::<GetMyAnalyticsError>(),
    )
    .route(
        R::secured(Method::GET, OVERVIEW, "get_analytics_overview", overview)
            .maps::<GetOverviewError>(),
    )
}

/// Figures about your videos
///
/// Counts of your videos by status and by source, their total duration and size, and
/// how many you created on each UTC day of the reporting window (ending today, oldest
/// first, 0 for days without any).
#[api_v2_operation]
async fn mine(
    current: CurrentUser,
    analytics: web::Data<AnalyticsService>,
) -> Result<web::Json<VideoAnalytics>, ApiError> {
    let figures = analytics.mine(current.actor()).await?;
    Ok(web::Json(figures.into()))
}

/// Overview of every user and video
///
/// Admins only. Users by status and role with signups per UTC day, and the figures of
/// every video (as in `GET /api/v1/analytics/me`, over all users).
#[api_v2_operation]
async fn overview(
    current: CurrentUser,
    analytics: web::Data<AnalyticsService>,
) -> Result<web::Json<AnalyticsOverview>, ApiError> {
    let figures = analytics.overview(current.actor()).await?;
    Ok(web::Json(figures.into()))
}
