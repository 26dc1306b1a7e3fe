//! Wire types of the videos resource.

use chrono::{DateTime, Utc};
use garde::Validate;
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::create::CreateVideo;
use vidgen_application::videos::ports::VideoSortField;
use vidgen_application::videos::update::UpdateVideo;
use vidgen_domain::videos::{
    Description, DurationSeconds, PROGRESS_MAX, Prompt, Resolution, Title, Video, VideoSource,
    VideoStatus,
};
use vidgen_domain::webhooks::WebhookUrl;

use super::{video_content_path, video_thumbnail_path};
use crate::error::{ApiError, FieldError};
use crate::listing::SortBy;
use crate::registry::{Constraint as C, FieldDoc, ParamDoc};
use crate::routes::users::dto::positive_id;
use crate::validation::{Validated, garde_errors, merge, rule};

fn valid_title(value: &str, _: &()) -> garde::Result {
    Title::parse(value)
        .map(|_| ())
        .map_err(|e| rule(e.code(), e))
}

fn valid_description(value: &str, _: &()) -> garde::Result {
    Description::parse(value)
        .map(|_| ())
        .map_err(|e| rule(e.code(), e))
}

fn valid_prompt(value: &str, _: &()) -> garde::Result {
    Prompt::parse(value)
        .map(|_| ())
        .map_err(|e| rule(e.code(), e))
}

fn valid_duration(value: &i64, _: &()) -> garde::Result {
    DurationSeconds::new(*value)
        .map(|_| ())
        .map_err(|e| rule("range", e))
}

/// Frame size of a generated video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
pub enum ResolutionDto {
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
}

impl From<ResolutionDto> for Resolution {
    fn from(value: ResolutionDto) -> Self {
        match value {
            ResolutionDto::P720 => Self::P720,
            ResolutionDto::P1080 => Self::P1080,
        }
    }
}

/// A video to generate from a prompt.
#[derive(Debug, Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct VideoCreate {
    /// The video's title.
    #[openapi(example = "\"Morning on the lake\"")]
    #[garde(custom(valid_title))]
    pub title: String,
    /// What the video shows.
    #[openapi(example = "\"A calm opening shot\"")]
    #[garde(inner(custom(valid_description)))]
    pub description: Option<String>,
    /// The text the video is generated from.
    #[openapi(example = "\"A quiet lake at dawn, mist rising over the water.\"")]
    #[garde(custom(valid_prompt))]
    pub prompt: String,
    /// Frame size.
    #[garde(skip)]
    pub resolution: Option<ResolutionDto>,
    /// Length in seconds.
    #[openapi(example = "5")]
    #[garde(inner(custom(valid_duration)))]
    pub duration_seconds: Option<i64>,
    /// Called back (Standard Webhooks, signed with `WEBHOOK_SECRET`) when the video
    /// completes or fails: `https` (plain `http` only with `ALLOW_INSECURE_WEBHOOKS`), no
    /// user name or password, not resolving to an internal address (checked at
    /// delivery). Refused with `webhooks_disabled` when the server has no signing key.
    #[openapi(example = "\"https://hooks.example.com/vidgen\"")]
    #[garde(skip)]
    pub webhook_url: Option<String>,
}

