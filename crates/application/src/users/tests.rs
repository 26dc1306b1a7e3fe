//! Use-case tests of the user service with mocked ports: the shared fixtures here, one
//! child module per use case.

mod admin;
mod delete;
mod moderation;
mod password;
mod queries;
mod register;
mod update;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};

use super::ports::{
    MockOwnedContent, MockPasswordHasher, MockUserRepository, MockVerificationMail,
};
use super::{UserService, UserSettings};
use crate::clock::MockClock;
use crate::storage::RepositoryError;
use crate::validation::FieldViolation;

/// The fixed time every test runs at.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

fn id(n: i64) -> UserId {
    UserId::new(n).expect("positive id")
}

fn actor(n: i64, role: Role) -> Actor {
    Actor { id: id(n), role }
}

/// A stored user `user{n}` with the given role and status.
fn user(n: i64, role: Role, status: UserStatus) -> User {
    User {
        id: id(n),
        username: Username::parse(&format!("user{n}")).expect("username"),
        name: PersonName::parse("Some One").expect("name"),
        email: Email::parse(&format!("user{n}@example.com")).expect("email"),
        role,
        status,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version: 3,
        created_at: now(),
        updated_at: now(),
    }
}

fn storage_failure() -> RepositoryError {
    RepositoryError::new(std::io::Error::other("disk gone"))
}

/// The `(field, code)` pairs of some violations, in order.
fn codes(violations: &[FieldViolation]) -> Vec<(&str, &str)> {
    violations
        .iter()
        .map(|v| (v.field.as_str(), v.code.as_str()))
        .collect()
}

/// The mocked ports of a [`UserService`]. A mock without an expectation for a call
/// fails the test when called, so every port a case does not arm must stay untouched.
struct Ports {
    users: MockUserRepository,
    hasher: MockPasswordHasher,
    owned: Option<MockOwnedContent>,
    verification: Option<MockVerificationMail>,
    settings: UserSettings,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            hasher: MockPasswordHasher::new(),
            owned: None,
            verification: None,
            settings: UserSettings::default(),
        }
    }

    /// Answers `get(id)` with this user, once per call.
    fn stored(mut self, target: User) -> Self {
        let target_id = target.id;
        self.users
            .expect_get()
            .withf(move |wanted| *wanted == target_id)
            .returning(move |_| Ok(Some(target.clone())));
        self
    }

    /// The service over these ports, with a clock fixed at [`now`].
    fn service(self) -> UserService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let service = UserService::new(
            Arc::new(self.users),
            Arc::new(self.hasher),
            Arc::new(clock),
            self.settings,
        );
        let service = match self.verification {
            Some(verification) => service.with_verification_mail(Arc::new(verification)),
            None => service,
        };
        match self.owned {
            Some(owned) => service.with_owned_content(Arc::new(owned)),
            None => service,
        }
    }
}
