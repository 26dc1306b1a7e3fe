//! `UserService::change_status` and `change_role`.

use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::{Role, UserStatus};

use super::{Ports, actor, id, now, storage_failure, user};
use crate::users::moderation::ModerateUserError;
use crate::users::ports::UserWriteError;

fn outcome_name<T>(outcome: &Result<T, ModerateUserError>) -> &'static str {
    match outcome {
        Ok(_) => "ok",
        Err(ModerateUserError::NotFound) => "not found",
        Err(ModerateUserError::Forbidden) => "forbidden",
        Err(ModerateUserError::Unexpected(_)) => "unexpected",
    }
}

#[tokio::test]
async fn status_changes_follow_the_roles() {
    // (case, actor, target's role, new status, expected); the target is user 2.
    let cases = [
        (
            "moderator suspends a plain user",
            actor(3, Role::Moderator),
            Role::User,
            UserStatus::Suspended,
            "ok",
        ),
        (
            "moderator suspends an admin",
            actor(3, Role::Moderator),
            Role::Admin,
            UserStatus::Suspended,
            "forbidden",
        ),
        (
            "moderator suspends another moderator",
            actor(3, Role::Moderator),
            Role::Moderator,
            UserStatus::Suspended,
            "forbidden",
        ),
        (
            "admin deactivates a moderator",
            actor(9, Role::Admin),
            Role::Moderator,
            UserStatus::Inactive,
            "ok",
        ),
        (
            "admin suspends another admin",
            actor(9, Role::Admin),
            Role::Admin,
            UserStatus::Suspended,
            "ok",
        ),
        (
            "admin suspends themselves",
            actor(2, Role::Admin),
            Role::Admin,
            UserStatus::Suspended,
            "forbidden",
        ),
        (
            "user activates themselves",
            actor(2, Role::User),
            Role::User,
            UserStatus::Active,
            "forbidden",
        ),
    ];
    for (name, who, target_role, status, expected) in cases {
        let allowed = expected == "ok";
        let ends = !status.can_log_in();
        let mut ports = Ports::new().stored(user(2, target_role, UserStatus::Active));
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| {
                changes.bump_token_version == ends && !changes.keep_refresh_tokens
            })
            .times(usize::from(allowed))
            .returning(move |_, _, _| Ok(user(2, target_role, status)));
        let outcome = ports.service().change_status(who, id(2), status).await;
        assert_eq!(outcome_name(&outcome), expected, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn statuses_that_cannot_log_in_end_sessions_and_the_others_do_not() {
    // (status, ends sessions)
    let cases = [
        (UserStatus::Suspended, true),
        (UserStatus::Inactive, true),
        (UserStatus::Active, false),
        (UserStatus::PendingVerification, false),
    ];
    for (status, ends) in cases {
        let mut ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
        ports
            .users
            .expect_update()
            .withf(move |target, changes, at| {
                *target == id(2)
                    && changes.status == Some(status)
                    && changes.bump_token_version == ends
                    && !changes.keep_refresh_tokens
                    && changes.role.is_none()
                    && changes.password_hash.is_none()
                    && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(user(2, Role::User, status)));
        let outcome = ports
            .service()
            .change_status(actor(3, Role::Moderator), id(2), status)
            .await;
        assert_eq!(
            outcome.ok(),
            Some(user(2, Role::User, status)),
            "{status:?}: the changed user is returned"
        );
    }
}

#[tokio::test]
async fn status_changes_of_hidden_or_missing_users_are_not_found() {
    let outcome = Ports::new()
        .service()
        .change_status(actor(1, Role::User), id(2), UserStatus::Suspended)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "not found",
        "plain user on someone else: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports.users.expect_get().returning(|_| Ok(None));
    let outcome = ports
        .service()
        .change_status(actor(9, Role::Admin), id(2), UserStatus::Suspended)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "not found",
        "missing user: {outcome:?}"
    );

    let mut ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::NotFound));
    let outcome = ports
        .service()
        .change_status(actor(9, Role::Admin), id(2), UserStatus::Suspended)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "not found",
        "deleted meanwhile: {outcome:?}"
    );
}

