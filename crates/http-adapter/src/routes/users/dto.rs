//! Wire types of the users resource, with their garde rules (which call the domain's
//! constructors) and their conversion into application requests.

use chrono::{DateTime, NaiveDate, Utc};
use garde::Validate;
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use vidgen_application::users::ports::UserSortField;
use vidgen_domain::users::{
    Age, Email, PasswordPolicy, PasswordRule, PersonName, PlainPassword, Role, User, UserStatus,
    Username,
};

use vidgen_application::users::UserService;
use vidgen_application::users::register::{RegisterUser, RegistrationFacts};

use crate::error::{ApiError, FieldError};
use crate::listing::SortBy;
use crate::media_links::MediaUrls;
use crate::validation::{Validated, garde_errors, merge, rule, single_line};

// ---- garde validators: each calls into the domain, so each rule lives once -------------

pub(crate) fn username_shape(value: &str, _: &()) -> garde::Result {
    match Username::parse(value) {
        Ok(_) => Ok(()),
        Err(errors) => {
            let first = &errors[0];
            Err(rule(first.code(), first))
        }
    }
}

pub(crate) fn username_charset(value: &str, _: &()) -> garde::Result {
    match Username::parse(value) {
        Err(errors) if errors.len() > 1 => Err(rule(errors[1].code(), &errors[1])),
        _ => Ok(()),
    }
}

pub(crate) fn valid_person_name(value: &str, _: &()) -> garde::Result {
    PersonName::parse(value)
        .map(|_| ())
        .map_err(|e| rule(e.code(), e))
}

pub(crate) fn valid_email(value: &str, _: &()) -> garde::Result {
    Email::parse(value)
        .map(|_| ())
        .map_err(|e| rule(e.code(), e))
}

pub(crate) fn password_rule(wanted: PasswordRule) -> impl FnOnce(&str, &()) -> garde::Result {
    move |value, _| match PasswordPolicy::check(value) {
        Err(broken) if broken.contains(&wanted) => Err(rule(wanted.code(), wanted.message())),
        _ => Ok(()),
    }
}

/// The `__all__` error of a `confirm_password` that differs from the password it confirms
/// (in the field `field`).
pub(crate) fn confirmation_error(
    password: &str,
    confirmation: &str,
    field: &str,
) -> Option<FieldError> {
    (password != confirmation).then(|| {
        FieldError::new(
            "__all__",
            format!("confirm_password must equal {field}"),
            "password_mismatch",
        )
    })
}

fn valid_age(value: &i64, _: &()) -> garde::Result {
    Age::new(*value).map(|_| ()).map_err(|e| rule("range", e))
}

// ---- enums on the wire --------------------------------------------------------------

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum RoleDto {
    User,
    Moderator,
    Admin,
}

impl From<Role> for RoleDto {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Moderator => Self::Moderator,
            Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(role: RoleDto) -> Self {
        match role {
            RoleDto::User => Self::User,
            RoleDto::Moderator => Self::Moderator,
            RoleDto::Admin => Self::Admin,
        }
    }
}

/// Where an account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum StatusDto {
    Active,
    Inactive,
    Suspended,
    PendingVerification,
}

impl From<UserStatus> for StatusDto {
    fn from(status: UserStatus) -> Self {
        match status {
            UserStatus::Active => Self::Active,
            UserStatus::Inactive => Self::Inactive,
            UserStatus::Suspended => Self::Suspended,
            UserStatus::PendingVerification => Self::PendingVerification,
        }
    }
}

impl From<StatusDto> for UserStatus {
    fn from(status: StatusDto) -> Self {
        match status {
            StatusDto::Active => Self::Active,
            StatusDto::Inactive => Self::Inactive,
            StatusDto::Suspended => Self::Suspended,
            StatusDto::PendingVerification => Self::PendingVerification,
        }
    }
}

// ---- requests -------------------------------------------------------------------------

