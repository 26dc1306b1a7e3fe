//! `POST /api/v1/videos/upload`: a `multipart/form-data` body with the parts `file`,
//! `title` and optional `description` and `webhook_url`. The file streams into the
//! service's upload sink as it arrives; the request is cut off with 413 as soon as it
//! passes `MAX_UPLOAD_BYTES` and with 415 as soon as its first bytes are not a video.

use std::collections::BTreeMap;
use std::future::{Ready, ready};

use actix_multipart::Field;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use paperclip::actix::{OperationModifier, api_v2_operation};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde_json::{Value, json};
use vidgen_application::idempotency::{Created, Keyed, StoredResponse};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::upload::{StagedUpload, UploadFileError, UploadSink, UploadVideo};
use vidgen_domain::videos::{Description, Title, Video};
use vidgen_domain::webhooks::WebhookUrl;

use super::dto::{VideoResponse, webhook_url};
use super::{CreateAnswer, idempotency_key, video_path};
use crate::auth::CurrentUser;
use crate::error::{ApiError, FieldError};
use crate::multipart::{self, Form, FormShape};
use crate::responses::Accepted;

/// The idempotency scope of uploads.
pub const UPLOAD_ROUTE: &str = "POST /api/v1/videos/upload";

/// Largest text part (title, description, webhook URL) read into memory.
const MAX_TEXT_PART: usize = 64 * 1024;

/// Room for the multipart framing and the text parts beside the file.
const FORM_OVERHEAD: u64 = 256 * 1024;

/// The raw `multipart/form-data` body of an upload (415 for any other media type; 413
/// when `Content-Length` already says it is too large).
pub struct UploadForm(Form);

impl std::fmt::Debug for UploadForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UploadForm").field(&self.0).finish()
    }
}

/// The parts an upload form may have, each once.
const PARTS: &[&str] = &["file", "title", "description", "webhook_url"];

impl FromRequest for UploadForm {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<VideoService>>()
            .map_or(0, |videos| videos.max_upload_bytes());
        ready(
            multipart::open(
                req,
                payload,
                FormShape {
                    not_a_form: "Uploads are sent as multipart/form-data",
                    expected: PARTS,
                    limit,
                    overhead: FORM_OVERHEAD,
                    too_large,
                },
            )
            .map(Self),
        )
    }
}

impl Apiv2Schema for UploadForm {}

