//! `/api/v1/users/password-recovery`, `/password-reset`, `/verify-email` and
//! `/verify-email/resend`: the account lifecycle. Handlers parse, count the request
//! against its rate limits, call one use case and map the result.

use actix_web::HttpRequest;
use actix_web::http::Method;
use garde::Validate;
use paperclip::actix::{Apiv2Schema, NoContent, api_v2_operation, web};
use serde::{Deserialize, Serialize};
use vidgen_application::account::AccountService;
use vidgen_application::account::recovery::RequestPasswordResetError;
use vidgen_application::account::reset::{ResetPassword, ResetPasswordError};
use vidgen_application::account::verification::{ResendVerificationError, VerifyEmailError};
use vidgen_domain::users::account_tokens::ACCOUNT_TOKEN_MAX_LEN;
use vidgen_domain::users::{Email, PasswordPolicy, PasswordRule, PlainPassword};

use crate::auth::CurrentUser;
use crate::error::{ApiError, FieldError};
use crate::middleware::rate_limit;
use crate::registry::{Constraint as C, FieldDoc, Registry, RouteEntry};
use crate::responses::AcceptedJson;
use crate::routes::users::dto::{confirmation_error, password_rule, valid_email};
use crate::validation::{ValidJson, Validated, garde_errors, single_line};

/// Password recovery.
pub const PASSWORD_RECOVERY: &str = "/api/v1/users/password-recovery";
/// Password reset with a mailed token.
pub const PASSWORD_RESET: &str = "/api/v1/users/password-reset";
/// E-mail verification with a mailed token.
pub const VERIFY_EMAIL: &str = "/api/v1/users/verify-email";
/// A new verification e-mail.
pub const VERIFY_EMAIL_RESEND: &str = "/api/v1/users/verify-email/resend";

/// The account lifecycle routes.
pub fn registry() -> Registry {
    use RouteEntry as R;
    Registry::new(
        "Account",
        "E-mail verification and password recovery: single-use tokens mailed to the user.",
    )
    .route(
        R::public(
            Method::POST,
            PASSWORD_RECOVERY,
            "request_password_reset",
            password_recovery,
        )
        .maps::<RequestPasswordResetError>(),
    )
    .route(
        R::public(
            Method::POST,
            PASSWORD_RESET,
            "reset_password",
            password_reset,
        )
        .maps::<ResetPasswordError>(),
    )
    .route(
        R::public(Method::POST, VERIFY_EMAIL, "verify_email", verify_email)
            .maps::<VerifyEmailError>(),
    )
    .route(
        R::secured(
            Method::POST,
            VERIFY_EMAIL_RESEND,
            "resend_verification_email",
            resend_verification,
        )
        .maps::<ResendVerificationError>(),
    )
    .fields(FIELD_DOCS)
}

// ---- wire types -----------------------------------------------------------------------

/// Shown in place of a token or password in `Debug` output.
const REDACTED: &str = "[redacted]";

/// Who forgot their password.
#[derive(Debug, Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRecoveryRequest {
    /// The account's e-mail address (compared without case).
    #[openapi(example = "\"jane@example.com\"")]
    #[garde(custom(valid_email))]
    pub email: String,
}

impl Validated for PasswordRecoveryRequest {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

/// A new password, with the token of a reset e-mail.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The token of the reset e-mail (the `token` query parameter of its link).
    #[openapi(example = "\"q6Jm1o0wz3Vt9yS8kQ2cX5bN7hR4eP0aL1dF6gH3jK8\"")]
    #[garde(length(min = 1, max = ACCOUNT_TOKEN_MAX_LEN), custom(single_line))]
    pub token: String,
    /// The new password (same rules as at registration).
    #[openapi(example = "\"Even5tronger\"")]
    #[garde(
        custom(password_rule(PasswordRule::MinLength)),
        custom(password_rule(PasswordRule::MaxLength)),
        custom(password_rule(PasswordRule::Uppercase)),
        custom(password_rule(PasswordRule::Lowercase)),
        custom(password_rule(PasswordRule::Digit)),
        custom(password_rule(PasswordRule::ControlCharacters))
    )]
    pub new_password: String,
    /// Must equal `new_password`.
    #[openapi(example = "\"Even5tronger\"")]
    #[garde(skip)]
    pub confirm_password: String,
}

