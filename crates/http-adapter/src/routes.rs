//! Route modules, one per resource. Each exposes one `registry()`: its routes with the
//! facts the OpenAPI document needs, and the documentation of its types. [`crate::app`]
//! assembles them.

pub mod account;
pub mod analytics;
pub mod auth;
pub mod health;
pub mod profiles;
pub mod users;
pub mod videos;

pub use crate::registry::resource;
