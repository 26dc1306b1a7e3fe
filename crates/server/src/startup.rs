//! `Application`: builds every adapter and service from the settings, binds the listener
//! and runs the HTTP server until a signal stops it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Server;
use secrecy::ExposeSecret;
use vidgen_application::auth::{AuthPorts, AuthService};
use vidgen_application::clock::{Clock, SystemClock};
use vidgen_application::health::HealthService;
use vidgen_application::jobs::JobQueue;
use vidgen_application::users::admin::{AdminBootstrap, CreateAdmin};
use vidgen_application::users::ports::UserRepository;
use vidgen_application::users::{UserService, UserSettings};
use vidgen_application::videos::render::VideoRenderer;
use vidgen_application::videos::render_job::RenderJob;
use vidgen_application::videos::service::VideoService;
use vidgen_domain::users::{Email, EmailDomainPolicy, PersonName, PlainPassword, Username};
use vidgen_http_adapter::docs::OpenApiDocument;
use vidgen_http_adapter::middleware::TrustedHosts;
use vidgen_http_adapter::openapi::{self, DocsInfo};
use vidgen_http_adapter::{AppState, CorsOrigins, HttpConfig};
use vidgen_infrastructure::auth::{JwtSettings, JwtTokenIssuer, RandomOpaqueTokens};
use vidgen_infrastructure::database::{
    self, DatabaseError, DatabaseOptions, Db, SeaOrmStorageHealth,
};
use vidgen_infrastructure::media::FsMediaStore;
use vidgen_infrastructure::passwords::{Argon2PasswordHasher, HasherSetupError};
use vidgen_infrastructure::render::Openh264Renderer;
use vidgen_infrastructure::repositories::{
    CachedUserRepository, SeaOrmIdempotencyStore, SeaOrmJobQueue, SeaOrmRefreshTokenRepository,
    SeaOrmUserRepository, SeaOrmVideoRepository,
};

use crate::workers::{WorkerSettings, Workers};
use vidgen_infrastructure::settings::{self, Settings};

