//! `UserService::update`.

use mockall::predicate::eq;
use vidgen_domain::users::{
    Email, EmailDomainPolicy, PersonName, PlainPassword, Role, User, UserStatus, Username,
};

use super::{Ports, actor, codes, id, now, storage_failure, user};
use crate::jobs::JobKind;
use crate::users::ports::{PasswordHash, UserWriteError};
use crate::users::update::{UpdateUser, UpdateUserError};

const PASSWORD: &str = "Old1password";

/// `ports` whose user 2 has the hash `old-hash`, which `PASSWORD` matches when
/// `correct` (asked any number of times, none included).
fn knowing_the_password(mut ports: Ports, correct: bool) -> Ports {
    ports
        .users
        .expect_get_credentials_by_id()
        .with(eq(id(2)))
        .returning(|_| {
            Ok(Some((
                user(2, Role::User, UserStatus::Active),
                PasswordHash::new("old-hash"),
            )))
        });
    ports
        .hasher
        .expect_verify()
        .withf(|presented, hash| presented.expose() == PASSWORD && hash.as_str() == "old-hash")
        .returning(move |_, _| Ok(correct));
    ports
}

fn rename(username: &str) -> UpdateUser {
    UpdateUser {
        username: Some(Username::parse(username).expect("username")),
        ..UpdateUser::default()
    }
}

/// A change of address, proven with the user's password.
fn new_email(email: &str) -> UpdateUser {
    UpdateUser {
        email: Some(Email::parse(email).expect("email")),
        current_password: Some(PlainPassword::new(PASSWORD.into())),
        ..UpdateUser::default()
    }
}

#[tokio::test]
async fn hidden_users_are_not_found_and_moderators_are_forbidden() {
    // (case, actor, expected); the repository is never asked.
    let cases = [
        (
            "plain user on someone else",
            actor(1, Role::User),
            "not found",
        ),
        (
            "moderator on a user",
            actor(3, Role::Moderator),
            "forbidden",
        ),
    ];
    for (name, who, expected) in cases {
        let outcome = Ports::new()
            .service()
            .update(who, id(2), rename("newname"))
            .await;
        let got = match &outcome {
            Err(UpdateUserError::NotFound) => "not found",
            Err(UpdateUserError::Forbidden) => "forbidden",
            _ => "other",
        };
        assert_eq!(got, expected, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_missing_user_is_not_found_and_a_failed_read_is_unexpected() {
    let mut ports = Ports::new();
    ports.users.expect_get().returning(|_| Ok(None));
    let outcome = ports
        .service()
        .update(actor(9, Role::Admin), id(2), rename("newname"))
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::NotFound)),
        "missing user: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Err(storage_failure()));
    let outcome = ports
        .service()
        .update(actor(2, Role::User), id(2), rename("newname"))
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::Unexpected(_))),
        "read failure: {outcome:?}"
    );
}

#[tokio::test]
async fn broken_rules_are_reported_and_nothing_is_written() {
    type Case = (
        &'static str,
        i64,
        Role,
        UpdateUser,
        Vec<(&'static str, &'static str)>,
    );
    let both = UpdateUser {
        username: Some(Username::parse("API").expect("username")),
        ..new_email("me@spam.test")
    };
    let cases: Vec<Case> = vec![
        (
            "user takes a reserved username",
            2,
            Role::User,
            rename("root"),
            vec![("username", "username_reserved")],
        ),
        (
            "user takes a blocked email domain",
            2,
            Role::User,
            new_email("me@spam.test"),
            vec![("email", "email_domain")],
        ),
        (
            "admin also may not use a blocked email domain",
            9,
            Role::Admin,
            new_email("me@spam.test"),
            vec![("email", "email_domain")],
        ),
        (
            "both at once",
            2,
            Role::User,
            both,
            vec![("email", "email_domain"), ("username", "username_reserved")],
        ),
    ];
    for (name, actor_id, role, changes, expected) in cases {
        let mut ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
        ports.settings.email_policy = EmailDomainPolicy {
            allowed: vec![],
            blocked: vec!["spam.test".into()],
        };
        ports.users.expect_update().never();
        let outcome = ports
            .service()
            .update(actor(actor_id, role), id(2), changes)
            .await;
        let Err(UpdateUserError::Invalid(violations)) = outcome else {
            panic!("{name}: expected Invalid, got {outcome:?}");
        };
        assert_eq!(codes(&violations), expected, "{name}");
    }
}

