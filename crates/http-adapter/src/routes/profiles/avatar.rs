//! `PUT /api/v1/users/{user_id}/avatar`: a `multipart/form-data` body with one part,
//! `file`. The part is read into memory up to `MAX_AVATAR_BYTES` and cut off with 413 as
//! soon as it passes (or at once, when `Content-Length` already says so); the picture's
//! type is decided from its bytes by the use case (415 for anything else).

use std::collections::BTreeMap;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use paperclip::actix::{OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use paperclip::v2::schema::Apiv2Schema;
use serde_json::{Value, json};
use vidgen_application::profiles::ProfileService;
use vidgen_application::profiles::avatar::SetAvatarError;
use vidgen_domain::users::profile::Avatar;

use super::{AvatarAnswer, user_id};
use crate::auth::CurrentUser;
use crate::error::{ApiError, FieldError};
use crate::media_links::MediaUrls;
use crate::multipart::{self, Form, FormShape};
use crate::routes::users::dto::{UserPath, UserResponse};
use crate::validation::ValidPath;

/// Room for the multipart framing around the file.
const FORM_OVERHEAD: u64 = 16 * 1024;

/// The raw `multipart/form-data` body of an avatar upload (415 for any other media type;
/// 413 when `Content-Length` already says it is too large).
pub struct AvatarForm {
    form: Form,
    limit: u64,
}

impl std::fmt::Debug for AvatarForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvatarForm")
            .field("form", &self.form)
            .field("limit", &self.limit)
            .finish()
    }
}

fn too_large(limit: u64) -> ApiError {
    SetAvatarError::TooLarge { limit }.into()
}

impl FromRequest for AvatarForm {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<ProfileService>>()
            .map_or(0, |profiles| profiles.max_avatar_bytes());
        ready(
            multipart::open(
                req,
                payload,
                FormShape {
                    not_a_form: "Avatars are sent as multipart/form-data with a `file` part",
                    expected: &["file"],
                    limit,
                    overhead: FORM_OVERHEAD,
                    too_large,
                },
            )
            .map(|form| Self { form, limit }),
        )
    }
}

impl Apiv2Schema for AvatarForm {}

impl OperationModifier for AvatarForm {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

/// Reads the form's one part, `file` (at most `limit` bytes); any other part, or a
/// second file, ends the reading with one 422.
async fn read_file(form: AvatarForm) -> Result<Vec<u8>, ApiError> {
    let AvatarForm { mut form, limit } = form;
    let limit_bytes = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut file = None;
    while let Some((_, mut field)) = form.next_part().await? {
        file = Some(
            form.read_all(&mut field, limit_bytes, |_| too_large(limit))
                .await?,
        );
    }
    file.ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new("file", "field required", "missing")])
    })
}

/// Set a user's avatar
///
/// A `multipart/form-data` body with one part, `file`: a PNG, JPEG or WebP picture,
/// recognised by its bytes (never by its name or declared type), at most
/// `MAX_AVATAR_BYTES`; any other part, or a second file, is one 422 at once. A larger
/// file is cut off with 413 as soon as it passes the limit;
/// anything but a readable PNG, JPEG or WebP is 415. A picture whose header declares
/// more pixels than may be decoded (a decompression bomb) is 413 too, refused from its
/// header before anything is allocated for it. The picture is decoded, scaled down to fit 512x512 pixels and re-encoded in
/// its own format, which drops EXIF and every other metadata (a camera's GPS position
/// included). The previous avatar's file is removed. Answers the user with the new
/// `avatar_url`. Yourself or, for admins, anyone.
#[api_v2_operation]
pub async fn set(
    current: CurrentUser,
    profiles: web::Data<ProfileService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    form: AvatarForm,
) -> Result<AvatarAnswer, ApiError> {
    let id = user_id(&path)?;
    let bytes = read_file(form).await?;
    let user = profiles.set_avatar(current.actor(), id, bytes).await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// The form's schema in the OpenAPI document.
pub fn form_schema() -> Value {
    json!({
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": format!(
                    "The picture: PNG, JPEG or WebP, decided from its bytes; at most `MAX_AVATAR_BYTES` (default 2 MiB). Stored scaled to fit {side}x{side} pixels, without metadata; a header declaring a side longer than {max} pixels or more than {total} pixels in all is refused with 413 before anything is decoded.",
                    side = Avatar::MAX_SIDE,
                    max = Avatar::MAX_SOURCE_SIDE,
                    total = Avatar::MAX_SOURCE_PIXELS,
                ),
            },
        },
        "x-encoding": {"file": {"contentType": "image/png, image/jpeg, image/webp"}},
    })
}
