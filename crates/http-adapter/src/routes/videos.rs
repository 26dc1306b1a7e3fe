//! `/api/v1/videos` and `/api/v1/users/{user_id}/videos`: generated videos, their
//! files, and retries. Handlers parse, call one use case and map the result.

pub mod dto;

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody};
use paperclip::actix::{NoContent, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Response};
use paperclip::v2::schema::Apiv2Schema;
use vidgen_application::idempotency::{Created, IdempotencyKey, Keyed, StoredResponse};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::files::VideoFile;
use vidgen_application::videos::ports::VideoQuery;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{Video, VideoId};

use self::dto::{
    UserVideoPath, VideoCreate, VideoListQuery, VideoPath, VideoResponse, VideoUpdate,
};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::listing;
use crate::openapi::OperationDoc;
use crate::responses::{Accepted, ListJson};
use crate::validation::ValidJson;

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
        sort_by: raw.sort_by.map(Into::into).unwrap_or_default(),
        sort_order: raw.sort_order.map(Into::into).unwrap_or_default(),
    })
}

/// A stored file streamed with `Range`, `ETag` and `Last-Modified` support.
#[derive(Debug)]
pub struct FileResponse {
    file: VideoFile,
}

impl Responder for FileResponse {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let mime = self
            .file
            .content_type
            .parse()
            .unwrap_or(actix_web::mime::APPLICATION_OCTET_STREAM);
        match actix_files::NamedFile::open(&self.file.path) {
            Ok(file) => file
                .set_content_type(mime)
                .disable_content_disposition()
                .into_response(request),
            Err(error) => ApiError::internal(error).error_response_owned(),
        }
    }
}

impl Apiv2Schema for FileResponse {}