/// Version of this build, shown in `/health` and the OpenAPI document.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Hasher(#[from] HasherSetupError),
    #[error("cannot use MEDIA_ROOT `{path}`")]
    Media {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Renderer(#[from] vidgen_infrastructure::render::RendererSetupError),
    #[error("cannot create the admin from ADMIN_EMAIL/ADMIN_PASSWORD: {0}")]
    Admin(String),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// A built application: the bound port and the server, ready to run.
pub struct Application {
    port: u16,
    server: Server,
    workers: Workers,
    cleanup: tokio::task::JoinHandle<()>,
    db: Db,
    instance_id: String,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

/// Options for opening the database, from the settings.
pub fn database_options(settings: &Settings) -> DatabaseOptions {
    DatabaseOptions {
        url: settings.database_url.clone(),
        pool_size: settings.database_pool_size,
        connect_timeout: Duration::from_secs(settings.database_connect_timeout_seconds),
    }
}

/// The OpenAPI document of this build.
pub fn openapi_document() -> serde_json::Value {
    openapi::document(&DocsInfo {
        version: VERSION.to_owned(),
    })
}

fn http_config(settings: &Settings) -> HttpConfig {
    let patterns = settings.allowed_hosts.clone();
    HttpConfig {
        docs_enabled: settings.docs_enabled,
        redoc_script_url: settings.redoc_script_url.clone(),
        max_json_bytes: settings.max_json_bytes,
        cors_origins: match &settings.cors_origins {
            settings::CorsOrigins::Any => CorsOrigins::Any,
            settings::CorsOrigins::List(list) => CorsOrigins::List(list.clone()),
        },
        cors_allow_credentials: settings.cors_allow_credentials,
        trusted_hosts: TrustedHosts::new(move |host| patterns.iter().any(|p| p.matches(host))),
        public_base_url: settings.public_base_url_set.then(|| {
            settings
                .public_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned()
        }),
    }
}

impl Application {
    /// Opens and migrates the database, wires the services and binds the listener
    /// (`PORT=0` picks a free port, see [`Application::port`]).
    ///
    /// # Errors
    /// The database cannot be reached or migrated; the address cannot be bound.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, None).await
    }

    /// As [`Application::build`], with another renderer (tests inject failing or slow
    /// ones through the port).
    ///
    /// # Errors
    /// As for [`Application::build`].
    pub async fn build_with(
        settings: Settings,
        renderer: Option<Arc<dyn VideoRenderer>>,
    ) -> Result<Self, StartupError> {
        let db = open_database(&settings).await?;
        let instance_id = database::register_instance(&db, VERSION).await?;

        let services = Services::build(&settings, &db, renderer)?;
        if let Some(admin) = admin_from_settings(&settings)? {
            match services.users.ensure_admin(admin).await {
                Ok(AdminBootstrap::Created(user)) => {
                    tracing::info!(user_id = %user.id, username = %user.username, "admin created from ADMIN_EMAIL");
                }
                Ok(AdminBootstrap::AlreadyPresent) => {}
                Err(error) => return Err(StartupError::Admin(error.to_string())),
            }
        }
        let storage = SeaOrmStorageHealth::new(
            db.clone(),
            Duration::from_secs(settings.database_connect_timeout_seconds),
        );
        let state = AppState {
            health: HealthService::new(Arc::new(storage)),
            users: services.users,
            auth: services.auth,
            videos: services.videos.clone(),
            openapi: OpenApiDocument::new(&openapi_document()),
        };
        let config = http_config(&settings);

        let address = settings.bind_address();
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                address: address.clone(),
                source,
            })?
            .port();

        let server =
            HttpServer::new(move || vidgen_http_adapter::build(state.clone(), config.clone()))
                .workers(settings.workers)
                .shutdown_timeout(settings.shutdown_timeout_seconds)
                .listen(listener)
                .map_err(|source| StartupError::Bind {
                    address: address.clone(),
                    source,
                })?
                .run();

        let cleanup = tokio::spawn(forget_expired_keys(services.videos.clone()));
        let workers = Workers::spawn(
            WorkerSettings {
                count: settings.job_workers,
                owner: instance_id.clone(),
                lease: Duration::from_secs(settings.job_lease_seconds),
                poll_interval: Duration::from_millis(250),
                shutdown_grace: Duration::from_secs(settings.shutdown_timeout_seconds),
            },
            services.jobs,
            services.render_job,
            services.clock,
        );

        tracing::info!(
            address = %format!("{}:{port}", settings.host),
            docs = %if settings.docs_enabled { format!("{}docs", settings.public_base_url) } else { "disabled".to_owned() },
            instance_id = %instance_id,
            database = %settings::redact_url(&settings.database_url),
            "vidgen listening"
        );
        Ok(Self {
            port,
            server,
            workers,
            cleanup,
            db,
            instance_id,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database connection (tests use it to arrange data).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The server handle, to stop it from outside.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT or SIGTERM: then stops accepting, lets in-flight requests
    /// finish (bounded by `SHUTDOWN_TIMEOUT_SECONDS`) and returns.
    ///
    /// # Errors
    /// The server's own I/O errors.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        self.cleanup.abort();
        self.workers.shutdown().await;
        tracing::info!("vidgen stopped");
        Ok(())
    }
}

/// The application services, wired to their adapters.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Services {
    pub users: UserService,
    pub auth: AuthService,
    pub videos: VideoService,
    pub render_job: RenderJob,
    pub jobs: Arc<dyn JobQueue>,
    pub clock: Arc<dyn Clock>,
}

impl Services {
    /// Wires every adapter into the use-case services.
    ///
    /// # Errors
    /// The password hasher cannot start.
    pub fn build(
        settings: &Settings,
        db: &Db,
        renderer: Option<Arc<dyn VideoRenderer>>,
    ) -> Result<Self, StartupError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let stored_users = SeaOrmUserRepository::new(db.clone());
        let users: Arc<dyn UserRepository> = if settings.user_cache_ttl_seconds == 0 {
            Arc::new(stored_users)
        } else {
            Arc::new(CachedUserRepository::new(
                stored_users,
                Duration::from_secs(settings.user_cache_ttl_seconds),
                100_000,
            ))
        };
        let refresh_tokens = Arc::new(SeaOrmRefreshTokenRepository::new(db.clone()));
        // Half the cores at most, so logins can never take every core from the HTTP workers.
        let hashing_threads =
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        let hasher = Arc::new(Argon2PasswordHasher::new(
            settings.hashing,
            hashing_threads,
        )?);
        let jwt = Arc::new(JwtTokenIssuer::new(&JwtSettings {
            secret: settings.secret_key_bytes().to_vec(),
            lifetime: Duration::from_secs(u64::from(settings.access_token_expire_minutes) * 60),
        }));
        let user_service = UserService::new(
            users.clone(),
            hasher.clone(),
            clock.clone(),
            UserSettings {
                email_policy: EmailDomainPolicy {
                    allowed: settings.email_allowed_domains.clone(),
                    blocked: settings.email_blocked_domains.clone(),
                },
                require_email_verification: settings.require_email_verification,
            },
        );
        let auth = AuthService::new(
            AuthPorts {
                users,
                refresh_tokens,
                hasher,
                issuer: jwt.clone(),
                verifier: jwt,
                opaque: Arc::new(RandomOpaqueTokens),
                clock: clock.clone(),
            },
            Duration::from_secs(u64::from(settings.refresh_token_expire_days) * 24 * 3600),
        );
        let media = Arc::new(FsMediaStore::new(&settings.media_root).map_err(|source| {
            StartupError::Media {
                path: settings.media_root.display().to_string(),
                source,
            }
        })?);
        let videos = Arc::new(SeaOrmVideoRepository::new(db.clone()));
        let jobs: Arc<dyn JobQueue> = Arc::new(SeaOrmJobQueue::new(db.clone()));
        let renderer: Arc<dyn VideoRenderer> = match renderer {
            Some(renderer) => renderer,
            // As many renders as job workers; they run at the lowest priority, so the
            // HTTP workers keep the CPU they need.
            None => Arc::new(Openh264Renderer::new(settings.job_workers.max(1))?),
        };
        let keys = Arc::new(SeaOrmIdempotencyStore::new(db.clone()));
        let video_service = VideoService::new(
            videos.clone(),
            jobs.clone(),
            media.clone(),
            keys,
            clock.clone(),
        );
        let render_job = RenderJob::new(videos, jobs.clone(), media, renderer, clock.clone());
        let user_service = user_service.with_owned_content(Arc::new(video_service.clone()));
        Ok(Self {
            users: user_service,
            auth,
            videos: video_service,
            render_job,
            jobs,
            clock,
        })
    }
}

