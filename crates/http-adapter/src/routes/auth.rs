//! `/api/v1/users/login`, `/token/refresh` and `/logout`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use garde::Validate;
use paperclip::actix::{Apiv2Schema, NoContent, OperationModifier, api_v2_operation, web};
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw};
use serde::{Deserialize, Serialize};
use vidgen_application::auth::login::LoginError;
use vidgen_application::auth::logout::LogoutError;
use vidgen_application::auth::refresh::RefreshError;
use vidgen_application::auth::{AuthService, TokenPair};
use vidgen_domain::users::{Email, PasswordPolicy, PlainPassword, REFRESH_TOKEN_MAX_LEN};

use crate::auth::CurrentUser;
use crate::error::{ApiError, FieldError};
use crate::registry::{Constraint as C, FieldDoc, Registry, RouteEntry};
use crate::validation::{
    Extra, JsonLimit, ValidJson, Validated, all_errors, collect, garde_errors, is_json, json_value,
    parameters_value, read_body, single_line,
};

/// Login, token refresh and logout.
pub fn registry() -> Registry {
    Registry::new(
        "Authentication",
        "Log in (JSON or OAuth2 password form), rotate refresh tokens, log out.",
    )
    .route(
        RouteEntry::public(Method::POST, "/api/v1/users/login", "login", login)
            .maps::<LoginError>()
            .with_form_body(),
    )
    .route(
        RouteEntry::public(
            Method::POST,
            "/api/v1/users/token/refresh",
            "refresh_token",
            refresh,
        )
        .maps::<RefreshError>(),
    )
    .route(
        RouteEntry::secured(Method::POST, "/api/v1/users/logout", "logout", logout)
            .maps::<LogoutError>(),
    )
    .fields(FIELD_DOCS)
}

const LOGIN_NAME: &[C] = &[C::MinLength(1), C::MaxLength(Email::MAX_LEN as u64)];
const LOGIN_PASSWORD: &[C] = &[
    C::MinLength(1),
    C::MaxLength(PasswordPolicy::MAX_LEN as u64),
    C::Format("password"),
];
const REFRESH: &[C] = &[C::MinLength(1), C::MaxLength(REFRESH_TOKEN_MAX_LEN as u64)];

/// Constraints of the auth wire types.
const FIELD_DOCS: &[FieldDoc] = &[
    FieldDoc {
        schema: "LoginRequest",
        field: "username",
        constraints: LOGIN_NAME,
    },
    FieldDoc {
        schema: "LoginRequest",
        field: "password",
        constraints: LOGIN_PASSWORD,
    },
    FieldDoc {
        schema: "RefreshRequest",
        field: "refresh_token",
        constraints: REFRESH,
    },
];

/// Credentials: `username` may be the username or the e-mail address.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Username or e-mail address.
    #[openapi(example = "\"jane_doe\"")]
    #[garde(length(chars, min = 1, max = Email::MAX_LEN), custom(single_line))]
    pub username: String,
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(length(chars, min = 1, max = PasswordPolicy::MAX_LEN), custom(single_line))]
    pub password: String,
}

/// Shown in place of a password or token in `Debug` output.
const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for LoginRequest {
    /// The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

impl Validated for LoginRequest {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

/// The OAuth2 password form (`grant_type`, `scope` and client fields are accepted and
/// ignored).
#[derive(Deserialize, Apiv2Schema)]
struct LoginForm {
    username: String,
    password: String,
}

impl std::fmt::Debug for LoginForm {
    /// The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .finish()
    }
}

/// Login credentials from a JSON body or an OAuth2 password form.
#[derive(Debug)]
pub struct Credentials(LoginRequest);

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let limit = req
            .app_data::<JsonLimit>()
            .map_or(JsonLimit::DEFAULT_BYTES, |l| l.0);
        let mut payload = payload.take();
        Box::pin(async move {
            let body = if json || form {
                read_body(&mut payload, limit).await?
            } else {
                return Err(ApiError::UnsupportedMediaType(
                    "Content-Type must be application/json or application/x-www-form-urlencoded"
                        .into(),
                ));
            };
            let collected = if json {
                collect::<LoginRequest>(json_value(&body)?, Extra::Refuse)
            } else {
                let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
                    .map_err(|e| ApiError::invalid_field("__all__", e.to_string(), "form"))?;
                let (form, errors) =
                    collect::<LoginForm>(parameters_value::<LoginForm>(pairs), Extra::Ignore);
                let request = form.map(|form| LoginRequest {
                    username: form.username,
                    password: form.password,
                });
                (request, errors)
            };
            all_errors(collected).map(Self)
        })
    }
}

impl paperclip::v2::schema::Apiv2Schema for Credentials {}

