//! `AuthService::login`.

use mockall::predicate::eq;
use vidgen_domain::users::{PlainPassword, UserStatus};

use super::{Ports, REFRESH_TTL, id, now, storage_failure, user};
use crate::auth::login::LoginError;
use crate::auth::ports::{IssueError, TokenHash};
use crate::users::ports::{HashError, HashSlot, PasswordHash};

fn password() -> PlainPassword {
    PlainPassword::new("Sup3rSecret".into())
}

fn outcome_name<T>(outcome: &Result<T, LoginError>) -> &'static str {
    match outcome {
        Ok(_) => "ok",
        Err(LoginError::InvalidCredentials) => "invalid credentials",
        Err(LoginError::AccountDisabled) => "account disabled",
        Err(LoginError::Unexpected(_)) => "unexpected",
    }
}

/// Expects one place taken in the hashing queue.
fn reserves_a_slot(ports: &mut Ports) {
    ports
        .hasher
        .expect_reserve()
        .times(1)
        .returning(|| Ok(HashSlot::new(())));
}

/// Ports whose repository knows `jane` (with this status and hash `real-hash`) and whose
/// hasher says whether the presented password matches.
fn knowing_jane(status: UserStatus, matches: bool) -> Ports {
    let mut ports = Ports::new();
    reserves_a_slot(&mut ports);
    ports
        .users
        .expect_get_credentials()
        .with(eq("jane"))
        .times(1)
        .returning(move |_| Ok(Some((user(status, 4), PasswordHash::new("real-hash")))));
    ports
        .hasher
        .expect_verify_reserved()
        .withf(|_, presented, hash| {
            presented.expose() == "Sup3rSecret" && hash.as_str() == "real-hash"
        })
        .times(1)
        .returning(move |_, _, _| Ok(matches));
    ports
}

#[tokio::test]
async fn an_unknown_user_is_checked_against_the_dummy_hash() {
    let mut ports = Ports::new();
    reserves_a_slot(&mut ports);
    ports
        .users
        .expect_get_credentials()
        .with(eq("nobody"))
        .returning(|_| Ok(None));
    ports
        .hasher
        .expect_dummy_hash()
        .times(1)
        .returning(|| PasswordHash::new("dummy-hash"));
    ports
        .hasher
        .expect_verify_reserved()
        .withf(|_, presented, hash| {
            presented.expose() == "Sup3rSecret" && hash.as_str() == "dummy-hash"
        })
        .times(1)
        // Even a "match" against the dummy must not let anyone in.
        .returning(|_, _, _| Ok(true));
    ports.tokens.expect_insert().never();
    let outcome = ports.service().login("nobody", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "invalid credentials",
        "unknown user: {outcome:?}"
    );
}

