//! `AuthService::authenticate`.

use mockall::predicate::eq;
use vidgen_domain::users::{Role, User, UserStatus};

use super::{Ports, id, storage_failure, user};
use crate::auth::authenticate::AuthenticateError;
use crate::auth::ports::{AccessClaims, TokenError};

fn claims(token_version: i64) -> AccessClaims {
    AccessClaims {
        user_id: id(7),
        role: Role::Moderator,
        token_version,
    }
}

fn outcome_name(outcome: &Result<User, AuthenticateError>) -> &'static str {
    match outcome {
        Ok(_) => "ok",
        Err(AuthenticateError::Token(TokenError::Expired)) => "expired",
        Err(AuthenticateError::Token(TokenError::Invalid)) => "invalid",
        Err(AuthenticateError::Revoked) => "revoked",
        Err(AuthenticateError::Unexpected(_)) => "unexpected",
    }
}

#[tokio::test]
async fn a_token_that_does_not_verify_is_refused_without_a_lookup() {
    for (name, error) in [
        ("expired", TokenError::Expired),
        ("invalid", TokenError::Invalid),
    ] {
        let mut ports = Ports::new();
        ports
            .verifier
            .expect_verify()
            .with(eq("bearer"))
            .times(1)
            .returning(move |_| Err(error.clone()));
        ports.users.expect_get().never();
        let outcome = ports.service().authenticate("bearer").await;
        assert_eq!(outcome_name(&outcome), name, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_token_that_no_longer_matches_its_user_is_revoked() {
    // (case, claimed token version, stored user, expected)
    type Case = (&'static str, i64, Option<User>, &'static str);
    let cases: Vec<Case> = vec![
        ("deleted user", 2, None, "revoked"),
        (
            "token version behind (password changed)",
            2,
            Some(user(UserStatus::Active, 3)),
            "revoked",
        ),
        (
            "token version ahead",
            4,
            Some(user(UserStatus::Active, 3)),
            "revoked",
        ),
        (
            "suspended user",
            3,
            Some(user(UserStatus::Suspended, 3)),
            "revoked",
        ),
        (
            "inactive user",
            3,
            Some(user(UserStatus::Inactive, 3)),
            "revoked",
        ),
        (
            "pending verification",
            3,
            Some(user(UserStatus::PendingVerification, 3)),
            "ok",
        ),
        ("active", 3, Some(user(UserStatus::Active, 3)), "ok"),
    ];
    for (name, version, stored, expected) in cases {
        let mut ports = Ports::new();
        ports
            .verifier
            .expect_verify()
            .returning(move |_| Ok(claims(version)));
        let returned = stored.clone();
        ports
            .users
            .expect_get()
            .with(eq(id(7)))
            .times(1)
            .returning(move |_| Ok(returned.clone()));
        let outcome = ports.service().authenticate("bearer").await;
        assert_eq!(outcome_name(&outcome), expected, "{name}: {outcome:?}");
        if let Ok(found) = outcome {
            assert_eq!(Some(found), stored, "{name}: the stored user is returned");
        }
    }
}

#[tokio::test]
async fn a_storage_failure_is_unexpected() {
    let mut ports = Ports::new();
    ports.verifier.expect_verify().returning(|_| Ok(claims(3)));
    ports
        .users
        .expect_get()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().authenticate("bearer").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "storage failure: {outcome:?}"
    );
}
