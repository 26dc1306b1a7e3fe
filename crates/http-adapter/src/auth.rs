//! Authentication extractors: [`CurrentUser`] requires a valid bearer token; the OpenAPI
//! document marks exactly the operations that take it as secured.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;
use vidgen_application::auth::AuthService;
use vidgen_application::auth::authenticate::AuthenticateError;
use vidgen_domain::users::User;
use vidgen_domain::users::policy::Actor;

use crate::error::ApiError;

/// Name of the security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "bearerAuth";

/// The authenticated caller, loaded fresh for the request (so a suspended user or a
/// changed password takes effect at once).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.0.id,
            role: self.0.role,
        }
    }
}

/// The claims of this request's bearer token, whose signature and expiry were verified
/// earlier in the request (by the rate limiter).
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub vidgen_application::auth::ports::AccessClaims);

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    // UTF-8 rather than `to_str`'s visible-ASCII check, a byte at a time over the whole
    // token (1.3% of a `/users/me`): a token with other characters fails verification.
    let value = std::str::from_utf8(req.headers().get(header::AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let service = req.app_data::<web::Data<AuthService>>().cloned();
        // Verified already: the header it came from is this request's own.
        let verified = req.extensions().get::<VerifiedToken>().map(|v| v.0.clone());
        let token = match verified {
            Some(_) => None,
            None => bearer_token(req).map(str::to_owned),
        };
        Box::pin(async move {
            let service = service.ok_or_else(|| {
                ApiError::internal(std::io::Error::other("AuthService is not registered"))
            })?;
            let outcome = match (&verified, token) {
                (Some(claims), _) => service.authenticate_claims(claims).await,
                (None, Some(token)) => service.authenticate(&token).await,
                (None, None) => {
                    return Err(ApiError::Unauthorized("Missing bearer token".into()));
                }
            };
            match outcome {
                Ok(user) => {
                    tracing::Span::current().record("user_id", user.id.get());
                    Ok(Self(user))
                }
                Err(AuthenticateError::Token(error)) => {
                    Err(ApiError::Unauthorized(format!("Invalid token: {error}")))
                }
                Err(AuthenticateError::Revoked) => Err(ApiError::Unauthorized(
                    "The access token has been revoked".into(),
                )),
                Err(AuthenticateError::Unexpected(error)) => Err(ApiError::internal(error)),
            }
        })
    }
}

impl Apiv2Schema for CurrentUser {
    fn name() -> Option<String> {
        Some(SECURITY_SCHEME.to_owned())
    }

    fn security_scheme() -> Option<SecurityScheme> {
        Some(SecurityScheme {
            type_: "apiKey".into(),
            name: Some("Authorization".into()),
            in_: Some("header".into()),
            description: Some("Bearer access token".into()),
            ..SecurityScheme::default()
        })
    }
}

impl OperationModifier for CurrentUser {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let cases = [
            (Some("Bearer abc.def"), Some("abc.def")),
            (Some("bearer abc"), Some("abc")),
            (Some("Basic dXNlcjpwYXNz"), None),
            (Some("Bearer "), None),
            (Some("Bearer"), None),
            (None, None),
        ];
        for (header_value, expected) in cases {
            let mut request = TestRequest::default();
            if let Some(value) = header_value {
                request = request.insert_header((header::AUTHORIZATION, value));
            }
            let request = request.to_http_request();
            assert_eq!(bearer_token(&request), expected, "{header_value:?}");
        }
    }
}
