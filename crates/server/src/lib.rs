//! vidgen's composition root: telemetry, the database, wiring adapters into services
//! and job handlers (`services`), and the HTTP server and job workers with graceful
//! shutdown (`startup`, `workers`). `main.rs` only parses the command line.

pub mod services;
pub mod startup;
pub mod telemetry;
pub mod workers;

pub use startup::{Application, ShutdownHandle, ShutdownSignals, StartupError};