impl std::fmt::Debug for PasswordResetRequest {
    /// The token and passwords are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResetRequest")
            .field("token", &REDACTED)
            .field("new_password", &REDACTED)
            .field("confirm_password", &REDACTED)
            .finish()
    }
}

impl Validated for PasswordResetRequest {
    fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = garde_errors(self);
        errors.extend(confirmation_error(
            &self.new_password,
            &self.confirm_password,
            "new_password",
        ));
        errors
    }
}

/// The token of a verification e-mail.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerificationRequest {
    /// The token of the verification e-mail (the `token` query parameter of its link).
    #[openapi(example = "\"q6Jm1o0wz3Vt9yS8kQ2cX5bN7hR4eP0aL1dF6gH3jK8\"")]
    #[garde(length(min = 1, max = ACCOUNT_TOKEN_MAX_LEN), custom(single_line))]
    pub token: String,
}

impl std::fmt::Debug for EmailVerificationRequest {
    /// The token is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailVerificationRequest")
            .field("token", &REDACTED)
            .finish()
    }
}

impl Validated for EmailVerificationRequest {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

/// An e-mail is on its way (or, for password recovery, is if an account uses the
/// address: the answer is the same either way).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MailAccepted {
    /// What happens next.
    #[openapi(
        example = "\"If an account uses this address, an e-mail with a link to reset its password is on its way. The link works for 1 hour(s).\""
    )]
    pub message: String,
}

impl MailAccepted {
    fn recovery() -> Self {
        Self {
            message: format!(
                "If an account uses this address, an e-mail with a link to reset its password is on its way. The link works for {} hour(s).",
                vidgen_domain::users::account_tokens::PASSWORD_RESET_TOKEN_LIFETIME.as_secs()
                    / 3600
            ),
        }
    }

    fn verification() -> Self {
        Self {
            message: format!(
                "A new verification e-mail is on its way; earlier links no longer work. The link works for {} hours.",
                vidgen_domain::users::account_tokens::EMAIL_VERIFICATION_TOKEN_LIFETIME.as_secs()
                    / 3600
            ),
        }
    }
}

const EMAIL: &[C] = &[C::Format("email"), C::MaxLength(Email::MAX_LEN as u64)];
const TOKEN: &[C] = &[C::MinLength(1), C::MaxLength(ACCOUNT_TOKEN_MAX_LEN as u64)];
const PASSWORD: &[C] = &[
    C::MinLength(PasswordPolicy::MIN_LEN as u64),
    C::MaxLength(PasswordPolicy::MAX_LEN as u64),
    C::Format("password"),
];

/// Constraints of the account wire types.
const FIELD_DOCS: &[FieldDoc] = &[
    FieldDoc {
        schema: "PasswordRecoveryRequest",
        field: "email",
        constraints: EMAIL,
    },
    FieldDoc {
        schema: "PasswordResetRequest",
        field: "token",
        constraints: TOKEN,
    },
    FieldDoc {
        schema: "PasswordResetRequest",
        field: "new_password",
        constraints: PASSWORD,
    },
    FieldDoc {
        schema: "PasswordResetRequest",
        field: "confirm_password",
        constraints: PASSWORD,
    },
    FieldDoc {
        schema: "EmailVerificationRequest",
        field: "token",
        constraints: TOKEN,
    },
];

// ---- handlers -------------------------------------------------------------------------

