//! `/api/v1/users/{user_id}/profile` and `/api/v1/users/{user_id}/avatar`: a user's
//! address and preferences, and their avatar picture. Handlers parse, call one use case
//! and map the result.

pub mod avatar;
pub mod dto;

use actix_web::HttpRequest;
use actix_web::http::Method;
use paperclip::actix::{NoContent, api_v2_operation, web};
use vidgen_application::profiles::ProfileService;
use vidgen_application::profiles::avatar::{DeleteAvatarError, GetAvatarError, SetAvatarError};
use vidgen_application::profiles::read::GetProfileError;
use vidgen_application::profiles::replace::ReplaceProfileError;
use vidgen_domain::users::UserId;

use self::dto::{ProfileReplace, UserProfile};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::media_links::{MediaCaller, MediaUrls};
use crate::registry::{Registry, RouteEntry};
use crate::responses::FileResponse;
use crate::routes::users::dto::{UserPath, UserResponse};
use crate::validation::{ValidJson, ValidPath};

/// A user's profile.
pub const PROFILE: &str = "/api/v1/users/{user_id}/profile";
/// A user's avatar picture.
pub const AVATAR: &str = "/api/v1/users/{user_id}/avatar";

/// The media types an avatar is served as.
pub const AVATAR_TYPES: &str = "image/png, image/jpeg, image/webp";

/// Profiles and avatars.
pub fn registry() -> Registry {
    use RouteEntry as R;
    Registry::new(
        "Profiles",
        "A user's postal address and preferences, and their avatar picture.",
    )
    .route(R::secured(Method::GET, PROFILE, "get_user_profile", get).maps::<GetProfileError>())
    .route(
        R::secured(Method::PUT, PROFILE, "replace_user_profile", replace)
            .maps::<ReplaceProfileError>(),
    )
    .route(
        R::secured(Method::PUT, AVATAR, "set_user_avatar", avatar::set)
            .maps::<SetAvatarError>()
            .with_multipart(avatar::form_schema),
    )
    .route(
        R::secured(Method::GET, AVATAR, "get_user_avatar", get_avatar)
            .maps::<GetAvatarError>()
            .with_binary(AVATAR_TYPES)
            .with_signed_link(),
    )
    .route(
        R::secured(Method::DELETE, AVATAR, "delete_user_avatar", delete_avatar)
            .maps::<DeleteAvatarError>(),
    )
    .components(dto::COMPONENTS)
    .fields(dto::FIELD_DOCS)
    .params(crate::routes::users::dto::PARAM_DOCS)
}

pub(crate) fn user_id(path: &UserPath) -> Result<UserId, ApiError> {
    UserId::new(path.user_id)
        .ok_or_else(|| ApiError::invalid_field("user_id", "must be a positive integer", "range"))
}

/// Get a user's profile
///
/// The user with their `address` (null when none) and `preferences` (`{}` when none).
/// Yourself, or anyone for admins and moderators; others are reported as not found.
#[api_v2_operation]
async fn get(
    current: CurrentUser,
    profiles: web::Data<ProfileService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
) -> Result<web::Json<UserProfile>, ApiError> {
    let profile = profiles.profile(current.actor(), user_id(&path)?).await?;
    Ok(web::Json(UserProfile::linked(profile, &urls)))
}

/// Replace a user's profile
///
/// Sets `address` and `preferences` together: what is left out is cleared. Each field
/// of the address is checked (the country is an ISO 3166-1 alpha-2 code) and every
/// problem is reported at once with its dotted path (`address.zip_code`); `preferences`
/// is a JSON object with a bounded number of keys and size and no control character in
/// any key or text (`control_characters`). Yourself or, for admins,
/// anyone; moderators may read but not change it (403).
#[api_v2_operation]
async fn replace(
    current: CurrentUser,
    profiles: web::Data<ProfileService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    body: ValidJson<ProfileReplace>,
) -> Result<web::Json<UserProfile>, ApiError> {
    let request = body.into_inner().try_into_domain()?;
    let profile = profiles
        .replace_profile(current.actor(), user_id(&path)?, request)
        .await?;
    Ok(web::Json(UserProfile::linked(profile, &urls)))
}

/// Get a user's avatar
///
/// The picture (PNG, JPEG or WebP, at most 512x512 pixels, without metadata) with its
/// content type, `ETag` and `Last-Modified` for revalidation (`Cache-Control: private,
/// no-cache`). Any authenticated caller, or anyone with the signed `avatar_url` (its
/// `expires` and `signature`, no token needed: an `<img src>` loads it); a forged,
/// altered or expired signature is 404, like a user without an avatar.
#[api_v2_operation]
async fn get_avatar(
    caller: MediaCaller,
    http: HttpRequest,
    profiles: web::Data<ProfileService>,
    path: ValidPath<UserPath>,
) -> Result<FileResponse, ApiError> {
    let id = user_id(&path)?;
    let file = match caller {
        MediaCaller::Bearer(_) => profiles.avatar(id).await?,
        MediaCaller::Link(link) => profiles.avatar_by_link(id, http.path(), &link).await?,
    };
    Ok(FileResponse::new(file))
}

/// Remove a user's avatar
///
/// Removes the picture and its file; `avatar_url` becomes null. A user without an
/// avatar answers 204 too. Yourself or, for admins, anyone.
#[api_v2_operation]
async fn delete_avatar(
    current: CurrentUser,
    profiles: web::Data<ProfileService>,
    path: ValidPath<UserPath>,
) -> Result<NoContent, ApiError> {
    profiles
        .remove_avatar(current.actor(), user_id(&path)?)
        .await?;
    Ok(NoContent)
}

/// The answer of an avatar upload: the user with the new `avatar_url`.
pub(crate) type AvatarAnswer = web::Json<UserResponse>;
