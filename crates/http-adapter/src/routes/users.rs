//! `/api/v1/users`: registration, the current user, lists, reads, changes, passwords,
//! moderation and deletion. Handlers parse, call one use case and map the result.

pub mod dto;

use actix_web::HttpRequest;
use actix_web::http::Method;
use paperclip::actix::{NoContent, api_v2_operation, web};
use vidgen_application::users::UserService;
use vidgen_application::users::delete::DeleteUserError;
use vidgen_application::users::moderation::ModerateUserError;
use vidgen_application::users::password::{ChangePassword, ChangePasswordError};
use vidgen_application::users::ports::UserQuery;
use vidgen_application::users::queries::{GetUserError, ListUsersError};
use vidgen_application::users::register::RegisterUserError;
use vidgen_application::users::update::UpdateUserError;
use vidgen_domain::users::{PlainPassword, UserId};

use self::dto::{
    PasswordChange, PublicUserResponse, RoleUpdate, StatusUpdate, UserCreate, UserListQuery,
    UserPath, UserReplace, UserResponse, UserUpdate, UsernamePath,
};
use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::listing::{self, SortBy};
use crate::media_links::MediaUrls;
use crate::registry::{Registry, RouteEntry};
use crate::responses::{Created, ListJson};
use crate::validation::{JsonBody, ValidJson, ValidPath, ValidQuery};

/// The collection.
pub const USERS: &str = "/api/v1/users";
/// One user.
pub const USER: &str = "/api/v1/users/{user_id}";

/// Where a user is served (the `Location` of a registration).
pub fn user_path(id: UserId) -> String {
    USER.replace("{user_id}", &id.to_string())
}

/// Registration, the current user, and user management.
pub fn registry() -> Registry {
    use RouteEntry as R;
    Registry::new(
        "Users",
        "Registration, the current user, user management by role.",
    )
    .route(R::public(Method::POST, USERS, "register_user", register).maps::<RegisterUserError>())
    .route(R::secured(Method::GET, USERS, "list_users", list).maps::<ListUsersError>())
    .route(R::secured(
        Method::GET,
        "/api/v1/users/me",
        "get_current_user",
        me,
    ))
    .route(
        R::secured(
            Method::GET,
            "/api/v1/users/by-username/{username}",
            "get_user_by_username",
            by_username,
        )
        .maps::<GetUserError>(),
    )
    .route(R::secured(Method::GET, USER, "get_user", get).maps::<GetUserError>())
    .route(R::secured(Method::PUT, USER, "replace_user", replace).maps::<UpdateUserError>())
    .route(R::secured(Method::PATCH, USER, "update_user", update).maps::<UpdateUserError>())
    .route(R::secured(Method::DELETE, USER, "delete_user", delete).maps::<DeleteUserError>())
    .route(
        R::secured(
            Method::PUT,
            "/api/v1/users/{user_id}/password",
            "change_password",
            change_password,
        )
        .maps::<ChangePasswordError>(),
    )
    .route(
        R::secured(
            Method::PATCH,
            "/api/v1/users/{user_id}/status",
            "change_user_status",
            change_status,
        )
        .maps::<ModerateUserError>(),
    )
    .route(
        R::secured(
            Method::PATCH,
            "/api/v1/users/{user_id}/role",
            "change_user_role",
            change_role,
        )
        .maps::<ModerateUserError>(),
    )
    .fields(dto::FIELD_DOCS)
    .params(listing::PARAM_DOCS)
    .params(dto::PARAM_DOCS)
}

fn user_id(path: &UserPath) -> Result<UserId, ApiError> {
    UserId::new(path.user_id)
        .ok_or_else(|| ApiError::invalid_field("user_id", "must be a positive integer", "range"))
}

/// Register a user
///
/// Creates an account with role `user` and status `active` (or `pending_verification` when
/// e-mail verification is required). Every broken rule is reported per field; duplicates
/// of email or username (ignoring case) are 409 `EMAIL_TAKEN` / `USERNAME_TAKEN`.
#[api_v2_operation]
async fn register(
    users: web::Data<UserService>,
    urls: MediaUrls,
    body: JsonBody<UserCreate>,
) -> Result<Created<UserResponse>, ApiError> {
    let (body, shape_errors) = body.into_parts();
    let request = body.try_into_domain(&users, shape_errors)?;
    let user = users.register(request).await?;
    Ok(Created {
        location: user_path(user.id),
        body: UserResponse::linked(user, &urls),
    })
}

/// The current user
///
/// The account behind the bearer token.
#[api_v2_operation]
async fn me(current: CurrentUser, urls: MediaUrls) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(UserResponse::linked(current.0, &urls)))
}