/// Ask for a password reset
///
/// Mails a link to reset the password to the address, if an account that may log in uses
/// it. The answer is the same 202, with the same body and after the same work, whether
/// or not an account uses the address (no existence oracle). The link's token works for
/// one hour and once; asking again makes earlier links stop working. Limited per client
/// IP (`PASSWORD_RECOVERY_RATE_LIMIT` per hour) and per address (`ACCOUNT_MAIL_RATE_LIMIT`
/// per hour): beyond, 429 with `Retry-After`. The e-mail is sent by a background job
/// (retried with backoff), so a mail server outage never fails this request.
#[api_v2_operation]
async fn password_recovery(
    http: HttpRequest,
    account: web::Data<AccountService>,
    body: ValidJson<PasswordRecoveryRequest>,
) -> Result<AcceptedJson<MailAccepted>, ApiError> {
    let email = Email::parse(&body.into_inner().email)
        .map_err(|e| ApiError::invalid_field("email", e.to_string(), e.code()))?;
    rate_limit::recovery_request(&http, email.as_ref()).await?;
    account.request_password_reset(&email).await?;
    Ok(AcceptedJson(MailAccepted::recovery()))
}

/// Reset a password
///
/// Sets a new password (same rules as at registration) with the token of a reset e-mail.
/// Every refresh token of the user is revoked and every access token issued before stops
/// working; the token cannot be used again. A pending account becomes active (the link
/// proves the address). An unknown, forged, expired, used or superseded token is 400
/// `INVALID_TOKEN`; the password rules are checked first (422).
#[api_v2_operation]
async fn password_reset(
    account: web::Data<AccountService>,
    body: ValidJson<PasswordResetRequest>,
) -> Result<NoContent, ApiError> {
    let body = body.into_inner();
    account
        .reset_password(ResetPassword {
            token: body.token,
            new_password: PlainPassword::new(body.new_password),
        })
        .await?;
    Ok(NoContent)
}

/// Verify an e-mail address
///
/// With the token of a verification e-mail, a `pending_verification` account becomes
/// `active` and may create and upload videos. The token works for 48 hours and once, and
/// only while the account still has the address it was mailed to. An unknown, forged,
/// expired, used or superseded token is 400 `INVALID_TOKEN`.
#[api_v2_operation]
async fn verify_email(
    account: web::Data<AccountService>,
    body: ValidJson<EmailVerificationRequest>,
) -> Result<NoContent, ApiError> {
    account.verify_email(&body.into_inner().token).await?;
    Ok(NoContent)
}

/// Send the verification e-mail again
///
/// For a signed-in `pending_verification` account: mails a new verification link to its
/// address (earlier links stop working). Any other status is 409
/// `EMAIL_ALREADY_VERIFIED`. Limited per user (`ACCOUNT_MAIL_RATE_LIMIT` per hour): beyond,
/// 429 with `Retry-After`.
#[api_v2_operation]
async fn resend_verification(
    http: HttpRequest,
    current: CurrentUser,
    account: web::Data<AccountService>,
) -> Result<AcceptedJson<MailAccepted>, ApiError> {
    rate_limit::account_mail_request(&http, &current.0.id.to_string()).await?;
    account.resend_verification(&current.0).await?;
    Ok(AcceptedJson(MailAccepted::verification()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_token_or_password() {
        let secret = "Sup3rSecretValue";
        let shown = [
            format!(
                "{:?}",
                PasswordResetRequest {
                    token: secret.into(),
                    new_password: format!("{secret}1"),
                    confirm_password: format!("{secret}2"),
                }
            ),
            format!(
                "{:?}",
                EmailVerificationRequest {
                    token: secret.into()
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(secret), "{text}");
            assert!(text.contains(REDACTED), "{text}");
        }
    }

    #[test]
    fn a_reset_reports_weak_and_mismatched_passwords_together() {
        let request = PasswordResetRequest {
            token: String::new(),
            new_password: "short".into(),
            confirm_password: "other".into(),
        };
        let errors = request.field_errors();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"token"), "{errors:?}");
        assert!(fields.contains(&"new_password"), "{errors:?}");
        assert!(fields.contains(&"__all__"), "{errors:?}");
    }
}
