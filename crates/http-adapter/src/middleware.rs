//! Middleware that wraps every request: request metrics, identity and logging, the error
//! envelope, trusted hosts, security headers and the compression threshold.
//!
//! Order, outermost first: [`metrics`] → [`request_context`] → compression →
//! [`envelope`] → [`trusted_host`] → CORS → [`rate_limit`] → routes; [`panic`] wraps each
//! resource. The envelope's jobs are leaf modules ([`problem`], [`etag`],
//! [`security_headers`], [`compression`]) that import no other middleware but
//! [`request_id`].

pub mod compression;
pub mod envelope;
pub mod etag;
pub mod metrics;
pub mod panic;
pub mod problem;
pub mod rate_limit;
pub mod request_context;
pub mod request_id;
pub mod security_headers;
pub mod trusted_host;

/// The path the router matches: percent-encoded characters decoded as actix's router
/// decodes them (`/%61pi/v1/users/me` is `/api/v1/users/me`; `%2F`, `%25` and `%2B` stay
/// encoded). Every middleware that decides by path asks this, never the raw path, so an
/// encoded path gets exactly the treatment of its plain form.
pub fn routed_path(req: &actix_web::dev::ServiceRequest) -> &str {
    req.match_info().as_str()
}

pub use envelope::envelope;
pub use rate_limit::{ForwardedHeader, TrustedProxies, rate_limit};
pub use request_context::request_context;
pub use request_id::RequestId;
pub use trusted_host::{TrustedHosts, trusted_host};
