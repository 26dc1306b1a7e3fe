//! Trusted hosts: requests whose `Host` is not allowed get 400 `INVALID_HOST`.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::error::ApiError;

/// Decides whether a host name (without port, lower-cased) may be served.
#[derive(Clone)]
pub struct TrustedHosts(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for TrustedHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrustedHosts")
    }
}

impl TrustedHosts {
    pub fn new(allow: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(allow))
    }

    /// Every host is allowed.
    pub fn any() -> Self {
        Self::new(|_| true)
    }

    pub fn allows(&self, host: &str) -> bool {
        (self.0)(host)
    }
}

/// The host part of a `Host` header value: lower-cased, port removed, IPv6 kept in
/// brackets.
pub fn host_without_port(raw: &str) -> String {
    let raw = raw.trim().to_ascii_lowercase();
    if raw.starts_with('[') {
        return match raw.find(']') {
            Some(end) => raw[..=end].to_owned(),
            None => raw,
        };
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => raw,
    }
}

/// See the module docs. Configured through `web::Data<TrustedHosts>`; without it every
/// host is allowed.
pub async fn trusted_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(hosts) = req.app_data::<web::Data<TrustedHosts>>() {
        // The Host header itself (or the URI authority on HTTP/2), never a forwarded one.
        let raw = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or_default();
        let host = host_without_port(raw);
        if !hosts.allows(&host) {
            tracing::warn!(host = %host, "request for an untrusted host");
            let error = ApiError::BadRequest {
                code: "INVALID_HOST",
                message: "Invalid host header".into(),
            };
            return Ok(req.error_response(error));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_removed_from_hosts() {
        let cases = [
            ("localhost:8000", "localhost"),
            ("API.Example.com", "api.example.com"),
            ("[::1]:8000", "[::1]"),
            ("[::1]", "[::1]"),
            ("127.0.0.1", "127.0.0.1"),
        ];
        for (raw, host) in cases {
            assert_eq!(host_without_port(raw), host, "{raw}");
        }
    }
}
