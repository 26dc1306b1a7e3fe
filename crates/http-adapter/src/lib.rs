//! vidgen's HTTP interface: actix-web routes with thin handlers, request and response
//! DTOs, middleware, the error envelope and the OpenAPI document.
//!
//! Reading order: [`error`] (the envelope), [`error_map`] (use-case errors to statuses),
//! [`middleware`], [`registry`] (the route table), [`routes`], [`openapi`], [`app`]
//! (assembly).

pub mod app;
pub mod auth;
pub mod docs;
pub mod error;
pub mod error_map;
pub mod extract;
pub mod listing;
pub mod media_links;
pub mod metrics;
pub mod middleware;
mod multipart;
pub mod openapi;
pub mod registry;
pub mod responses;
pub mod routes;
pub mod timestamp;
pub mod validation;
pub mod webhooks;

pub use app::{AppState, CorsOrigins, HttpConfig, build};
pub use error::ApiError;
