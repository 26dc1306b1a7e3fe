//! Limits on what a client may send in one request, shared by the HTTP layer (which
//! enforces them) and the settings (which may change them).

/// Largest JSON or form body read when `MAX_JSON_BYTES` does not say otherwise (256 KiB).
pub const DEFAULT_MAX_JSON_BYTES: usize = 256 * 1024;
