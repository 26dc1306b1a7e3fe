//! End-to-end tests: the real application over real HTTP, on SQLite by default and on
//! PostgreSQL when `TEST_DATABASE_URL` is set.

mod account;
mod analytics;
mod architecture;
mod auth;
mod avatars;
mod coherence;
mod docs;
mod errors;
mod events;
mod hardening;
mod health;
mod helpers;
mod idempotency;
mod jobs;
mod jobs_runtime;
mod mail_sink;
mod media_links;
mod metrics;
mod middleware;
mod migrations;
mod object_storage;
mod outage;
mod profiles;
mod rate_limits;
mod security;
mod uploads;
mod users;
mod validation;
mod videos;
mod webhooks;