/// The admin to create at start-up from `ADMIN_EMAIL`, `ADMIN_PASSWORD` and
/// `ADMIN_USERNAME`, if they are set.
///
/// # Errors
/// A value that is not a valid username or e-mail address.
pub fn admin_from_settings(settings: &Settings) -> Result<Option<CreateAdmin>, StartupError> {
    let (Some(email), Some(password)) = (&settings.admin_email, &settings.admin_password) else {
        return Ok(None);
    };
    Ok(Some(admin_request(
        &settings.admin_username,
        email,
        password.expose_secret(),
    )?))
}

/// A `CreateAdmin` from raw strings, with one clear message per bad value.
///
/// # Errors
/// A value that is not a valid username or e-mail address.
pub fn admin_request(
    username: &str,
    email: &str,
    password: &str,
) -> Result<CreateAdmin, StartupError> {
    let username = Username::parse(username).map_err(|errors| {
        StartupError::Admin(format!(
            "username: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    let email = Email::parse(email).map_err(|e| StartupError::Admin(format!("email: {e}")))?;
    let name = PersonName::parse(username.as_ref())
        .map_err(|e| StartupError::Admin(format!("name: {e}")))?;
    Ok(CreateAdmin {
        username,
        name,
        email,
        password: PlainPassword::new(password.to_owned()),
    })
}

/// Opens and migrates the database.
///
/// # Errors
/// The database cannot be reached or migrated.
pub async fn open_database(settings: &Settings) -> Result<Db, StartupError> {
    let db = database::connect(&database_options(settings)).await?;
    database::migrate(&db).await?;
    Ok(db)
}

/// The periodic job that deletes idempotency keys past their 24 hours.
async fn forget_expired_keys(videos: VideoService) {
    let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match videos.forget_expired_keys().await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "expired idempotency keys deleted"),
            Err(error) => {
                tracing::warn!(error = ?error, "could not delete expired idempotency keys")
            }
        }
    }
}

/// Applies the migrations and returns.
///
/// # Errors
/// The database cannot be reached or migrated.
pub async fn migrate_only(settings: &Settings) -> Result<(), StartupError> {
    open_database(settings).await.map(|_| ())
}
