//! Videos: generation from prompts (and, later, uploads), the render job, and the ports
//! for video storage, media files and rendering.

pub mod ports;
pub mod render;
pub mod render_job;
pub mod service;

#[cfg(test)]
mod tests;
