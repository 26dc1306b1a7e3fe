//! vidgen's composition root: telemetry, the database, wiring adapters into services,
//! and the HTTP server with graceful shutdown. `main.rs` only parses the command line.

pub mod startup;
pub mod telemetry;
pub mod workers;

pub use startup::{Application, StartupError};
