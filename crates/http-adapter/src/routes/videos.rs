//! `/api/v1/videos` and `/api/v1/users/{user_id}/videos`: generated videos, their
//! files, and retries. Handlers parse, call one use case and map the result.

pub mod dto;
pub mod events;
pub mod upload;
mod written;

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use paperclip::actix::{NoContent, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use vidgen_application::idempotency::{Created, IdempotencyKey, Keyed, StoredResponse};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::create::CreateVideoError;
use vidgen_application::videos::delete::DeleteVideoError;
use vidgen_application::videos::files::{VideoFileError, VideoFileKind};
use vidgen_application::videos::ports::VideoQuery;
use vidgen_application::videos::queries::{GetVideoError, ListVideosError};
use vidgen_application::videos::retry::RetryVideoError;
use vidgen_application::videos::update::UpdateVideoError;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Video, VideoId};

use self::dto::{
    UserVideoPath, VideoCreate, VideoListQuery, VideoPath, VideoResponse, VideoUpdate,
};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::listing::{self, SortBy};
use crate::media_links::{MediaCaller, MediaUrls};
use crate::registry::{Registry, RouteEntry};
use crate::responses::{Accepted, FileResponse, ListJson};
use crate::validation::{JsonBody, ValidJson, ValidPath, ValidQuery};
use vidgen_application::videos::upload::{UploadFileError, UploadVideoError};

/// The collection.
pub const VIDEOS: &str = "/api/v1/videos";
/// The route an `Idempotency-Key` of a create is scoped to.
pub const CREATE_ROUTE: &str = "POST /api/v1/videos";
/// Uploads.
pub const VIDEO_UPLOAD: &str = "/api/v1/videos/upload";
/// One video.
pub const VIDEO: &str = "/api/v1/videos/{video_id}";
/// A video's file.
pub const VIDEO_CONTENT: &str = "/api/v1/videos/{video_id}/content";
/// A video's thumbnail.
pub const VIDEO_THUMBNAIL: &str = "/api/v1/videos/{video_id}/thumbnail";
/// A video's progress stream.
pub const VIDEO_EVENTS: &str = "/api/v1/videos/{video_id}/events";

/// `template` with its `{video_id}` filled in (a list builds two per row: no pattern
/// search, one allocation).
fn with_video_id(template: &str, id: VideoId) -> String {
    use std::fmt::Write;
    let Some((head, tail)) = template
        .split_once('{')
        .and_then(|(head, rest)| Some((head, rest.strip_prefix("video_id}")?)))
    else {
        return template.to_owned();
    };
    let mut path = String::with_capacity(template.len() + 10);
    path.push_str(head);
    let _ = write!(path, "{id}");
    path.push_str(tail);
    path
}

/// Where a video is served (the `Location` of a create or retry).
pub fn video_path(id: VideoId) -> String {
    with_video_id(VIDEO, id)
}

/// Where a video's file is served.
pub fn video_content_path(id: VideoId) -> String {
    with_video_id(VIDEO_CONTENT, id)
}

/// Where a video's thumbnail is served.
pub fn video_thumbnail_path(id: VideoId) -> String {
    with_video_id(VIDEO_THUMBNAIL, id)
}

/// Generated videos, their files and retries, also under their owner.
pub fn registry() -> Registry {
    use RouteEntry as R;
    Registry::new(
        "Videos",
        "Videos generated from prompts by durable background jobs, their files and retries.",
    )
    .route(
        R::secured(Method::POST, VIDEOS, "create_video", create)
            .maps::<CreateVideoError>()
            .with_idempotency_key()
            .with_callback(crate::webhooks::SETTLED_CALLBACK),
    )
    .route(
        R::secured(Method::POST, VIDEO_UPLOAD, "upload_video", upload::upload)
            .maps::<UploadVideoError>()
            .maps::<UploadFileError>()
            .with_idempotency_key()
            .with_multipart(upload::form_schema)
            .with_callback(crate::webhooks::SETTLED_CALLBACK),
    )
    .route(R::secured(Method::GET, VIDEOS, "list_videos", list).maps::<ListVideosError>())
    .route(R::secured(Method::GET, VIDEO, "get_video", get).maps::<GetVideoError>())
    .route(R::secured(Method::PATCH, VIDEO, "update_video", update).maps::<UpdateVideoError>())
    .route(R::secured(Method::DELETE, VIDEO, "delete_video", delete).maps::<DeleteVideoError>())
    .route(
        R::secured(Method::GET, VIDEO_CONTENT, "get_video_content", content)
            .maps::<VideoFileError>()
            .with_binary("video/mp4")
            .with_signed_link(),
    )
    .route(
        R::secured(
            Method::GET,
            VIDEO_THUMBNAIL,
            "get_video_thumbnail",
            thumbnail,
        )
        .maps::<VideoFileError>()
        .with_binary("image/png")
        .with_signed_link(),
    )
    .route(
        R::secured(
            Method::GET,
            VIDEO_EVENTS,
            "stream_video_events",
            events::events,
        )
        .maps::<GetVideoError>()
        .maps::<vidgen_application::videos::events::WatchVideoError>()
        .with_text("text/event-stream", events::DESCRIPTION),
    )
    .route(
        R::secured(
            Method::POST,
            "/api/v1/videos/{video_id}/retry",
            "retry_video",
            retry,
        )
        .maps::<RetryVideoError>(),
    )
    .route(
        R::secured(
            Method::GET,
            "/api/v1/users/{user_id}/videos",
            "list_user_videos",
            list_of_user,
        )
        .maps::<ListVideosError>(),
    )
    .route(
        R::secured(
            Method::GET,
            "/api/v1/users/{user_id}/videos/{video_id}",
            "get_user_video",
            get_of_user,
        )
        .maps::<GetVideoError>(),
    )
    .fields(dto::FIELD_DOCS)
    .params(listing::PARAM_DOCS)
    .params(dto::PARAM_DOCS)
}

