//! `UserService::register`.

use vidgen_domain::users::{
    Age, Email, EmailDomainPolicy, PersonName, PlainPassword, Role, UserStatus, Username,
};

use super::{Ports, codes, date, now, storage_failure, today, user};
use crate::users::ports::{HashError, PasswordHash, UserWriteError};
use crate::users::register::{RegisterUser, RegisterUserError, RegistrationFacts};

fn registration() -> RegisterUser {
    RegisterUser {
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane Doe").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        password: PlainPassword::new("Sup3rSecret".into()),
        age: None,
        birth_date: None,
    }
}

fn blocking(domain: &str) -> EmailDomainPolicy {
    EmailDomainPolicy {
        allowed: vec![],
        blocked: vec![domain.into()],
    }
}

#[tokio::test]
async fn invalid_registrations_list_every_broken_rule_and_store_nothing() {
    type Case = (
        &'static str,
        fn(&mut RegisterUser, &mut EmailDomainPolicy),
        Vec<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (
            "reserved username",
            |r, _| r.username = Username::parse("root").expect("username"),
            vec![("username", "username_reserved")],
        ),
        (
            "reserved username in other case",
            |r, _| r.username = Username::parse("Admin").expect("username"),
            vec![("username", "username_reserved")],
        ),
        (
            "blocked email domain",
            |_, p| *p = blocking("example.com"),
            vec![("email", "email_domain")],
        ),
        (
            "blocked parent domain",
            |r, p| {
                r.email = Email::parse("jane@mail.example.com").expect("email");
                *p = blocking("example.com");
            },
            vec![("email", "email_domain")],
        ),
        (
            "domain not on the allow list",
            |_, p| {
                *p = EmailDomainPolicy {
                    allowed: vec!["vidgen.dev".into()],
                    blocked: vec![],
                };
            },
            vec![("email", "email_domain")],
        ),
        (
            "short password",
            |r, _| r.password = PlainPassword::new("Ab1".into()),
            vec![("password", "password_too_short")],
        ),
        (
            "password without upper case or digit",
            |r, _| r.password = PlainPassword::new("alllowercase".into()),
            vec![
                ("password", "password_strength"),
                ("password", "password_strength"),
            ],
        ),
        (
            "birth date in the future",
            |r, _| r.birth_date = today().succ_opt(),
            vec![("birth_date", "birth_date_in_future")],
        ),
        (
            "future birth date is not also compared with the age",
            |r, _| {
                r.age = Some(Age::new(30).expect("age"));
                r.birth_date = Some(date(2030, 1, 1));
            },
            vec![("birth_date", "birth_date_in_future")],
        ),
        (
            "birth date before 1900",
            |r, _| r.birth_date = Some(date(1899, 12, 31)),
            vec![("birth_date", "birth_date_too_early")],
        ),
        (
            "age disagrees with birth date",
            |r, _| {
                r.age = Some(Age::new(10).expect("age"));
                r.birth_date = Some(date(1990, 1, 1));
            },
            vec![("__all__", "age_birth_date_mismatch")],
        ),
        (
            "several violations at once",
            |r, p| {
                r.username = Username::parse("system").expect("username");
                *p = blocking("example.com");
                r.password = PlainPassword::new("weak".into());
                r.age = Some(Age::new(60).expect("age"));
                r.birth_date = Some(date(2000, 1, 1));
            },
            vec![
                ("username", "username_reserved"),
                ("email", "email_domain"),
                ("password", "password_too_short"),
                ("password", "password_strength"),
                ("password", "password_strength"),
                ("__all__", "age_birth_date_mismatch"),
            ],
        ),
    ];
    for (name, breaks, expected) in cases {
        let mut ports = Ports::new();
        let mut request = registration();
        breaks(&mut request, &mut ports.settings.email_policy);
        ports.hasher.expect_hash().never();
        ports.users.expect_insert().never();
        let outcome = ports.service().register(request).await;
        let Err(RegisterUserError::Invalid(violations)) = outcome else {
            panic!("{name}: expected Invalid, got {outcome:?}");
        };
        assert_eq!(codes(&violations), expected, "{name}");
    }
}

