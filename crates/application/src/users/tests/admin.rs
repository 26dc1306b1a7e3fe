//! `UserService::create_admin` and `ensure_admin`.

use vidgen_domain::users::{
    Email, EmailDomainPolicy, PersonName, PlainPassword, Role, UserStatus, Username,
};

use super::{Ports, codes, now, storage_failure, user};
use crate::users::admin::{AdminBootstrap, CreateAdmin};
use crate::users::ports::{PasswordHash, UserWriteError};
use crate::users::register::RegisterUserError;

fn request(username: &str) -> CreateAdmin {
    CreateAdmin {
        username: Username::parse(username).expect("username"),
        name: PersonName::parse("The Admin").expect("name"),
        email: Email::parse("root@example.com").expect("email"),
        password: PlainPassword::new("Adm1nPassword".into()),
    }
}

/// Ports expecting exactly one insert of an active admin called `username`.
fn inserting(username: &'static str) -> Ports {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .withf(|password| password.expose() == "Adm1nPassword")
        .times(1)
        .returning(|_| Ok(PasswordHash::new("admin-hash")));
    ports
        .users
        .expect_insert()
        .withf(move |new| {
            new.username.as_ref() == username
                && new.name.as_ref() == "The Admin"
                && new.email.as_ref() == "root@example.com"
                && new.password_hash.as_str() == "admin-hash"
                && new.role == Role::Admin
                && new.status == UserStatus::Active
                && new.age.is_none()
                && new.birth_date.is_none()
                && new.created_at == now()
        })
        .times(1)
        .returning(|_| Ok(user(1, Role::Admin, UserStatus::Active)));
    ports
}

#[tokio::test]
async fn an_admin_may_take_a_reserved_username() {
    for username in ["admin", "root", "ops-admin"] {
        let outcome = inserting(username)
            .service()
            .create_admin(request(username))
            .await;
        assert_eq!(
            outcome.ok(),
            Some(user(1, Role::Admin, UserStatus::Active)),
            "create_admin {username}"
        );
    }
}

#[tokio::test]
async fn an_admin_still_needs_a_strong_password_and_an_allowed_domain() {
    let mut ports = Ports::new();
    ports.settings.email_policy = EmailDomainPolicy {
        allowed: vec!["vidgen.dev".into()],
        blocked: vec![],
    };
    ports.hasher.expect_hash().never();
    ports.users.expect_insert().never();
    let mut weak = request("admin");
    weak.password = PlainPassword::new("password".into());
    let outcome = ports.service().create_admin(weak).await;
    let Err(RegisterUserError::Invalid(violations)) = outcome else {
        panic!("weak password and domain: expected Invalid, got {outcome:?}");
    };
    assert_eq!(
        codes(&violations),
        [
            ("email", "email_domain"),
            ("password", "password_strength"),
            ("password", "password_strength"),
        ],
        "weak password and domain"
    );
}

#[tokio::test]
async fn create_admin_maps_duplicates() {
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
            "storage failure",
            || UserWriteError::Storage(storage_failure()),
            |e| matches!(e, RegisterUserError::Unexpected(_)),
        ),
    ];
    for (name, error, check) in cases {
        let mut ports = Ports::new();
        ports
            .hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("admin-hash")));
        ports.users.expect_insert().returning(move |_| Err(error()));
        let outcome = ports.service().create_admin(request("admin")).await;
        assert!(
            outcome.as_ref().err().is_some_and(check),
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn ensure_admin_creates_the_first_admin_only() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_admin_exists()
        .times(1)
        .returning(|| Ok(true));
    ports.hasher.expect_hash().never();
    ports.users.expect_insert().never();
    let outcome = ports.service().ensure_admin(request("admin")).await;
    assert_eq!(
        outcome.ok(),
        Some(AdminBootstrap::AlreadyPresent),
        "an admin exists"
    );

    let mut ports = inserting("admin");
    ports
        .users
        .expect_admin_exists()
        .times(1)
        .returning(|| Ok(false));
    let outcome = ports.service().ensure_admin(request("admin")).await;
    assert_eq!(
        outcome.ok(),
        Some(AdminBootstrap::Created(user(
            1,
            Role::Admin,
            UserStatus::Active
        ))),
        "no admin yet"
    );
}

#[tokio::test]
async fn ensure_admin_reports_failures() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_admin_exists()
        .returning(|| Err(storage_failure()));
    ports.users.expect_insert().never();
    let outcome = ports.service().ensure_admin(request("admin")).await;
    assert!(
        matches!(outcome, Err(RegisterUserError::Unexpected(_))),
        "admin_exists failure: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports.users.expect_admin_exists().returning(|| Ok(false));
    ports.users.expect_insert().never();
    let mut weak = request("admin");
    weak.password = PlainPassword::new("short".into());
    let outcome = ports.service().ensure_admin(weak).await;
    assert!(
        matches!(outcome, Err(RegisterUserError::Invalid(_))),
        "weak password: {outcome:?}"
    );
}