#[tokio::test]
async fn reserved_usernames_are_allowed_to_admins_and_to_their_holders() {
    let holder = User {
        username: Username::parse("Admin").expect("username"),
        ..user(2, Role::User, UserStatus::Active)
    };
    // (case, actor, stored user, new username)
    let cases = [
        (
            "admin renames a user to a reserved name",
            actor(9, Role::Admin),
            user(2, Role::User, UserStatus::Active),
            "system",
        ),
        (
            "user keeps the reserved name they have, in another case",
            actor(2, Role::User),
            holder,
            "admin",
        ),
    ];
    for (name, who, stored, username) in cases {
        let mut ports = Ports::new().stored(stored);
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| {
                changes.username.as_ref().map(AsRef::as_ref) == Some(username)
            })
            .times(1)
            .returning(|_, _, _| Ok(user(2, Role::User, UserStatus::Active)));
        let outcome = ports.service().update(who, id(2), rename(username)).await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_valid_change_is_written_as_given() {
    // (case, actor)
    let cases = [
        ("user on themselves", actor(2, Role::User)),
        ("admin on a user", actor(9, Role::Admin)),
    ];
    for (name, who) in cases {
        let mut ports = knowing_the_password(
            Ports::new().stored(user(2, Role::User, UserStatus::Active)),
            true,
        );
        ports
            .users
            .expect_update()
            .with(
                eq(id(2)),
                mockall::predicate::function(|changes: &crate::users::ports::UserChanges| {
                    changes.username.as_ref().map(AsRef::as_ref) == Some("jane")
                        && changes.name.as_ref().map(AsRef::as_ref) == Some("Jane Doe")
                        && changes.email.as_ref().map(AsRef::as_ref) == Some("jane@example.org")
                        && changes.role.is_none()
                        && changes.status.is_none()
                        && changes.password_hash.is_none()
                        && !changes.bump_token_version
                }),
                eq(now()),
            )
            .times(1)
            .returning(|_, _, _| Ok(user(2, Role::Moderator, UserStatus::Active)));
        let changes = UpdateUser {
            username: Some(Username::parse("jane").expect("username")),
            name: Some(PersonName::parse("Jane Doe").expect("name")),
            email: Some(Email::parse("jane@example.org").expect("email")),
            current_password: Some(PlainPassword::new(PASSWORD.into())),
        };
        let outcome = ports.service().update(who, id(2), changes).await;
        assert_eq!(
            outcome.ok(),
            Some(user(2, Role::Moderator, UserStatus::Active)),
            "{name}: the updated user is returned"
        );
    }
}

#[tokio::test]
async fn write_refusals_map_to_their_own_errors() {
    type Case = (
        &'static str,
        fn() -> UserWriteError,
        fn(&UpdateUserError) -> bool,
    );
    let cases: Vec<Case> = vec![
        (
            "email taken",
            || UserWriteError::EmailTaken,
            |e| matches!(e, UpdateUserError::EmailTaken),
        ),
        (
            "username taken",
            || UserWriteError::UsernameTaken,
            |e| matches!(e, UpdateUserError::UsernameTaken),
        ),
        (
            "deleted meanwhile",
            || UserWriteError::NotFound,
            |e| matches!(e, UpdateUserError::NotFound),
        ),
        (
            "storage failure",
            || UserWriteError::Storage(storage_failure()),
            |e| matches!(e, UpdateUserError::Unexpected(_)),
        ),
    ];
    for (name, error, check) in cases {
        let mut ports = knowing_the_password(
            Ports::new().stored(user(2, Role::User, UserStatus::Active)),
            true,
        );
        ports
            .users
            .expect_update()
            .times(1)
            .returning(move |_, _, _| Err(error()));
        let outcome = ports
            .service()
            .update(actor(2, Role::User), id(2), new_email("taken@example.com"))
            .await;
        assert!(
            outcome.as_ref().err().is_some_and(check),
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_new_address_waits_for_verification_when_it_is_required() {
    // (case, verification required, status before, address, status written, mails)
    let cases = [
        (
            "required, new address",
            true,
            UserStatus::Active,
            "new@example.com",
            Some(UserStatus::PendingVerification),
            1,
        ),
        (
            "required, same address",
            true,
            UserStatus::Active,
            "user2@example.com",
            None,
            0,
        ),
        (
            "required, suspended user keeps the status",
            true,
            UserStatus::Suspended,
            "new@example.com",
            None,
            0,
        ),
        (
            "not required",
            false,
            UserStatus::Active,
            "new@example.com",
            None,
            0,
        ),
    ];
    for (name, require, before, address, written, mails) in cases {
        let mut ports = Ports::new();
        ports.settings.require_email_verification = require;
        ports = knowing_the_password(ports.stored(user(2, Role::User, before)), true);
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| changes.status == written)
            .times(1)
            .returning(move |_, changes, _| {
                let mut stored = user(2, Role::User, changes.status.unwrap_or(before));
                if let Some(email) = changes.email {
                    stored.email = email;
                }
                Ok(stored)
            });
        let mut verification = crate::users::ports::MockVerificationMail::new();
        verification
            .expect_send_verification()
            .withf(|user| user.email.as_ref() == "new@example.com")
            .times(mails)
            .returning(|_| Ok(()));
        ports.verification = Some(verification);
        let outcome = ports
            .service()
            .update(actor(2, Role::User), id(2), new_email(address))
            .await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn changing_ones_own_address_needs_the_right_password() {
    let without = UpdateUser {
        email: Some(Email::parse("new@example.com").expect("email")),
        ..UpdateUser::default()
    };
    let ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
    let outcome = ports
        .service()
        .update(actor(2, Role::User), id(2), without)
        .await;
    match &outcome {
        Err(UpdateUserError::Invalid(list)) => {
            assert_eq!(codes(list), vec![("current_password", "missing")]);
        }
        other => panic!("no password: {other:?}"),
    }

    // A wrong password: refused, nothing written (the mock has no `update`).
    let ports = knowing_the_password(
        Ports::new().stored(user(2, Role::User, UserStatus::Active)),
        false,
    );
    let outcome = ports
        .service()
        .update(actor(2, Role::User), id(2), new_email("new@example.com"))
        .await;
    assert!(
        matches!(outcome, Err(UpdateUserError::WrongPassword)),
        "wrong password: {outcome:?}"
    );
}

#[tokio::test]
async fn the_old_address_is_told_in_the_same_write_and_only_of_a_new_address() {
    // (case, actor, changes, whether a notice is written)
    let admin_change = UpdateUser {
        email: Some(Email::parse("new@example.com").expect("email")),
        ..UpdateUser::default()
    };
    let same_address = UpdateUser {
        email: Some(Email::parse("user2@example.com").expect("email")),
        ..UpdateUser::default()
    };
    let cases = [
        (
            "user, with password",
            actor(2, Role::User),
            new_email("new@example.com"),
            true,
        ),
        (
            "admin on another user, no password",
            actor(9, Role::Admin),
            admin_change,
            true,
        ),
        (
            "the same address, no password",
            actor(2, Role::User),
            same_address,
            false,
        ),
        ("a rename", actor(2, Role::User), rename("renamed"), false),
    ];
    for (name, who, changes, notice) in cases {
        let mut ports = knowing_the_password(
            Ports::new().stored(user(2, Role::User, UserStatus::Active)),
            true,
        );
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| match &changes.enqueue {
                Some(job) => {
                    notice
                        && job.kind == JobKind::SendMail
                        && job.payload.contains("\"to\":\"user2@example.com\"")
                        && job.payload.contains("new@example.com")
                }
                None => !notice,
            })
            .times(1)
            .returning(|_, _, _| Ok(user(2, Role::User, UserStatus::Active)));
        let outcome = ports.service().update(who, id(2), changes).await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}