fn video_id(raw: i64) -> Result<VideoId, ApiError> {
    VideoId::new(raw)
        .ok_or_else(|| ApiError::invalid_field("video_id", "must be a positive integer", "range"))
}

fn user_id(raw: i64) -> Result<UserId, ApiError> {
    UserId::new(raw)
        .ok_or_else(|| ApiError::invalid_field("user_id", "must be a positive integer", "range"))
}

fn query(raw: VideoListQuery) -> Result<VideoQuery, ApiError> {
    Ok(VideoQuery {
        page: listing::page(raw.skip, raw.limit)?,
        owner_id: raw.owner_id.map(user_id).transpose()?,
        status: raw.status.map(Into::into),
        source: raw.source.map(Into::into),
        search: listing::search(raw.search)?,
        sort_by: raw.sort_by.map(SortBy::get).unwrap_or_default(),
        sort_order: raw.sort_order.map(Into::into).unwrap_or_default(),
    })
}

/// The `Idempotency-Key` header, if any.
fn idempotency_key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "Idempotency-Key",
                format!(
                    "must be 1 to {} characters of letters, digits, `_`, `:`, `.` and `-`",
                    IdempotencyKey::MAX_LEN
                ),
                "pattern",
            )
        })
}

/// The answer to a create, or to a retry of it.
#[derive(Debug)]
pub enum CreateAnswer {
    New(Box<Accepted<VideoResponse>>),
    Replay(StoredResponse),
}

impl Responder for CreateAnswer {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        match self {
            Self::New(accepted) => (*accepted).respond_to(request),
            Self::Replay(stored) => {
                let status = actix_web::http::StatusCode::from_u16(stored.status)
                    .unwrap_or(actix_web::http::StatusCode::ACCEPTED);
                let mut response = HttpResponse::build(status);
                response.content_type("application/json");
                if let Some(path) = stored.location {
                    response.insert_header((
                        actix_web::http::header::LOCATION,
                        crate::responses::location(request, &path),
                    ));
                }
                response.insert_header(("idempotent-replayed", "true"));
                response.body(stored.body)
            }
        }
    }
}

impl Apiv2Schema for CreateAnswer {}

impl OperationModifier for CreateAnswer {
    fn update_response(op: &mut DefaultOperationRaw) {
        <Accepted<VideoResponse> as OperationModifier>::update_response(op);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <Accepted<VideoResponse> as OperationModifier>::update_definitions(map);
    }
}

/// Generate a video
///
/// Queues a render of the prompt and answers at once with the pending video (202) and its
/// `Location`; poll it until `status` is `completed` (or `failed`, with `error`). With an
/// `Idempotency-Key` header, a retry of the same request while the key is remembered
/// replays the first answer without creating another video; the same key with a different
/// request is 422, and a retry while the first is running is 409.
#[api_v2_operation]
async fn create(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    body: JsonBody<VideoCreate>,
) -> Result<CreateAnswer, ApiError> {
    let (body, shape_errors) = body.into_parts();
    let request = body.try_into_domain(&videos, shape_errors)?;
    let keyed = idempotency_key(&http)?.map(|key| Keyed {
        key,
        route: CREATE_ROUTE,
        respond: Box::new(|video: &Video| StoredResponse {
            status: 202,
            body: serde_json::to_string(&VideoResponse::from(video.clone())).unwrap_or_default(),
            location: Some(video_path(video.id)),
        }),
    });
    match videos.create(&current.0, request, keyed).await? {
        Created::New(video) => Ok(CreateAnswer::New(Box::new(Accepted {
            location: video_path(video.id),
            body: video.into(),
        }))),
        Created::Replay(stored) => Ok(CreateAnswer::Replay(stored)),
    }
}

/// List videos
///
/// Your videos; admins see everyone's and may filter by `owner_id`. Filters: `status`,
/// `source`, `search` (title and description). Headers: `X-Total-Count`, `X-Page-Count`,
/// `Link`.
#[api_v2_operation]
async fn list(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    params: ValidQuery<VideoListQuery>,
) -> Result<ListJson<VideoResponse>, ApiError> {
    let paged = videos
        .list(current.actor(), query(params.into_inner())?)
        .await?;
    let urls = media_urls(&http, &videos, &current, &paged.items).await?;
    let json = written::page_json(paged.items, &urls).map_err(ApiError::internal)?;
    Ok(ListJson::written(json, paged.total, paged.page))
}

