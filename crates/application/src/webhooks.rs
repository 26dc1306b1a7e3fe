//! Webhooks: the `WebhookSender` port that posts one signed message to a client's URL,
//! and the `deliver_webhook` job handler ([`deliver`]). Deliveries are durable jobs; the
//! sender only makes one attempt and reports how it went, so the job runtime can retry
//! with backoff.

pub mod deliver;
pub mod outbox;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vidgen_domain::webhooks::WebhookUrl;

/// One message to deliver. The same `id` is sent on every attempt, so a receiver can
/// drop duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    pub url: WebhookUrl,
    /// `msg_<...>`: unique per message.
    pub id: String,
    /// When this try is made (the signed `webhook-timestamp`; receivers refuse old ones,
    /// so each try is stamped anew).
    pub timestamp: DateTime<Utc>,
    /// The JSON body, signed as it is sent.
    pub body: String,
}

/// Why an attempt did not deliver the message.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL's host resolves to an address deliveries must not reach.
    #[error("the webhook URL resolves to an internal address ({0})")]
    InternalAddress(String),
    /// The host could not be resolved.
    #[error("the webhook host could not be resolved: {0}")]
    Unresolvable(String),
    /// No answer in time, or the connection failed.
    #[error("the webhook receiver could not be reached: {0}")]
    Unreachable(String),
    /// The receiver answered, but not with a 2xx (redirects count as failures).
    #[error("the webhook receiver answered {0}")]
    Rejected(u16),
}

impl WebhookError {
    /// Whether another attempt may succeed (an internal address never will).
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::InternalAddress(_))
    }
}

/// Posts signed webhook messages.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Makes one attempt to deliver `message`, signed by the Standard Webhooks scheme,
    /// and returns the receiver's status on a 2xx.
    ///
    /// # Errors
    /// `InternalAddress` when the host resolves to a forbidden address (checked on every
    /// address, and the connection goes to the checked one), `Unresolvable`,
    /// `Unreachable` (connect failure or timeout), `Rejected` for any non-2xx answer,
    /// redirects included.
    async fn send(&self, message: &WebhookMessage) -> Result<u16, WebhookError>;
}
