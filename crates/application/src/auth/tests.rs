//! Use-case tests of the auth service with mocked ports.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use vidgen_domain::users::{
    Email, PersonName, PlainPassword, Role, User, UserId, UserStatus, Username,
};

use super::authenticate::AuthenticateError;
use super::login::LoginError;
use super::ports::{
    AccessClaims, IssuedAccessToken, MockOpaqueTokens, MockRefreshTokenRepository, MockTokenIssuer,
    MockTokenVerifier, OpaqueToken, RefreshTokenRecord, TokenError, TokenHash,
};
use super::refresh::RefreshError;
use super::{AuthPorts, AuthService};
use crate::clock::MockClock;
use crate::users::ports::{MockPasswordHasher, MockUserRepository, PasswordHash};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn id(n: i64) -> UserId {
    UserId::new(n).expect("positive id")
}

fn user(status: UserStatus, token_version: i64) -> User {
    User {
        id: id(7),
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        role: Role::User,
        status,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version,
        created_at: now(),
        updated_at: now(),
    }
}

struct Ports {
    users: MockUserRepository,
    tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
    issuer: MockTokenIssuer,
    verifier: MockTokenVerifier,
    opaque: MockOpaqueTokens,
}

impl Ports {
    fn new() -> Self {
        let mut opaque = MockOpaqueTokens::new();
        opaque.expect_generate().returning(|| OpaqueToken {
            plain: "new-refresh".into(),
            hash: TokenHash("hash-of-new-refresh".into()),
        });
        opaque
            .expect_hash()
            .returning(|plain| TokenHash(format!("hash-of-{plain}")));
        let mut issuer = MockTokenIssuer::new();
        issuer.expect_issue().returning(|_, _| {
            Ok(IssuedAccessToken {
                token: "access".into(),
                expires_in_seconds: 1800,
            })
        });
        Self {
            users: MockUserRepository::new(),
            tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
            issuer,
            verifier: MockTokenVerifier::new(),
            opaque,
        }
    }

    fn service(self) -> AuthService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        AuthService::new(
            AuthPorts {
                users: Arc::new(self.users),
                refresh_tokens: Arc::new(self.tokens),
                hasher: Arc::new(self.hasher),
                issuer: Arc::new(self.issuer),
                verifier: Arc::new(self.verifier),
                opaque: Arc::new(self.opaque),
                clock: Arc::new(clock),
            },
            Duration::from_secs(14 * 24 * 3600),
        )
    }
}

fn password() -> PlainPassword {
    PlainPassword::new("Sup3rSecret".into())
}