#[tokio::test]
async fn a_valid_registration_stores_a_hashed_user_with_role_user() {
    // (case, e-mail verification required, status stored)
    let cases = [
        ("active by default", false, UserStatus::Active),
        (
            "pending when verification is required",
            true,
            UserStatus::PendingVerification,
        ),
    ];
    for (name, require, status) in cases {
        let mut ports = Ports::new();
        ports.settings.require_email_verification = require;
        ports
            .hasher
            .expect_hash()
            .withf(|password| password.expose() == "Sup3rSecret")
            .times(1)
            .returning(|_| Ok(PasswordHash::new("$argon2id$hash")));
        ports
            .users
            .expect_insert()
            .withf(move |new| {
                new.username.as_ref() == "jane"
                    && new.name.as_ref() == "Jane Doe"
                    && new.email.as_ref() == "jane@example.com"
                    && new.password_hash.as_str() == "$argon2id$hash"
                    && new.role == Role::User
                    && new.status == status
                    // 36 on the day of the test, within the one year of tolerance.
                    && new.age == Some(Age::new(37).expect("age"))
                    && new.birth_date == Some(date(1990, 1, 1))
                    && new.created_at == now()
            })
            .times(1)
            .returning(move |_| Ok(user(1, Role::User, status)));
        let mut request = registration();
        request.age = Some(Age::new(37).expect("age"));
        request.birth_date = Some(date(1990, 1, 1));
        let outcome = ports.service().register(request).await;
        assert_eq!(
            outcome.ok(),
            Some(user(1, Role::User, status)),
            "{name}: the stored user is returned"
        );
    }
}

#[tokio::test]
async fn storage_refusals_map_to_their_own_errors() {
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
        (
            "not found on insert",
            || UserWriteError::NotFound,
            |e| matches!(e, RegisterUserError::Unexpected(_)),
        ),
    ];
    for (name, error, check) in cases {
        let mut ports = Ports::new();
        ports
            .hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("$argon2id$hash")));
        ports
            .users
            .expect_insert()
            .times(1)
            .returning(move |_| Err(error()));
        let outcome = ports.service().register(registration()).await;
        assert!(
            outcome.as_ref().err().is_some_and(check),
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_hashing_failure_is_unexpected_and_stores_nothing() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_hash()
        .returning(|_| Err(HashError(Box::new(std::io::Error::other("pool gone")))));
    ports.users.expect_insert().never();
    let outcome = ports.service().register(registration()).await;
    assert!(
        matches!(outcome, Err(RegisterUserError::Unexpected(_))),
        "hashing failure: {outcome:?}"
    );
}

#[test]
fn registration_rules_check_what_is_known_by_the_service_clock() {
    let mut ports = Ports::new();
    ports.settings.email_policy = blocking("example.com");
    let service = ports.service();
    let root = Username::parse("root").expect("username");
    let email = Email::parse("jane@example.com").expect("email");
    // (case, facts, expected)
    let cases = [
        ("nothing known", RegistrationFacts::default(), vec![]),
        (
            "reserved username and blocked domain",
            RegistrationFacts {
                username: Some(&root),
                email: Some(&email),
                ..RegistrationFacts::default()
            },
            vec![("username", "username_reserved"), ("email", "email_domain")],
        ),
        (
            "tomorrow by the fixed clock",
            RegistrationFacts {
                birth_date: today().succ_opt(),
                ..RegistrationFacts::default()
            },
            vec![("birth_date", "birth_date_in_future")],
        ),
        (
            "today by the fixed clock",
            RegistrationFacts {
                birth_date: Some(today()),
                ..RegistrationFacts::default()
            },
            vec![],
        ),
        (
            "age against birth date",
            RegistrationFacts {
                age: Some(Age::new(10).expect("age")),
                birth_date: Some(date(1990, 1, 1)),
                ..RegistrationFacts::default()
            },
            vec![("__all__", "age_birth_date_mismatch")],
        ),
    ];
    for (name, facts, expected) in cases {
        assert_eq!(
            codes(&service.registration_violations(facts)),
            expected,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_pending_registration_queues_a_verification_and_a_failed_queue_does_not_fail_it() {
    // (case, verification required, mails queued, queueing fails)
    let cases = [
        ("no verification required", false, 0, false),
        ("verification required", true, 1, false),
        ("queueing fails", true, 1, true),
    ];
    for (name, require, mails, fails) in cases {
        let mut ports = Ports::new();
        ports.settings.require_email_verification = require;
        ports
            .hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("$argon2id$hash")));
        ports.users.expect_insert().returning(|new| {
            let mut stored = user(7, Role::User, new.status);
            stored.email = new.email;
            Ok(stored)
        });
        let mut verification = crate::users::ports::MockVerificationMail::new();
        verification
            .expect_send_verification()
            .withf(|user| {
                user.email.as_ref() == "jane@example.com"
                    && user.status == UserStatus::PendingVerification
            })
            .times(mails)
            .returning(move |_| {
                if fails {
                    Err(storage_failure())
                } else {
                    Ok(())
                }
            });
        ports.verification = Some(verification);
        let outcome = ports.service().register(registration()).await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}
