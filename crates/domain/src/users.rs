//! Users: identifiers, names, e-mail addresses, password rules, roles and statuses,
//! (in [`policy`]) who may do what to whom, and (in [`profile`]) their profile's address,
//! preferences and avatar rules.

pub mod account_tokens;
pub mod policy;
pub mod profile;

use std::fmt;
use std::str::FromStr;

use crate::text::{self, ControlCharacters};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Serialize, Serializer};

/// A user's id: a positive 64-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(i64);

impl UserId {
    /// `None` unless `raw` is positive.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

/// A username: 3..=50 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);
string_newtype!(Username);

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("must be at least {} characters", Username::MIN_LEN)]
    TooShort,
    #[error("must be at most {} characters", Username::MAX_LEN)]
    TooLong,
    #[error("may contain only letters, digits, `_` and `-`")]
    InvalidCharacters,
    #[error("{}", ControlCharacters)]
    ControlCharacters,
}

impl UsernameError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "pattern",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }
}

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 50;
    pub const PATTERN: &'static str = "^[A-Za-z0-9_-]+$";
    /// Names public registration may not take (compared ignoring case).
    pub const RESERVED: [&'static str; 4] = ["admin", "root", "system", "api"];

    /// Checks length and characters; reserved names are accepted here (see
    /// [`Username::is_reserved`]), since only public registration refuses them.
    ///
    /// # Errors
    /// Every broken rule, length first.
    pub fn parse(raw: &str) -> Result<Self, Vec<UsernameError>> {
        let mut errors = Vec::new();
        let length = raw.chars().count();
        if length < Self::MIN_LEN {
            errors.push(UsernameError::TooShort);
        } else if length > Self::MAX_LEN {
            errors.push(UsernameError::TooLong);
        }
        if text::check_single_line(raw).is_err() {
            errors.push(UsernameError::ControlCharacters);
        } else if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            errors.push(UsernameError::InvalidCharacters);
        }
        if errors.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(errors)
        }
    }

    pub fn is_reserved(&self) -> bool {
        Self::RESERVED
            .iter()
            .any(|reserved| self.0.eq_ignore_ascii_case(reserved))
    }

    /// The lower-cased form under which usernames are unique.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A person's display name: 1..=100 characters, not only white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);
string_newtype!(PersonName);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {} characters", PersonName::MAX_LEN)]
    TooLong,
    #[error("{}", ControlCharacters)]
    ControlCharacters,
}

impl PersonNameError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "too_short",
            Self::TooLong => "too_long",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }
}

impl PersonName {
    pub const MIN_LEN: usize = 1;
    pub const MAX_LEN: usize = 100;

    /// Trims surrounding white space, then checks the length in characters.
    ///
    /// # Errors
    /// Empty (or blank), too long, or containing control characters.
    pub fn parse(raw: &str) -> Result<Self, PersonNameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PersonNameError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(PersonNameError::TooLong);
        }
        if text::check_single_line(raw).is_err() {
            return Err(PersonNameError::ControlCharacters);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// An e-mail address, stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
string_newtype!(Email);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must be a valid e-mail address")]
    Invalid,
    #[error("must be at most {} characters", Email::MAX_LEN)]
    TooLong,
    #[error("{}", ControlCharacters)]
    ControlCharacters,
}

impl EmailError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid => "email",
            Self::TooLong => "too_long",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }
}

impl Email {
    pub const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;

    /// A conservative check: one `@`, a local part of 1..=64 printable ASCII characters
    /// without spaces or quotes, a domain of at least two dot-separated labels of
    /// letters, digits and hyphens.
    ///
    /// # Errors
    /// `ControlCharacters` on any control character, `TooLong` beyond 254 characters,
    /// `Invalid` otherwise.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        if text::check_single_line(raw).is_err() {
            return Err(EmailError::ControlCharacters);
        }
        let raw = raw.trim();
        if raw.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = raw.split_once('@').ok_or(EmailError::Invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= Self::MAX_LOCAL_LEN
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(EmailError::Invalid)
        }
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// Which e-mail domains may register. An empty allow list allows every domain; the
/// block list wins. An entry matches its domain and every subdomain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailDomainPolicy {
    pub allowed: Vec<String>,
    pub blocked: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailDomainError {
    #[error("e-mail addresses at {0} are not accepted")]
    Blocked(String),
    #[error("e-mail addresses at {0} are not accepted")]
    NotAllowed(String),
}

impl EmailDomainPolicy {
    fn matches(entry: &str, domain: &str) -> bool {
        domain == entry
            || domain
                .strip_suffix(entry)
                .is_some_and(|prefix| prefix.ends_with('.'))
    }

    /// # Errors
    /// `Blocked` when the domain is on the block list, `NotAllowed` when an allow list
    /// exists and the domain is not on it.
    pub fn check(&self, email: &Email) -> Result<(), EmailDomainError> {
        let domain = email.domain();
        if self
            .blocked
            .iter()
            .any(|entry| Self::matches(entry, domain))
        {
            return Err(EmailDomainError::Blocked(domain.to_owned()));
        }
        if !self.allowed.is_empty()
            && !self
                .allowed
                .iter()
                .any(|entry| Self::matches(entry, domain))
        {
            return Err(EmailDomainError::NotAllowed(domain.to_owned()));
        }
        Ok(())
    }
}

/// Longest refresh token a client may present (the issued ones are much shorter): a
/// bound on what a request can make the service look up.
pub const REFRESH_TOKEN_MAX_LEN: usize = 512;

/// A password as typed. Never shown in `Debug`, never serialized.
#[derive(Clone)]
pub struct PlainPassword(String);

