//! `AuthService::logout`.

use mockall::predicate::eq;

use super::{Ports, id, now, record, storage_failure};
use crate::auth::logout::LogoutError;
use crate::auth::ports::{RefreshTokenRecord, TokenHash};

#[tokio::test]
async fn logout_revokes_only_the_callers_own_session() {
    // (case, stored record, revokes the family)
    let cases = [
        ("own token", Some(record(false, false, false)), true),
        (
            "own token already used",
            Some(record(true, false, false)),
            true,
        ),
        (
            "someone else's token",
            Some(RefreshTokenRecord {
                user_id: id(8),
                ..record(false, false, false)
            }),
            false,
        ),
        ("unknown token", None, false),
    ];
    for (name, found, revokes) in cases {
        let mut ports = Ports::new();
        ports
            .tokens
            .expect_find()
            .with(eq(TokenHash("hash-of-presented".into())))
            .times(1)
            .returning(move |_| Ok(found.clone()));
        ports
            .tokens
            .expect_revoke_family()
            .with(eq("family"), eq(now()))
            .times(usize::from(revokes))
            .returning(|_, _| Ok(2));
        let outcome = ports.service().logout(id(7), "presented").await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn storage_failures_are_unexpected() {
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().logout(id(7), "presented").await;
    assert!(
        matches!(outcome, Err(LogoutError::Unexpected(_))),
        "find failure: {outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .returning(|_| Ok(Some(record(false, false, false))));
    ports
        .tokens
        .expect_revoke_family()
        .returning(|_, _| Err(storage_failure()));
    let outcome = ports.service().logout(id(7), "presented").await;
    assert!(
        matches!(outcome, Err(LogoutError::Unexpected(_))),
        "revocation failure: {outcome:?}"
    );
}
