//! `From` conversions of every application error into [`ApiError`]: the one place where
//! use-case failures get their status codes.

use vidgen_application::auth::login::LoginError;
use vidgen_application::auth::logout::LogoutError;
use vidgen_application::auth::refresh::RefreshError;
use vidgen_application::users::delete::DeleteUserError;
use vidgen_application::users::moderation::ModerateUserError;
use vidgen_application::users::password::ChangePasswordError;
use vidgen_application::users::queries::{GetUserError, ListUsersError};
use vidgen_application::users::register::RegisterUserError;
use vidgen_application::users::update::UpdateUserError;
use vidgen_application::validation::FieldViolation;
use vidgen_application::videos::create::CreateVideoError;
use vidgen_application::videos::delete::DeleteVideoError;
use vidgen_application::videos::files::VideoFileError;
use vidgen_application::videos::queries::{GetVideoError, ListVideosError};
use vidgen_application::videos::retry::RetryVideoError;
use vidgen_application::videos::update::UpdateVideoError;

use crate::error::{ApiError, FieldError};

impl From<FieldViolation> for FieldError {
    fn from(v: FieldViolation) -> Self {
        FieldError::new(v.field, v.message, v.code)
    }
}

fn violations(list: Vec<FieldViolation>) -> ApiError {
    ApiError::Validation(list.into_iter().map(FieldError::from).collect())
}

fn email_taken() -> ApiError {
    ApiError::Conflict {
        code: "EMAIL_TAKEN",
        message: "This email address is already registered".into(),
    }
}

fn username_taken() -> ApiError {
    ApiError::Conflict {
        code: "USERNAME_TAKEN",
        message: "This username is already taken".into(),
    }
}

fn user_not_found() -> ApiError {
    ApiError::NotFound("User not found".into())
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::Validation(vec![error])
    }
}

impl From<RegisterUserError> for ApiError {
    fn from(error: RegisterUserError) -> Self {
        match error {
            RegisterUserError::Invalid(list) => violations(list),
            RegisterUserError::EmailTaken => email_taken(),
            RegisterUserError::UsernameTaken => username_taken(),
            RegisterUserError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::NotFound => user_not_found(),
            GetUserError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<ListUsersError> for ApiError {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Forbidden => {
                Self::Forbidden("Listing users requires the admin or moderator role".into())
            }
            ListUsersError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<UpdateUserError> for ApiError {
    fn from(error: UpdateUserError) -> Self {
        match error {
            UpdateUserError::NotFound => user_not_found(),
            UpdateUserError::Forbidden => {
                Self::Forbidden("Only the user or an admin may change this user".into())
            }
            UpdateUserError::Invalid(list) => violations(list),
            UpdateUserError::EmailTaken => email_taken(),
            UpdateUserError::UsernameTaken => username_taken(),
            UpdateUserError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::NotFound => user_not_found(),
            ChangePasswordError::Forbidden => {
                Self::Forbidden("Only the user may change their password".into())
            }
            ChangePasswordError::Invalid(list) => violations(list),
            ChangePasswordError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<ModerateUserError> for ApiError {
    fn from(error: ModerateUserError) -> Self {
        match error {
            ModerateUserError::NotFound => user_not_found(),
            ModerateUserError::Forbidden => {
                Self::Forbidden("Your role does not allow this change".into())
            }
            ModerateUserError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<DeleteUserError> for ApiError {
    fn from(error: DeleteUserError) -> Self {
        match error {
            DeleteUserError::NotFound => user_not_found(),
            DeleteUserError::Forbidden => {
                Self::Forbidden("Only the user or an admin may delete this user".into())
            }
            DeleteUserError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => {
                Self::Unauthorized("Incorrect username or password".into())
            }
            LoginError::AccountDisabled => Self::Forbidden("This account is disabled".into()),
            LoginError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => {
                Self::Unauthorized("The refresh token is invalid or has been used".into())
            }
            RefreshError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Unexpected(source) => Self::internal(source),
        }
    }
}

fn video_not_found() -> ApiError {
    ApiError::NotFound("Video not found".into())
}

impl From<CreateVideoError> for ApiError {
    fn from(error: CreateVideoError) -> Self {
        match error {
            CreateVideoError::Forbidden => Self::Forbidden(error.to_string()),
            CreateVideoError::KeyMismatch => Self::invalid_field(
                "Idempotency-Key",
                "this key was already used for a different request",
                "idempotency_key_reused",
            ),
            CreateVideoError::KeyInProgress => Self::Conflict {
                code: "CONFLICT",
                message: "A request with this Idempotency-Key is still in progress".into(),
            },
            CreateVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<GetVideoError> for ApiError {
    fn from(error: GetVideoError) -> Self {
        match error {
            GetVideoError::NotFound => video_not_found(),
            GetVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<ListVideosError> for ApiError {
    fn from(error: ListVideosError) -> Self {
        match error {
            ListVideosError::OwnerNotFound => video_not_found(),
            ListVideosError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<UpdateVideoError> for ApiError {
    fn from(error: UpdateVideoError) -> Self {
        match error {
            UpdateVideoError::NotFound => video_not_found(),
            UpdateVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<DeleteVideoError> for ApiError {
    fn from(error: DeleteVideoError) -> Self {
        match error {
            DeleteVideoError::NotFound => video_not_found(),
            DeleteVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<RetryVideoError> for ApiError {
    fn from(error: RetryVideoError) -> Self {
        match error {
            RetryVideoError::NotFound => video_not_found(),
            RetryVideoError::NotFailed(message) => Self::Conflict {
                code: "CONFLICT",
                message,
            },
            RetryVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<VideoFileError> for ApiError {
    fn from(error: VideoFileError) -> Self {
        match error {
            VideoFileError::NotFound => video_not_found(),
            VideoFileError::NotReady => Self::Conflict {
                code: "VIDEO_NOT_READY",
                message: "The video is not ready yet".into(),
            },
            VideoFileError::Unexpected(source) => Self::Internal(source),
        }
    }
}
