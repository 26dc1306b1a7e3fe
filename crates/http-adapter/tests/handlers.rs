//! Handler tests with mocked ports: what a failing storage or a token that does not
//! verify looks like to a client, without a database.

use std::sync::Arc;
use std::time::Duration;

use actix_web::test;
use chrono::Utc;
use vidgen_application::auth::ports::{
    AccessClaims, MockOpaqueTokens, MockRefreshTokenRepository, MockTokenIssuer, MockTokenVerifier,
    TokenError,
};
use vidgen_application::auth::{AuthPorts, AuthService};
use vidgen_application::clock::SystemClock;
use vidgen_application::health::{HealthService, MockStorageHealth};
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::ports::{MockPasswordHasher, MockUserRepository, PasswordHash};
use vidgen_application::users::{UserService, UserSettings};
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};
use vidgen_http_adapter::docs::OpenApiDocument;
use vidgen_http_adapter::middleware::TrustedHosts;
use vidgen_http_adapter::{AppState, CorsOrigins, HttpConfig};

fn config() -> HttpConfig {
    HttpConfig {
        docs_enabled: false,
        redoc_script_url: String::new(),
        max_json_bytes: 64 * 1024,
        cors_origins: CorsOrigins::List(vec![]),
        cors_allow_credentials: false,
        trusted_hosts: TrustedHosts::any(),
        public_base_url: None,
    }
}

fn jane() -> User {
    User {
        id: UserId::new(7).expect("id"),
        username: Username::parse("jane").expect("username"),
        name: PersonName::parse("Jane").expect("name"),
        email: Email::parse("jane@example.com").expect("email"),
        role: Role::User,
        status: UserStatus::Active,
        age: None,
        birth_date: None,
        avatar_key: None,
        token_version: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn state(users: MockUserRepository, verifier: MockTokenVerifier) -> AppState {
    let users: Arc<MockUserRepository> = Arc::new(users);
    let refresh = Arc::new(MockRefreshTokenRepository::new());
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("$argon2id$x")));
    let hasher = Arc::new(hasher);
    let clock = Arc::new(SystemClock);
    AppState {
        health: HealthService::new(Arc::new(MockStorageHealth::new())),
        users: UserService::new(
            users.clone(),
            hasher.clone(),
            clock.clone(),
            UserSettings::default(),
        ),
        auth: AuthService::new(
            AuthPorts {
                users,
                refresh_tokens: refresh,
                hasher,
                issuer: Arc::new(MockTokenIssuer::new()),
                verifier: Arc::new(verifier),
                opaque: Arc::new(MockOpaqueTokens::new()),
                clock,
            },
            Duration::from_secs(60),
        ),
        videos: vidgen_application::videos::service::VideoService::new(
            Arc::new(vidgen_application::videos::ports::MockVideoRepository::new()),
            Arc::new(vidgen_application::jobs::MockJobQueue::new()),
            Arc::new(vidgen_application::videos::ports::MockMediaStore::new()),
            Arc::new(vidgen_application::idempotency::MockIdempotencyStore::new()),
            Arc::new(SystemClock),
        ),
        openapi: OpenApiDocument::new(&serde_json::json!({})),
    }
}

async fn call(state: AppState, request: test::TestRequest) -> (u16, serde_json::Value) {
    let app = test::init_service(vidgen_http_adapter::build(state, config())).await;
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&test::read_body(response).await).unwrap_or_default();
    (status, body)
}

#[actix_web::test]
async fn a_storage_failure_is_an_opaque_500() {
    let mut users = MockUserRepository::new();
    users.expect_insert().returning(|_| {
        Err(vidgen_application::users::ports::UserWriteError::Storage(
            RepositoryError::new(std::io::Error::other("relation \"users\" does not exist")),
        ))
    });
    let request = test::TestRequest::post()
        .uri("/api/v1/users")
        .insert_header(("content-type", "application/json"))
        .set_payload(
            r#"{"username":"jane","name":"Jane","email":"jane@example.com","password":"Sup3rSecret","confirm_password":"Sup3rSecret"}"#,
        );
    let (status, body) = call(state(users, MockTokenVerifier::new()), request).await;
    assert_eq!(status, 500);
    assert_eq!(body["error_code"], "INTERNAL_ERROR");
    assert!(!body.to_string().contains("relation"), "{body}");
}

#[actix_web::test]
async fn the_bearer_extractor_maps_each_outcome() {
    // (token verification, stored user) -> status
    type Case = (
        &'static str,
        Result<AccessClaims, TokenError>,
        Option<User>,
        u16,
    );
    let cases: Vec<Case> = vec![
        ("expired", Err(TokenError::Expired), None, 401),
        (
            "user gone",
            Ok(AccessClaims {
                user_id: jane().id,
                role: Role::User,
                token_version: 0,
            }),
            None,
            401,
        ),
        (
            "valid",
            Ok(AccessClaims {
                user_id: jane().id,
                role: Role::User,
                token_version: 0,
            }),
            Some(jane()),
            200,
        ),
    ];
    for (name, verified, stored, expected) in cases {
        let mut verifier = MockTokenVerifier::new();
        verifier
            .expect_verify()
            .returning(move |_| verified.clone());
        let mut users = MockUserRepository::new();
        users.expect_get().returning(move |_| Ok(stored.clone()));
        let request = test::TestRequest::get()
            .uri("/api/v1/users/me")
            .insert_header(("authorization", "Bearer whatever"));
        let (status, body) = call(state(users, verifier), request).await;
        assert_eq!(status, expected, "{name}: {body}");
        if expected == 200 {
            assert_eq!(body["username"], "jane", "{name}");
        }
    }

    let mut users = MockUserRepository::new();
    users
        .expect_get()
        .returning(|_| Err(RepositoryError::new(std::io::Error::other("db down"))));
    let mut verifier = MockTokenVerifier::new();
    verifier.expect_verify().returning(|_| {
        Ok(AccessClaims {
            user_id: jane().id,
            role: Role::User,
            token_version: 0,
        })
    });
    let request = test::TestRequest::get()
        .uri("/api/v1/users/me")
        .insert_header(("authorization", "Bearer whatever"));
    let (status, _) = call(state(users, verifier), request).await;
    assert_eq!(status, 500, "storage failure while authenticating");
}