impl OperationModifier for Credentials {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <ValidJson<LoginRequest> as OperationModifier>::update_parameter(op);
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <ValidJson<LoginRequest> as OperationModifier>::update_definitions(map);
    }
}

/// A token pair.
#[derive(Serialize, Apiv2Schema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer <access_token>`.
    #[openapi(example = "\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig\"")]
    pub access_token: String,
    /// Always `bearer`.
    #[openapi(example = "\"bearer\"")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[openapi(example = "1800")]
    pub expires_in: u64,
    /// Opaque, single-use token for `POST /api/v1/users/token/refresh`.
    #[openapi(example = "\"3q2-7wAAAAA...\"")]
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenResponse {
    /// The tokens are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &REDACTED)
            .finish()
    }
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access.token,
            token_type: "bearer".into(),
            expires_in: pair.access.expires_in_seconds,
            refresh_token: pair.refresh_token,
        }
    }
}

/// A refresh token to exchange or revoke.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[openapi(example = "\"3q2-7wAAAAA...\"")]
    #[garde(length(min = 1, max = REFRESH_TOKEN_MAX_LEN), custom(single_line))]
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    /// The token is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &REDACTED)
            .finish()
    }
}

impl Validated for RefreshRequest {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

/// Log in
///
/// Accepts JSON or the OAuth2 password form (`application/x-www-form-urlencoded`, as sent
/// by Swagger UI's Authorize button). `username` may be the username or the e-mail address.
/// An unknown user and a wrong password get the same 401; a suspended or inactive account
/// gets 403 after a correct password. Attempts are limited per (client IP, account):
/// `LOGIN_RATE_LIMIT` per 15 minutes, counted before the password is checked (the
/// username and the e-mail address of one account share the budget); beyond it 429 with
/// `Retry-After`.
#[api_v2_operation]
async fn login(
    http: HttpRequest,
    auth: web::Data<AuthService>,
    credentials: Credentials,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let request = credentials.0;
    // The place in the hashing queue first (a full queue is 503 before anything is
    // read), then the attempt counted under the account's key, then the hash.
    let pending = auth.begin_login(&request.username).await?;
    crate::middleware::rate_limit::password_attempt(&http, &pending.subject()).await?;
    let pair = auth
        .finish_login(pending, PlainPassword::new(request.password))
        .await?;
    Ok(web::Json(pair.into()))
}

/// Refresh the tokens
///
/// Exchanges a refresh token for a new pair. Refresh tokens are single use: presenting one
/// that was already used revokes every token of its session.
#[api_v2_operation]
async fn refresh(
    auth: web::Data<AuthService>,
    body: ValidJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let pair = auth.refresh(&body.into_inner().refresh_token).await?;
    Ok(web::Json(pair.into()))
}

/// Log out
///
/// Revokes the session of the given refresh token (if it is yours).
#[api_v2_operation]
async fn logout(
    current: CurrentUser,
    auth: web::Data<AuthService>,
    body: ValidJson<RefreshRequest>,
) -> Result<NoContent, ApiError> {
    auth.logout(current.0.id, &body.into_inner().refresh_token)
        .await?;
    Ok(NoContent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_password_or_token() {
        let secret = "Sup3rSecretValue";
        let cases: Vec<(&str, String)> = vec![
            (
                "LoginRequest",
                format!(
                    "{:?}",
                    LoginRequest {
                        username: "jane".into(),
                        password: secret.into(),
                    }
                ),
            ),
            (
                "LoginForm",
                format!(
                    "{:?}",
                    LoginForm {
                        username: "jane".into(),
                        password: secret.into(),
                    }
                ),
            ),
            (
                "Credentials",
                format!(
                    "{:#?}",
                    Credentials(LoginRequest {
                        username: "jane".into(),
                        password: secret.into(),
                    })
                ),
            ),
            (
                "RefreshRequest",
                format!(
                    "{:?}",
                    RefreshRequest {
                        refresh_token: secret.into(),
                    }
                ),
            ),
            (
                "TokenResponse",
                format!(
                    "{:?}",
                    TokenResponse {
                        access_token: secret.into(),
                        token_type: "bearer".into(),
                        expires_in: 1800,
                        refresh_token: format!("{secret}2"),
                    }
                ),
            ),
        ];
        for (name, shown) in cases {
            assert!(!shown.contains(secret), "{name} leaks its secret: {shown}");
            assert!(
                shown.contains(REDACTED),
                "{name} marks the redaction: {shown}"
            );
        }
        let login = format!(
            "{:?}",
            LoginRequest {
                username: "jane".into(),
                password: secret.into(),
            }
        );
        assert!(
            login.contains("jane"),
            "the username stays visible: {login}"
        );
    }
}
