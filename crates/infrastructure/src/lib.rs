//! Adapters that implement vidgen's ports: the database (sea-orm), settings loading and,
//! as capabilities arrive, hashing, tokens, media storage and rendering.
//!
//! sea-orm entities stay private to this crate; no layer above sees them.

pub mod database;
pub mod settings;

mod entities;
