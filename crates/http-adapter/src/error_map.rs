//! `From` conversions of every application error into [`ApiError`]: the one place where
//! use-case failures get their status codes.
//!
//! Each converted error type also lists, in [`MappedErrors::STATUSES`], the statuses its
//! conversion can produce; a route names the error types it maps and the document shows
//! exactly those. The tests below convert every variant and hold each list to its
//! conversion, so the two cannot drift apart.

use vidgen_application::account::recovery::RequestPasswordResetError;
use vidgen_application::account::reset::ResetPasswordError;
use vidgen_application::account::verification::{ResendVerificationError, VerifyEmailError};
use vidgen_application::analytics::mine::GetMyAnalyticsError;
use vidgen_application::analytics::overview::GetOverviewError;
use vidgen_application::auth::login::LoginError;
use vidgen_application::auth::logout::LogoutError;
use vidgen_application::auth::refresh::RefreshError;
use vidgen_application::profiles::avatar::{DeleteAvatarError, GetAvatarError, SetAvatarError};
use vidgen_application::profiles::read::GetProfileError;
use vidgen_application::profiles::replace::ReplaceProfileError;
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::delete::DeleteUserError;
use vidgen_application::users::moderation::ModerateUserError;
use vidgen_application::users::password::ChangePasswordError;
use vidgen_application::users::ports::HashingOverloaded;
use vidgen_application::users::queries::{GetUserError, ListUsersError};
use vidgen_application::users::register::RegisterUserError;
use vidgen_application::users::update::UpdateUserError;
use vidgen_application::validation::FieldViolation;
use vidgen_application::videos::create::CreateVideoError;
use vidgen_application::videos::delete::DeleteVideoError;
use vidgen_application::videos::events::WatchVideoError;
use vidgen_application::videos::files::VideoFileError;
use vidgen_application::videos::queries::{GetVideoError, ListVideosError};
use vidgen_application::videos::retry::RetryVideoError;
use vidgen_application::videos::update::UpdateVideoError;
use vidgen_application::videos::upload::{UploadFileError, UploadVideoError};

use crate::error::{ApiError, FieldError};

impl From<FieldViolation> for FieldError {
    fn from(v: FieldViolation) -> Self {
        FieldError::new(v.field, v.message, v.code)
    }
}

/// An error type with a `From` conversion into [`ApiError`], and the HTTP statuses that
/// conversion can produce.
pub trait MappedErrors: Into<ApiError> {
    const STATUSES: &'static [u16];
}

/// The instance cannot serve (the database does not answer, or migrations are missing).
#[derive(Debug, thiserror::Error)]
#[error("Not ready: {reason}")]
pub struct NotReady {
    pub reason: String,
}

impl From<NotReady> for ApiError {
    fn from(error: NotReady) -> Self {
        Self::ServiceUnavailable(error.to_string())
    }
}

impl MappedErrors for NotReady {
    const STATUSES: &'static [u16] = &[503];
}

/// Why a scrape of `/metrics` was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// `METRICS_TOKEN` is set and the request did not present it.
    #[error("a valid metrics token is required")]
    Unauthorized,
    /// `METRICS_ENABLED=false`: there are no metrics to serve.
    #[error("metrics are disabled on this server")]
    Disabled,
    /// The job counts could not be read.
    #[error("cannot read the job counts")]
    Unexpected(#[source] RepositoryError),
}

