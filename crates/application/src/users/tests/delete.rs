//! `UserService::delete`.

use mockall::Sequence;
use mockall::predicate::eq;
use vidgen_domain::users::Role;
use vidgen_domain::users::policy::Actor;

use super::{Ports, actor, id, storage_failure};
use crate::users::delete::DeleteUserError;
use crate::users::ports::MockOwnedContent;

fn outcome_name(outcome: &Result<(), DeleteUserError>) -> &'static str {
    match outcome {
        Ok(()) => "ok",
        Err(DeleteUserError::NotFound) => "not found",
        Err(DeleteUserError::Forbidden) => "forbidden",
        Err(DeleteUserError::Unexpected(_)) => "unexpected",
    }
}

#[tokio::test]
async fn users_delete_themselves_and_admins_anyone() {
    // (case, actor, expected); the target is user 2.
    let cases: [(&str, Actor, &str); 5] = [
        ("user deletes themselves", actor(2, Role::User), "ok"),
        (
            "moderator deletes themselves",
            actor(2, Role::Moderator),
            "ok",
        ),
        ("admin deletes a user", actor(9, Role::Admin), "ok"),
        (
            "moderator deletes a user",
            actor(3, Role::Moderator),
            "forbidden",
        ),
        (
            "user deletes someone else",
            actor(1, Role::User),
            "not found",
        ),
    ];
    for (name, who, expected) in cases {
        let allowed = expected == "ok";
        let mut ports = Ports::new();
        let mut owned = MockOwnedContent::new();
        let mut order = Sequence::new();
        owned
            .expect_purge()
            .with(eq(id(2)))
            .times(usize::from(allowed))
            .in_sequence(&mut order)
            .returning(|_| Ok(()));
        ports
            .users
            .expect_delete()
            .with(eq(id(2)))
            .times(usize::from(allowed))
            .in_sequence(&mut order)
            .returning(|_| Ok(true));
        ports.owned = Some(owned);
        let outcome = ports.service().delete(who, id(2)).await;
        assert_eq!(outcome_name(&outcome), expected, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn without_owned_content_only_the_user_is_deleted() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_delete()
        .with(eq(id(2)))
        .times(1)
        .returning(|_| Ok(true));
    let outcome = ports.service().delete(actor(2, Role::User), id(2)).await;
    assert_eq!(
        outcome_name(&outcome),
        "ok",
        "no owned content: {outcome:?}"
    );
}

#[tokio::test]
async fn a_missing_user_is_not_found() {
    let mut ports = Ports::new();
    ports.users.expect_delete().returning(|_| Ok(false));
    let outcome = ports.service().delete(actor(9, Role::Admin), id(2)).await;
    assert_eq!(
        outcome_name(&outcome),
        "not found",
        "missing user: {outcome:?}"
    );
}

#[tokio::test]
async fn storage_failures_are_unexpected() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_delete()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().delete(actor(2, Role::User), id(2)).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "delete failure: {outcome:?}"
    );

    let mut ports = Ports::new();
    let mut owned = MockOwnedContent::new();
    owned.expect_purge().returning(|_| Err(storage_failure()));
    ports.owned = Some(owned);
    ports.users.expect_delete().never();
    let outcome = ports.service().delete(actor(2, Role::User), id(2)).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "purge failure keeps the user: {outcome:?}"
    );
}
