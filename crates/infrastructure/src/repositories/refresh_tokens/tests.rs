//! The refresh-token repository against a real database (SQLite in a temporary folder,
//! or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set): single use, reuse
//! detection, and races of two rotations, a rotation and a logout, and a rotation and a
//! password change, each run many times with both sides released together.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryFilter,
};
use tokio::sync::Barrier;
use vidgen_application::auth::ports::{
    NewRefreshToken, RefreshTokenRepository, Rotation, TokenHash,
};
use vidgen_application::users::ports::{NewUser, PasswordHash, UserChanges, UserRepository};
use vidgen_domain::users::{Email, PersonName, Role, User, UserStatus, Username};

use super::SeaOrmRefreshTokenRepository;
use crate::database::{DatabaseOptions, connect, migrate};
use crate::entities::refresh_token::{Column, Entity as RefreshTokens};
use crate::repositories::SeaOrmUserRepository;

/// How often each race is run.
const ROUNDS: usize = 25;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// A migrated database for one test; a PostgreSQL database is dropped afterwards.
struct TestDb {
    db: DatabaseConnection,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, postgres) = match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("vidgen_repo_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("TEST_DATABASE_URL is set but unreachable");
                admin
                    .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
                    .await
                    .expect("create test database");
                admin.close().await.expect("close admin connection");
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                (format!("{base}/{name}"), Some((admin_url.clone(), name)))
            }
            _ => (
                format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
                None,
            ),
        };
        let db = connect(&DatabaseOptions {
            url,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
        })
        .await
        .expect("connect to the test database");
        migrate(&db).await.expect("migrate the test database");
        Self {
            db,
            postgres,
            _dir: dir,
        }
    }

    fn tokens(&self) -> SeaOrmRefreshTokenRepository {
        SeaOrmRefreshTokenRepository::new(self.db.clone())
    }

    fn users(&self) -> SeaOrmUserRepository {
        SeaOrmUserRepository::new(self.db.clone())
    }

    /// A new active user.
    async fn user(&self, n: usize) -> User {
        self.users()
            .insert(NewUser {
                username: Username::parse(&format!("user{n}")).expect("username"),
                name: PersonName::parse("Test User").expect("name"),
                email: Email::parse(&format!("user{n}@example.com")).expect("email"),
                password_hash: PasswordHash::new("old-hash"),
                role: Role::User,
                status: UserStatus::Active,
                age: None,
                birth_date: None,
                created_at: now(),
            })
            .await
            .expect("insert user")
    }

    /// Tokens of the user that could still be rotated: unspent, unrevoked and bound to
    /// the user's current token version.
    async fn live_tokens(&self, user: &User) -> usize {
        let current = self
            .users()
            .get(user.id)
            .await
            .expect("read user")
            .expect("user exists")
            .token_version;
        RefreshTokens::find()
            .filter(Column::UserId.eq(user.id.get()))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .filter(Column::TokenVersion.eq(current))
            .all(&self.db)
            .await
            .expect("read tokens")
            .len()
    }

    /// Tokens of the user not revoked, whatever their version.
    async fn unrevoked_tokens(&self, user: &User) -> usize {
        RefreshTokens::find()
            .filter(Column::UserId.eq(user.id.get()))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .all(&self.db)
            .await
            .expect("read tokens")
            .len()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                admin
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await
                    .map_err(|e| e.to_string())?;
                admin.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop the test database: {error}");
        }
    }
}

/// A token of `user` in `family`, named `name`, bound to `version`.
fn token(user: &User, family: &str, name: &str, version: i64) -> NewRefreshToken {
    NewRefreshToken {
        user_id: user.id,
        family_id: family.to_owned(),
        hash: TokenHash(format!("hash-{name}")),
        token_version: version,
        issued_at: now(),
        expires_at: now() + chrono::Duration::days(14),
    }
}

fn hash(name: &str) -> TokenHash {
    TokenHash(format!("hash-{name}"))
}

/// A login's first token `{family}-0` for the user at their current version.
async fn login(db: &TestDb, user: &User, family: &str) {
    let stored = db
        .tokens()
        .insert(token(
            user,
            family,
            &format!("{family}-0"),
            user.token_version,
        ))
        .await
        .expect("insert");
    assert!(stored, "{family}: the first token is stored");
}