impl Validated for VideoCreate {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

/// The webhook URL of a request, checked by the service's policy; its problem joins the
/// request's other field problems.
pub fn webhook_url(
    videos: &VideoService,
    raw: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<WebhookUrl> {
    let raw = raw?;
    match videos.check_webhook_url(raw) {
        Ok(url) => Some(url),
        Err(violation) => {
            errors.push(violation.into());
            None
        }
    }
}

fn parsed<T, E>(result: Result<T, E>, field: &str) -> Result<T, FieldError> {
    result.map_err(|_| FieldError::new(field, "invalid value", "invalid"))
}

impl VideoCreate {
    /// The request, or one 422 with the shape errors, the field rules and the webhook
    /// policy's verdict together.
    pub fn try_into_domain(
        self,
        videos: &VideoService,
        shape_errors: Vec<FieldError>,
    ) -> Result<CreateVideo, ApiError> {
        let mut rule_errors = self.field_errors();
        let webhook_url = webhook_url(videos, self.webhook_url.as_deref(), &mut rule_errors);
        let errors = merge(shape_errors, rule_errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(CreateVideo {
            title: parsed(Title::parse(&self.title), "title")?,
            description: self
                .description
                .map(|d| parsed(Description::parse(&d), "description"))
                .transpose()?,
            prompt: parsed(Prompt::parse(&self.prompt), "prompt")?,
            resolution: self.resolution.map(Into::into).unwrap_or_default(),
            duration: self
                .duration_seconds
                .map(|d| parsed(DurationSeconds::new(d), "duration_seconds"))
                .transpose()?
                .unwrap_or_default(),
            webhook_url,
        })
    }
}

/// Changes to a video's title or description.
#[derive(Debug, Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct VideoUpdate {
    /// New title.
    #[openapi(example = "\"Evening on the lake\"")]
    #[garde(inner(custom(valid_title)))]
    pub title: Option<String>,
    /// New description (an empty string clears it).
    #[garde(inner(custom(valid_description)))]
    pub description: Option<String>,
}

impl Validated for VideoUpdate {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

impl VideoUpdate {
    /// The changes, with a blank description meaning "clear it".
    pub fn try_into_domain(self) -> Result<UpdateVideo, FieldError> {
        Ok(UpdateVideo {
            title: self
                .title
                .map(|t| parsed(Title::parse(&t), "title"))
                .transpose()?,
            description: self
                .description
                .map(|d| {
                    if d.trim().is_empty() {
                        Ok(None)
                    } else {
                        parsed(Description::parse(&d), "description").map(Some)
                    }
                })
                .transpose()?,
        })
    }
}

/// A video's status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum VideoStatusDto {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl From<VideoStatus> for VideoStatusDto {
    fn from(value: VideoStatus) -> Self {
        match value {
            VideoStatus::Pending => Self::Pending,
            VideoStatus::Processing => Self::Processing,
            VideoStatus::Completed => Self::Completed,
            VideoStatus::Failed => Self::Failed,
        }
    }
}

impl From<VideoStatusDto> for VideoStatus {
    fn from(value: VideoStatusDto) -> Self {
        match value {
            VideoStatusDto::Pending => Self::Pending,
            VideoStatusDto::Processing => Self::Processing,
            VideoStatusDto::Completed => Self::Completed,
            VideoStatusDto::Failed => Self::Failed,
        }
    }
}

/// Where a video came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum VideoSourceDto {
    Generated,
    Upload,
}

impl From<VideoSource> for VideoSourceDto {
    fn from(value: VideoSource) -> Self {
        match value {
            VideoSource::Generated => Self::Generated,
            VideoSource::Upload => Self::Upload,
        }
    }
}

impl From<VideoSourceDto> for VideoSource {
    fn from(value: VideoSourceDto) -> Self {
        match value {
            VideoSourceDto::Generated => Self::Generated,
            VideoSourceDto::Upload => Self::Upload,
        }
    }
}

/// A video.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct VideoResponse {
    #[openapi(example = "1")]
    pub id: i64,
    #[openapi(example = "1")]
    pub owner_id: i64,
    pub title: String,
    pub description: Option<String>,
    pub prompt: Option<String>,
    pub source: VideoSourceDto,
    pub status: VideoStatusDto,
    /// Percent of the render done.
    #[openapi(example = "40")]
    pub progress: i64,
    /// Seconds, once known.
    pub duration: Option<f64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub file_size: Option<i64>,
    pub content_type: Option<String>,
    /// The video codec (`h264`, `hevc`, `vp8`, `vp9`, `av1`, ...), once known.
    #[openapi(example = "\"h264\"")]
    pub codec: Option<String>,
    /// Where to download the video, once completed.
    pub content_url: Option<String>,
    /// Where to get the thumbnail, once completed.
    pub thumbnail_url: Option<String>,
    /// Why the video failed.
    pub error: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::option::serialize")]
    pub completed_at: Option<DateTime<Utc>>,
}

impl VideoResponse {
    /// The video with its media links as `urls` makes them (absolute, and signed where
    /// the owner's token version is known).
    pub fn linked(video: Video, urls: &crate::media_links::MediaUrls) -> Self {
        let owner = video.owner_id;
        Self::with_links(video, |path| urls.url(&path, owner))
    }

    /// The video, with `link` making its media links from their paths (only for a
    /// completed video, and the thumbnail's only when it has one).
    fn with_links(video: Video, link: impl Fn(String) -> String) -> Self {
        let completed = video.status == VideoStatus::Completed;
        let content_url = completed.then(|| link(video_content_path(video.id)));
        let thumbnail_url = (completed && video.thumbnail_key.is_some())
            .then(|| link(video_thumbnail_path(video.id)));
        Self {
            id: video.id.get(),
            owner_id: video.owner_id.get(),
            title: video.title.into(),
            description: video.description.map(String::from),
            prompt: video.prompt.map(String::from),
            source: video.source.into(),
            status: video.status.into(),
            progress: i64::from(video.progress),
            duration: video.duration,
            width: video.width.map(i64::from),
            height: video.height.map(i64::from),
            file_size: video.file_size.and_then(|s| i64::try_from(s).ok()),
            content_type: video.content_type,
            codec: video.codec,
            content_url,
            thumbnail_url,
            error: video.error,
            created_at: video.created_at,
            updated_at: video.updated_at,
            completed_at: video.completed_at,
        }
    }
}

