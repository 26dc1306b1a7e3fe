//! `GET /api/v1/videos/{video_id}/events`: a video's progress as Server-Sent Events.
//!
//! The stream is a small typed one over actix's streaming body: a `status` event with
//! the current `VideoResponse` at once, one more at each change of `status` or
//! `progress` (as the instance's [`VideoWatch`] sees it in the database, whichever
//! instance renders), a keep-alive comment every [`KEEP_ALIVE`], and the end of the
//! stream after `completed` or `failed`, when the video is deleted, or at shutdown.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use paperclip::actix::{OperationModifier, api_v2_operation, web};
use paperclip::v2::models::DefaultOperationRaw;
use paperclip::v2::schema::Apiv2Schema;
use vidgen_application::videos::VideoService;
use vidgen_application::videos::events::{StreamUpdate, VideoStream, VideoWatch};
use vidgen_domain::videos::{Video, VideoStatus};

use super::dto::{VideoPath, VideoResponse};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::media_links::MediaUrls;
use crate::validation::ValidPath;

/// How often an idle stream sends a comment, so proxies keep the connection open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The name of the events the stream sends.
pub const STATUS_EVENT: &str = "status";

/// How the stream is described in the OpenAPI document.
pub const DESCRIPTION: &str = "Server-Sent Events. Each event is `event: status`, an `id:` \
(changes with each state), and `data:` one line of JSON: the `VideoResponse` at that moment. \
The first event is the current state; the stream ends after `completed` or `failed`. A \
comment line (`: keep-alive`) comes every 15 s while nothing changes. Reconnecting (with \
`Last-Event-ID` or without) starts again from the current state.";

/// The `id:` of an event: the video's state, so a reconnecting client's `Last-Event-ID`
/// tells whether it missed anything.
fn event_id(video: &Video) -> String {
    format!(
        "{}-{}-{}",
        video.updated_at.timestamp_micros(),
        video.status.as_str(),
        video.progress
    )
}

/// One event in the wire format (the JSON is a single line: serde never breaks lines).
fn status_event(video: &Video, urls: &MediaUrls) -> Bytes {
    let body = VideoResponse::linked(video.clone(), urls);
    let data = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!(
        "id: {}\nevent: {STATUS_EVENT}\ndata: {data}\n\n",
        event_id(video)
    ))
}

fn is_final(video: &Video) -> bool {
    matches!(video.status, VideoStatus::Completed | VideoStatus::Failed)
}

/// Where a stream is.
enum Phase {
    /// The current state is still to be sent.
    Start,
    Following,
    Done,
}

struct Events {
    stream: VideoStream,
    urls: MediaUrls,
    phase: Phase,
}

impl Events {
    /// The next chunk of the body, or `None` at the end of the stream.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            let update = match self.phase {
                Phase::Done => return None,
                Phase::Start => {
                    self.phase = Phase::Following;
                    self.stream.current()
                }
                Phase::Following => {
                    match actix_web::rt::time::timeout(KEEP_ALIVE, self.stream.next()).await {
                        Ok(update) => update,
                        Err(_) => return Some(Bytes::from_static(b": keep-alive\n\n")),
                    }
                }
            };
            match update {
                StreamUpdate::Changed(video) => {
                    if is_final(&video) {
                        self.phase = Phase::Done;
                    }
                    return Some(status_event(&video, &self.urls));
                }
                StreamUpdate::Gone | StreamUpdate::Closing => {
                    self.phase = Phase::Done;
                }
            }
        }
    }
}

/// The event stream of one video.
pub struct EventStream(Events);

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl Responder for EventStream {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let body = futures_util::stream::unfold(self.0, |mut events| async move {
            let chunk = events.next_chunk().await?;
            Some((Ok::<_, std::convert::Infallible>(chunk), events))
        });
        let mut response = HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            // Proxies such as nginx would otherwise hold events back in a buffer.
            .insert_header(("x-accel-buffering", "no"))
            .streaming(body);
        // The compression middleware would hold events back too: leave the stream alone.
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            crate::middleware::compression::IDENTITY_MARKER,
        );
        response
    }
}

impl Apiv2Schema for EventStream {}

impl OperationModifier for EventStream {
    fn update_response(_: &mut DefaultOperationRaw) {}
}

/// Follow a video's progress
///
/// Server-Sent Events (`text/event-stream`): a `status` event with the current
/// `VideoResponse` at once, then one at each change of `status` or `progress`, whichever
/// instance renders; the stream ends after `completed` or `failed`. Owner or admin; 429
/// when too many streams are open. In a browser: `new EventSource(url)` cannot send a
/// bearer token, so use a polyfill that can, or `fetch` with a reader.
#[api_v2_operation]
pub async fn events(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    watch: web::Data<VideoWatch>,
    path: ValidPath<VideoPath>,
) -> Result<EventStream, ApiError> {
    let id = super::video_id(path.video_id)?;
    let video = videos.get(current.actor(), id).await?;
    let urls = super::media_urls(&http, &videos, &current, std::slice::from_ref(&video)).await?;
    let stream = watch.subscribe(current.0.id, video)?;
    Ok(EventStream(Events {
        stream,
        urls,
        phase: Phase::Start,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use actix_web::test::TestRequest;
    use vidgen_application::videos::events::StreamLimits;
    use vidgen_application::videos::ports::MockVideoRepository;
    use vidgen_application::videos::tests_support;
    use vidgen_domain::users::UserId;
    use vidgen_domain::videos::VideoSource;

    use super::*;

    /// A generation just queued (video 7 of user 1).
    fn pending() -> Video {
        Video {
            source: VideoSource::Generated,
            status: VideoStatus::Pending,
            progress: 0,
            duration: None,
            width: None,
            height: None,
            file_size: None,
            content_type: None,
            codec: None,
            media_key: None,
            completed_at: None,
            ..tests_support::video(7, None)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_current_state_comes_first_then_a_keep_alive_every_fifteen_seconds() {
        let watch = VideoWatch::new(
            Arc::new(MockVideoRepository::new()),
            StreamLimits {
                per_user: 1,
                total: 1,
            },
        );
        let request = TestRequest::default().to_http_request();
        let mut events = Events {
            stream: watch
                .subscribe(UserId::new(1).expect("id"), pending())
                .expect("stream"),
            urls: MediaUrls::new(&request, None, HashMap::new()),
            phase: Phase::Start,
        };
        let first = events.next_chunk().await.expect("the current state");
        let first = std::str::from_utf8(&first).expect("UTF-8");
        assert!(first.starts_with("id: "), "{first}");
        assert!(first.contains("\nevent: status\ndata: {"), "{first}");
        assert!(first.ends_with("}\n\n"), "{first}");
        let started = tokio::time::Instant::now();
        let idle = events.next_chunk().await.expect("a keep-alive");
        assert_eq!(&idle[..], b": keep-alive\n\n");
        assert_eq!(started.elapsed(), KEEP_ALIVE);
        // Shutdown ends the stream.
        watch.close();
        assert_eq!(events.next_chunk().await, None);
    }
}
