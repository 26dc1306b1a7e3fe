//! Registration of a new user (public, so the reserved-name rule applies).

use chrono::NaiveDate;
use vidgen_domain::users::{
    Age, BirthDate, Email, PasswordPolicy, PersonName, PlainPassword, Role, User, UserStatus,
    Username, age_matches_birth_date,
};

use super::UserService;
use super::ports::{NewUser, UserWriteError};
use crate::storage::RepositoryError;
use crate::validation::FieldViolation;

/// A registration, its fields already well-formed.
#[derive(Debug, Clone)]
pub struct RegisterUser {
    pub username: Username,
    pub name: PersonName,
    pub email: Email,
    pub password: PlainPassword,
    pub age: Option<Age>,
    pub birth_date: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterUserError {
    #[error("the registration breaks {} rule(s)", .0.len())]
    Invalid(Vec<FieldViolation>),
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("registration failed")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<RepositoryError> for RegisterUserError {
    fn from(error: RepositoryError) -> Self {
        Self::Unexpected(Box::new(error))
    }
}

impl From<UserWriteError> for RegisterUserError {
    fn from(error: UserWriteError) -> Self {
        match error {
            UserWriteError::EmailTaken => Self::EmailTaken,
            UserWriteError::UsernameTaken => Self::UsernameTaken,
            other => Self::Unexpected(Box::new(other)),
        }
    }
}

/// The rules a new account must satisfy beyond the shape of its fields, on the fields
/// that are well-formed (`None` for one that is missing or malformed): the e-mail domain
/// policy, a birth date between 1900 and `today`, an age that agrees with it.
pub(crate) fn account_rules(
    email: Option<&Email>,
    age: Option<Age>,
    birth_date: Option<NaiveDate>,
    today: NaiveDate,
    policy: &vidgen_domain::users::EmailDomainPolicy,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    if let Some(Err(error)) = email.map(|email| policy.check(email)) {
        violations.push(FieldViolation::new(
            "email",
            "email_domain",
            error.to_string(),
        ));
    }
    if let Some(birth_date) = birth_date {
        if let Err(error) = BirthDate::check(birth_date, today) {
            violations.push(FieldViolation::new(
                "birth_date",
                error.code(),
                error.to_string(),
            ));
        } else if let Some(age) = age
            && !age_matches_birth_date(age, birth_date, today)
        {
            violations.push(FieldViolation::new(
                "__all__",
                "age_birth_date_mismatch",
                "age does not agree with birth_date",
            ));
        }
    }
    violations
}

/// [`account_rules`] plus the password policy. Shared by public registration and the
/// creation of admins.
pub(crate) fn account_violations(
    email: &Email,
    password: &PlainPassword,
    age: Option<Age>,
    birth_date: Option<NaiveDate>,
    today: NaiveDate,
    policy: &vidgen_domain::users::EmailDomainPolicy,
) -> Vec<FieldViolation> {
    let mut violations = account_rules(Some(email), None, None, today, policy);
    if let Err(broken) = PasswordPolicy::check(password.expose()) {
        for rule in broken {
            violations.push(FieldViolation::new("password", rule.code(), rule.message()));
        }
    }
    violations.extend(account_rules(None, age, birth_date, today, policy));
    violations
}

/// The reserved-name rule, for the use cases where it applies.
pub(crate) fn reserved(username: &Username) -> Option<FieldViolation> {
    username
        .is_reserved()
        .then(|| FieldViolation::new("username", "username_reserved", "this username is reserved"))
}

/// What the registration rules look at, as far as the request is well-formed (`None`
/// for a field that is missing or malformed). The HTTP adapter asks for these rules
/// before every field is known to be valid, so that one answer reports every problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistrationFacts<'a> {
    pub username: Option<&'a Username>,
    pub email: Option<&'a Email>,
    pub age: Option<Age>,
    pub birth_date: Option<NaiveDate>,
}

impl UserService {
    /// The registration rules beyond each field's own shape (reserved usernames, the
    /// e-mail domain policy, the birth date by this service's clock, age against birth
    /// date), checked on what is known. [`UserService::register`] applies the same rules.
    pub fn registration_violations(&self, facts: RegistrationFacts<'_>) -> Vec<FieldViolation> {
        let mut violations: Vec<FieldViolation> =
            facts.username.and_then(reserved).into_iter().collect();
        violations.extend(account_rules(
            facts.email,
            facts.age,
            facts.birth_date,
            self.clock.now().date_naive(),
            &self.settings.email_policy,
        ));
        violations
    }

    /// Registers a user with role `user`, status `active` (or `pending_verification`
    /// when e-mail verification is required, and then a verification e-mail is queued).
    ///
    /// # Errors
    /// `Invalid` lists every broken rule (reserved username, e-mail domain, password
    /// strength, birth date); `EmailTaken` / `UsernameTaken` for duplicates ignoring case.
    #[tracing::instrument(skip_all, fields(username = %request.username))]
    pub async fn register(&self, request: RegisterUser) -> Result<User, RegisterUserError> {
        let now = self.clock.now();
        let mut violations: Vec<FieldViolation> = reserved(&request.username).into_iter().collect();
        violations.extend(account_violations(
            &request.email,
            &request.password,
            request.age,
            request.birth_date,
            now.date_naive(),
            &self.settings.email_policy,
        ));
        if !violations.is_empty() {
            return Err(RegisterUserError::Invalid(violations));
        }

        let password_hash = self
            .hasher
            .hash(request.password)
            .await
            .map_err(|e| RegisterUserError::Unexpected(Box::new(e)))?;
        let status = if self.settings.require_email_verification {
            UserStatus::PendingVerification
        } else {
            UserStatus::Active
        };
        let user = self
            .users
            .insert(NewUser {
                username: request.username,
                name: request.name,
                email: request.email,
                password_hash,
                role: Role::User,
                status,
                age: request.age,
                birth_date: request.birth_date,
                created_at: now,
            })
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        self.mail_verification(&user).await;
        Ok(user)
    }
}