impl OperationModifier for FileResponse {
    fn update_response(op: &mut DefaultOperationRaw) {
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("The file.".into()),
                schema: Some(DefaultSchemaRaw {
                    data_type: Some(paperclip::v2::models::DataType::File),
                    ..DefaultSchemaRaw::default()
                }),
                headers: BTreeMap::new(),
            }),
        );
    }
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
                "must be 1 to 255 characters of letters, digits, `_`, `:`, `.` and `-`",
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
/// `Idempotency-Key` header (1 to 255 characters of `[A-Za-z0-9_:.-]`), a retry within 24
/// hours of the same request replays the first answer without creating another video; the
/// same key with a different request is 422, and a retry while the first is running is 409.
#[api_v2_operation(tags(Videos), operation_id = "create_video")]
async fn create(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    body: ValidJson<VideoCreate>,
) -> Result<CreateAnswer, ApiError> {
    let request = body.into_inner().try_into_domain()?;
    let keyed = idempotency_key(&http)?.map(|key| Keyed {
        key,
        route: "POST /api/v1/videos",
        respond: Box::new(|video: &Video| StoredResponse {
            status: 202,
            body: serde_json::to_string(&VideoResponse::from(video.clone())).unwrap_or_default(),
            location: Some(format!("/api/v1/videos/{}", video.id)),
        }),
    });
    match videos.create(&current.0, request, keyed).await? {
        Created::New(video) => Ok(CreateAnswer::New(Box::new(Accepted {
            location: format!("/api/v1/videos/{}", video.id),
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
#[api_v2_operation(tags(Videos), operation_id = "list_videos")]
async fn list(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    params: web::Query<VideoListQuery>,
) -> Result<ListJson<VideoResponse>, ApiError> {
    let paged = videos
        .list(current.actor(), query(params.into_inner())?)
        .await?;
    Ok(ListJson::new(paged, VideoResponse::from))
}

/// Get a video
///
/// Owner or admin; others get 404.
#[api_v2_operation(tags(Videos), operation_id = "get_video")]
async fn get(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let video = videos
        .get(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(web::Json(video.into()))
}

/// Update a video
///
/// Changes `title` and/or `description` (an empty description clears it).
#[api_v2_operation(tags(Videos), operation_id = "update_video")]
async fn update(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
    body: ValidJson<VideoUpdate>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let changes = body.into_inner().try_into_domain()?;
    let video = videos
        .update(current.actor(), video_id(path.video_id)?, changes)
        .await?;
    Ok(web::Json(video.into()))
}

/// Delete a video
///
/// Cancels its pending or running render and removes its files.
#[api_v2_operation(tags(Videos), operation_id = "delete_video")]
async fn delete(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
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
#[api_v2_operation(tags(Videos), operation_id = "get_video_content")]
async fn content(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
) -> Result<FileResponse, ApiError> {
    let file = videos
        .content(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(FileResponse { file })
}

/// Get a video's thumbnail
///
/// A PNG picture from the first seconds, once the video is completed.
#[api_v2_operation(tags(Videos), operation_id = "get_video_thumbnail")]
async fn thumbnail(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
) -> Result<FileResponse, ApiError> {
    let file = videos
        .thumbnail(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(FileResponse { file })
}

/// Retry a failed video
///
/// Queues a failed video's render again (202); 409 for a video that did not fail.
#[api_v2_operation(tags(Videos), operation_id = "retry_video")]
async fn retry(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<VideoPath>,
) -> Result<Accepted<VideoResponse>, ApiError> {
    let video = videos
        .retry(current.actor(), video_id(path.video_id)?)
        .await?;
    Ok(Accepted {
        location: format!("/api/v1/videos/{}", video.id),
        body: video.into(),
    })
}

/// List a user's videos
///
/// Yourself, or anyone for admins; others get 404.
#[api_v2_operation(tags(Videos), operation_id = "list_user_videos")]
async fn list_of_user(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<crate::routes::users::dto::UserPath>,
    params: web::Query<VideoListQuery>,
) -> Result<ListJson<VideoResponse>, ApiError> {
    let owner = user_id(path.user_id)?;
    let paged = videos
        .list_of(current.actor(), owner, query(params.into_inner())?)
        .await?;
    Ok(ListJson::new(paged, VideoResponse::from))
}

/// Get a user's video
///
/// Yourself, or anyone for admins; others get 404.
#[api_v2_operation(tags(Videos), operation_id = "get_user_video")]
async fn get_of_user(
    current: CurrentUser,
    videos: web::Data<VideoService>,
    path: web::Path<UserVideoPath>,
) -> Result<web::Json<VideoResponse>, ApiError> {
    let video = videos
        .get_of_user(
            current.actor(),
            user_id(path.user_id)?,
            video_id(path.video_id)?,
        )
        .await?;
    Ok(web::Json(video.into()))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/api/v1/videos")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        super::resource("/api/v1/videos/{video_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(super::resource("/api/v1/videos/{video_id}/content").route(web::get().to(content)))
    .service(super::resource("/api/v1/videos/{video_id}/thumbnail").route(web::get().to(thumbnail)))
    .service(super::resource("/api/v1/videos/{video_id}/retry").route(web::post().to(retry)))
    .service(super::resource("/api/v1/users/{user_id}/videos").route(web::get().to(list_of_user)))
    .service(
        super::resource("/api/v1/users/{user_id}/videos/{video_id}")
            .route(web::get().to(get_of_user)),
    );
}

/// Error statuses of these operations beyond the ones implied by their shape.
pub const OPERATIONS: &[OperationDoc] = &[
    OperationDoc::secured("create_video", &[403, 409]).with_idempotency_key(),
    OperationDoc::secured("list_videos", &[]),
    OperationDoc::secured("get_video", &[404]),
    OperationDoc::secured("update_video", &[404]),
    OperationDoc::secured("delete_video", &[404]),
    OperationDoc::secured("get_video_content", &[404, 409, 416]).with_binary("video/mp4"),
    OperationDoc::secured("get_video_thumbnail", &[404, 409]).with_binary("image/png"),
    OperationDoc::secured("retry_video", &[404, 409]),
    OperationDoc::secured("list_user_videos", &[404]),
    OperationDoc::secured("get_user_video", &[404]),
];