/// The video with its media links as paths (which need the bearer token): what a
/// webhook carries, and a video that is not completed (it has no links).
impl From<Video> for VideoResponse {
    fn from(video: Video) -> Self {
        Self::with_links(video, |path| path)
    }
}

/// Filters, sorting and paging of video lists.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct VideoListQuery {
    /// Rows to skip.
    pub skip: Option<i64>,
    /// Rows to return.
    pub limit: Option<i64>,
    /// Only videos with this status.
    pub status: Option<VideoStatusDto>,
    /// Only generated or only uploaded videos.
    pub source: Option<VideoSourceDto>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    /// Only this owner's videos (admins; others always see only their own).
    pub owner_id: Option<i64>,
    /// Sort column (default `created_at`).
    pub sort_by: Option<SortBy<VideoSortField>>,
    /// `asc` or `desc` (default `desc`).
    pub sort_order: Option<crate::listing::SortOrderDto>,
}

impl Validated for VideoListQuery {
    fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = crate::listing::list_errors(self.skip, self.limit, self.search.as_deref());
        errors.extend(self.owner_id.and_then(|id| positive_id("owner_id", id)));
        errors
    }
}

/// A video id in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct VideoPath {
    /// The video's id (a positive integer).
    pub video_id: i64,
}

impl Validated for VideoPath {
    fn field_errors(&self) -> Vec<FieldError> {
        positive_id("video_id", self.video_id).into_iter().collect()
    }
}

/// A user's video in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UserVideoPath {
    /// The owner's id.
    pub user_id: i64,
    /// The video's id.
    pub video_id: i64,
}

impl Validated for UserVideoPath {
    fn field_errors(&self) -> Vec<FieldError> {
        positive_id("user_id", self.user_id)
            .into_iter()
            .chain(positive_id("video_id", self.video_id))
            .collect()
    }
}

const TITLE: &[C] = &[
    C::MinLength(Title::MIN_LEN as u64),
    C::MaxLength(Title::MAX_LEN as u64),
];
const DESCRIPTION: &[C] = &[C::MaxLength(Description::MAX_LEN as u64), C::Nullable];
const PROMPT: &[C] = &[
    C::MinLength(Prompt::MIN_LEN as u64),
    C::MaxLength(Prompt::MAX_LEN as u64),
];
const DURATION: &[C] = &[
    C::Minimum(DurationSeconds::MIN),
    C::Maximum(DurationSeconds::MAX),
    C::DefaultInt(DurationSeconds::DEFAULT as i64),
    C::Nullable,
];
const RESOLUTION: &[C] = &[C::DefaultText(Resolution::DEFAULT.as_str()), C::Nullable];
const PROGRESS: &[C] = &[C::Minimum(0), C::Maximum(PROGRESS_MAX as i64)];
const WEBHOOK_URL: &[C] = &[
    C::MaxLength(WebhookUrl::MAX_LEN as u64),
    C::Format("uri"),
    C::Nullable,
];

/// Constraints of the video wire types.
pub const FIELD_DOCS: &[FieldDoc] = &[
    FieldDoc {
        schema: "VideoCreate",
        field: "title",
        constraints: TITLE,
    },
    FieldDoc {
        schema: "VideoCreate",
        field: "description",
        constraints: DESCRIPTION,
    },
    FieldDoc {
        schema: "VideoCreate",
        field: "prompt",
        constraints: PROMPT,
    },
    FieldDoc {
        schema: "VideoCreate",
        field: "duration_seconds",
        constraints: DURATION,
    },
    FieldDoc {
        schema: "VideoCreate",
        field: "resolution",
        constraints: RESOLUTION,
    },
    FieldDoc {
        schema: "VideoCreate",
        field: "webhook_url",
        constraints: WEBHOOK_URL,
    },
    FieldDoc {
        schema: "VideoUpdate",
        field: "title",
        constraints: TITLE,
    },
    FieldDoc {
        schema: "VideoUpdate",
        field: "title",
        constraints: &[C::Nullable],
    },
    FieldDoc {
        schema: "VideoUpdate",
        field: "description",
        constraints: DESCRIPTION,
    },
    FieldDoc {
        schema: "VideoResponse",
        field: "progress",
        constraints: PROGRESS,
    },
];

/// Constraints of the videos' path parameters (ids are positive 64-bit integers).
pub const PARAM_DOCS: &[ParamDoc] = &[
    ParamDoc {
        name: "video_id",
        constraints: crate::routes::users::dto::ID,
    },
    ParamDoc {
        name: "user_id",
        constraints: crate::routes::users::dto::ID,
    },
];