impl From<ScrapeError> for ApiError {
    fn from(error: ScrapeError) -> Self {
        match error {
            ScrapeError::Unauthorized => {
                Self::Unauthorized("A valid metrics token is required".into())
            }
            ScrapeError::Disabled => Self::NotFound("Metrics are disabled on this server".into()),
            ScrapeError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for ScrapeError {
    const STATUSES: &'static [u16] = &[401, 404, 500];
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

fn invalid_token(what: &str) -> ApiError {
    ApiError::BadRequest {
        code: "INVALID_TOKEN",
        message: format!("The {what} token is invalid, expired or already used"),
    }
}

impl From<RequestPasswordResetError> for ApiError {
    fn from(error: RequestPasswordResetError) -> Self {
        match error {
            RequestPasswordResetError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl MappedErrors for RequestPasswordResetError {
    const STATUSES: &'static [u16] = &[500];
}

impl From<ResetPasswordError> for ApiError {
    fn from(error: ResetPasswordError) -> Self {
        match error {
            ResetPasswordError::InvalidToken => invalid_token("reset"),
            ResetPasswordError::Invalid(list) => violations(list),
            ResetPasswordError::Unexpected(source) => unexpected(source),
        }
    }
}

impl MappedErrors for ResetPasswordError {
    const STATUSES: &'static [u16] = &[400, 422, 500, 503];
}

impl From<VerifyEmailError> for ApiError {
    fn from(error: VerifyEmailError) -> Self {
        match error {
            VerifyEmailError::InvalidToken => invalid_token("verification"),
            VerifyEmailError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl MappedErrors for VerifyEmailError {
    const STATUSES: &'static [u16] = &[400, 500];
}

impl From<ResendVerificationError> for ApiError {
    fn from(error: ResendVerificationError) -> Self {
        match error {
            ResendVerificationError::NotPending => Self::Conflict {
                code: "EMAIL_ALREADY_VERIFIED",
                message: "This account has no e-mail address waiting for verification".into(),
            },
            ResendVerificationError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl MappedErrors for ResendVerificationError {
    const STATUSES: &'static [u16] = &[409, 500];
}

impl MappedErrors for RegisterUserError {
    const STATUSES: &'static [u16] = &[409, 422, 500, 503];
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

impl MappedErrors for GetUserError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl From<GetUserError> for ApiError {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::NotFound => user_not_found(),
            GetUserError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for ListUsersError {
    const STATUSES: &'static [u16] = &[403, 500];
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

impl MappedErrors for UpdateUserError {
    const STATUSES: &'static [u16] = &[403, 404, 409, 422, 500, 503];
}

impl From<UpdateUserError> for ApiError {
    fn from(error: UpdateUserError) -> Self {
        match error {
            UpdateUserError::NotFound => user_not_found(),
            UpdateUserError::Forbidden => {
                Self::Forbidden("Only the user or an admin may change this user".into())
            }
            UpdateUserError::WrongPassword => {
                Self::Forbidden("The current password is not correct".into())
            }
            UpdateUserError::Invalid(list) => violations(list),
            UpdateUserError::EmailTaken => email_taken(),
            UpdateUserError::UsernameTaken => username_taken(),
            UpdateUserError::Unexpected(source) => unexpected(source),
        }
    }
}

impl MappedErrors for ChangePasswordError {
    const STATUSES: &'static [u16] = &[403, 404, 422, 500, 503];
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

impl MappedErrors for ModerateUserError {
    const STATUSES: &'static [u16] = &[403, 404, 500];
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

impl MappedErrors for DeleteUserError {
    const STATUSES: &'static [u16] = &[403, 404, 500];
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

impl MappedErrors for LoginError {
    const STATUSES: &'static [u16] = &[401, 403, 500, 503];
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

impl MappedErrors for RefreshError {
    const STATUSES: &'static [u16] = &[401, 500];
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

impl MappedErrors for LogoutError {
    const STATUSES: &'static [u16] = &[500];
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Unexpected(source) => Self::internal(source),
        }
    }
}

/// How long a client at its active-jobs cap is asked to wait (a short render's length).
const ACTIVE_JOBS_RETRY_SECONDS: u64 = 10;

/// The 403 of a `pending_verification` account on video creation and upload.
fn email_not_verified() -> ApiError {
    ApiError::ForbiddenWith {
        code: "EMAIL_NOT_VERIFIED",
        message: "Verify your e-mail address before creating videos (POST /api/v1/users/verify-email; a new link: POST /api/v1/users/verify-email/resend)".into(),
    }
}

fn video_not_found() -> ApiError {
    ApiError::NotFound("Video not found".into())
}

impl From<CreateVideoError> for ApiError {
    fn from(error: CreateVideoError) -> Self {
        match error {
            CreateVideoError::Forbidden => email_not_verified(),
            CreateVideoError::KeyMismatch => Self::invalid_field(
                "Idempotency-Key",
                "this key was already used for a different request",
                "idempotency_key_reused",
            ),
            CreateVideoError::KeyInProgress => Self::Conflict {
                code: "CONFLICT",
                message: "A request with this Idempotency-Key is still in progress".into(),
            },
            CreateVideoError::TooManyActive { .. } => Self::LimitReached {
                message: error.to_string(),
                retry_after_seconds: ACTIVE_JOBS_RETRY_SECONDS,
            },
            CreateVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<UploadVideoError> for ApiError {
    fn from(error: UploadVideoError) -> Self {
        match error {
            UploadVideoError::Forbidden => email_not_verified(),
            UploadVideoError::KeyMismatch => Self::invalid_field(
                "Idempotency-Key",
                "this key was already used for a different request",
                "idempotency_key_reused",
            ),
            UploadVideoError::KeyInProgress => Self::Conflict {
                code: "CONFLICT",
                message: "A request with this Idempotency-Key is still in progress".into(),
            },
            UploadVideoError::TooManyActive { .. } => Self::LimitReached {
                message: error.to_string(),
                retry_after_seconds: ACTIVE_JOBS_RETRY_SECONDS,
            },
            UploadVideoError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl From<UploadFileError> for ApiError {
    fn from(error: UploadFileError) -> Self {
        match error {
            UploadFileError::TooLarge { limit } => {
                Self::PayloadTooLarge(format!("The upload exceeds {limit} bytes"))
            }
            UploadFileError::Unsupported => Self::UnsupportedMediaType(
                "The file is not an MP4, MOV or WebM video (decided from its bytes)".into(),
            ),
            UploadFileError::Storage(source) => Self::Internal(Box::new(source)),
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
            VideoFileError::NoThumbnail => Self::NotFound("This video has no thumbnail".into()),
            VideoFileError::Unexpected(source) => Self::Internal(source),
        }
    }
}

/// When a client refused for too many open streams should try again.
const STREAMS_RETRY_SECONDS: u64 = 5;

impl From<WatchVideoError> for ApiError {
    fn from(error: WatchVideoError) -> Self {
        match error {
            WatchVideoError::TooManyForUser { .. } | WatchVideoError::TooMany => {
                Self::LimitReached {
                    message: error.to_string(),
                    retry_after_seconds: STREAMS_RETRY_SECONDS,
                }
            }
            WatchVideoError::Closing => Self::ServiceUnavailable(error.to_string()),
        }
    }
}

impl MappedErrors for WatchVideoError {
    const STATUSES: &'static [u16] = &[429, 503];
}

impl MappedErrors for CreateVideoError {
    const STATUSES: &'static [u16] = &[403, 409, 422, 429, 500];
}

impl MappedErrors for UploadVideoError {
    const STATUSES: &'static [u16] = &[403, 409, 422, 429, 500];
}

impl MappedErrors for UploadFileError {
    const STATUSES: &'static [u16] = &[413, 415, 500];
}

impl MappedErrors for GetVideoError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl MappedErrors for ListVideosError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl MappedErrors for UpdateVideoError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl MappedErrors for DeleteVideoError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl MappedErrors for RetryVideoError {
    const STATUSES: &'static [u16] = &[404, 409, 500];
}

impl MappedErrors for VideoFileError {
    const STATUSES: &'static [u16] = &[404, 409, 500];
}

impl MappedErrors for GetMyAnalyticsError {
    const STATUSES: &'static [u16] = &[500];
}

impl From<GetMyAnalyticsError> for ApiError {
    fn from(error: GetMyAnalyticsError) -> Self {
        match error {
            GetMyAnalyticsError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for GetOverviewError {
    const STATUSES: &'static [u16] = &[403, 500];
}

impl From<GetOverviewError> for ApiError {
    fn from(error: GetOverviewError) -> Self {
        match error {
            GetOverviewError::Forbidden => {
                Self::Forbidden("The analytics overview requires the admin role".into())
            }
            GetOverviewError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for GetProfileError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl From<GetProfileError> for ApiError {
    fn from(error: GetProfileError) -> Self {
        match error {
            GetProfileError::NotFound => user_not_found(),
            GetProfileError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for ReplaceProfileError {
    const STATUSES: &'static [u16] = &[403, 404, 500];
}

impl From<ReplaceProfileError> for ApiError {
    fn from(error: ReplaceProfileError) -> Self {
        match error {
            ReplaceProfileError::NotFound => user_not_found(),
            ReplaceProfileError::Forbidden => {
                Self::Forbidden("Only the user or an admin may change this profile".into())
            }
            ReplaceProfileError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl MappedErrors for SetAvatarError {
    const STATUSES: &'static [u16] = &[403, 404, 413, 415, 500];
}

impl From<SetAvatarError> for ApiError {
    fn from(error: SetAvatarError) -> Self {
        match error {
            SetAvatarError::NotFound => user_not_found(),
            SetAvatarError::Forbidden => {
                Self::Forbidden("Only the user or an admin may change this avatar".into())
            }
            SetAvatarError::TooLarge { limit } => {
                Self::PayloadTooLarge(format!("The avatar exceeds {limit} bytes"))
            }
            SetAvatarError::TooManyPixels { width, height } => Self::PayloadTooLarge(format!(
                "The picture declares {width}x{height} pixels; at most {side} per side and {total} in all are accepted",
                side = vidgen_domain::users::profile::Avatar::MAX_SOURCE_SIDE,
                total = vidgen_domain::users::profile::Avatar::MAX_SOURCE_PIXELS,
            )),
            SetAvatarError::Unsupported => Self::UnsupportedMediaType(
                "The file is not a readable PNG, JPEG or WebP picture (decided from its bytes)"
                    .into(),
            ),
            SetAvatarError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl MappedErrors for DeleteAvatarError {
    const STATUSES: &'static [u16] = &[403, 404, 500];
}

impl From<DeleteAvatarError> for ApiError {
    fn from(error: DeleteAvatarError) -> Self {
        match error {
            DeleteAvatarError::NotFound => user_not_found(),
            DeleteAvatarError::Forbidden => {
                Self::Forbidden("Only the user or an admin may change this avatar".into())
            }
            DeleteAvatarError::Unexpected(source) => Self::Internal(source),
        }
    }
}

impl MappedErrors for GetAvatarError {
    const STATUSES: &'static [u16] = &[404, 500];
}

impl From<GetAvatarError> for ApiError {
    fn from(error: GetAvatarError) -> Self {
        match error {
            // One answer for both: the route tells nobody which users exist.
            GetAvatarError::NotFound | GetAvatarError::NoAvatar => {
                Self::NotFound("Avatar not found".into())
            }
            GetAvatarError::Unexpected(source) => Self::internal(source),
            GetAvatarError::Media(source) => Self::internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use vidgen_application::users::ports::HashError;

    use super::*;

    fn unexpected() -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other("disk on fire"))
    }

    fn invalid() -> Vec<FieldViolation> {
        vec![FieldViolation::new("email", "email", "bad")]
    }

    fn storage() -> RepositoryError {
        RepositoryError::new(std::io::Error::other("db down"))
    }

    /// Converts every sample and checks that the statuses produced are exactly the
    /// listed ones. The `match` in each `samples` caller lists every variant, so a new
    /// variant does not compile until it has a sample.
    fn check<E: MappedErrors + std::fmt::Debug>(samples: Vec<E>) {
        let name = std::any::type_name::<E>();
        let mut produced: Vec<u16> = Vec::new();
        for sample in samples {
            let label = format!("{sample:?}");
            let error: ApiError = sample.into();
            let status = error.status_code().as_u16();
            assert!(
                E::STATUSES.contains(&status),
                "{name}: {label} maps to {status}, not listed in {:?}",
                E::STATUSES
            );
            produced.push(status);
        }
        for listed in E::STATUSES {
            assert!(
                produced.contains(listed),
                "{name}: {listed} is listed but no variant maps to it"
            );
        }
    }

    #[test]
    fn analytics_errors_produce_exactly_their_listed_statuses() {
        let mine = vec![GetMyAnalyticsError::Unexpected(storage())];
        for e in &mine {
            match e {
                GetMyAnalyticsError::Unexpected(_) => {}
            }
        }
        check(mine);

        let overview = vec![
            GetOverviewError::Forbidden,
            GetOverviewError::Unexpected(storage()),
        ];
        for e in &overview {
            match e {
                GetOverviewError::Forbidden | GetOverviewError::Unexpected(_) => {}
            }
        }
        check(overview);
    }

    #[test]
    fn account_errors_produce_exactly_their_listed_statuses() {
        let recovery = vec![RequestPasswordResetError::Unexpected(unexpected())];
        for e in &recovery {
            match e {
                RequestPasswordResetError::Unexpected(_) => {}
            }
        }
        check(recovery);

        let reset = vec![
            ResetPasswordError::InvalidToken,
            ResetPasswordError::Invalid(invalid()),
            ResetPasswordError::Unexpected(unexpected()),
            ResetPasswordError::Unexpected(Box::new(HashError::overloaded())),
        ];
        for e in &reset {
            match e {
                ResetPasswordError::InvalidToken
                | ResetPasswordError::Invalid(_)
                | ResetPasswordError::Unexpected(_) => {}
            }
        }
        check(reset);

        let verify = vec![
            VerifyEmailError::InvalidToken,
            VerifyEmailError::Unexpected(unexpected()),
        ];
        for e in &verify {
            match e {
                VerifyEmailError::InvalidToken | VerifyEmailError::Unexpected(_) => {}
            }
        }
        check(verify);

        let resend = vec![
            ResendVerificationError::NotPending,
            ResendVerificationError::Unexpected(unexpected()),
        ];
        for e in &resend {
            match e {
                ResendVerificationError::NotPending | ResendVerificationError::Unexpected(_) => {}
            }
        }
        check(resend);
        let problem = ApiError::from(ResetPasswordError::InvalidToken).problem();
        assert_eq!(problem.error_code, "INVALID_TOKEN");
        let problem = ApiError::from(CreateVideoError::Forbidden).problem();
        assert_eq!(
            (problem.status.as_u16(), problem.error_code),
            (403, "EMAIL_NOT_VERIFIED")
        );
    }

    #[test]
    fn profile_errors_produce_exactly_their_listed_statuses() {
        let get = vec![
            GetProfileError::NotFound,
            GetProfileError::Unexpected(storage()),
        ];
        for e in &get {
            match e {
                GetProfileError::NotFound | GetProfileError::Unexpected(_) => {}
            }
        }
        check(get);

        let replace = vec![
            ReplaceProfileError::NotFound,
            ReplaceProfileError::Forbidden,
            ReplaceProfileError::Unexpected(storage()),
        ];
        for e in &replace {
            match e {
                ReplaceProfileError::NotFound
                | ReplaceProfileError::Forbidden
                | ReplaceProfileError::Unexpected(_) => {}
            }
        }
        check(replace);

        let set = vec![
            SetAvatarError::NotFound,
            SetAvatarError::Forbidden,
            SetAvatarError::TooLarge { limit: 10 },
            SetAvatarError::Unsupported,
            SetAvatarError::TooManyPixels {
                width: 100_000,
                height: 100_000,
            },
            SetAvatarError::Unexpected(unexpected()),
        ];
        for e in &set {
            match e {
                SetAvatarError::NotFound
                | SetAvatarError::Forbidden
                | SetAvatarError::TooLarge { .. }
                | SetAvatarError::Unsupported
                | SetAvatarError::TooManyPixels { .. }
                | SetAvatarError::Unexpected(_) => {}
            }
        }
        check(set);

        let delete = vec![
            DeleteAvatarError::NotFound,
            DeleteAvatarError::Forbidden,
            DeleteAvatarError::Unexpected(unexpected()),
        ];
        for e in &delete {
            match e {
                DeleteAvatarError::NotFound
                | DeleteAvatarError::Forbidden
                | DeleteAvatarError::Unexpected(_) => {}
            }
        }
        check(delete);

        let get = vec![
            GetAvatarError::NotFound,
            GetAvatarError::NoAvatar,
            GetAvatarError::Unexpected(storage()),
            GetAvatarError::Media(vidgen_application::videos::ports::MediaError(
                std::io::Error::other("disk"),
            )),
        ];
        for e in &get {
            match e {
                GetAvatarError::NotFound
                | GetAvatarError::NoAvatar
                | GetAvatarError::Unexpected(_)
                | GetAvatarError::Media(_) => {}
            }
        }
        check(get);
    }

    #[test]
    fn user_errors_produce_exactly_their_listed_statuses() {
        let register = vec![
            RegisterUserError::Invalid(invalid()),
            RegisterUserError::EmailTaken,
            RegisterUserError::UsernameTaken,
            RegisterUserError::Unexpected(unexpected()),
            RegisterUserError::Unexpected(Box::new(HashError::overloaded())),
        ];
        for e in &register {
            match e {
                RegisterUserError::Invalid(_)
                | RegisterUserError::EmailTaken
                | RegisterUserError::UsernameTaken
                | RegisterUserError::Unexpected(_) => {}
            }
        }
        check(register);

        let get = vec![GetUserError::NotFound, GetUserError::Unexpected(storage())];
        for e in &get {
            match e {
                GetUserError::NotFound | GetUserError::Unexpected(_) => {}
            }
        }
        check(get);

        let list = vec![
            ListUsersError::Forbidden,
            ListUsersError::Unexpected(storage()),
        ];
        for e in &list {
            match e {
                ListUsersError::Forbidden | ListUsersError::Unexpected(_) => {}
            }
        }
        check(list);

        let update = vec![
            UpdateUserError::NotFound,
            UpdateUserError::Forbidden,
            UpdateUserError::WrongPassword,
            UpdateUserError::Invalid(invalid()),
            UpdateUserError::EmailTaken,
            UpdateUserError::UsernameTaken,
            UpdateUserError::Unexpected(unexpected()),
            UpdateUserError::Unexpected(Box::new(HashError::overloaded())),
        ];
        for e in &update {
            match e {
                UpdateUserError::NotFound
                | UpdateUserError::Forbidden
                | UpdateUserError::WrongPassword
                | UpdateUserError::Invalid(_)
                | UpdateUserError::EmailTaken
                | UpdateUserError::UsernameTaken
                | UpdateUserError::Unexpected(_) => {}
            }
        }
        check(update);

        let password = vec![
            ChangePasswordError::NotFound,
            ChangePasswordError::Forbidden,
            ChangePasswordError::Invalid(invalid()),
            ChangePasswordError::Unexpected(unexpected()),
            ChangePasswordError::Unexpected(Box::new(HashError::overloaded())),
        ];
        for e in &password {
            match e {
                ChangePasswordError::NotFound
                | ChangePasswordError::Forbidden
                | ChangePasswordError::Invalid(_)
                | ChangePasswordError::Unexpected(_) => {}
            }
        }
        check(password);

        let moderate = vec![
            ModerateUserError::NotFound,
            ModerateUserError::Forbidden,
            ModerateUserError::Unexpected(unexpected()),
        ];
        for e in &moderate {
            match e {
                ModerateUserError::NotFound
                | ModerateUserError::Forbidden
                | ModerateUserError::Unexpected(_) => {}
            }
        }
        check(moderate);

        let delete = vec![
            DeleteUserError::NotFound,
            DeleteUserError::Forbidden,
            DeleteUserError::Unexpected(storage()),
        ];
        for e in &delete {
            match e {
                DeleteUserError::NotFound
                | DeleteUserError::Forbidden
                | DeleteUserError::Unexpected(_) => {}
            }
        }
        check(delete);
    }

    #[test]
    fn auth_errors_produce_exactly_their_listed_statuses() {
        let login = vec![
            LoginError::InvalidCredentials,
            LoginError::AccountDisabled,
            LoginError::Unexpected(unexpected()),
            LoginError::Unexpected(Box::new(HashError::overloaded())),
        ];
        for e in &login {
            match e {
                LoginError::InvalidCredentials
                | LoginError::AccountDisabled
                | LoginError::Unexpected(_) => {}
            }
        }
        check(login);

        let refresh = vec![
            RefreshError::InvalidToken,
            RefreshError::Unexpected(unexpected()),
        ];
        for e in &refresh {
            match e {
                RefreshError::InvalidToken | RefreshError::Unexpected(_) => {}
            }
        }
        check(refresh);

        let logout = vec![LogoutError::Unexpected(storage())];
        for e in &logout {
            match e {
                LogoutError::Unexpected(_) => {}
            }
        }
        check(logout);
    }

    #[test]
    fn stream_errors_produce_exactly_their_listed_statuses() {
        let watch = vec![
            WatchVideoError::TooManyForUser { limit: 2 },
            WatchVideoError::TooMany,
            WatchVideoError::Closing,
        ];
        for e in &watch {
            match e {
                WatchVideoError::TooManyForUser { .. }
                | WatchVideoError::TooMany
                | WatchVideoError::Closing => {}
            }
        }
        check(watch);
    }

    #[test]
    fn video_and_readiness_errors_produce_exactly_their_listed_statuses() {
        let create = vec![
            CreateVideoError::Forbidden,
            CreateVideoError::KeyMismatch,
            CreateVideoError::KeyInProgress,
            CreateVideoError::TooManyActive { limit: 5 },
            CreateVideoError::Unexpected(unexpected()),
        ];
        for e in &create {
            match e {
                CreateVideoError::Forbidden
                | CreateVideoError::KeyMismatch
                | CreateVideoError::KeyInProgress
                | CreateVideoError::TooManyActive { .. }
                | CreateVideoError::Unexpected(_) => {}
            }
        }
        check(create);

        let upload = vec![
            UploadVideoError::Forbidden,
            UploadVideoError::KeyMismatch,
            UploadVideoError::KeyInProgress,
            UploadVideoError::TooManyActive { limit: 5 },
            UploadVideoError::Unexpected(unexpected()),
        ];
        for e in &upload {
            match e {
                UploadVideoError::Forbidden
                | UploadVideoError::KeyMismatch
                | UploadVideoError::KeyInProgress
                | UploadVideoError::TooManyActive { .. }
                | UploadVideoError::Unexpected(_) => {}
            }
        }
        check(upload);

        let file = vec![
            UploadFileError::TooLarge { limit: 1 },
            UploadFileError::Unsupported,
            UploadFileError::Storage(std::io::Error::other("disk")),
        ];
        for e in &file {
            match e {
                UploadFileError::TooLarge { .. }
                | UploadFileError::Unsupported
                | UploadFileError::Storage(_) => {}
            }
        }
        check(file);

        let get = vec![
            GetVideoError::NotFound,
            GetVideoError::Unexpected(unexpected()),
        ];
        for e in &get {
            match e {
                GetVideoError::NotFound | GetVideoError::Unexpected(_) => {}
            }
        }
        check(get);

        let list = vec![
            ListVideosError::OwnerNotFound,
            ListVideosError::Unexpected(unexpected()),
        ];
        for e in &list {
            match e {
                ListVideosError::OwnerNotFound | ListVideosError::Unexpected(_) => {}
            }
        }
        check(list);

        let update = vec![
            UpdateVideoError::NotFound,
            UpdateVideoError::Unexpected(unexpected()),
        ];
        for e in &update {
            match e {
                UpdateVideoError::NotFound | UpdateVideoError::Unexpected(_) => {}
            }
        }
        check(update);

        let delete = vec![
            DeleteVideoError::NotFound,
            DeleteVideoError::Unexpected(unexpected()),
        ];
        for e in &delete {
            match e {
                DeleteVideoError::NotFound | DeleteVideoError::Unexpected(_) => {}
            }
        }
        check(delete);

        let retry = vec![
            RetryVideoError::NotFound,
            RetryVideoError::NotFailed("pending".into()),
            RetryVideoError::Unexpected(unexpected()),
        ];
        for e in &retry {
            match e {
                RetryVideoError::NotFound
                | RetryVideoError::NotFailed(_)
                | RetryVideoError::Unexpected(_) => {}
            }
        }
        check(retry);

        let files = vec![
            VideoFileError::NotFound,
            VideoFileError::NotReady,
            VideoFileError::NoThumbnail,
            VideoFileError::Unexpected(unexpected()),
        ];
        for e in &files {
            match e {
                VideoFileError::NotFound
                | VideoFileError::NotReady
                | VideoFileError::NoThumbnail
                | VideoFileError::Unexpected(_) => {}
            }
        }
        check(files);
        check(vec![NotReady {
            reason: "database unreachable".into(),
        }]);
    }

    #[test]
    fn scrape_errors_produce_exactly_their_listed_statuses() {
        let samples = vec![
            ScrapeError::Unauthorized,
            ScrapeError::Disabled,
            ScrapeError::Unexpected(storage()),
        ];
        for e in &samples {
            match e {
                ScrapeError::Unauthorized | ScrapeError::Disabled | ScrapeError::Unexpected(_) => {}
            }
        }
        check(samples);
    }

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
