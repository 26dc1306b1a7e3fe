//! `AuthService::refresh`.

use mockall::Sequence;
use mockall::predicate::eq;
use vidgen_domain::users::UserStatus;

use super::{Ports, REFRESH_TTL, id, now, record, storage_failure, user};
use crate::auth::ports::{RefreshTokenRecord, TokenHash};
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

#[tokio::test]
async fn dead_tokens_are_refused_and_reuse_revokes_the_family() {
    // (case, stored record, whether consume is tried, consume wins, revokes family)
    let cases = [
        ("unknown", None, false, true, false),
        (
            "revoked",
            Some(record(false, true, false)),
            false,
            true,
            false,
        ),
        (
            "expired",
            Some(record(false, false, true)),
            false,
            true,
            false,
        ),
        (
            "reused",
            Some(record(true, false, false)),
            false,
            true,
            true,
        ),
        (
            "reused after expiry",
            Some(record(true, false, true)),
            false,
            true,
            true,
        ),
        (
            "lost the race to consume",
            Some(record(false, false, false)),
            true,
            false,
            true,
        ),
    ];
    for (name, found, consumes, wins, revokes) in cases {
        let mut ports = finding(found);
        ports
            .tokens
            .expect_consume()
            .with(eq(11), eq(now()))
            .times(usize::from(consumes))
            .returning(move |_, _| Ok(wins));
        ports
            .tokens
            .expect_revoke_family()
            .with(eq("family"), eq(now()))
            .times(usize::from(revokes))
            .returning(|_, _| Ok(3));
        ports.users.expect_get().never();
        ports.issuer.expect_issue().never();
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
    // (case, stored user)
    let cases = [
        ("deleted user", None),
        ("suspended user", Some(user(UserStatus::Suspended, 0))),
        ("inactive user", Some(user(UserStatus::Inactive, 0))),
    ];
    for (name, stored) in cases {
        let mut ports = finding(Some(record(false, false, false)));
        ports
            .tokens
            .expect_consume()
            .times(1)
            .returning(|_, _| Ok(true));
        ports
            .users
            .expect_get()
            .with(eq(id(7)))
            .times(1)
            .returning(move |_| Ok(stored.clone()));
        ports.issuer.expect_issue().never();
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
async fn a_live_token_is_consumed_and_rotated_within_its_family() {
    let mut ports = finding(Some(record(false, false, false))).issues_access_token(5);
    let mut order = Sequence::new();
    ports
        .tokens
        .expect_consume()
        .with(eq(11), eq(now()))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(true));
    ports
        .users
        .expect_get()
        .with(eq(id(7)))
        .times(1)
        .returning(|_| Ok(Some(user(UserStatus::Active, 5))));
    let expires_at = now() + chrono::Duration::from_std(REFRESH_TTL).expect("ttl");
    ports
        .tokens
        .expect_insert()
        .withf(move |token| {
            token.user_id == id(7)
                && token.family_id == "family"
                && token.hash == TokenHash("hash-of-token-1".into())
                && token.issued_at == now()
                && token.expires_at == expires_at
        })
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
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

    let mut ports = finding(Some(record(false, false, false)));
    ports
        .tokens
        .expect_consume()
        .returning(|_, _| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "consume failure: {outcome:?}"
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
    ports.tokens.expect_consume().returning(|_, _| Ok(true));
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

    let mut ports = finding(Some(record(false, false, false))).issues_access_token(5);
    ports.tokens.expect_consume().returning(|_, _| Ok(true));
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(UserStatus::Active, 5))));
    ports
        .tokens
        .expect_insert()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().refresh("presented").await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "insert failure: {outcome:?}"
    );
}
