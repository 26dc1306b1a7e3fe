//! The request id: taken from `X-Request-ID` when sane, generated otherwise.

use actix_web::http::header::{HeaderName, HeaderValue};

/// The request id header, read from requests and set on every response.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming request id that is echoed back.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request, stored in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The incoming id when it is a sane token, otherwise a new random one.
    pub fn from_incoming(incoming: Option<&HeaderValue>) -> Self {
        incoming
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_sane_request_id(id))
            .map(|id| Self(id.to_owned()))
            .unwrap_or_else(|| Self(uuid::Uuid::new_v4().to_string()))
    }
}

/// 1..=128 characters of letters, digits and `-_.:~+/=@`.
pub fn is_sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b':' | b'~' | b'+' | b'/' | b'=' | b'@'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_echoed_and_others_replaced() {
        let long = "a".repeat(MAX_REQUEST_ID_LEN);
        let too_long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        let cases = [
            ("abc-123", true),
            ("9f1c2e.trace:1", true),
            (long.as_str(), true),
            (too_long.as_str(), false),
            ("", false),
            ("has space", false),
            ("quote\"d", false),
            ("new\nline", false),
            ("é", false),
        ];
        for (id, echoed) in cases {
            assert_eq!(is_sane_request_id(id), echoed, "{id:?}");
        }
        let generated = RequestId::from_incoming(Some(&HeaderValue::from_static("bad id")));
        assert_ne!(generated.0, "bad id");
        assert!(uuid::Uuid::parse_str(&generated.0).is_ok());
        let kept = RequestId::from_incoming(Some(&HeaderValue::from_static("req-42")));
        assert_eq!(kept.0, "req-42");
        assert!(uuid::Uuid::parse_str(&RequestId::from_incoming(None).0).is_ok());
    }
}
