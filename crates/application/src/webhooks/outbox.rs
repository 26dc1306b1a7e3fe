//! The webhook outbox: which `webhook_url`s a request may name, and the delivery job a
//! video's completion or failure enqueues in the same transaction as the state change
//! (so a delivery is never lost, nor sent for a change that was rolled back).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use vidgen_domain::videos::Video;
use vidgen_domain::webhooks::WebhookUrl;

use super::WebhookMessage;
use super::deliver::delivery_job;
use crate::jobs::NewJob;
use crate::validation::FieldViolation;

/// What happened to a video that its webhook reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoEvent {
    Completed,
    Failed,
}

impl VideoEvent {
    /// The message's `type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "video.completed",
            Self::Failed => "video.failed",
        }
    }
}

/// Renders the JSON body of a webhook message: `{"type", "timestamp", "data"}` with the
/// video as the API shows it (the HTTP adapter owns that shape).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WebhookBodies: Send + Sync {
    fn body(&self, event: VideoEvent, timestamp: DateTime<Utc>, video: &Video) -> String;
}

/// Builds, inside the transaction that settles a video, the delivery job for the stored
/// row (`None` when the video has no `webhook_url`).
pub type SettleNotice = Box<dyn FnOnce(&Video) -> Option<NewJob> + Send>;

/// The field a webhook URL is reported under.
pub const WEBHOOK_URL_FIELD: &str = "webhook_url";

/// Whether webhooks are on (a signing key is configured) and which URLs they accept.
#[derive(Clone)]
pub struct WebhookOutbox {
    bodies: Option<Arc<dyn WebhookBodies>>,
    allow_insecure: bool,
    allow_private: bool,
}

impl std::fmt::Debug for WebhookOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOutbox")
            .field("enabled", &self.bodies.is_some())
            .field("allow_insecure", &self.allow_insecure)
            .field("allow_private", &self.allow_private)
            .finish()
    }
}

impl WebhookOutbox {
    /// Webhooks off: no URL is accepted and nothing is enqueued.
    pub fn disabled() -> Self {
        Self {
            bodies: None,
            allow_insecure: false,
            allow_private: false,
        }
    }

    /// Webhooks on, bodies rendered by `bodies`; plain `http` URLs only when
    /// `allow_insecure`, internal targets only when `allow_private`.
    pub fn new(bodies: Arc<dyn WebhookBodies>, allow_insecure: bool, allow_private: bool) -> Self {
        Self {
            bodies: Some(bodies),
            allow_insecure,
            allow_private,
        }
    }

    pub fn enabled(&self) -> bool {
        self.bodies.is_some()
    }

    /// The URL a request names, or the rule it breaks (reported with the request's other
    /// field problems).
    ///
    /// # Errors
    /// The violation, on the field `webhook_url`.
    pub fn check_url(&self, raw: &str) -> Result<WebhookUrl, FieldViolation> {
        if !self.enabled() {
            return Err(FieldViolation::new(
                WEBHOOK_URL_FIELD,
                "webhooks_disabled",
                "webhooks are not enabled on this server (no WEBHOOK_SECRET is set)",
            ));
        }
        let url = WebhookUrl::parse(raw, self.allow_insecure)
            .map_err(|e| FieldViolation::new(WEBHOOK_URL_FIELD, e.code(), e.to_string()))?;
        if !self.allow_private && url.names_internal_host() {
            return Err(FieldViolation::new(
                WEBHOOK_URL_FIELD,
                "webhook_internal_address",
                "must not point to a loopback, private or otherwise internal address",
            ));
        }
        Ok(url)
    }

