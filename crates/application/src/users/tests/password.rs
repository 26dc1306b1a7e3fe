//! `UserService::change_password`.

use mockall::Sequence;
use mockall::predicate::eq;
use vidgen_domain::users::{PlainPassword, Role, UserStatus};

use super::{Ports, actor, codes, id, now, storage_failure, user};
use crate::users::password::{ChangePassword, ChangePasswordError};
use crate::users::ports::{HashError, PasswordHash, UserWriteError};

fn change(current: &str, new: &str) -> ChangePassword {
    ChangePassword {
        current_password: PlainPassword::new(current.into()),
        new_password: PlainPassword::new(new.into()),
    }
}

/// Ports whose repository holds user 2 with the hash `old-hash`, and whose hasher says
/// whether the presented current password matches it.
fn with_credentials(current_matches: bool) -> Ports {
    let mut ports = Ports::new();
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
        .withf(|presented, hash| {
            presented.expose() == "Old1password" && hash.as_str() == "old-hash"
        })
        .times(1)
        .returning(move |_, _| Ok(current_matches));
    ports
}

#[tokio::test]
async fn only_the_user_may_change_their_password() {
    // (case, actor, expected); nothing is read or written.
    let cases = [
        ("admin on someone else", actor(9, Role::Admin), "forbidden"),
        (
            "moderator on someone else",
            actor(3, Role::Moderator),
            "forbidden",
        ),
        ("user on someone else", actor(1, Role::User), "not found"),
    ];
    for (name, who, expected) in cases {
        let outcome = Ports::new()
            .service()
            .change_password(who, id(2), change("Old1password", "N3wPassword"))
            .await;
        let got = match &outcome {
            Err(ChangePasswordError::Forbidden) => "forbidden",
            Err(ChangePasswordError::NotFound) => "not found",
            _ => "other",
        };
        assert_eq!(got, expected, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_missing_user_is_not_found() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get_credentials_by_id()
        .returning(|_| Ok(None));
    let outcome = ports
        .service()
        .change_password(
            actor(2, Role::User),
            id(2),
            change("Old1password", "N3wPassword"),
        )
        .await;
    assert!(
        matches!(outcome, Err(ChangePasswordError::NotFound)),
        "missing user: {outcome:?}"
    );
}

#[tokio::test]
async fn a_wrong_current_or_weak_new_password_changes_nothing() {
    // (case, current matches, new password, expected violations)
    let cases = [
        (
            "wrong current password",
            false,
            "N3wPassword",
            vec![("current_password", "password_incorrect")],
        ),
        (
            "weak new password",
            true,
            "short",
            vec![
                ("new_password", "password_too_short"),
                ("new_password", "password_strength"),
                ("new_password", "password_strength"),
            ],
        ),
        (
            "both, the current password first",
            false,
            "nodigitshere",
            vec![
                ("current_password", "password_incorrect"),
                ("new_password", "password_strength"),
                ("new_password", "password_strength"),
            ],
        ),
    ];
    for (name, matches, new, expected) in cases {
        let mut ports = with_credentials(matches);
        ports.hasher.expect_hash().never();
        ports.users.expect_update().never();
        let outcome = ports
            .service()
            .change_password(actor(2, Role::User), id(2), change("Old1password", new))
            .await;
        let Err(ChangePasswordError::Invalid(violations)) = outcome else {
            panic!("{name}: expected Invalid, got {outcome:?}");
        };
        assert_eq!(codes(&violations), expected, "{name}");
    }
}

#[tokio::test]
async fn a_change_stores_the_new_hash_bumps_the_token_version_and_revokes_sessions() {
    let mut ports = with_credentials(true);
    let mut order = Sequence::new();
    ports
        .hasher
        .expect_hash()
        .withf(|new| new.expose() == "N3wPassword")
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(PasswordHash::new("new-hash")));
    // One write: the hash, the version bump and the revocation of every refresh token
    // (`keep_refresh_tokens` unset) commit together.
    ports
        .users
        .expect_update()
        .withf(|target, changes, at| {
            *target == id(2)
                && changes.password_hash.as_ref().map(PasswordHash::as_str) == Some("new-hash")
                && changes.bump_token_version
                && !changes.keep_refresh_tokens
                && changes.username.is_none()
                && changes.email.is_none()
                && changes.role.is_none()
                && changes.status.is_none()
                && *at == now()
        })
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _, _| Ok(user(2, Role::User, UserStatus::Active)));
    let outcome = ports
        .service()
        .change_password(
            actor(2, Role::User),
            id(2),
            change("Old1password", "N3wPassword"),
        )
        .await;
    assert!(outcome.is_ok(), "success: {outcome:?}");
}

#[tokio::test]
async fn failures_after_the_checks_are_reported() {
    // The user vanishes between the read and the write.
    let mut ports = with_credentials(true);
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("new-hash")));
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::NotFound));
    let outcome = ports
        .service()
        .change_password(
            actor(2, Role::User),
            id(2),
            change("Old1password", "N3wPassword"),
        )
        .await;
    assert!(
        matches!(outcome, Err(ChangePasswordError::NotFound)),
        "deleted meanwhile: {outcome:?}"
    );

    let mut ports = with_credentials(true);
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("new-hash")));
    // The write (and with it the revocation) fails: nothing is committed.
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::Storage(storage_failure())));
    let outcome = ports
        .service()
        .change_password(
            actor(2, Role::User),
            id(2),
            change("Old1password", "N3wPassword"),
        )
        .await;
    assert!(
        matches!(outcome, Err(ChangePasswordError::Unexpected(_))),
        "revocation failure: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports.users.expect_get_credentials_by_id().returning(|_| {
        Ok(Some((
            user(2, Role::User, UserStatus::Active),
            PasswordHash::new("old-hash"),
        )))
    });
    ports
        .hasher
        .expect_verify()
        .returning(|_, _| Err(HashError(Box::new(std::io::Error::other("pool gone")))));
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .change_password(
            actor(2, Role::User),
            id(2),
            change("Old1password", "N3wPassword"),
        )
        .await;
    assert!(
        matches!(outcome, Err(ChangePasswordError::Unexpected(_))),
        "hashing failure: {outcome:?}"
    );
}
