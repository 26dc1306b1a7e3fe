//! Account tokens: the single-use secrets mailed to a user to verify an e-mail address or
//! to reset a forgotten password, and how long each kind stays valid.

use std::time::Duration;

/// What an account token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountTokenPurpose {
    /// Confirms that the user reads the address the token was mailed to.
    EmailVerification,
    /// Sets a new password without the old one.
    PasswordReset,
}

impl AccountTokenPurpose {
    pub const ALL: [Self; 2] = [Self::EmailVerification, Self::PasswordReset];

    /// The name stored with the token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// How long a token of this purpose is valid after it was issued.
    pub const fn lifetime(self) -> Duration {
        match self {
            Self::EmailVerification => EMAIL_VERIFICATION_TOKEN_LIFETIME,
            Self::PasswordReset => PASSWORD_RESET_TOKEN_LIFETIME,
        }
    }
}

/// A verification link works for 48 hours.
pub const EMAIL_VERIFICATION_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// A password-reset link works for one hour.
pub const PASSWORD_RESET_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The longest token a request may present (issued ones are 43 characters; anything
/// longer cannot be one and is refused before it is hashed).
pub const ACCOUNT_TOKEN_MAX_LEN: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_have_their_lifetimes() {
        for purpose in AccountTokenPurpose::ALL {
            assert_eq!(
                AccountTokenPurpose::parse(purpose.as_str()),
                Some(purpose),
                "{purpose:?}"
            );
        }
        assert_eq!(AccountTokenPurpose::parse("login"), None);
        assert_eq!(
            AccountTokenPurpose::EmailVerification.lifetime(),
            Duration::from_secs(172_800)
        );
        assert_eq!(
            AccountTokenPurpose::PasswordReset.lifetime(),
            Duration::from_secs(3_600)
        );
    }
}
