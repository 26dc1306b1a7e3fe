//! `UserService::get`, `get_by_username` and `list`.

use mockall::predicate::eq;
use vidgen_domain::listing::{Page, Paged};
use vidgen_domain::users::{Role, UserStatus};

use super::{Ports, actor, id, storage_failure, user};
use crate::users::ports::{UserQuery, UserSortField};
use crate::users::queries::{GetUserError, ListUsersError};

#[tokio::test]
async fn get_answers_only_what_the_actor_may_see() {
    // (case, actor id, actor role, whether the repository is asked, expected outcome)
    let cases = [
        ("user reads themselves", 2, Role::User, true, "ok"),
        ("user reads someone else", 1, Role::User, false, "not found"),
        ("moderator reads a user", 3, Role::Moderator, true, "ok"),
        ("admin reads a user", 9, Role::Admin, true, "ok"),
    ];
    for (name, actor_id, role, asks, expected) in cases {
        let mut ports = Ports::new();
        ports
            .users
            .expect_get()
            .with(eq(id(2)))
            .times(usize::from(asks))
            .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
        let outcome = ports.service().get(actor(actor_id, role), id(2)).await;
        let got = match &outcome {
            Ok(found) => {
                assert_eq!(found, &user(2, Role::User, UserStatus::Active), "{name}");
                "ok"
            }
            Err(GetUserError::NotFound) => "not found",
            Err(GetUserError::Unexpected(_)) => "unexpected",
        };
        assert_eq!(got, expected, "{name}");
    }
}

#[tokio::test]
async fn get_reports_a_missing_user_and_a_storage_failure() {
    let mut ports = Ports::new();
    ports.users.expect_get().returning(|_| Ok(None));
    let outcome = ports.service().get(actor(9, Role::Admin), id(2)).await;
    assert!(
        matches!(outcome, Err(GetUserError::NotFound)),
        "missing user: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().get(actor(9, Role::Admin), id(2)).await;
    assert!(
        matches!(outcome, Err(GetUserError::Unexpected(_))),
        "storage failure: {outcome:?}"
    );
}

#[tokio::test]
async fn get_by_username_finds_missing_or_fails() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get_by_username()
        .with(eq("User2"))
        .times(1)
        .returning(|_| Ok(Some(user(2, Role::User, UserStatus::Active))));
    let outcome = ports.service().get_by_username("User2").await;
    assert_eq!(
        outcome.ok(),
        Some(user(2, Role::User, UserStatus::Active)),
        "found"
    );

    let mut ports = Ports::new();
    ports.users.expect_get_by_username().returning(|_| Ok(None));
    let outcome = ports.service().get_by_username("nobody").await;
    assert!(
        matches!(outcome, Err(GetUserError::NotFound)),
        "missing: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .users
        .expect_get_by_username()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().get_by_username("user2").await;
    assert!(
        matches!(outcome, Err(GetUserError::Unexpected(_))),
        "storage failure: {outcome:?}"
    );
}

#[tokio::test]
async fn a_username_with_a_control_character_is_not_looked_up() {
    for username in ["a\0b", "\u{7}", "tab\tbed"] {
        let mut ports = Ports::new();
        ports.users.expect_get_by_username().never();
        let outcome = ports.service().get_by_username(username).await;
        assert!(
            matches!(outcome, Err(GetUserError::NotFound)),
            "{username:?}: {outcome:?}"
        );
    }
}

fn query() -> UserQuery {
    UserQuery {
        page: Page::new(10, 5).expect("page"),
        search: Some("jan".into()),
        status: Some(UserStatus::Active),
        role: None,
        sort_by: UserSortField::Username,
        ..UserQuery::default()
    }
}

fn page_of_users() -> Paged<vidgen_domain::users::User> {
    Paged {
        items: vec![user(2, Role::User, UserStatus::Active)],
        total: 11,
        page: Page::new(10, 5).expect("page"),
    }
}

#[tokio::test]
async fn list_is_for_staff_only() {
    // (case, role, whether the repository is asked)
    let cases = [
        ("plain user", Role::User, false),
        ("moderator", Role::Moderator, true),
        ("admin", Role::Admin, true),
    ];
    for (name, role, allowed) in cases {
        let mut ports = Ports::new();
        ports
            .users
            .expect_list()
            .withf(|q| {
                q.page == Page::new(10, 5).expect("page")
                    && q.search.as_deref() == Some("jan")
                    && q.status == Some(UserStatus::Active)
                    && q.sort_by == UserSortField::Username
            })
            .times(usize::from(allowed))
            .returning(|_| Ok(page_of_users()));
        let outcome = ports.service().list(actor(1, role), query()).await;
        if allowed {
            assert_eq!(outcome.ok(), Some(page_of_users()), "{name}");
        } else {
            assert!(
                matches!(outcome, Err(ListUsersError::Forbidden)),
                "{name}: {outcome:?}"
            );
        }
    }
}

#[tokio::test]
async fn list_reports_a_storage_failure() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_list()
        .returning(|_| Err(storage_failure()));
    let outcome = ports
        .service()
        .list(actor(9, Role::Admin), UserQuery::default())
        .await;
    assert!(
        matches!(outcome, Err(ListUsersError::Unexpected(_))),
        "storage failure: {outcome:?}"
    );
}