impl OperationModifier for UploadForm {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

fn too_large(limit: u64) -> ApiError {
    UploadFileError::TooLarge { limit }.into()
}

/// The parts of an upload form as they arrived.
#[derive(Default)]
struct Parts {
    file: Option<StagedUpload>,
    title: Option<String>,
    description: Option<String>,
    webhook_url: Option<String>,
    errors: Vec<FieldError>,
}

/// Streams the file part into a new sink (hashing it when `fingerprinted`: the request
/// has an `Idempotency-Key`, whose fingerprint includes the file).
async fn file(
    videos: &VideoService,
    form: &Form,
    field: &mut Field,
    fingerprinted: bool,
) -> Result<StagedUpload, ApiError> {
    let mut sink: UploadSink = videos.upload_sink(fingerprinted)?;
    while let Some(chunk) = form.chunk(field).await? {
        sink.write(&chunk).await?;
    }
    Ok(sink.finish().await?)
}

async fn read_parts(
    videos: &VideoService,
    mut form: Form,
    fingerprinted: bool,
) -> Result<Parts, ApiError> {
    let mut parts = Parts::default();
    while let Some((name, mut field)) = form.next_part().await? {
        let slot = match name {
            "file" => {
                parts.file = Some(file(videos, &form, &mut field, fingerprinted).await?);
                continue;
            }
            "title" => &mut parts.title,
            "description" => &mut parts.description,
            _ => &mut parts.webhook_url,
        };
        let bytes = form
            .read_all(&mut field, MAX_TEXT_PART, |max| {
                ApiError::PayloadTooLarge(format!("The form part {name} exceeds {max} bytes"))
            })
            .await?;
        match String::from_utf8(bytes) {
            Ok(value) => *slot = Some(value),
            Err(_) => parts
                .errors
                .push(FieldError::new(name, "must be UTF-8 text", "type")),
        }
    }
    Ok(parts)
}

/// Every problem of the form's fields at once, or the upload to store.
fn validate(videos: &VideoService, parts: Parts) -> Result<UploadVideo, ApiError> {
    let Parts {
        file,
        title,
        description,
        webhook_url: raw_url,
        mut errors,
    } = parts;
    let mut field_rule = |field: &str, result: Result<(), (String, String)>| {
        if let Err((code, message)) = result {
            errors.push(FieldError::new(field, message, code));
        }
    };
    let title = match title {
        Some(raw) => match Title::parse(&raw) {
            Ok(title) => Some(title),
            Err(e) => {
                field_rule("title", Err((e.code().to_owned(), e.to_string())));
                None
            }
        },
        None => {
            field_rule("title", Err(("missing".into(), "field required".into())));
            None
        }
    };
    // An empty description is no description, as in a browser form left blank.
    let description = match description.filter(|d| !d.is_empty()) {
        Some(raw) => match Description::parse(&raw) {
            Ok(description) => Some(description),
            Err(e) => {
                field_rule("description", Err((e.code().to_owned(), e.to_string())));
                None
            }
        },
        None => None,
    };
    if file.is_none() {
        field_rule("file", Err(("missing".into(), "field required".into())));
    }
    let mut url_errors = Vec::new();
    let url: Option<WebhookUrl> = webhook_url(
        videos,
        raw_url.as_deref().filter(|u| !u.is_empty()),
        &mut url_errors,
    );
    errors.extend(url_errors);
    errors.sort_by(|a, b| (a.code == "missing", &a.field).cmp(&(b.code == "missing", &b.field)));
    match (title, file) {
        (Some(title), Some(file)) if errors.is_empty() => Ok(UploadVideo {
            title,
            description,
            webhook_url: url,
            file,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Upload a video
///
/// A `multipart/form-data` body: `file` (an MP4, MOV or WebM video, recognised by its
/// bytes, never by its name or declared type; at most `MAX_UPLOAD_BYTES`), `title`, and
/// optional `description` and `webhook_url`, validated like `VideoCreate` with every
/// problem reported per field; a part the form does not take, or a second part of one
/// name, ends the reading at once with one 422 naming it. Every byte of the body counts
/// against `MAX_UPLOAD_BYTES` plus a small allowance for the other parts and the
/// framing, whether it is sent with `Content-Length` or chunked. The file is streamed to storage as it arrives; a larger
/// file is cut off with 413, anything but a video with 415, and nothing is kept. Answers
/// 202 with the pending video: a job then reads its real duration, frame size and codec,
/// makes a thumbnail (H.264), and completes it, or fails it with a readable `error` when
/// the file cannot be parsed. `Idempotency-Key` works as on `POST /api/v1/videos`.
#[api_v2_operation]
pub async fn upload(
    http: HttpRequest,
    current: CurrentUser,
    videos: web::Data<VideoService>,
    form: UploadForm,
) -> Result<CreateAnswer, ApiError> {
    let keyed = idempotency_key(&http)?.map(|key| Keyed {
        key,
        route: UPLOAD_ROUTE,
        respond: Box::new(|video: &Video| StoredResponse {
            status: 202,
            body: serde_json::to_string(&VideoResponse::from(video.clone())).unwrap_or_default(),
            location: Some(video_path(video.id)),
        }),
    });
    let parts = read_parts(&videos, form.0, keyed.is_some()).await?;
    let request = validate(&videos, parts)?;
    match videos.upload(&current.0, request, keyed).await? {
        Created::New(video) => Ok(CreateAnswer::New(Box::new(Accepted {
            location: video_path(video.id),
            body: video.into(),
        }))),
        Created::Replay(stored) => Ok(CreateAnswer::Replay(stored)),
    }
}

/// The form's schema in the OpenAPI document, bounds from the domain's constants.
pub fn form_schema() -> Value {
    json!({
        "type": "object",
        "required": ["file", "title"],
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The video: MP4/MOV (ISO base media) or WebM, decided from its bytes; at most `MAX_UPLOAD_BYTES` (default 100 MiB).",
            },
            "title": {
                "type": "string",
                "minLength": Title::MIN_LEN,
                "maxLength": Title::MAX_LEN,
                "description": "The video's title.",
                "example": "Morning on the lake",
            },
            "description": {
                "type": "string",
                "maxLength": Description::MAX_LEN,
                "description": "What the video shows (empty: none).",
            },
            "webhook_url": {
                "type": "string",
                "format": "uri",
                "maxLength": WebhookUrl::MAX_LEN,
                "description": "Called back when the video completes or fails, as for `VideoCreate`.",
            },
        },
        "x-encoding": {"file": {"contentType": "video/mp4, video/quicktime, video/webm"}},
    })
}