impl PlainPassword {
    pub fn new(raw: String) -> Self {
        Self(raw)
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainPassword([redacted])")
    }
}

/// One rule of the password policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength,
    MaxLength,
    Uppercase,
    Lowercase,
    Digit,
    /// No control character (a password is one line, like every text but a few).
    ControlCharacters,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::MinLength => "password_too_short",
            Self::MaxLength => "password_too_long",
            Self::Uppercase | Self::Lowercase | Self::Digit => "password_strength",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }

    pub fn message(self) -> String {
        match self {
            Self::MinLength => format!("must be at least {} characters", PasswordPolicy::MIN_LEN),
            Self::MaxLength => format!("must be at most {} characters", PasswordPolicy::MAX_LEN),
            Self::Uppercase => "must contain at least one uppercase letter".to_owned(),
            Self::Lowercase => "must contain at least one lowercase letter".to_owned(),
            Self::Digit => "must contain at least one digit".to_owned(),
            Self::ControlCharacters => ControlCharacters.to_string(),
        }
    }
}

/// The password rules: 8..=128 characters with an upper-case letter, a lower-case letter
/// and a digit.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy;

impl PasswordPolicy {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 128;

    /// # Errors
    /// Every broken rule.
    pub fn check(raw: &str) -> Result<(), Vec<PasswordRule>> {
        let mut broken = Vec::new();
        let length = raw.chars().count();
        if length < Self::MIN_LEN {
            broken.push(PasswordRule::MinLength);
        }
        if length > Self::MAX_LEN {
            broken.push(PasswordRule::MaxLength);
        }
        if !raw.chars().any(char::is_uppercase) {
            broken.push(PasswordRule::Uppercase);
        }
        if !raw.chars().any(char::is_lowercase) {
            broken.push(PasswordRule::Lowercase);
        }
        if !raw.chars().any(|c| c.is_ascii_digit()) {
            broken.push(PasswordRule::Digit);
        }
        if text::check_single_line(raw).is_err() {
            broken.push(PasswordRule::ControlCharacters);
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(broken)
        }
    }
}

/// An age in years, 0..=150.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Age(u8);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {} and {}", Age::MIN, Age::MAX)]
pub struct AgeError;

impl Age {
    pub const MIN: i64 = 0;
    pub const MAX: i64 = 150;

    /// # Errors
    /// Outside `MIN..=MAX`.
    pub fn new(raw: i64) -> Result<Self, AgeError> {
        u8::try_from(raw)
            .ok()
            .filter(|age| i64::from(*age) <= Self::MAX)
            .map(Self)
            .ok_or(AgeError)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Full years between `birth_date` and `today`.
pub fn years_between(birth_date: NaiveDate, today: NaiveDate) -> i64 {
    let mut years = i64::from(today.year()) - i64::from(birth_date.year());
    if (today.month(), today.day()) < (birth_date.month(), birth_date.day()) {
        years -= 1;
    }
    years
}

/// Why a birth date is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    #[error("must not be in the future")]
    InFuture,
    #[error("must not be before {}", BirthDate::EARLIEST)]
    TooEarly,
}

impl BirthDateError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::InFuture => "birth_date_in_future",
            Self::TooEarly => "birth_date_too_early",
        }
    }
}

/// The rule on dates of birth: between [`BirthDate::EARLIEST`] and today.
#[derive(Debug, Clone, Copy)]
pub struct BirthDate;

impl BirthDate {
    /// The earliest date of birth accepted (as `YYYY-MM-DD`).
    pub const EARLIEST: &'static str = "1900-01-01";

    fn earliest() -> NaiveDate {
        NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
    }

    /// # Errors
    /// `InFuture` after `today`, `TooEarly` before [`BirthDate::EARLIEST`].
    pub fn check(date: NaiveDate, today: NaiveDate) -> Result<(), BirthDateError> {
        if date > today {
            Err(BirthDateError::InFuture)
        } else if date < Self::earliest() {
            Err(BirthDateError::TooEarly)
        } else {
            Ok(())
        }
    }
}

/// Whether a stated age agrees with a birth date, within one year.
pub fn age_matches_birth_date(age: Age, birth_date: NaiveDate, today: NaiveDate) -> bool {
    (years_between(birth_date, today) - i64::from(age.get())).abs() <= 1
}

macro_rules! string_enum {
    ($name:ident, $error:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownValue($error)),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// A string that names no value of an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown {0}")]
pub struct UnknownValue(&'static str);

impl UnknownValue {
    /// An unknown value of the enum called `what`.
    pub const fn new(what: &'static str) -> Self {
        Self(what)
    }
}

/// What a user may do beyond their own resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Moderator,
    Admin,
}
string_enum!(Role, "role", { User => "user", Moderator => "moderator", Admin => "admin" });

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserStatus {
    Active,
    Inactive,
    Suspended,
    PendingVerification,
}
string_enum!(UserStatus, "status", {
    Active => "active",
    Inactive => "inactive",
    Suspended => "suspended",
    PendingVerification => "pending_verification",
});

impl UserStatus {
    /// Active and pending-verification accounts may log in; the others may not.
    pub fn can_log_in(self) -> bool {
        matches!(self, Self::Active | Self::PendingVerification)
    }
}

/// A user as the rest of the system sees them (never with a password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub name: PersonName,
    pub email: Email,
    pub role: Role,
    pub status: UserStatus,
    pub age: Option<Age>,
    pub birth_date: Option<NaiveDate>,
    pub avatar_key: Option<String>,
    /// Bumped when every access token issued before must stop working.
    pub token_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests;