#[tokio::test]
async fn status_change_storage_failures_are_unexpected() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Err(storage_failure()));
    let outcome = ports
        .service()
        .change_status(actor(9, Role::Admin), id(2), UserStatus::Suspended)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "read failure: {outcome:?}"
    );

    let mut ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
    // The status write and the revocation are one: its failure is the revocation's.
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::Storage(storage_failure())));
    let outcome = ports
        .service()
        .change_status(actor(9, Role::Admin), id(2), UserStatus::Suspended)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "revocation failure: {outcome:?}"
    );
}

#[tokio::test]
async fn role_changes_are_for_admins_on_others() {
    // (case, actor, expected); the target is plain user 2.
    let cases: [(&str, Actor, &str); 4] = [
        ("admin on a user", actor(9, Role::Admin), "ok"),
        (
            "moderator on a user",
            actor(3, Role::Moderator),
            "forbidden",
        ),
        ("user on themselves", actor(2, Role::User), "forbidden"),
        ("user on someone else", actor(1, Role::User), "not found"),
    ];
    for (name, who, expected) in cases {
        let allowed = expected == "ok";
        let mut ports = Ports::new();
        ports
            .users
            .expect_get()
            .times(usize::from(expected != "not found"))
            .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
        ports
            .users
            .expect_update()
            .times(usize::from(allowed))
            .returning(|_, _, _| Ok(user(2, Role::Moderator, UserStatus::Active)));
        let outcome = ports
            .service()
            .change_role(who, id(2), Role::Moderator)
            .await;
        assert_eq!(outcome_name(&outcome), expected, "{name}: {outcome:?}");
    }

    let mut ports = Ports::new().stored(user(9, Role::Admin, UserStatus::Active));
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .change_role(actor(9, Role::Admin), id(9), Role::User)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "forbidden",
        "admin demotes themselves: {outcome:?}"
    );
}

#[tokio::test]
async fn a_new_role_bumps_the_token_version_and_the_same_role_does_not() {
    // (case, current role, new role, bumps)
    let cases = [
        ("promotion", Role::User, Role::Moderator, true),
        ("demotion", Role::Admin, Role::User, true),
        ("same role", Role::Moderator, Role::Moderator, false),
    ];
    for (name, current, role, bumps) in cases {
        let mut ports = Ports::new().stored(user(2, current, UserStatus::Active));
        ports
            .users
            .expect_update()
            .withf(move |target, changes, at| {
                *target == id(2)
                    && changes.role == Some(role)
                    && changes.bump_token_version == bumps
                    // Refresh tokens stay: a refresh issues an access token with the new role.
                    && changes.keep_refresh_tokens
                    && changes.status.is_none()
                    && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(user(2, role, UserStatus::Active)));
        // Refresh tokens stay: a refresh issues an access token with the new role.
        let outcome = ports
            .service()
            .change_role(actor(9, Role::Admin), id(2), role)
            .await;
        assert_eq!(
            outcome.ok(),
            Some(user(2, role, UserStatus::Active)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn role_changes_of_missing_users_are_not_found() {
    let mut ports = Ports::new();
    ports.users.expect_get().returning(|_| Ok(None));
    let outcome = ports
        .service()
        .change_role(actor(9, Role::Admin), id(2), Role::Moderator)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "not found",
        "missing user: {outcome:?}"
    );

    let mut ports = Ports::new().stored(user(2, Role::User, UserStatus::Active));
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::Storage(storage_failure())));
    let outcome = ports
        .service()
        .change_role(actor(9, Role::Admin), id(2), Role::Moderator)
        .await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "write failure: {outcome:?}"
    );
}