#[tokio::test]
async fn a_login_with_a_control_character_never_reaches_the_repository() {
    for login in ["\0", "ja\0ne", "ja\nne"] {
        let mut ports = Ports::new();
        reserves_a_slot(&mut ports);
        ports.users.expect_get_credentials().never();
        ports
            .hasher
            .expect_dummy_hash()
            .times(1)
            .returning(|| PasswordHash::new("dummy-hash"));
        ports
            .hasher
            .expect_verify_reserved()
            .times(1)
            .returning(|_, _, _| Ok(true));
        ports.tokens.expect_insert().never();
        let outcome = ports.service().login(login, password()).await;
        assert_eq!(
            outcome_name(&outcome),
            "invalid credentials",
            "{login:?}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn refusals_say_as_little_as_possible_and_start_no_session() {
    // (case, status, password matches, expected)
    let cases = [
        (
            "wrong password",
            UserStatus::Active,
            false,
            "invalid credentials",
        ),
        (
            "wrong password on a suspended account",
            UserStatus::Suspended,
            false,
            "invalid credentials",
        ),
        ("suspended", UserStatus::Suspended, true, "account disabled"),
        ("inactive", UserStatus::Inactive, true, "account disabled"),
    ];
    for (name, status, matches, expected) in cases {
        let mut ports = knowing_jane(status, matches);
        ports.hasher.expect_dummy_hash().never();
        ports.issuer.expect_issue().never();
        ports.tokens.expect_insert().never();
        let outcome = ports.service().login("jane", password()).await;
        assert_eq!(outcome_name(&outcome), expected, "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_login_issues_a_pair_and_stores_the_refresh_token_until_now_plus_ttl() {
    for (name, status) in [
        ("active", UserStatus::Active),
        ("pending verification", UserStatus::PendingVerification),
    ] {
        let mut ports = knowing_jane(status, true).issues_access_token(4);
        let expires_at = now() + chrono::Duration::from_std(REFRESH_TTL).expect("ttl");
        ports
            .tokens
            .expect_insert()
            .withf(move |token| {
                token.user_id == id(7)
                    // The first token generated only names the new family.
                    && token.family_id == "hash-of-token-1"
                    && token.hash == TokenHash("hash-of-token-2".into())
                    // Bound to the token version the user was read with.
                    && token.token_version == 4
                    && token.issued_at == now()
                    && token.expires_at == expires_at
            })
            .times(1)
            .returning(|_| Ok(true));
        // Surrounding white space of the login is ignored.
        let outcome = ports.service().login("  jane\t", password()).await;
        let pair = outcome.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(pair.access.token, "access", "{name}: access token");
        assert_eq!(pair.access.expires_in_seconds, 1800, "{name}: lifetime");
        assert_eq!(pair.refresh_token, "token-2", "{name}: refresh token");
    }
}

#[tokio::test]
async fn failing_ports_are_unexpected() {
    let mut ports = Ports::new();
    reserves_a_slot(&mut ports);
    ports
        .users
        .expect_get_credentials()
        .returning(|_| Err(storage_failure()));
    ports.hasher.expect_verify_reserved().never();
    let outcome = ports.service().login("jane", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "read failure: {outcome:?}"
    );

    let mut ports = Ports::new();
    reserves_a_slot(&mut ports);
    ports
        .users
        .expect_get_credentials()
        .returning(|_| Ok(Some((user(UserStatus::Active, 0), PasswordHash::new("h")))));
    ports
        .hasher
        .expect_verify_reserved()
        .returning(|_, _, _| Err(HashError(Box::new(std::io::Error::other("pool gone")))));
    let outcome = ports.service().login("jane", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "hashing failure: {outcome:?}"
    );

    let mut ports = knowing_jane(UserStatus::Active, true);
    ports
        .issuer
        .expect_issue()
        .returning(|_, _| Err(IssueError(Box::new(std::io::Error::other("no key")))));
    ports.tokens.expect_insert().never();
    let outcome = ports.service().login("jane", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "signing failure: {outcome:?}"
    );

    let mut ports = knowing_jane(UserStatus::Active, true).issues_access_token(4);
    ports
        .tokens
        .expect_insert()
        .returning(|_| Err(storage_failure()));
    let outcome = ports.service().login("jane", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "unexpected",
        "refresh token not stored: {outcome:?}"
    );
}

#[tokio::test]
async fn a_password_change_during_the_login_starts_no_session() {
    // The repository refuses the token: the user's token version moved on after the
    // credentials were read (a password change or suspension committed meanwhile).
    let mut ports = knowing_jane(UserStatus::Active, true).issues_access_token(4);
    ports
        .tokens
        .expect_insert()
        .withf(|token| token.token_version == 4)
        .times(1)
        .returning(|_| Ok(false));
    let outcome = ports.service().login("jane", password()).await;
    assert_eq!(
        outcome_name(&outcome),
        "invalid credentials",
        "stale credentials: {outcome:?}"
    );
}

#[tokio::test]
async fn a_full_hashing_queue_refuses_before_the_stored_hash_is_read() {
    let mut ports = Ports::new();
    ports
        .hasher
        .expect_reserve()
        .times(1)
        .returning(|| Err(HashError::overloaded()));
    ports.users.expect_get_credentials().never();
    ports.hasher.expect_dummy_hash().never();
    ports.hasher.expect_verify_reserved().never();
    ports.hasher.expect_verify().never();
    ports.tokens.expect_insert().never();
    let outcome = ports.service().login("jane", password()).await;
    let Err(LoginError::Unexpected(source)) = outcome else {
        panic!("a full queue is unexpected: {outcome:?}");
    };
    let overloaded = source
        .downcast_ref::<HashError>()
        .is_some_and(HashError::is_overloaded);
    assert!(
        overloaded,
        "the refusal says the queue was full: {source:?}"
    );
}