#[tokio::test]
async fn unknown_users_are_checked_against_the_dummy_hash() {
    let mut ports = Ports::new();
    ports.users.expect_get_credentials().returning(|_| Ok(None));
    ports
        .hasher
        .expect_dummy_hash()
        .times(1)
        .returning(|| PasswordHash::new("dummy"));
    ports
        .hasher
        .expect_verify()
        .withf(|_, hash| hash.as_str() == "dummy")
        .times(1)
        .returning(|_, _| Ok(false));
    let outcome = ports.service().login("nobody", password()).await;
    assert!(
        matches!(outcome, Err(LoginError::InvalidCredentials)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn login_outcomes() {
    let cases = [
        ("wrong password", UserStatus::Active, false, "invalid"),
        ("suspended", UserStatus::Suspended, true, "disabled"),
        ("inactive", UserStatus::Inactive, true, "disabled"),
        (
            "pending verification",
            UserStatus::PendingVerification,
            true,
            "ok",
        ),
        ("active", UserStatus::Active, true, "ok"),
    ];
    for (name, status, matches, expected) in cases {
        let mut ports = Ports::new();
        ports
            .users
            .expect_get_credentials()
            .with(eq("jane"))
            .returning(move |_| Ok(Some((user(status, 0), PasswordHash::new("real")))));
        ports
            .hasher
            .expect_verify()
            .returning(move |_, _| Ok(matches));
        let stores = usize::from(expected == "ok");
        ports
            .tokens
            .expect_insert()
            .withf(|token| {
                token.hash.0 == "hash-of-new-refresh"
                    && token.user_id == id(7)
                    && token.expires_at == now() + chrono::Duration::days(14)
            })
            .times(stores)
            .returning(|_| Ok(()));
        let outcome = ports.service().login(" jane ", password()).await;
        let got = match &outcome {
            Ok(pair) => {
                assert_eq!(pair.refresh_token, "new-refresh", "{name}");
                "ok"
            }
            Err(LoginError::InvalidCredentials) => "invalid",
            Err(LoginError::AccountDisabled) => "disabled",
            Err(LoginError::Unexpected(_)) => "unexpected",
        };
        assert_eq!(got, expected, "{name}");
    }
}

fn record(used: bool, revoked: bool, expired: bool) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: 11,
        user_id: id(7),
        family_id: "family".into(),
        expires_at: if expired {
            now() - chrono::Duration::seconds(1)
        } else {
            now() + chrono::Duration::days(1)
        },
        used_at: used.then(now),
        revoked_at: revoked.then(now),
    }
}

#[tokio::test]
async fn refresh_refuses_everything_but_a_live_unused_token() {
    // (name, record, consume wins, revokes family)
    let cases = [
        ("unknown", None, true, false),
        ("revoked", Some(record(false, true, false)), true, false),
        ("expired", Some(record(false, false, true)), true, false),
        ("reused", Some(record(true, false, false)), true, true),
        (
            "lost the race",
            Some(record(false, false, false)),
            false,
            true,
        ),
    ];
    for (name, found, wins, revokes) in cases {
        let mut ports = Ports::new();
        ports
            .tokens
            .expect_find()
            .with(eq(TokenHash("hash-of-presented".into())))
            .returning(move |_| Ok(found.clone()));
        ports
            .tokens
            .expect_consume()
            .returning(move |_, _| Ok(wins));
        ports
            .tokens
            .expect_revoke_family()
            .with(eq("family"), eq(now()))
            .times(usize::from(revokes))
            .returning(|_, _| Ok(3));
        ports.tokens.expect_insert().never();
        let outcome = ports.service().refresh("presented").await;
        assert!(
            matches!(outcome, Err(RefreshError::InvalidToken)),
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn refresh_rotates_within_the_family() {
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .returning(|_| Ok(Some(record(false, false, false))));
    ports
        .tokens
        .expect_consume()
        .with(eq(11), eq(now()))
        .times(1)
        .returning(|_, _| Ok(true));
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(UserStatus::Active, 0))));
    ports
        .tokens
        .expect_insert()
        .withf(|token| token.family_id == "family")
        .times(1)
        .returning(|_| Ok(()));
    let pair = ports.service().refresh("presented").await.expect("rotated");
    assert_eq!(pair.refresh_token, "new-refresh");
    assert_eq!(pair.access.token, "access");

    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find()
        .returning(|_| Ok(Some(record(false, false, false))));
    ports.tokens.expect_consume().returning(|_, _| Ok(true));
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(UserStatus::Suspended, 0))));
    ports.tokens.expect_insert().never();
    let outcome = ports.service().refresh("presented").await;
    assert!(
        matches!(outcome, Err(RefreshError::InvalidToken)),
        "suspended"
    );
}

#[tokio::test]
async fn logout_revokes_only_the_callers_own_session() {
    for (owner, revokes) in [(7, true), (8, false)] {
        let mut ports = Ports::new();
        ports.tokens.expect_find().returning(move |_| {
            Ok(Some(RefreshTokenRecord {
                user_id: id(owner),
                ..record(false, false, false)
            }))
        });
        ports
            .tokens
            .expect_revoke_family()
            .times(usize::from(revokes))
            .returning(|_, _| Ok(1));
        assert!(ports.service().logout(id(7), "presented").await.is_ok());
    }
}

#[tokio::test]
async fn authentication_requires_a_current_token_of_an_active_user() {
    let claims = |version| AccessClaims {
        user_id: id(7),
        role: Role::User,
        token_version: version,
    };
    // (name, verifier result, stored user, expected)
    type Case = (
        &'static str,
        Result<AccessClaims, TokenError>,
        Option<User>,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        ("expired", Err(TokenError::Expired), None, "token"),
        ("invalid", Err(TokenError::Invalid), None, "token"),
        ("deleted user", Ok(claims(0)), None, "revoked"),
        (
            "old version",
            Ok(claims(0)),
            Some(user(UserStatus::Active, 1)),
            "revoked",
        ),
        (
            "suspended",
            Ok(claims(0)),
            Some(user(UserStatus::Suspended, 0)),
            "revoked",
        ),
        (
            "valid",
            Ok(claims(1)),
            Some(user(UserStatus::Active, 1)),
            "ok",
        ),
    ];
    for (name, verified, stored, expected) in cases {
        let mut ports = Ports::new();
        ports
            .verifier
            .expect_verify()
            .returning(move |_| verified.clone());
        ports
            .users
            .expect_get()
            .returning(move |_| Ok(stored.clone()));
        let got = match ports.service().authenticate("token").await {
            Ok(_) => "ok",
            Err(AuthenticateError::Token(_)) => "token",
            Err(AuthenticateError::Revoked) => "revoked",
            Err(AuthenticateError::Unexpected(_)) => "unexpected",
        };
        assert_eq!(got, expected, "{name}");
    }
}
