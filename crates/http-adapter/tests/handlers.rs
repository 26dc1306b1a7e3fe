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
use vidgen_application::idempotency::MockIdempotencyStore;
use vidgen_application::jobs::MockJobQueue;
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::ports::{MockPasswordHasher, MockUserRepository, PasswordHash};
use vidgen_application::users::{UserService, UserSettings};
use vidgen_application::videos::VideoService;
use vidgen_application::videos::ports::{MockMediaStore, MockVideoRepository};
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};
use vidgen_http_adapter::docs::OpenApiDocument;
use vidgen_http_adapter::metrics::MetricsAccess;
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
        trusted_proxies: vidgen_http_adapter::middleware::TrustedProxies::none(),
        public_base_url: None,
        metrics: MetricsAccess::default(),
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

/// Every port behind the services, mocked. Tests set the ports they care about and take
/// the rest from `Default`; a new service is wired here, in [`Ports::state`], only.
struct Ports {
    users: MockUserRepository,
    verifier: MockTokenVerifier,
    storage: MockStorageHealth,
    refresh_tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
    issuer: MockTokenIssuer,
    opaque: MockOpaqueTokens,
    videos: MockVideoRepository,
    jobs: MockJobQueue,
    media: MockMediaStore,
    idempotency: MockIdempotencyStore,
}

impl Default for Ports {
    fn default() -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("$argon2id$x")));
        Self {
            users: MockUserRepository::new(),
            verifier: MockTokenVerifier::new(),
            storage: MockStorageHealth::new(),
            refresh_tokens: MockRefreshTokenRepository::new(),
            hasher,
            issuer: MockTokenIssuer::new(),
            opaque: MockOpaqueTokens::new(),
            videos: MockVideoRepository::new(),
            jobs: MockJobQueue::new(),
            media: MockMediaStore::new(),
            idempotency: MockIdempotencyStore::new(),
        }
    }
}

impl Ports {
    fn with_users(users: MockUserRepository, verifier: MockTokenVerifier) -> Self {
        Self {
            users,
            verifier,
            ..Self::default()
        }
    }

    /// The application state the handlers see, built from these ports.
    fn state(self) -> AppState {
        let users: Arc<MockUserRepository> = Arc::new(self.users);
        let refresh = Arc::new(self.refresh_tokens);
        let hasher = Arc::new(self.hasher);
        let clock = Arc::new(SystemClock);
        AppState::new(OpenApiDocument::new(&serde_json::json!({})))
            .with(HealthService::new(Arc::new(self.storage)))
            .with(UserService::new(
                users.clone(),
                hasher.clone(),
                clock.clone(),
                UserSettings::default(),
            ))
            .with(AuthService::new(
                AuthPorts {
                    users,
                    refresh_tokens: refresh,
                    hasher,
                    issuer: Arc::new(self.issuer),
                    verifier: Arc::new(self.verifier),
                    opaque: Arc::new(self.opaque),
                    clock: clock.clone(),
                },
                Duration::from_secs(60),
            ))
            .with(VideoService::new(
                Arc::new(self.videos),
                Arc::new(self.jobs),
                Arc::new(self.media),
                Arc::new(self.idempotency),
                clock,
            ))
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
    let (status, body) = call(
        Ports::with_users(users, MockTokenVerifier::new()).state(),
        request,
    )
    .await;
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
        let (status, body) = call(Ports::with_users(users, verifier).state(), request).await;
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
    let (status, _) = call(Ports::with_users(users, verifier).state(), request).await;
    assert_eq!(status, 500, "storage failure while authenticating");
}

/// Every registry entry is served: without credentials or a body, each answers something
/// other than the "no such route" 404 or a 405 at its method and path.
#[actix_web::test]
async fn every_registered_route_is_served() {
    let registries = vidgen_http_adapter::app::registries();
    assert!(!registries.is_empty());
    let mut storage = MockStorageHealth::new();
    storage.expect_check().returning(|| Ok(()));
    let state = Ports {
        storage,
        ..Ports::default()
    }
    .state();
    let app = test::init_service(vidgen_http_adapter::build(state, config())).await;
    for entry in registries.iter().flat_map(|r| &r.routes) {
        let uri: String = entry
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let request = test::TestRequest::default()
            .method(entry.method.clone())
            .uri(&uri)
            .to_request();
        let response = test::call_service(&app, request).await;
        let status = response.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_slice(&test::read_body(response).await).unwrap_or_default();
        assert!(
            status != 404 && status != 405,
            "{} {uri} ({}) answered {status}: {body}",
            entry.method,
            entry.operation_id
        );
        if entry.secured {
            assert_eq!(status, 401, "{} {uri} needs a token: {body}", entry.method);
        }
    }
}
