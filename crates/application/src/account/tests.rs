//! Use-case tests of the account service with mocked ports (users, token store, token
//! maker, hasher, clock).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use vidgen_domain::users::account_tokens::AccountTokenPurpose as P;
use vidgen_domain::users::{
    Email, PersonName, PlainPassword, Role, User, UserId, UserStatus, Username,
};

use super::ports::{LiveAccountToken, MockAccountTokenRepository, MockAccountTokens, SealedToken};
use super::recovery::RequestPasswordResetError;
use super::reset::{ResetPassword, ResetPasswordError};
use super::verification::{ResendVerificationError, VerifyEmailError};
use super::{AccountPorts, AccountService};
use crate::auth::ports::TokenHash;
use crate::clock::MockClock;
use crate::jobs::JobKind;
use crate::storage::RepositoryError;
use crate::users::ports::{MockPasswordHasher, MockUserRepository, PasswordHash, VerificationMail};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn user(status: UserStatus) -> User {
    User {
        id: UserId::new(7).expect("id"),
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane <b>Doe</b>").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        role: Role::User,
        status,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version: 3,
        created_at: now(),
        updated_at: now(),
    }
}

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("email")
}

fn live(purpose: P, address: &str) -> LiveAccountToken {
    LiveAccountToken {
        id: 11,
        user_id: UserId::new(7).expect("id"),
        purpose,
        email: address.into(),
        expires_at: now() + chrono::Duration::hours(1),
    }
}

struct Ports {
    users: MockUserRepository,
    tokens: MockAccountTokenRepository,
    secrets: MockAccountTokens,
    hasher: MockPasswordHasher,
}

impl Ports {
    fn new() -> Self {
        let mut secrets = MockAccountTokens::new();
        secrets.expect_generate().returning(|| SealedToken {
            seal: "seal".into(),
            plain: "plain".into(),
            hash: TokenHash("hash-of-new".into()),
        });
        secrets
            .expect_hash()
            .returning(|plain| TokenHash(format!("hash-of-{plain}")));
        Self {
            users: MockUserRepository::new(),
            tokens: MockAccountTokenRepository::new(),
            secrets,
            hasher: MockPasswordHasher::new(),
        }
    }

    fn stored(mut self, target: User) -> Self {
        self.users
            .expect_get()
            .returning(move |_| Ok(Some(target.clone())));
        self
    }

    fn service(self) -> AccountService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        AccountService::new(AccountPorts {
            users: Arc::new(self.users),
            tokens: Arc::new(self.tokens),
            secrets: Arc::new(self.secrets),
            hasher: Arc::new(self.hasher),
            clock: Arc::new(clock),
        })
    }
}