/// List users
///
/// Admins and moderators only. Filters by `search` (name, email, username; case-insensitive
/// substring), `status` and `role`; sorts by `sort_by` / `sort_order`; pages with `skip` /
/// `limit`. Headers: `X-Total-Count`, `X-Page-Count`, `Link`.
#[api_v2_operation]
async fn list(
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    query: ValidQuery<UserListQuery>,
) -> Result<ListJson<UserResponse>, ApiError> {
    let query = query.into_inner();
    let user_query = UserQuery {
        page: listing::page(query.skip, query.limit)?,
        search: listing::search(query.search)?,
        status: query.status.map(Into::into),
        role: query.role.map(Into::into),
        sort_by: query.sort_by.map(SortBy::get).unwrap_or_default(),
        sort_order: query.sort_order.map(Into::into).unwrap_or_default(),
    };
    let paged = users.list(current.actor(), user_query).await?;
    Ok(ListJson::new(paged, |user| {
        UserResponse::linked(user, &urls)
    }))
}

/// Get a user
///
/// Yourself, or anyone for admins and moderators. Others are reported as not found.
#[api_v2_operation]
async fn get(
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let user = users.get(current.actor(), user_id(&path)?).await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// Find a user by username
///
/// Public fields of any user, for any authenticated caller.
#[api_v2_operation]
async fn by_username(
    _current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UsernamePath>,
) -> Result<web::Json<PublicUserResponse>, ApiError> {
    let user = users.get_by_username(&path.username).await?;
    Ok(web::Json(PublicUserResponse::linked(user, &urls)))
}

/// Replace a user's details
///
/// Sets `username`, `name` and `email` together. Yourself or, for admins, anyone. A change
/// of your own address needs `current_password` (422 when missing, 403 when wrong;
/// attempts counted like logins, `LOGIN_RATE_LIMIT` per 15 minutes per client IP and
/// user); the old address gets a notice of every change of address.
#[api_v2_operation]
async fn replace(
    http: HttpRequest,
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    body: ValidJson<UserReplace>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let body = body.into_inner();
    if body.current_password.is_some() {
        password_attempt_on(&http, &path).await?;
    }
    let changes = body.try_into_domain()?;
    let user = users
        .update(current.actor(), user_id(&path)?, changes)
        .await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// Update a user's details
///
/// Changes any subset of `username`, `name` and `email`; `role` and `status` are refused
/// here as unknown fields. Yourself or, for admins, anyone. A change of your own address
/// needs `current_password` (422 when missing, 403 when wrong; attempts counted like
/// logins, `LOGIN_RATE_LIMIT` per 15 minutes per client IP and user); the old address
/// gets a notice of every change of address.
#[api_v2_operation]
async fn update(
    http: HttpRequest,
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    body: ValidJson<UserUpdate>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let body = body.into_inner();
    if body.current_password.is_some() {
        password_attempt_on(&http, &path).await?;
    }
    let changes = body.try_into_domain()?;
    let user = users
        .update(current.actor(), user_id(&path)?, changes)
        .await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// Counts one guess of the password of the user in `path` (guessing `current_password`
/// with a stolen token costs the guesser, not the server): under the key a login on
/// that account counts under, so the two share one budget.
async fn password_attempt_on(http: &HttpRequest, path: &UserPath) -> Result<(), ApiError> {
    crate::middleware::rate_limit::password_attempt(http, &format!("user:{}", path.user_id)).await
}

/// Change your password
///
/// Needs the current password. Revokes every refresh token of the user and makes every
/// access token issued before stop working. Attempts are limited like logins
/// (`LOGIN_RATE_LIMIT` per 15 minutes per client IP and user), before any hashing.
#[api_v2_operation]
async fn change_password(
    http: HttpRequest,
    current: CurrentUser,
    users: web::Data<UserService>,
    path: ValidPath<UserPath>,
    body: ValidJson<PasswordChange>,
) -> Result<NoContent, ApiError> {
    let body = body.into_inner();
    password_attempt_on(&http, &path).await?;
    users
        .change_password(
            current.actor(),
            user_id(&path)?,
            ChangePassword {
                current_password: PlainPassword::new(body.current_password),
                new_password: PlainPassword::new(body.new_password),
            },
        )
        .await?;
    Ok(NoContent)
}

/// Change a user's status
///
/// Admins for anyone but themselves; moderators for plain users. Suspending or
/// deactivating ends the user's sessions at once.
#[api_v2_operation]
async fn change_status(
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    body: ValidJson<StatusUpdate>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let status = body.into_inner().status.into();
    let user = users
        .change_status(current.actor(), user_id(&path)?, status)
        .await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// Change a user's role
///
/// Admins only, never their own role. Existing access tokens of the user stop working.
#[api_v2_operation]
async fn change_role(
    current: CurrentUser,
    users: web::Data<UserService>,
    urls: MediaUrls,
    path: ValidPath<UserPath>,
    body: ValidJson<RoleUpdate>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let role = body.into_inner().role.into();
    let user = users
        .change_role(current.actor(), user_id(&path)?, role)
        .await?;
    Ok(web::Json(UserResponse::linked(user, &urls)))
}

/// Delete a user
///
/// Yourself or, for admins, anyone. The user's sessions (and videos) go too.
#[api_v2_operation]
async fn delete(
    current: CurrentUser,
    users: web::Data<UserService>,
    path: ValidPath<UserPath>,
) -> Result<NoContent, ApiError> {
    users.delete(current.actor(), user_id(&path)?).await?;
    Ok(NoContent)
}
