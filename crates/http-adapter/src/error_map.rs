//! `From` conversions of every application error into [`ApiError`]: the one place where
//! use-case failures get their status codes.

use vidgen_application::auth::login::LoginError;
use vidgen_application::auth::logout::LogoutError;
use vidgen_application::auth::refresh::RefreshError;
use vidgen_application::users::delete::DeleteUserError;
use vidgen_application::users::moderation::ModerateUserError;
use vidgen_application::users::password::ChangePasswordError;
use vidgen_application::users::ports::HashingOverloaded;
use vidgen_application::users::queries::{GetUserError, ListUsersError};
use vidgen_application::users::register::RegisterUserError;
use vidgen_application::users::update::UpdateUserError;
use vidgen_application::validation::FieldViolation;
use vidgen_application::videos::service::VideoError;

use crate::error::{ApiError, FieldError};

fn violations(list: Vec<FieldViolation>) -> ApiError {
    ApiError::Validation(
        list.into_iter()
            .map(|v| FieldError::new(v.field, v.message, v.code))
            .collect(),
    )
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

/// Seconds a client is asked to wait when password hashing is saturated.
pub const HASHING_RETRY_AFTER_SECONDS: u64 = 1;

/// An unexpected use-case failure: a 500, unless somewhere in its cause chain the
/// password-hashing queue was full, which is a 503 the client may retry.
fn unexpected(source: Box<dyn std::error::Error + Send + Sync>) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
    while let Some(error) = cause {
        if error.is::<HashingOverloaded>() {
            return ApiError::Overloaded {
                retry_after_seconds: HASHING_RETRY_AFTER_SECONDS,
            };
        }
        cause = error.source();
    }
    ApiError::Internal(source)
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
            RegisterUserError::Unexpected(source) => unexpected(source),
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
            ChangePasswordError::Unexpected(source) => unexpected(source),
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
            LoginError::Unexpected(source) => unexpected(source),
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

impl From<VideoError> for ApiError {
    fn from(error: VideoError) -> Self {
        match error {
            VideoError::NotFound => Self::NotFound("Video not found".into()),
            VideoError::Forbidden => Self::Forbidden(error.to_string()),
            VideoError::Conflict(message) => Self::Conflict {
                code: "CONFLICT",
                message,
            },
            VideoError::KeyMismatch => Self::invalid_field(
                "Idempotency-Key",
                "this key was already used for a different request",
                "idempotency_key_reused",
            ),
            VideoError::KeyInProgress => Self::Conflict {
                code: "CONFLICT",
                message: "A request with this Idempotency-Key is still in progress".into(),
            },
            VideoError::NotReady => Self::Conflict {
                code: "VIDEO_NOT_READY",
                message: "The video is not ready yet".into(),
            },
            VideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use vidgen_application::users::ports::HashError;

    use super::*;

    #[test]
    fn a_full_hashing_queue_is_a_503_on_every_route_that_hashes() {
        let overloaded = || Box::new(HashError::overloaded());
        let cases: Vec<(&str, ApiError)> = vec![
            ("login", LoginError::Unexpected(overloaded()).into()),
            (
                "registration and admin creation",
                RegisterUserError::Unexpected(overloaded()).into(),
            ),
            (
                "password change",
                ChangePasswordError::Unexpected(overloaded()).into(),
            ),
        ];
        for (name, error) in cases {
            assert!(
                matches!(
                    error,
                    ApiError::Overloaded {
                        retry_after_seconds: HASHING_RETRY_AFTER_SECONDS
                    }
                ),
                "{name}: {error:?}"
            );
        }
        let broken = LoginError::Unexpected(Box::new(HashError(Box::new(std::io::Error::other(
            "pool gone",
        )))));
        assert!(
            matches!(ApiError::from(broken), ApiError::Internal(_)),
            "a broken hasher stays a 500"
        );
    }
}