/// A registration.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    /// Letters, digits, `_` and `-`; not a reserved name.
    #[openapi(example = "\"jane_doe\"")]
    #[garde(custom(username_shape), custom(username_charset))]
    pub username: String,
    /// Display name.
    #[openapi(example = "\"Jane Doe\"")]
    #[garde(custom(valid_person_name))]
    pub name: String,
    /// E-mail address (stored lower-cased); its domain must be allowed.
    #[openapi(example = "\"jane@example.com\"")]
    #[garde(custom(valid_email))]
    pub email: String,
    /// With an upper-case letter, a lower-case letter and a digit.
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(
        custom(password_rule(PasswordRule::MinLength)),
        custom(password_rule(PasswordRule::MaxLength)),
        custom(password_rule(PasswordRule::Uppercase)),
        custom(password_rule(PasswordRule::Lowercase)),
        custom(password_rule(PasswordRule::Digit)),
        custom(password_rule(PasswordRule::ControlCharacters))
    )]
    pub password: String,
    /// Must equal `password`.
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(skip)]
    pub confirm_password: String,
    /// Age in years; must agree with `birth_date` within a year.
    #[openapi(example = "30")]
    #[garde(inner(custom(valid_age)))]
    pub age: Option<i64>,
    /// Date of birth (`YYYY-MM-DD`), not in the future.
    #[openapi(example = "\"1995-04-12\"")]
    #[garde(skip)]
    pub birth_date: Option<NaiveDate>,
}

/// Shown in place of a password in `Debug` output.
pub(crate) const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for UserCreate {
    /// The passwords are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreate")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("confirm_password", &REDACTED)
            .field("age", &self.age)
            .field("birth_date", &self.birth_date)
            .finish()
    }
}

impl Validated for UserCreate {
    fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = garde_errors(self);
        errors.extend(confirmation_error(
            &self.password,
            &self.confirm_password,
            "password",
        ));
        errors
    }
}

/// Parsing after validation cannot fail; a failure here is a bug, reported as a 422
/// rather than a panic.
fn parsed<T, E>(result: Result<T, E>, field: &str) -> Result<T, FieldError> {
    result.map_err(|_| FieldError::new(field, "invalid value", "invalid"))
}

impl UserCreate {
    /// The registration, or one 422 listing every problem: the fields that were missing,
    /// unknown or mistyped (`shape_errors`, from the extractor), the field rules of this
    /// type and the application's registration rules (reserved names, e-mail domain,
    /// birth date), so a client learns of every problem at once.
    pub fn try_into_domain(
        self,
        users: &UserService,
        shape_errors: Vec<FieldError>,
    ) -> Result<RegisterUser, ApiError> {
        let username = Username::parse(&self.username).ok();
        let email = Email::parse(&self.email).ok();
        let facts = RegistrationFacts {
            username: username.as_ref(),
            email: email.as_ref(),
            age: self.age.and_then(|age| Age::new(age).ok()),
            birth_date: self.birth_date,
        };
        let mut rule_errors = self.field_errors();
        rule_errors.extend(
            users
                .registration_violations(facts)
                .into_iter()
                .map(FieldError::from),
        );
        let errors = merge(shape_errors, rule_errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(RegisterUser {
            username: parsed(Username::parse(&self.username), "username")?,
            name: parsed(PersonName::parse(&self.name), "name")?,
            email: parsed(Email::parse(&self.email), "email")?,
            password: PlainPassword::new(self.password),
            age: self.age.map(|a| parsed(Age::new(a), "age")).transpose()?,
            birth_date: self.birth_date,
        })
    }
}

/// A partial change: any subset of `username`, `name`, `email`. Role and status cannot be
/// set here (unknown fields are refused). Changing your own `email` also needs
/// `current_password`.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// New username (same rules as at registration).
    #[openapi(example = "\"jane_d\"")]
    #[garde(inner(custom(username_shape), custom(username_charset)))]
    pub username: Option<String>,
    /// New display name.
    #[openapi(example = "\"Jane D.\"")]
    #[garde(inner(custom(valid_person_name)))]
    pub name: Option<String>,
    /// New e-mail address.
    #[openapi(example = "\"jane.d@example.com\"")]
    #[garde(inner(custom(valid_email)))]
    pub email: Option<String>,
    /// Your password: required when you change your own e-mail address (422 when
    /// missing, 403 when wrong; counted like a login attempt); not needed for other
    /// changes, nor by an admin changing someone else's address. The old address is told
    /// of every change of address.
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(inner(length(chars, min = 1, max = PasswordPolicy::MAX_LEN), custom(single_line)))]
    pub current_password: Option<String>,
}