#[tokio::test]
async fn a_token_rotates_once_and_its_reuse_revokes_the_successor() {
    let db = TestDb::new().await;
    let tokens = db.tokens();
    let user = db.user(1).await;
    login(&db, &user, "f").await;

    let first = tokens
        .rotate(&hash("f-0"), token(&user, "f", "f-1", 0))
        .await
        .expect("rotate");
    assert_eq!(first, Rotation::Rotated, "a live token rotates");
    assert_eq!(db.live_tokens(&user).await, 1, "only the successor is live");

    let replay = tokens
        .rotate(&hash("f-0"), token(&user, "f", "f-2", 0))
        .await
        .expect("rotate");
    assert_eq!(
        replay,
        Rotation::Reused { revoked: 2 },
        "the replay revokes the family: f-0 and f-1"
    );
    let after = tokens
        .rotate(&hash("f-1"), token(&user, "f", "f-3", 0))
        .await
        .expect("rotate");
    assert_eq!(after, Rotation::Refused, "the revoked successor is refused");
    assert_eq!(db.live_tokens(&user).await, 0, "nothing live after reuse");
    assert_eq!(db.unrevoked_tokens(&user).await, 0, "no stray row either");
}

#[tokio::test]
async fn nothing_is_stored_for_a_revoked_family_a_stale_version_or_someone_else() {
    let db = TestDb::new().await;
    let tokens = db.tokens();
    let user = db.user(1).await;
    let other = db.user(2).await;

    login(&db, &user, "revoked").await;
    assert_eq!(
        tokens
            .revoke_family("revoked", now())
            .await
            .expect("revoke"),
        1
    );
    // (case, presented, successor)
    let cases = [
        (
            "successor in a revoked family",
            "revoked-0",
            token(&user, "revoked", "r-1", 0),
        ),
        ("unknown token", "nope", token(&user, "fresh", "n-1", 0)),
    ];
    for (name, presented, successor) in cases {
        let outcome = tokens
            .rotate(&hash(presented), successor)
            .await
            .expect("rotate");
        assert_eq!(outcome, Rotation::Refused, "{name}");
    }
    let revoked_insert = tokens
        .insert(token(&user, "revoked", "r-2", 0))
        .await
        .expect("insert");
    assert!(!revoked_insert, "a revoked family gains no token by insert");

    login(&db, &user, "live").await;
    let foreign = tokens
        .rotate(&hash("live-0"), token(&other, "live", "l-1", 0))
        .await
        .expect("rotate");
    assert_eq!(foreign, Rotation::Refused, "a successor for another user");
    let elsewhere = tokens
        .rotate(&hash("live-0"), token(&user, "other-family", "l-2", 0))
        .await
        .expect("rotate");
    assert_eq!(
        elsewhere,
        Rotation::Refused,
        "a successor in another family"
    );
    let ahead = tokens
        .rotate(&hash("live-0"), token(&user, "live", "l-3", 1))
        .await
        .expect("rotate");
    assert_eq!(ahead, Rotation::Refused, "a successor at another version");

    // The version moves on: the old token and a login read before it are refused.
    db.users()
        .update(
            user.id,
            UserChanges {
                password_hash: Some(PasswordHash::new("new-hash")),
                bump_token_version: true,
                ..UserChanges::default()
            },
            now(),
        )
        .await
        .expect("password change");
    let stale_login = tokens
        .insert(token(&user, "late", "late-0", 0))
        .await
        .expect("insert");
    assert!(
        !stale_login,
        "a login checked before the change stores nothing"
    );
    let stale = tokens
        .rotate(&hash("live-0"), token(&user, "live", "l-4", 1))
        .await
        .expect("rotate");
    assert_eq!(stale, Rotation::Refused, "a token bound to the old version");
    assert_eq!(
        db.unrevoked_tokens(&user).await,
        0,
        "all revoked with the change"
    );
}

