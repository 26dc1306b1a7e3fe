//! Use-case tests of the user service with mocked ports.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{
    Age, Email, EmailDomainPolicy, PersonName, PlainPassword, Role, User, UserId, UserStatus,
    Username,
};

use super::admin::{AdminBootstrap, CreateAdmin};
use super::delete::DeleteUserError;
use super::moderation::ModerateUserError;
use super::password::{ChangePassword, ChangePasswordError};
use super::ports::{
    MockPasswordHasher, MockUserRepository, PasswordHash, UserQuery, UserWriteError,
};
use super::queries::{GetUserError, ListUsersError};
use super::register::{RegisterUser, RegisterUserError};
use super::update::{UpdateUser, UpdateUserError};
use super::{UserService, UserSettings};
use crate::auth::ports::MockRefreshTokenRepository;
use crate::clock::MockClock;
use crate::storage::RepositoryError;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn id(n: i64) -> UserId {
    UserId::new(n).expect("positive id")
}

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
        token_version: 0,
        created_at: now(),
        updated_at: now(),
    }
}

struct Ports {
    users: MockUserRepository,
    tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
    settings: UserSettings,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
            settings: UserSettings::default(),
        }
    }

    fn service(self) -> UserService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        UserService::new(
            Arc::new(self.users),
            Arc::new(self.tokens),
            Arc::new(self.hasher),
            Arc::new(clock),
            self.settings,
        )
    }
}

fn registration(username: &str) -> RegisterUser {
    RegisterUser {
        username: Username::parse(username).expect("username"),
        name: PersonName::parse("Jane").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        password: PlainPassword::new("Sup3rSecret".into()),
        age: None,
        birth_date: None,
    }
}

fn storage_failure() -> RepositoryError {
    RepositoryError::new(std::io::Error::other("disk gone"))
}

fn actor(n: i64, role: Role) -> Actor {
    Actor { id: id(n), role }
}

#[tokio::test]
async fn register_reports_every_violation_without_touching_storage() {
    let mut ports = Ports::new();
    ports.settings.email_policy = EmailDomainPolicy {
        allowed: vec![],
        blocked: vec!["example.com".into()],
    };
    ports.users.expect_insert().never();
    ports.hasher.expect_hash().never();
    let mut request = registration("Admin");
    request.password = PlainPassword::new("weak".into());
    request.age = Some(Age::new(10).expect("age"));
    request.birth_date = chrono::NaiveDate::from_ymd_opt(1990, 1, 1);
    let Err(RegisterUserError::Invalid(violations)) = ports.service().register(request).await
    else {
        panic!("expected Invalid");
    };
    let codes: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| (v.field.as_str(), v.code.as_str()))
        .collect();
    for expected in [
        ("username", "username_reserved"),
        ("email", "email_domain"),
        ("password", "password_too_short"),
        ("password", "password_strength"),
        ("__all__", "age_birth_date_mismatch"),
    ] {
        assert!(
            codes.contains(&expected),
            "{expected:?} missing from {codes:?}"
        );
    }
}

#[tokio::test]
async fn register_maps_duplicates_and_failures() {
    type Case = (
        &'static str,
        fn() -> UserWriteError,
        fn(&RegisterUserError) -> bool,
    );
    let cases: Vec<Case> = vec![
        (
            "email taken",
            || UserWriteError::EmailTaken,
            |e| matches!(e, RegisterUserError::EmailTaken),
        ),
        (
            "username taken",
            || UserWriteError::UsernameTaken,
            |e| matches!(e, RegisterUserError::UsernameTaken),
        ),
        (
            "storage",
            || UserWriteError::Storage(storage_failure()),
            |e| matches!(e, RegisterUserError::Unexpected(_)),
        ),
    ];
    for (name, error, check) in cases {
        let mut ports = Ports::new();
        ports
            .hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("$argon2id$hash")));
        ports.users.expect_insert().returning(move |_| Err(error()));
        let result = ports.service().register(registration("jane")).await;
        assert!(
            result.as_ref().err().is_some_and(check),
            "{name}: {result:?}"
        );
    }
}