impl std::fmt::Debug for UserUpdate {
    /// The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("email", &self.email)
            .field(
                "current_password",
                &self.current_password.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

impl Validated for UserUpdate {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

impl UserUpdate {
    pub fn try_into_domain(
        self,
    ) -> Result<vidgen_application::users::update::UpdateUser, FieldError> {
        Ok(vidgen_application::users::update::UpdateUser {
            username: self
                .username
                .map(|u| parsed(Username::parse(&u), "username"))
                .transpose()?,
            name: self
                .name
                .map(|n| parsed(PersonName::parse(&n), "name"))
                .transpose()?,
            email: self
                .email
                .map(|e| parsed(Email::parse(&e), "email"))
                .transpose()?,
            current_password: self.current_password.map(PlainPassword::new),
        })
    }
}

/// A full replacement of `username`, `name` and `email`. Changing your own `email` also
/// needs `current_password`.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UserReplace {
    /// Username (same rules as at registration).
    #[openapi(example = "\"jane_doe\"")]
    #[garde(custom(username_shape), custom(username_charset))]
    pub username: String,
    /// Display name.
    #[openapi(example = "\"Jane Doe\"")]
    #[garde(custom(valid_person_name))]
    pub name: String,
    /// E-mail address.
    #[openapi(example = "\"jane@example.com\"")]
    #[garde(custom(valid_email))]
    pub email: String,
    /// Your password: required when `email` changes your own address (422 when missing,
    /// 403 when wrong; counted like a login attempt).
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(inner(length(chars, min = 1, max = PasswordPolicy::MAX_LEN), custom(single_line)))]
    pub current_password: Option<String>,
}

impl std::fmt::Debug for UserReplace {
    /// The password is never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserReplace")
            .field("username", &self.username)
            .field("name", &self.name)
            .field("email", &self.email)
            .field(
                "current_password",
                &self.current_password.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

impl Validated for UserReplace {
    fn field_errors(&self) -> Vec<FieldError> {
        garde_errors(self)
    }
}

impl UserReplace {
    pub fn try_into_domain(
        self,
    ) -> Result<vidgen_application::users::update::UpdateUser, FieldError> {
        UserUpdate {
            username: Some(self.username),
            name: Some(self.name),
            email: Some(self.email),
            current_password: self.current_password,
        }
        .try_into_domain()
    }
}

/// A password change.
#[derive(Deserialize, Validate, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use now.
    #[openapi(example = "\"Sup3rSecret\"")]
    #[garde(length(chars, min = 1, max = PasswordPolicy::MAX_LEN), custom(single_line))]
    pub current_password: String,
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

impl std::fmt::Debug for PasswordChange {
    /// The passwords are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .field("confirm_password", &REDACTED)
            .finish()
    }
}

impl Validated for PasswordChange {
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

/// A new status.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct StatusUpdate {
    pub status: StatusDto,
}

impl Validated for StatusUpdate {
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// A new role.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    pub role: RoleDto,
}

impl Validated for RoleUpdate {
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

// ---- responses ------------------------------------------------------------------------

/// A user as they and the staff see them (never a password or hash).
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserResponse {
    #[openapi(example = "1")]
    pub id: i64,
    #[openapi(example = "\"jane_doe\"")]
    pub username: String,
    #[openapi(example = "\"Jane Doe\"")]
    pub name: String,
    #[openapi(example = "\"jane@example.com\"")]
    pub email: String,
    pub role: RoleDto,
    pub status: StatusDto,
    #[openapi(example = "30")]
    pub age: Option<i64>,
    #[openapi(example = "\"1995-04-12\"")]
    pub birth_date: Option<NaiveDate>,
    /// Absolute, signed link to the avatar image (an `<img src>` loads it without a
    /// token), once one is uploaded. It carries `expires` and `signature`, is valid
    /// `MEDIA_URL_TTL_SECONDS` and stops opening once the user's sessions end.
    #[openapi(
        example = "\"https://api.example.com/api/v1/users/1/avatar?expires=1767225600&signature=q2hX...\""
    )]
    pub avatar_url: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl UserResponse {
    /// The user, with their avatar's link built by `urls`.
    pub fn linked(user: User, urls: &MediaUrls) -> Self {
        let avatar_url = urls.avatar_url(&user);
        Self {
            id: user.id.get(),
            username: user.username.to_string(),
            name: user.name.to_string(),
            email: user.email.to_string(),
            role: user.role.into(),
            status: user.status.into(),
            age: user.age.map(|a| i64::from(a.get())),
            birth_date: user.birth_date,
            avatar_url,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// What any authenticated user may see of another.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PublicUserResponse {
    #[openapi(example = "1")]
    pub id: i64,
    #[openapi(example = "\"jane_doe\"")]
    pub username: String,
    #[openapi(example = "\"Jane Doe\"")]
    pub name: String,
    /// Absolute, signed link to the avatar image, once one is uploaded (as on
    /// `UserResponse`).
    pub avatar_url: Option<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

impl PublicUserResponse {
    /// The user's public fields, with their avatar's link built by `urls`.
    pub fn linked(user: User, urls: &MediaUrls) -> Self {
        let full = UserResponse::linked(user, urls);
        Self {
            id: full.id,
            username: full.username,
            name: full.name,
            avatar_url: full.avatar_url,
            created_at: full.created_at,
        }
    }
}

// ---- query and path -------------------------------------------------------------------

/// Filters, sorting and paging of the user list.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UserListQuery {
    /// Rows to skip.
    pub skip: Option<i64>,
    /// Rows to return.
    pub limit: Option<i64>,
    /// Case-insensitive substring of name, email or username.
    pub search: Option<String>,
    /// Only users with this status.
    pub status: Option<StatusDto>,
    /// Only users with this role.
    pub role: Option<RoleDto>,
    /// Sort column (default `created_at`).
    pub sort_by: Option<SortBy<UserSortField>>,
    /// `asc` or `desc` (default `desc`).
    pub sort_order: Option<crate::listing::SortOrderDto>,
}

impl Validated for UserListQuery {
    fn field_errors(&self) -> Vec<FieldError> {
        crate::listing::list_errors(self.skip, self.limit, self.search.as_deref())
    }
}

/// A user id in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UserPath {
    /// The user's id (a positive integer).
    pub user_id: i64,
}

/// The entry of a path id that is not positive.
pub(crate) fn positive_id(field: &str, raw: i64) -> Option<FieldError> {
    (raw <= 0).then(|| FieldError::new(field, "must be a positive integer", "range"))
}

impl Validated for UserPath {
    fn field_errors(&self) -> Vec<FieldError> {
        positive_id("user_id", self.user_id).into_iter().collect()
    }
}

/// A username in the path.
#[derive(Debug, Deserialize, Apiv2Schema)]
pub struct UsernamePath {
    /// The username, compared ignoring case.
    pub username: String,
}

impl Validated for UsernamePath {
    fn field_errors(&self) -> Vec<FieldError> {
        vidgen_domain::text::check_single_line(&self.username)
            .err()
            .map(|e| FieldError::new("username", e.to_string(), e.code()))
            .into_iter()
            .collect()
    }
}

// ---- the numbers the OpenAPI document shows, from the same domain constants -------------

use crate::registry::{Constraint as C, FieldDoc, ParamDoc};

const USERNAME: &[C] = &[
    C::MinLength(Username::MIN_LEN as u64),
    C::MaxLength(Username::MAX_LEN as u64),
    C::Pattern(Username::PATTERN),
];
const NAME: &[C] = &[
    C::MinLength(PersonName::MIN_LEN as u64),
    C::MaxLength(PersonName::MAX_LEN as u64),
];
const EMAIL: &[C] = &[C::Format("email"), C::MaxLength(Email::MAX_LEN as u64)];
const PASSWORD: &[C] = &[
    C::MinLength(PasswordPolicy::MIN_LEN as u64),
    C::MaxLength(PasswordPolicy::MAX_LEN as u64),
    C::Format("password"),
];
const AGE: &[C] = &[C::Minimum(Age::MIN), C::Maximum(Age::MAX), C::Nullable];
const BIRTH_DATE: &[C] = &[C::Format("date"), C::Nullable];
const CURRENT_PASSWORD: &[C] = &[
    C::MinLength(1),
    C::MaxLength(PasswordPolicy::MAX_LEN as u64),
    C::Format("password"),
];
const OPTIONAL: &[C] = &[C::Nullable];

macro_rules! fields {
    ($($schema:literal . $field:literal => $constraints:expr),+ $(,)?) => {
        &[$(FieldDoc { schema: $schema, field: $field, constraints: $constraints }),+]
    };
}

/// Constraints of the users wire types.
pub const FIELD_DOCS: &[FieldDoc] = fields![
    "UserCreate"."username" => USERNAME,
    "UserCreate"."name" => NAME,
    "UserCreate"."email" => EMAIL,
    "UserCreate"."password" => PASSWORD,
    "UserCreate"."confirm_password" => PASSWORD,
    "UserCreate"."age" => AGE,
    "UserCreate"."birth_date" => BIRTH_DATE,
    "UserUpdate"."username" => USERNAME,
    "UserUpdate"."name" => NAME,
    "UserUpdate"."email" => EMAIL,
    "UserUpdate"."username" => OPTIONAL,
    "UserUpdate"."name" => OPTIONAL,
    "UserUpdate"."email" => OPTIONAL,
    "UserReplace"."username" => USERNAME,
    "UserReplace"."name" => NAME,
    "UserReplace"."email" => EMAIL,
    "UserUpdate"."current_password" => CURRENT_PASSWORD,
    "UserReplace"."current_password" => CURRENT_PASSWORD,
    "UserUpdate"."current_password" => OPTIONAL,
    "UserReplace"."current_password" => OPTIONAL,
    "PasswordChange"."current_password" => CURRENT_PASSWORD,
    "PasswordChange"."new_password" => PASSWORD,
    "PasswordChange"."confirm_password" => PASSWORD,
    "UserResponse"."email" => EMAIL,
    "UserResponse"."age" => AGE,
    "UserResponse"."birth_date" => BIRTH_DATE,
];

/// An id in the path: a positive 64-bit integer.
pub(crate) const ID: &[C] = &[C::Minimum(1), C::Format("int64")];

/// Constraints of the users' path parameters.
pub const PARAM_DOCS: &[ParamDoc] = &[ParamDoc {
    name: "user_id",
    constraints: ID,
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_password() {
        let secret = "Sup3rSecretValue";
        let create = format!(
            "{:?}",
            UserCreate {
                username: "jane_doe".into(),
                name: "Jane".into(),
                email: "jane@example.com".into(),
                password: secret.into(),
                confirm_password: format!("{secret}2"),
                age: Some(30),
                birth_date: None,
            }
        );
        let change = format!(
            "{:#?}",
            PasswordChange {
                current_password: format!("{secret}0"),
                new_password: secret.into(),
                confirm_password: format!("{secret}2"),
            }
        );
        for (name, shown) in [("UserCreate", &create), ("PasswordChange", &change)] {
            assert!(!shown.contains(secret), "{name} leaks a password: {shown}");
            assert!(
                shown.contains(REDACTED),
                "{name} marks the redaction: {shown}"
            );
        }
        assert!(
            create.contains("jane_doe") && create.contains("jane@example.com"),
            "UserCreate keeps the other fields visible: {create}"
        );
    }
}