#[tokio::test]
async fn recovery_does_the_same_work_for_known_and_unknown_addresses() {
    // (case, account found for the address, a mail recipient in the job)
    let cases = [
        ("known address", Some(user(UserStatus::Active)), true),
        (
            "pending account",
            Some(user(UserStatus::PendingVerification)),
            true,
        ),
        ("unknown address", None, false),
        (
            "suspended account",
            Some(user(UserStatus::Suspended)),
            false,
        ),
    ];
    for (name, found, mailed) in cases {
        let mut ports = Ports::new();
        ports
            .users
            .expect_get_credentials()
            .withf(|login| login == "jane@example.com")
            .times(1)
            .returning(move |_| Ok(found.clone().map(|u| (u, PasswordHash::new("$h")))));
        ports
            .tokens
            .expect_issue()
            .withf(move |token, job| {
                token.purpose == P::PasswordReset
                    && token.user_id.is_some() == mailed
                    && token.hash == TokenHash("hash-of-new".into())
                    && token.email.as_ref() == "jane@example.com"
                    && token.expires_at == now() + chrono::Duration::hours(1)
                    && job.kind == JobKind::SendMail
                    && job.payload.contains("jane@example.com") == mailed
                    && !job.payload.contains("plain")
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let outcome = ports
            .service()
            .request_password_reset(&email("jane@example.com"))
            .await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }
}

#[tokio::test]
async fn a_storage_failure_of_the_recovery_is_unexpected() {
    let mut ports = Ports::new();
    ports.users.expect_get_credentials().returning(|_| Ok(None));
    ports
        .tokens
        .expect_issue()
        .returning(|_, _| Err(RepositoryError::new(std::io::Error::other("db gone"))));
    let outcome = ports
        .service()
        .request_password_reset(&email("nobody@example.com"))
        .await;
    assert!(
        matches!(outcome, Err(RequestPasswordResetError::Unexpected(_))),
        "{outcome:?}"
    );
}

fn reset(token: &str, password: &str) -> ResetPassword {
    ResetPassword {
        token: token.into(),
        new_password: PlainPassword::new(password.into()),
    }
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_spends_the_token() {
    let mut ports = Ports::new().stored(user(UserStatus::PendingVerification));
    ports
        .tokens
        .expect_find_live()
        .withf(|purpose, hash, at| {
            *purpose == P::PasswordReset && hash.0 == "hash-of-tok" && *at == now()
        })
        .returning(|_, _, _| Ok(Some(live(P::PasswordReset, "jane@example.com"))));
    ports
        .hasher
        .expect_hash()
        .withf(|p| p.expose() == "N3wPassword")
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$argon2id$new")));
    ports
        .tokens
        .expect_consume()
        .withf(|id, _| *id == 11)
        .times(1)
        .returning(|_, _| Ok(true));
    ports
        .users
        .expect_update()
        .withf(|id, changes, _| {
            id.get() == 7
                && changes.password_hash.as_ref().map(PasswordHash::as_str) == Some("$argon2id$new")
                && changes.bump_token_version
                && !changes.keep_refresh_tokens
                && changes.status == Some(UserStatus::Active)
        })
        .times(1)
        .returning(|_, _, _| Ok(user(UserStatus::Active)));
    let outcome = ports
        .service()
        .reset_password(reset("tok", "N3wPassword"))
        .await;
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn unusable_reset_tokens_and_weak_passwords_are_refused_and_change_nothing() {
    // A weak password is refused before any token is looked at.
    let mut ports = Ports::new();
    ports.tokens.expect_find_live().never();
    let outcome = ports.service().reset_password(reset("tok", "weak")).await;
    let Err(ResetPasswordError::Invalid(violations)) = outcome else {
        panic!("weak password: {outcome:?}");
    };
    assert!(violations.iter().all(|v| v.field == "new_password"));

    // Unknown, forged or expired: no live token.
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find_live()
        .returning(|_, _, _| Ok(None));
    ports.hasher.expect_hash().never();
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .reset_password(reset("tok", "N3wPassword"))
        .await;
    assert!(
        matches!(outcome, Err(ResetPasswordError::InvalidToken)),
        "unknown: {outcome:?}"
    );

    // Mailed to an address the account no longer has.
    let mut ports = Ports::new().stored(user(UserStatus::Active));
    ports
        .tokens
        .expect_find_live()
        .returning(|_, _, _| Ok(Some(live(P::PasswordReset, "old@example.com"))));
    ports.hasher.expect_hash().never();
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .reset_password(reset("tok", "N3wPassword"))
        .await;
    assert!(
        matches!(outcome, Err(ResetPasswordError::InvalidToken)),
        "old address: {outcome:?}"
    );

    // Spent by a concurrent use between the lookup and the write.
    let mut ports = Ports::new().stored(user(UserStatus::Active));
    ports
        .tokens
        .expect_find_live()
        .returning(|_, _, _| Ok(Some(live(P::PasswordReset, "jane@example.com"))));
    ports
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("$argon2id$new")));
    ports.tokens.expect_consume().returning(|_, _| Ok(false));
    ports.users.expect_update().never();
    let outcome = ports
        .service()
        .reset_password(reset("tok", "N3wPassword"))
        .await;
    assert!(
        matches!(outcome, Err(ResetPasswordError::InvalidToken)),
        "race: {outcome:?}"
    );
}

#[tokio::test]
async fn verification_activates_a_pending_account_once() {
    // (case, status before, status written)
    let cases = [
        (
            "pending",
            UserStatus::PendingVerification,
            Some(UserStatus::Active),
        ),
        ("suspended stays suspended", UserStatus::Suspended, None),
        ("already active", UserStatus::Active, None),
    ];
    for (name, before, written) in cases {
        let mut ports = Ports::new().stored(user(before));
        ports
            .tokens
            .expect_find_live()
            .withf(|purpose, hash, _| *purpose == P::EmailVerification && hash.0 == "hash-of-tok")
            .returning(|_, _, _| Ok(Some(live(P::EmailVerification, "jane@example.com"))));
        ports
            .tokens
            .expect_consume()
            .times(1)
            .returning(|_, _| Ok(true));
        ports
            .users
            .expect_update()
            .withf(move |_, changes, _| changes.status == written && !changes.bump_token_version)
            .times(usize::from(written.is_some()))
            .returning(|_, _, _| Ok(user(UserStatus::Active)));
        let outcome = ports.service().verify_email("tok").await;
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
    }

    let mut ports = Ports::new();
    ports
        .tokens
        .expect_find_live()
        .returning(|_, _, _| Ok(None));
    let outcome = ports.service().verify_email("forged").await;
    assert!(
        matches!(outcome, Err(VerifyEmailError::InvalidToken)),
        "{outcome:?}"
    );

    let mut ports = Ports::new().stored(user(UserStatus::PendingVerification));
    ports
        .tokens
        .expect_find_live()
        .returning(|_, _, _| Ok(Some(live(P::EmailVerification, "jane@example.com"))));
    ports.tokens.expect_consume().returning(|_, _| Ok(false));
    ports.users.expect_update().never();
    let outcome = ports.service().verify_email("tok").await;
    assert!(
        matches!(outcome, Err(VerifyEmailError::InvalidToken)),
        "reused: {outcome:?}"
    );
}

#[tokio::test]
async fn resend_is_for_pending_accounts_and_queues_a_48_hour_token() {
    let outcome = Ports::new()
        .service()
        .resend_verification(&user(UserStatus::Active))
        .await;
    assert!(
        matches!(outcome, Err(ResendVerificationError::NotPending)),
        "{outcome:?}"
    );

    let mut ports = Ports::new();
    ports
        .tokens
        .expect_issue()
        .withf(|token, job| {
            token.purpose == P::EmailVerification
                && token.user_id.map(UserId::get) == Some(7)
                && token.expires_at == now() + chrono::Duration::hours(48)
                && job.payload.contains("jane@example.com")
                && job.payload.contains("Jane <b>Doe</b>")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let service = ports.service();
    let outcome = service
        .resend_verification(&user(UserStatus::PendingVerification))
        .await;
    assert!(outcome.is_ok(), "{outcome:?}");
}

#[tokio::test]
async fn the_verification_mail_port_queues_through_the_same_transaction() {
    let mut ports = Ports::new();
    ports
        .tokens
        .expect_issue()
        .returning(|_, _| Err(RepositoryError::new(std::io::Error::other("db gone"))));
    let outcome = ports
        .service()
        .send_verification(&user(UserStatus::PendingVerification))
        .await;
    assert!(outcome.is_err());
}
