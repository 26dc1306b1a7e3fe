//! vidgen's domain: value objects that cannot be built invalid, enums, domain errors and
//! the pure rules of who may do what. No framework types live here.
//!
//! Module style: `foo.rs` + `foo/` (never `mod.rs`).

pub mod listing;
pub mod requests;
pub mod text;
pub mod users;
pub mod videos;
pub mod webhooks;
