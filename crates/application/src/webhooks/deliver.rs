//! The `deliver_webhook` job: one webhook message, posted until a 2xx answers it. The job
//! row is the durable delivery: written in the same transaction as the event it reports,
//! retried by the job runtime with exponential backoff and jitter, the same `webhook-id`
//! on every try, and its final failure kept as the job's last error.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vidgen_domain::webhooks::WebhookUrl;

use super::{WebhookMessage, WebhookSender};
use crate::clock::Clock;
use crate::jobs::{ClaimedJob, JobContext, JobFailure, JobHandler, JobKind, NewJob};
use crate::metrics::{self, WebhookOutcome};
use crate::storage::RepositoryError;

/// Tries per delivery (the contract asks for at least five).
pub const DELIVERY_ATTEMPTS: u32 = 6;

/// A delivery as its job stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    url: String,
    id: String,
    timestamp: DateTime<Utc>,
    body: String,
}

/// The job that delivers `message` (enqueue it in the transaction of the event).
///
/// # Errors
/// Never in practice: the payload is plain strings and a timestamp.
pub fn delivery_job(
    message: &WebhookMessage,
    video_id: Option<vidgen_domain::videos::VideoId>,
    now: DateTime<Utc>,
) -> Result<NewJob, serde_json::Error> {
    let payload = serde_json::to_string(&Payload {
        url: message.url.as_ref().to_owned(),
        id: message.id.clone(),
        timestamp: message.timestamp,
        body: message.body.clone(),
    })?;
    Ok(NewJob {
        kind: JobKind::DeliverWebhook,
        video_id,
        payload,
        max_attempts: DELIVERY_ATTEMPTS,
        run_after: now,
    })
}

/// Posts the message of a `deliver_webhook` job, signed anew at each try (receivers
/// refuse stale `webhook-timestamp`s; the `webhook-id` and body stay the same).
pub struct DeliverWebhook {
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DeliverWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliverWebhook").finish_non_exhaustive()
    }
}

impl DeliverWebhook {
    pub fn new(sender: Arc<dyn WebhookSender>, clock: Arc<dyn Clock>) -> Self {
        Self { sender, clock }
    }
}

/// The job's message, stamped with the time of this try.
fn message(job: &ClaimedJob, now: DateTime<Utc>) -> Result<WebhookMessage, JobFailure> {
    let payload: Payload = serde_json::from_str(&job.payload)
        .map_err(|e| JobFailure(format!("the delivery's payload is unreadable: {e}")))?;
    Ok(WebhookMessage {
        url: WebhookUrl::from_stored(payload.url),
        id: payload.id,
        timestamp: now,
        body: payload.body,
    })
}

#[async_trait]
impl JobHandler for DeliverWebhook {
    fn kind(&self) -> JobKind {
        JobKind::DeliverWebhook
    }

    fn period(&self) -> Option<Duration> {
        None
    }

    async fn run(&self, context: &JobContext) -> Result<(), JobFailure> {
        let message = message(&context.job, self.clock.now()).inspect_err(|_| {
            metrics::webhook_delivery(WebhookOutcome::Invalid);
        })?;
        match self.sender.send(&message).await {
            Ok(status) => {
                metrics::webhook_delivery(WebhookOutcome::Delivered);
                tracing::info!(webhook_id = %message.id, status, "webhook delivered");
                Ok(())
            }
            Err(error) => {
                metrics::webhook_delivery(WebhookOutcome::Failed);
                Err(JobFailure(error.to_string()))
            }
        }
    }

