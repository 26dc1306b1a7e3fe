//! Middleware that wraps every request: identity and logging, the error envelope, trusted
//! hosts, security headers and the compression threshold.
//!
//! Order, outermost first: [`request_context`] → compression → [`envelope`] →
//! [`trusted_host`] → CORS → routes.

pub mod envelope;
pub mod request_context;
pub mod trusted_host;

pub use envelope::envelope;
pub use request_context::{RequestId, request_context};
pub use trusted_host::{TrustedHosts, trusted_host};
