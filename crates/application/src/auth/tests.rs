//! Use-case tests of the auth service with mocked ports: the shared fixtures here, one
//! child module per use case.

mod authenticate;
mod login;
mod logout;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};

use super::ports::{
    IssuedAccessToken, MockOpaqueTokens, MockRefreshTokenRepository, MockTokenIssuer,
    MockTokenVerifier, OpaqueToken, RefreshTokenRecord, TokenHash,
};
use super::{AuthPorts, AuthService};
use crate::clock::MockClock;
use crate::storage::RepositoryError;
use crate::users::ports::{MockPasswordHasher, MockUserRepository};

/// The fixed time every test runs at.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// The refresh-token lifetime the service is built with.
const REFRESH_TTL: Duration = Duration::from_secs(14 * 24 * 3600);

fn id(n: i64) -> UserId {
    UserId::new(n).expect("positive id")
}

/// User 7, `jane`, a moderator (so a role in the claims is not just the default).
fn user(status: UserStatus, token_version: i64) -> User {
    User {
        id: id(7),
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        role: Role::Moderator,
        status,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version,
        created_at: now(),
        updated_at: now(),
    }
}

/// A stored refresh token of user 7 in family `family`, bound to token version 5.
fn record(used: bool, revoked: bool, expired: bool) -> RefreshTokenRecord {
    RefreshTokenRecord {
        id: 11,
        user_id: id(7),
        family_id: "family".into(),
        token_version: 5,
        expires_at: if expired {
            now() - chrono::Duration::seconds(1)
        } else {
            now() + chrono::Duration::days(1)
        },
        used_at: used.then(|| now() - chrono::Duration::hours(1)),
        revoked_at: revoked.then(|| now() - chrono::Duration::hours(1)),
    }
}

fn storage_failure() -> RepositoryError {
    RepositoryError::new(std::io::Error::other("disk gone"))
}

/// The mocked ports of an [`AuthService`]. A mock without an expectation for a call
/// fails the test when called. The opaque-token generator is armed: it hands out
/// `token-1`, `token-2`, ... hashed as `hash-of-token-N`; everything else is up to the
/// case.
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
        let mut generated = 0;
        opaque.expect_generate().returning(move || {
            generated += 1;
            OpaqueToken {
                plain: format!("token-{generated}"),
                hash: TokenHash(format!("hash-of-token-{generated}")),
            }
        });
        opaque
            .expect_hash()
            .returning(|plain| TokenHash(format!("hash-of-{plain}")));
        Self {
            users: MockUserRepository::new(),
            tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
            issuer: MockTokenIssuer::new(),
            verifier: MockTokenVerifier::new(),
            opaque,
        }
    }

    /// Expects exactly one access token for user 7 with these claims, issued at `now`.
    fn issues_access_token(mut self, token_version: i64) -> Self {
        self.issuer
            .expect_issue()
            .withf(move |claims, at| {
                claims.user_id == id(7)
                    && claims.role == Role::Moderator
                    && claims.token_version == token_version
                    && *at == now()
            })
            .times(1)
            .returning(|_, _| {
                Ok(IssuedAccessToken {
                    token: "access".into(),
                    expires_in_seconds: 1800,
                })
            });
        self
    }

    /// The service over these ports, with a clock fixed at [`now`].
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
            REFRESH_TTL,
        )
    }
}