    /// What to enqueue when a video settles with `event` at `at` (nothing when webhooks
    /// are off).
    pub fn notice(&self, event: VideoEvent, at: DateTime<Utc>) -> Option<SettleNotice> {
        let bodies = self.bodies.clone()?;
        Some(Box::new(move |video: &Video| {
            let url = video.webhook_url.clone()?;
            let message = WebhookMessage {
                url: WebhookUrl::from_stored(url),
                id: message_id(video, event, at),
                timestamp: at,
                body: bodies.body(event, at, video),
            };
            match delivery_job(&message, Some(video.id), at) {
                Ok(job) => Some(job),
                Err(error) => {
                    tracing::error!(error = %error, video_id = %video.id, "webhook message could not be stored");
                    None
                }
            }
        }))
    }
}

/// `msg_<hex>`: one per (video, event, moment), the same on every try of its delivery.
fn message_id(video: &Video, event: VideoEvent, at: DateTime<Utc>) -> String {
    let digest = Sha256::new()
        .chain_update(video.id.get().to_be_bytes())
        .chain_update(event.as_str())
        .chain_update(at.timestamp_nanos_opt().unwrap_or_default().to_be_bytes())
        .finalize();
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::jobs::JobKind;

    fn video(webhook: Option<&str>) -> Video {
        crate::videos::tests_support::video(7, webhook)
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0)
            .single()
            .expect("time")
    }

    fn outbox() -> WebhookOutbox {
        let mut bodies = MockWebhookBodies::new();
        bodies
            .expect_body()
            .returning(|event, _, video| format!("{}:{}", event.as_str(), video.id));
        WebhookOutbox::new(Arc::new(bodies), false, false)
    }

    #[test]
    fn a_settled_video_with_a_url_gets_one_delivery_job_for_it() {
        let notice = outbox().notice(VideoEvent::Completed, at()).expect("on");
        let job = notice(&video(Some("https://hooks.example.com/x"))).expect("job");
        assert_eq!(job.kind, JobKind::DeliverWebhook);
        assert_eq!(job.video_id, Some(video(None).id));
        assert_eq!(job.run_after, at());
        let payload: serde_json::Value = serde_json::from_str(&job.payload).expect("json");
        assert_eq!(payload["url"], "https://hooks.example.com/x");
        assert_eq!(payload["body"], "video.completed:7");
        let id = payload["id"].as_str().expect("id");
        assert!(id.starts_with("msg_") && id.len() == 28, "{id}");
    }

    #[test]
    fn no_url_or_webhooks_off_enqueue_nothing() {
        let notice = outbox().notice(VideoEvent::Failed, at()).expect("on");
        assert!(notice(&video(None)).is_none());
        assert!(
            WebhookOutbox::disabled()
                .notice(VideoEvent::Failed, at())
                .is_none()
        );
    }

    #[test]
    fn message_ids_differ_by_event_and_moment() {
        let v = video(None);
        let a = message_id(&v, VideoEvent::Completed, at());
        assert_eq!(a, message_id(&v, VideoEvent::Completed, at()));
        assert_ne!(a, message_id(&v, VideoEvent::Failed, at()));
        assert_ne!(
            a,
            message_id(
                &v,
                VideoEvent::Completed,
                at() + chrono::Duration::seconds(1)
            )
        );
    }

    #[test]
    fn urls_are_checked_against_the_policy() {
        let on = outbox();
        assert!(on.check_url("https://hooks.example.com/x").is_ok());
        let insecure = on
            .check_url("http://hooks.example.com/x")
            .expect_err("http");
        assert_eq!(insecure.field, WEBHOOK_URL_FIELD);
        assert_eq!(insecure.code, "webhook_scheme");
        assert_eq!(
            on.check_url("https://u:p@hooks.example.com/")
                .expect_err("credentials")
                .code,
            "webhook_credentials"
        );
        assert_eq!(
            on.check_url("https://127.0.0.1:9/x")
                .expect_err("internal")
                .code,
            "webhook_internal_address"
        );
        let off = WebhookOutbox::disabled()
            .check_url("https://hooks.example.com/x")
            .expect_err("off");
        assert_eq!(off.code, "webhooks_disabled");
    }
}
