//! `AuthService::refresh`.

use mockall::predicate::eq;
use vidgen_domain::users::UserStatus;

use super::{Ports, REFRESH_TTL, id, now, record, storage_failure, user};
use crate::auth::ports::{RefreshTokenRecord, Rotation, TokenHash};
use crate::auth::refresh::RefreshError;

fn outcome_name<T>(outcome: &Result<T, RefreshError>) -> &'static str {
    match outcome {
        Ok(_) => "ok",
        Err(RefreshError::InvalidToken) => "invalid token",
        Err(RefreshError::Unexpected(_)) => "unexpected",
    }
}

/// Ports whose repository finds this record under the hash of `presented`.
fn finding(found: Option<RefreshTokenRecord>) -> Ports {
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .with(eq(TokenHash("hash-of-presented".into())))
        .times(1)
        .returning(move |_| Ok(found.clone()));
    ports
}

/// Ports that find a live token of user 7 (active, token version 5) and issue an access
/// token, up to the rotation.
fn live_token() -> Ports {
    let mut ports = finding(Some(record(false, false, false))).issues_access_token(5);
    ports
        .users
        .expect_get()
        .with(eq(id(7)))
        .times(1)
        .returning(|_| Ok(Some(user(UserStatus::Active, 5))));
    ports
}

#[tokio::test]
async fn dead_tokens_are_refused_and_reuse_revokes_the_family() {
    // (case, stored record, revokes family); no user is read, nothing is rotated.
    let cases = [
        ("unknown", None, false),
        ("revoked", Some(record(false, true, false)), false),
        ("expired", Some(record(false, false, true)), false),
        ("reused", Some(record(true, false, false)), true),
        ("reused after expiry", Some(record(true, false, true)), true),
    ];
    for (name, found, revokes) in cases {
        let mut ports = finding(found);
        ports
            .tokens
            .expect_revoke_family()
            .with(eq("family"), eq(now()))
            .times(usize::from(revokes))
            .returning(|_, _| Ok(3));
        ports.users.expect_get().never();
        ports.issuer.expect_issue().never();
        ports.tokens.expect_rotate().never();
        ports.tokens.expect_insert().never();
        let outcome = ports.service().refresh("presented").await;
        assert_eq!(
            outcome_name(&outcome),
            "invalid token",
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_user_who_may_no_longer_log_in_gets_no_new_pair() {
    // (case, stored user); the token itself is bound to version 5.
    let cases = [
        ("deleted user", None),
        ("suspended user", Some(user(UserStatus::Suspended, 5))),
        ("inactive user", Some(user(UserStatus::Inactive, 5))),
        (
            "token bound to an older version",
            Some(user(UserStatus::Active, 6)),
        ),
    ];
    for (name, stored) in cases {
        let mut ports = finding(Some(record(false, false, false)));
        ports
            .users
            .expect_get()
            .with(eq(id(7)))
            .times(1)
            .returning(move |_| Ok(stored.clone()));
        ports.issuer.expect_issue().never();
        ports.tokens.expect_rotate().never();
        ports.tokens.expect_insert().never();
        let outcome = ports.service().refresh("presented").await;
        assert_eq!(
            outcome_name(&outcome),
            "invalid token",
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_live_token_is_rotated_within_its_family_in_one_step() {
    let mut ports = live_token();
    let expires_at = now() + chrono::Duration::from_std(REFRESH_TTL).expect("ttl");
    ports
        .tokens
        .expect_rotate()
        .withf(move |presented, successor| {
            *presented == TokenHash("hash-of-presented".into())
                && successor.user_id == id(7)
                && successor.family_id == "family"
                && successor.hash == TokenHash("hash-of-token-1".into())
                && successor.token_version == 5
                && successor.issued_at == now()
                && successor.expires_at == expires_at
        })
        .times(1)
        .returning(|_, _| Ok(Rotation::Rotated));
    // Spending the token and storing its successor happen in `rotate` alone.
    ports.tokens.expect_insert().never();
    ports.tokens.expect_revoke_family().never();
    let pair = ports
        .service()
        .refresh("presented")
        .await
        .expect("rotation succeeds");
    assert_eq!(pair.access.token, "access", "rotation: access token");
    assert_eq!(pair.refresh_token, "token-1", "rotation: refresh token");
}

#[tokio::test]
async fn a_lost_compare_and_set_hands_out_nothing() {
    // (case, what the repository did)
    let cases = [
        (
            "spent concurrently: the family is revoked",
            Rotation::Reused { revoked: 2 },
        ),
        ("revoked or re-versioned concurrently", Rotation::Refused),
    ];
    for (name, rotation) in cases {
        let mut ports = live_token();
        ports
            .tokens
            .expect_rotate()
            .times(1)
            .returning(move |_, _| Ok(rotation));
        ports.tokens.expect_insert().never();
        let outcome = ports.service().refresh("presented").await;
        assert_eq!(
            outcome_name(&outcome),
            "invalid token",
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn storage_failures_are_unexpected() {
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "find failure: {outcome:?}"
    );

    let mut ports = finding(Some(record(true, false, false)));
    ports
        .tokens
        .expect_revoke_family()
        .returning(|_, _| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "revocation failure: {outcome:?}"
    );

    let mut ports = finding(Some(record(false, false, false)));
    ports
        .users
        .expect_get()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "user read failure: {outcome:?}"
    );

    let mut ports = live_token();
    ports
        .tokens
        .expect_rotate()
        .returning(|_, _| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "rotation failure: {outcome:?}"
    );
}
