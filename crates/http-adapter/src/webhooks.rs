//! The body of a webhook message: `{"type", "timestamp", "data"}` with the video exactly
//! as the API's `VideoResponse` shows it, so receivers parse one shape everywhere.

use chrono::{DateTime, Utc};
use paperclip::actix::Apiv2Schema;
use serde::Serialize;
use vidgen_application::webhooks::outbox::{VideoEvent, WebhookBodies};
use vidgen_domain::videos::Video;

use crate::registry::CallbackDoc;
use crate::routes::videos::dto::VideoResponse;

/// The webhook a video with a `webhook_url` gets when it settles, as an OpenAPI callback
/// of the operations that accept the URL.
pub const SETTLED_CALLBACK: CallbackDoc = CallbackDoc {
    name: "videoSettled",
    url: "{$request.body#/webhook_url}",
    summary: "The video completed or failed",
    description: "Sent once per completion or failure to the video's `webhook_url`, following the Standard Webhooks specification: verify `webhook-signature` over `<webhook-id>.<webhook-timestamp>.<raw body>` with the `WEBHOOK_SECRET` key (see docs/webhooks.md). Retried with exponential backoff and jitter, six tries in all, with the same `webhook-id`; redirects are not followed.",
    schema_name: "WebhookEvent",
    schema: event_schema,
    headers: &[
        (
            "webhook-id",
            "Unique per message (`msg_...`), the same on every retry.",
        ),
        ("webhook-timestamp", "Unix seconds of this attempt."),
        (
            "webhook-signature",
            "`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>`.",
        ),
    ],
};

fn event_schema() -> serde_json::Value {
    use paperclip::v2::schema::Apiv2Schema as _;
    let mut schema = serde_json::to_value(WebhookEvent::raw_schema()).unwrap_or_default();
    // The video is the API's own VideoResponse: refer to it rather than a copy.
    if let Some(data) = schema.pointer_mut("/properties/data") {
        let description = data.get("description").cloned().unwrap_or_default();
        *data = serde_json::json!({
            "allOf": [{"$ref": "#/definitions/VideoResponse"}],
            "description": description,
        });
    }
    schema
}

/// The kind of event a webhook message reports.
#[derive(Debug, Clone, Copy, Serialize, Apiv2Schema)]
pub enum WebhookEventType {
    #[serde(rename = "video.completed")]
    VideoCompleted,
    #[serde(rename = "video.failed")]
    VideoFailed,
}

impl From<VideoEvent> for WebhookEventType {
    fn from(event: VideoEvent) -> Self {
        match event {
            VideoEvent::Completed => Self::VideoCompleted,
            VideoEvent::Failed => Self::VideoFailed,
        }
    }
}

/// A webhook message, POSTed to a video's `webhook_url` when it completes or fails, with
/// the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and
/// `webhook-signature`.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct WebhookEvent {
    /// `video.completed` or `video.failed`.
    #[serde(rename = "type")]
    pub event_type: WebhookEventType,
    /// When the video settled.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub timestamp: DateTime<Utc>,
    /// The video as `GET /api/v1/videos/{video_id}` shows it at that moment.
    pub data: VideoResponse,
}

/// [`WebhookBodies`] rendering [`WebhookEvent`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct VideoWebhookBodies;

impl WebhookBodies for VideoWebhookBodies {
    fn body(&self, event: VideoEvent, timestamp: DateTime<Utc>, video: &Video) -> String {
        let message = WebhookEvent {
            event_type: event.into(),
            timestamp,
            data: VideoResponse::from(video.clone()),
        };
        // A struct of strings, numbers and timestamps always serializes.
        serde_json::to_string(&message).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vidgen_application::videos::tests_support;
    use vidgen_domain::users::UserId;
    use vidgen_domain::videos::{VideoId, VideoStatus};

    use super::*;

    #[test]
    fn the_body_carries_the_event_the_moment_and_the_video_as_the_api_shows_it() {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
            .single()
            .expect("time");
        let video = Video {
            id: VideoId::new(9).expect("id"),
            owner_id: UserId::new(2).expect("owner"),
            status: VideoStatus::Failed,
            progress: 0,
            error: Some("not a video".into()),
            media_key: None,
            completed_at: None,
            ..tests_support::video(9, Some("https://hooks.example.com/v"))
        };
        let body = VideoWebhookBodies.body(VideoEvent::Failed, at, &video);
        let json: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(json["type"], "video.failed");
        assert_eq!(json["timestamp"], "2026-03-01T09:00:00Z");
        assert_eq!(json["data"]["id"], 9);
        assert_eq!(json["data"]["status"], "failed");
        assert_eq!(json["data"]["error"], "not a video");
        assert!(
            json["data"].get("webhook_url").is_none(),
            "the URL itself is not echoed"
        );
    }
}