#[tokio::test]
async fn a_role_change_keeps_sessions_bound_to_the_new_version() {
    let db = TestDb::new().await;
    let user = db.user(1).await;
    login(&db, &user, "f").await;
    let promoted = db
        .users()
        .update(
            user.id,
            UserChanges {
                role: Some(Role::Moderator),
                bump_token_version: true,
                keep_refresh_tokens: true,
                ..UserChanges::default()
            },
            now(),
        )
        .await
        .expect("role change");
    assert_eq!(promoted.token_version, 1);
    assert_eq!(db.live_tokens(&user).await, 1, "the session survives");
    let rotated = db
        .tokens()
        .rotate(&hash("f-0"), token(&user, "f", "f-1", 1))
        .await
        .expect("rotate");
    assert_eq!(rotated, Rotation::Rotated, "and rotates at the new version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotations_of_one_token_leave_one_winner_and_nothing_live() {
    let db = TestDb::new().await;
    for round in 0..ROUNDS {
        let user = db.user(round).await;
        let family = format!("r{round}");
        login(&db, &user, &family).await;
        let barrier = Arc::new(Barrier::new(2));
        let rotate = |successor: String| {
            let tokens = db.tokens();
            let barrier = barrier.clone();
            let presented = hash(&format!("{family}-0"));
            let successor = token(&user, &family, &successor, 0);
            async move {
                barrier.wait().await;
                tokens.rotate(&presented, successor).await.expect("rotate")
            }
        };
        let (a, b) = tokio::join!(rotate(format!("{family}-a")), rotate(format!("{family}-b")));
        let mut outcomes = [a, b];
        outcomes.sort_by_key(|o| matches!(o, Rotation::Rotated));
        // The loser revokes the spent token and the winner's successor.
        assert!(
            matches!(
                outcomes,
                [Rotation::Reused { revoked: 2 }, Rotation::Rotated]
            ),
            "round {round}: exactly one wins and the loser revokes its successor: {outcomes:?}"
        );
        assert_eq!(
            db.live_tokens(&user).await,
            0,
            "round {round}: nothing live"
        );
        assert_eq!(db.unrevoked_tokens(&user).await, 0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_racing_a_logout_leaves_nothing_live() {
    let db = TestDb::new().await;
    let mut rotated = 0;
    for round in 0..ROUNDS {
        let user = db.user(round).await;
        let family = format!("r{round}");
        login(&db, &user, &family).await;
        let barrier = Arc::new(Barrier::new(2));
        let (tokens, logout_tokens) = (db.tokens(), db.tokens());
        let (rotate_barrier, logout_barrier) = (barrier.clone(), barrier);
        let presented = hash(&format!("{family}-0"));
        let successor = token(&user, &family, &format!("{family}-1"), 0);
        let (rotation, revoked) = tokio::join!(
            async move {
                rotate_barrier.wait().await;
                tokens.rotate(&presented, successor).await.expect("rotate")
            },
            async move {
                logout_barrier.wait().await;
                logout_tokens
                    .revoke_family(&family, now())
                    .await
                    .expect("logout")
            }
        );
        match rotation {
            // The logout came second and revoked the successor as well (the spent
            // token, unrevoked, is counted too).
            Rotation::Rotated => {
                rotated += 1;
                assert_eq!(revoked, 2, "round {round}: the successor is revoked");
            }
            Rotation::Refused => assert_eq!(revoked, 1, "round {round}: f-0 revoked"),
            Rotation::Reused { .. } => panic!("round {round}: no reuse happened"),
        }
        assert_eq!(
            db.live_tokens(&user).await,
            0,
            "round {round}: nothing live"
        );
        assert_eq!(db.unrevoked_tokens(&user).await, 0, "round {round}");
    }
    eprintln!("rotation won {rotated} of {ROUNDS} races against logout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_racing_a_password_change_leaves_nothing_live() {
    let db = TestDb::new().await;
    for round in 0..ROUNDS {
        let user = db.user(round).await;
        let family = format!("r{round}");
        login(&db, &user, &family).await;
        let barrier = Arc::new(Barrier::new(2));
        let (tokens, users) = (db.tokens(), db.users());
        let (rotate_barrier, change_barrier) = (barrier.clone(), barrier);
        let presented = hash(&format!("{family}-0"));
        let successor = token(&user, &family, &format!("{family}-1"), 0);
        let (rotation, changed) = tokio::join!(
            async move {
                rotate_barrier.wait().await;
                tokens.rotate(&presented, successor).await.expect("rotate")
            },
            async move {
                change_barrier.wait().await;
                users
                    .update(
                        user.id,
                        UserChanges {
                            password_hash: Some(PasswordHash::new("new-hash")),
                            bump_token_version: true,
                            ..UserChanges::default()
                        },
                        now(),
                    )
                    .await
                    .expect("password change")
            }
        );
        assert_eq!(changed.token_version, 1, "round {round}: version bumped");
        assert!(
            matches!(rotation, Rotation::Rotated | Rotation::Refused),
            "round {round}: {rotation:?}"
        );
        assert_eq!(
            db.live_tokens(&user).await,
            0,
            "round {round}: nothing live"
        );
        assert_eq!(db.unrevoked_tokens(&user).await, 0, "round {round}");
    }
}
