//! Videos: generation from prompts and, later, uploads. For now the rendering port the
//! generation jobs will call.

pub mod render;