#[tokio::test]
async fn register_stores_a_hashed_active_user_or_a_pending_one() {
    for (require, status) in [
        (false, UserStatus::Active),
        (true, UserStatus::PendingVerification),
    ] {
        let mut ports = Ports::new();
        ports.settings.require_email_verification = require;
        ports
            .hasher
            .expect_hash()
            .withf(|p| p.expose() == "Sup3rSecret")
            .returning(|_| Ok(PasswordHash::new("$argon2id$hash")));
        ports
            .users
            .expect_insert()
            .withf(move |new| {
                new.password_hash.as_str() == "$argon2id$hash"
                    && new.role == Role::User
                    && new.status == status
                    && new.created_at == now()
            })
            .returning(move |_| Ok(user(1, Role::User, status)));
        let created = ports.service().register(registration("jane")).await;
        assert_eq!(
            created.map(|u| u.status).ok(),
            Some(status),
            "require={require}"
        );
    }
}

#[tokio::test]
async fn reads_follow_the_authorisation_rules() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .with(eq(id(2)))
        .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
    let service = ports.service();
    assert!(matches!(
        service.get(actor(1, Role::User), id(2)).await,
        Err(GetUserError::NotFound)
    ));
    assert!(service.get(actor(3, Role::Moderator), id(2)).await.is_ok());

    let mut ports = Ports::new();
    ports.users.expect_list().never();
    assert!(matches!(
        ports
            .service()
            .list(actor(1, Role::User), UserQuery::default())
            .await,
        Err(ListUsersError::Forbidden)
    ));
}

#[tokio::test]
async fn updates_check_roles_reserved_names_and_duplicates() {
    let service = Ports::new().service();
    let outcome = service
        .update(actor(3, Role::Moderator), id(2), UpdateUser::default())
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::Forbidden)),
        "{outcome:?}"
    );
    let outcome = service
        .update(actor(1, Role::User), id(2), UpdateUser::default())
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::NotFound)),
        "{outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(1, Role::User, UserStatus::Active))));
    ports.users.expect_update().never();
    let reserved = UpdateUser {
        username: Some(Username::parse("root").expect("username")),
        ..UpdateUser::default()
    };
    let outcome = ports
        .service()
        .update(actor(1, Role::User), id(1), reserved)
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::Invalid(_))),
        "{outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(1, Role::User, UserStatus::Active))));
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::EmailTaken));
    let change = UpdateUser {
        email: Some(Email::parse("taken@example.com").expect("email")),
        ..UpdateUser::default()
    };
    let outcome = ports
        .service()
        .update(actor(1, Role::User), id(1), change)
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::EmailTaken)),
        "{outcome:?}"
    );
}

fn password_change(current: &str, new: &str) -> ChangePassword {
    ChangePassword {
        current_password: PlainPassword::new(current.into()),
        new_password: PlainPassword::new(new.into()),
    }
}

#[tokio::test]
async fn a_password_change_checks_the_old_one_and_ends_sessions() {
    let admin_attempt = Ports::new()
        .service()
        .change_password(actor(9, Role::Admin), id(1), password_change("a", "b"))
        .await;
    assert!(matches!(admin_attempt, Err(ChangePasswordError::Forbidden)));

    let mut ports = Ports::new();
    ports.users.expect_get_credentials_by_id().returning(|_| {
        Ok(Some((
            user(1, Role::User, UserStatus::Active),
            PasswordHash::new("old"),
        )))
    });
    ports.hasher.expect_verify().returning(|_, _| Ok(false));
    ports.users.expect_update().never();
    let wrong = ports
        .service()
        .change_password(
            actor(1, Role::User),
            id(1),
            password_change("Wrong1pass", "weak"),
        )
        .await;
    let Err(ChangePasswordError::Invalid(violations)) = wrong else {
        panic!("expected Invalid");
    };
    assert_eq!(violations[0].field, "current_password");
    assert!(violations.iter().any(|v| v.field == "new_password"));

    let mut ports = Ports::new();
    ports.users.expect_get_credentials_by_id().returning(|_| {
        Ok(Some((
            user(1, Role::User, UserStatus::Active),
            PasswordHash::new("old"),
        )))
    });
    ports.hasher.expect_verify().returning(|_, _| Ok(true));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("new")));
    ports
        .users
        .expect_update()
        .withf(|_, changes, _| {
            changes.bump_token_version
                && changes.password_hash.as_ref().map(PasswordHash::as_str) == Some("new")
        })
        .times(1)
        .returning(|_, _, _| Ok(user(1, Role::User, UserStatus::Active)));
    ports
        .tokens
        .expect_revoke_user()
        .with(eq(id(1)), eq(now()))
        .times(1)
        .returning(|_, _| Ok(2));
    let changed = ports
        .service()
        .change_password(
            actor(1, Role::User),
            id(1),
            password_change("Sup3rSecret", "N3wPassword"),
        )
        .await;
    assert!(changed.is_ok(), "{changed:?}");
}