    async fn on_final_failure(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
    ) -> Result<(), RepositoryError> {
        let id = message(job, self.clock.now())
            .map(|m| m.id)
            .unwrap_or_default();
        metrics::webhook_delivery(WebhookOutcome::GivenUp);
        tracing::warn!(webhook_id = %id, reason = %failure, attempts = job.attempt, "webhook delivery given up");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::jobs::{JobId, LeaseToken};
    use crate::webhooks::{MockWebhookSender, WebhookError};

    fn sample() -> WebhookMessage {
        WebhookMessage {
            url: WebhookUrl::parse("https://hooks.example.com/v", false).expect("url"),
            id: "msg_7".into(),
            timestamp: Utc
                .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
                .single()
                .expect("time"),
            body: r#"{"type":"video.completed"}"#.into(),
        }
    }

    fn clock() -> Arc<crate::clock::MockClock> {
        let mut clock = crate::clock::MockClock::new();
        clock.expect_now().returning(|| sample().timestamp);
        Arc::new(clock)
    }

    fn claimed(job: NewJob, attempt: u32) -> JobContext {
        JobContext::new(ClaimedJob {
            id: JobId(1),
            kind: job.kind,
            video_id: job.video_id,
            payload: job.payload,
            attempt,
            max_attempts: job.max_attempts,
            lease_expires_at: Utc::now(),
            lease: LeaseToken::new("t"),
        })
    }

    #[tokio::test]
    async fn every_try_sends_the_same_message_and_a_2xx_ends_the_delivery() {
        let mut first = sample();
        first.timestamp -= chrono::Duration::hours(1);
        let job = delivery_job(&first, None, Utc::now()).expect("job");
        assert_eq!(job.kind, JobKind::DeliverWebhook);
        assert!(
            job.max_attempts >= 5,
            "the contract asks for at least five tries"
        );
        let mut sender = MockWebhookSender::new();
        let mut answers = vec![Ok(204), Err(WebhookError::Rejected(500))];
        sender
            .expect_send()
            .withf(|message| *message == sample())
            .times(2)
            .returning(move |_| answers.pop().unwrap_or(Ok(200)));
        let handler = DeliverWebhook::new(Arc::new(sender), clock());
        assert_eq!(handler.kind(), JobKind::DeliverWebhook);
        assert_eq!(handler.period(), None);
        let failed = handler.run(&claimed(job.clone(), 1)).await;
        assert_eq!(
            failed,
            Err(JobFailure("the webhook receiver answered 500".into()))
        );
        assert_eq!(handler.run(&claimed(job, 2)).await, Ok(()));
    }

    #[test]
    fn each_attempt_is_counted_by_outcome() {
        let job = delivery_job(&sample(), None, Utc::now()).expect("job");
        let mut unreadable = job.clone();
        unreadable.payload = "{not json".into();
        let mut sender = MockWebhookSender::new();
        let mut answers = vec![Ok(204), Err(WebhookError::Rejected(500))];
        sender
            .expect_send()
            .returning(move |_| answers.pop().unwrap_or(Ok(200)));
        let handler = DeliverWebhook::new(Arc::new(sender), clock());
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // The local recorder sees what this thread records while the closure runs.
        ::metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let failed = claimed(job.clone(), 1);
                assert!(handler.run(&failed).await.is_err());
                let failure = JobFailure("the webhook receiver answered 500".into());
                handler
                    .on_final_failure(&failed.job, &failure)
                    .await
                    .expect("final failure");
                assert_eq!(handler.run(&claimed(job, 2)).await, Ok(()));
                assert!(handler.run(&claimed(unreadable, 1)).await.is_err());
            });
        });
        let text = recorder.handle().render();
        for outcome in ["delivered", "failed", "given_up", "invalid"] {
            assert!(
                text.contains(&format!(
                    "vidgen_webhook_deliveries_total{{outcome=\"{outcome}\"}} 1\n"
                )),
                "{outcome} counted once:\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_payload_fails_without_sending() {
        let mut job = delivery_job(&sample(), None, Utc::now()).expect("job");
        job.payload = "{not json".into();
        let mut sender = MockWebhookSender::new();
        sender.expect_send().never();
        let outcome = DeliverWebhook::new(Arc::new(sender), clock())
            .run(&claimed(job, 1))
            .await;
        assert!(outcome.is_err());
    }
}
