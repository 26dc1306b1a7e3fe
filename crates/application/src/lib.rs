//! vidgen's use cases and the ports (traits) they need from the outside world.
//!
//! One module per capability; each holds its requests, errors and services. Adapters in
//! `vidgen-infrastructure` implement the ports; `vidgen-http-adapter` calls the services.

pub mod account;
pub mod analytics;
pub mod auth;
pub mod clock;
pub mod health;
pub mod idempotency;
pub mod invalidation;
pub mod jobs;
pub mod mail;
pub mod media_links;
pub mod metrics;
pub mod profiles;
pub mod rate_limits;
pub mod storage;
pub mod users;
pub mod validation;
pub mod videos;
pub mod webhooks;