#[tokio::test]
async fn moderation_by_role() {
    // Moderator on an admin: forbidden, nothing written.
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(2, Role::Admin, UserStatus::Active))));
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .change_status(actor(3, Role::Moderator), id(2), UserStatus::Suspended)
        .await;
    assert!(
        matches!(outcome, Err(ModerateUserError::Forbidden)),
        "{outcome:?}"
    );

    // Suspending ends sessions; activating does not.
    for (status, ends) in [(UserStatus::Suspended, true), (UserStatus::Active, false)] {
        let mut ports = Ports::new();
        ports
            .users
            .expect_get()
            .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| {
                changes.status == Some(status) && changes.bump_token_version == ends
            })
            .returning(move |_, _, _| Ok(user(2, Role::User, status)));
        ports
            .tokens
            .expect_revoke_user()
            .times(usize::from(ends))
            .returning(|_, _| Ok(1));
        let outcome = ports
            .service()
            .change_status(actor(3, Role::Moderator), id(2), status)
            .await;
        assert_eq!(outcome.map(|u| u.status).ok(), Some(status), "{status:?}");
    }

    // Roles: admins only.
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
    let outcome = ports
        .service()
        .change_role(actor(3, Role::Moderator), id(2), Role::Admin)
        .await;
    assert!(matches!(outcome, Err(ModerateUserError::Forbidden)));
}

#[tokio::test]
async fn deletion_by_role_and_existence() {
    let outcome = Ports::new()
        .service()
        .delete(actor(3, Role::Moderator), id(2))
        .await;
    assert!(matches!(outcome, Err(DeleteUserError::Forbidden)));
    let mut ports = Ports::new();
    ports.users.expect_delete().returning(|_| Ok(false));
    let outcome = ports.service().delete(actor(9, Role::Admin), id(2)).await;
    assert!(matches!(outcome, Err(DeleteUserError::NotFound)));
    let mut ports = Ports::new();
    ports
        .users
        .expect_delete()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().delete(actor(2, Role::User), id(2)).await;
    assert!(matches!(outcome, Err(DeleteUserError::Unexpected(_))));
}

#[tokio::test]
async fn the_first_admin_is_created_once_and_may_be_called_admin() {
    let request = || CreateAdmin {
        username: Username::parse("admin").expect("username"),
        name: PersonName::parse("Admin").expect("name"),
        email: Email::parse("root@example.com").expect("email"),
        password: PlainPassword::new("Adm1nPassword".into()),
    };
    let mut ports = Ports::new();
    ports.users.expect_admin_exists().returning(|| Ok(true));
    ports.users.expect_insert().never();
    assert_eq!(
        ports.service().ensure_admin(request()).await.ok(),
        Some(AdminBootstrap::AlreadyPresent)
    );

    let mut ports = Ports::new();
    ports.users.expect_admin_exists().returning(|| Ok(false));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("h")));
    ports
        .users
        .expect_insert()
        .withf(|new| new.role == Role::Admin && new.username.as_ref() == "admin")
        .returning(|_| Ok(user(1, Role::Admin, UserStatus::Active)));
    assert!(matches!(
        ports.service().ensure_admin(request()).await,
        Ok(AdminBootstrap::Created(_))
    ));
}