/// The media links of `shown` as `current` sees them: signed with their owners' token
/// versions.
async fn media_urls(
    http: &HttpRequest,
    videos: &VideoService,
    current: &CurrentUser,
    shown: &[Video],
) -> Result<MediaUrls, ApiError> {
    let versions = videos
        .owner_token_versions(&current.0, shown)
        .await
        .map_err(ApiError::internal)?;
    Ok(MediaUrls::new(http, videos.media_links(), versions))
}

/// One video as `current` sees it, with its media links.
async fn linked(
    http: &HttpRequest,
    videos: &VideoService,
    current: &CurrentUser,
    video: Video,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let urls = media_urls(http, videos, current, std::slice::from_ref(&video)).await?;
    Ok(web::Json(VideoResponse::linked(video, &urls)))
}

/// Get a video
///
/// Owner or admin; others get 404.
#[api_v2_operation]
async fn get(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let video = videos
        .get(current.actor(), video_id(path.video_id)?)
        .await?;
    linked(&http, &videos, &current, video).await
}

/// Update a video
///
/// Changes `title` and/or `description` (an empty description clears it).
#[api_v2_operation]
async fn update(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
    body: ValidJson<VideoUpdate>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let changes = body.into_inner().try_into_domain()?;
    let video = videos
        .update(current.actor(), video_id(path.video_id)?, changes)
        .await?;
    linked(&http, &videos, &current, video).await
}

/// Delete a video
///
/// Cancels its pending or running render and removes its files.
#[api_v2_operation]
async fn delete(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
) -> Result<NoContent, ApiError> {
    videos
        .delete(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(NoContent)
}

/// Download a video
///
/// The MP4 file (`video/mp4`) with `Accept-Ranges`; a `Range` request gets 206 with
/// `Content-Range` (416 when unsatisfiable); `ETag` and `Last-Modified` allow
/// revalidation. 409 `VIDEO_NOT_READY` before the video is completed.
#[api_v2_operation]
async fn content(
    http: HttpRequest,
    caller: MediaCaller,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
) -> Result<FileResponse, ApiError> {
    let id = video_id(path.video_id)?;
    let file = match caller {
        MediaCaller::Bearer(current) => videos.content(current.actor(), id).await?,
        MediaCaller::Link(link) => {
            videos
                .file_by_link(id, VideoFileKind::Content, http.path(), &link)
                .await?
        }
    };
    Ok(FileResponse::new(file))
}

/// Get a video's thumbnail
///
/// A PNG picture from the first seconds, once the video is completed.
#[api_v2_operation]
async fn thumbnail(
    http: HttpRequest,
    caller: MediaCaller,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
) -> Result<FileResponse, ApiError> {
    let id = video_id(path.video_id)?;
    let file = match caller {
        MediaCaller::Bearer(current) => videos.thumbnail(current.actor(), id).await?,
        MediaCaller::Link(link) => {
            videos
                .file_by_link(id, VideoFileKind::Thumbnail, http.path(), &link)
                .await?
        }
    };
    Ok(FileResponse::new(file))
}

/// Retry a failed video
///
/// Queues a failed video's render again (202); 409 for a video that did not fail.
#[api_v2_operation]
async fn retry(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<VideoPath>,
) -> Result<Accepted<VideoResponse>, ApiError> {
    let video = videos
        .retry(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(Accepted {
        location: video_path(video.id),
        body: video.into(),
    })
}

/// List a user's videos
///
/// Yourself, or anyone for admins; others get 404.
#[api_v2_operation]
async fn list_of_user(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<crate::routes::users::dto::UserPath>,
    params: ValidQuery<VideoListQuery>,
) -> Result<ListJson<VideoResponse>, ApiError> {
    let owner = user_id(path.user_id)?;
    let paged = videos
        .list_of(current.actor(), owner, query(params.into_inner())?)
        .await?;
    let urls = media_urls(&http, &videos, &current, &paged.items).await?;
    let json = written::page_json(paged.items, &urls).map_err(ApiError::internal)?;
    Ok(ListJson::written(json, paged.total, paged.page))
}

/// Get a user's video
///
/// Yourself, or anyone for admins; others get 404.
#[api_v2_operation]
async fn get_of_user(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: ValidPath<UserVideoPath>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let video = videos
        .get_of_user(
            current.actor(),
            user_id(path.user_id)?,
            video_id(path.video_id)?,
        )
        .await?;
    linked(&http, &videos, &current, video).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_in_the_video_id_of_their_route() {
        let id = VideoId::new(42).expect("id");
        assert_eq!(video_path(id), "/api/v1/videos/42");
        assert_eq!(video_content_path(id), "/api/v1/videos/42/content");
        assert_eq!(video_thumbnail_path(id), "/api/v1/videos/42/thumbnail");
        assert_eq!(with_video_id(VIDEO_EVENTS, id), "/api/v1/videos/42/events");
        assert_eq!(
            with_video_id(VIDEOS, id),
            VIDEOS,
            "no placeholder, no change"
        );
    }
}
