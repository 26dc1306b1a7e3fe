//! `Application`: opens the database, has the services built (see [`crate::services`]),
//! binds the listener, starts the job workers and runs the HTTP server until a signal
//! stops it, then shuts the workers down.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::Server;
use secrecy::ExposeSecret;
use vidgen_application::health::HealthService;
use vidgen_application::jobs::DuplicateHandler;
use vidgen_application::storage::RepositoryError;
use vidgen_application::users::admin::{AdminBootstrap, CreateAdmin};
use vidgen_application::videos::events::VideoWatch;
use vidgen_application::videos::render::VideoRenderer;
use vidgen_domain::users::{Email, PersonName, PlainPassword, Username};
use vidgen_http_adapter::docs::OpenApiDocument;
use vidgen_http_adapter::metrics::{MetricsAccess, MetricsToken};
use vidgen_http_adapter::middleware::{ForwardedHeader, TrustedHosts, TrustedProxies};
use vidgen_http_adapter::openapi::DocsInfo;
use vidgen_http_adapter::{AppState, CorsOrigins, HttpConfig};
use vidgen_infrastructure::database::{
    self, ACQUIRE_TIMEOUT, DatabaseError, DatabaseOptions, Db, SeaOrmStorageHealth,
};
use vidgen_infrastructure::invalidation::redis::RedisInvalidationBus;
use vidgen_infrastructure::passwords::HasherSetupError;
use vidgen_infrastructure::settings::{self, Settings};

/// Re-exported: `Services` was built here before the split.
pub use crate::services::Services;
use crate::workers::{self, WorkerSettings, Workers};

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
    #[error("STORAGE_BACKEND=s3")]
    Storage(#[source] vidgen_infrastructure::media::s3::S3SetupError),
    #[error(transparent)]
    Renderer(#[from] vidgen_infrastructure::render::RendererSetupError),
    #[error(transparent)]
    Jobs(#[from] DuplicateHandler),
    #[error("cannot schedule the periodic jobs")]
    Schedule(#[source] RepositoryError),
    #[error("RATE_LIMIT_BACKEND=redis: {0}")]
    Redis(#[source] vidgen_infrastructure::rate_limit::shared::RedisSetupError),
    #[error(transparent)]
    Invalidation(#[from] vidgen_infrastructure::invalidation::redis::InvalidationSetupError),
    #[error("WEBHOOK_SECRET: must have the form whsec_<base64 of at least 18 bytes>")]
    WebhookSecret,
    #[error("MAIL_BACKEND=smtp: {0}")]
    Smtp(#[source] vidgen_infrastructure::mail::SmtpSetupError),
    #[error(transparent)]
    MailTemplates(#[from] vidgen_infrastructure::mail::TemplateSetupError),
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
    watch: Arc<VideoWatch>,
    invalidation: Option<Arc<RedisInvalidationBus>>,
    workers: Workers,
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
        url: settings.database.url.clone(),
        pool_size: settings.database.pool_size,
        connect_timeout: Duration::from_secs(settings.database.connect_timeout_seconds),
        acquire_timeout: Duration::from_secs(settings.database.connect_timeout_seconds)
            .min(ACQUIRE_TIMEOUT),
    }
}

/// The OpenAPI document of this build.
pub fn openapi_document() -> serde_json::Value {
    vidgen_http_adapter::app::openapi_document(&DocsInfo {
        version: VERSION.to_owned(),
    })
}

fn http_config(settings: &Settings) -> HttpConfig {
    let patterns = settings.server.allowed_hosts.clone();
    let proxies = settings.server.trusted_proxies.clone();
    HttpConfig {
        docs_enabled: settings.server.docs_enabled,
        redoc_script_url: settings.server.redoc_script_url.clone(),
        max_json_bytes: settings.server.max_json_bytes,
        cors_origins: match &settings.server.cors_origins {
            settings::CorsOrigins::Any => CorsOrigins::Any,
            settings::CorsOrigins::List(list) => CorsOrigins::List(list.clone()),
        },
        cors_allow_credentials: settings.server.cors_allow_credentials,
        trusted_hosts: TrustedHosts::new(move |host| patterns.iter().any(|p| p.matches(host))),
        trusted_proxies: TrustedProxies::new(move |peer| {
            proxies.iter().any(|net| net.contains(&peer))
        })
        .reading(match settings.server.forwarded_header {
            settings::ForwardedHeader::XForwardedFor => ForwardedHeader::XForwardedFor,
            settings::ForwardedHeader::Forwarded => ForwardedHeader::Forwarded,
        }),
        public_base_url: settings.server.public_base_url_set.then(|| {
            settings
                .server
                .public_base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned()
        }),
        metrics: MetricsAccess {
            token: settings
                .telemetry
                .metrics_token
                .as_ref()
                .map(|token| MetricsToken::new(token.expose_secret())),
            disabled: !settings.telemetry.metrics_enabled,
        },
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

        let services = Services::build(&settings, &db, renderer).await?;
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
            Duration::from_secs(settings.database.connect_timeout_seconds),
        );
        let state = AppState::new(OpenApiDocument::new(&openapi_document()))
            .with(HealthService::new(Arc::new(storage)))
            .with(services.users)
            .with(services.auth)
            .with(services.account)
            .with(services.videos.clone())
            .with_shared(services.video_watch.clone())
            .with(services.profiles.clone())
            .with(services.analytics.clone())
            .with(services.media_links.clone());
        let state = match services.rate_limits.clone() {
            Some(limits) => state.with(limits),
            None => state,
        };
        let config = http_config(&settings);

        let address = settings.server.bind_address();
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
                .workers(settings.server.workers)
                .shutdown_timeout(settings.server.shutdown_timeout_seconds)
                // Signals are handled in `run_until_stopped`, which ends the progress
                // streams before the graceful stop waits for open connections.
                .disable_signals()
                // A client that closes its connection is gone: its response (a progress
                // stream, say) is dropped at once instead of at the next failed write.
                .h1_allow_half_closed(false)
                .listen(listener)
                .map_err(|source| StartupError::Bind {
                    address: address.clone(),
                    source,
                })?
                .run();

        workers::schedule_periodic(
            services.jobs.as_ref(),
            &services.registry,
            services.clock.now(),
        )
        .await
        .map_err(StartupError::Schedule)?;
        let watch = services.video_watch.clone();
        let invalidation = services.invalidation.clone();
        tokio::spawn(watch.clone().run(STREAM_POLL_INTERVAL));
        let workers = Workers::spawn(
            WorkerSettings {
                count: settings.jobs.workers,
                owner: instance_id.clone(),
                lease: Duration::from_secs(settings.jobs.lease_seconds),
                poll_interval: Duration::from_millis(250),
                shutdown_grace: Duration::from_secs(settings.server.shutdown_timeout_seconds),
                retry_base: Duration::from_millis(settings.jobs.retry_base_ms),
            },
            services.jobs,
            services.registry,
            services.clock,
        );

        tracing::info!(
            address = %format!("{}:{port}", settings.server.host),
            docs = %if settings.server.docs_enabled { format!("{}docs", settings.server.public_base_url) } else { "disabled".to_owned() },
            instance_id = %instance_id,
            database = %settings::redact_url(&settings.database.url),
            "vidgen listening"
        );
        Ok(Self {
            port,
            server,
            watch,
            invalidation,
            workers,
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

    /// Stops the server as a signal would (see [`ShutdownHandle`]).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            server: self.server.handle(),
            watch: self.watch.clone(),
            invalidation: self.invalidation.clone(),
        }
    }

    /// Serves until SIGINT or SIGTERM: then stops accepting, lets in-flight requests
    /// finish (bounded by `SHUTDOWN_TIMEOUT_SECONDS`) and returns. The signals are
    /// listened for from this call on; [`Application::run_until`] takes listeners made
    /// earlier.
    ///
    /// # Errors
    /// The server's own I/O errors.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let signals = ShutdownSignals::listen();
        self.run_until(signals).await
    }

    /// As [`Application::run_until_stopped`], stopped by `signals`: made before the
    /// application was built, they also catch a signal sent while it started (which
    /// would otherwise end the process by the signal's default action, without the
    /// graceful stop).
    ///
    /// # Errors
    /// The server's own I/O errors.
    pub async fn run_until(self, signals: ShutdownSignals) -> std::io::Result<()> {
        let on_signal = self.shutdown_handle();
        let signals = tokio::spawn(async move {
            signals.received().await;
            tracing::info!("shutdown signal received");
            on_signal.stop().await;
        });
        let served = self.server.await;
        signals.abort();
        self.watch.close();
        if let Some(bus) = &self.invalidation {
            bus.close();
        }
        served?;
        self.workers.shutdown().await;
        tracing::info!("vidgen stopped");
        Ok(())
    }
}

/// How often the progress streams read their videos.
const STREAM_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Stops the server gracefully: ends the progress streams (each client sees its stream
/// end), stops accepting, and lets in-flight requests finish within
/// `SHUTDOWN_TIMEOUT_SECONDS`.
#[derive(Clone)]
pub struct ShutdownHandle {
    server: actix_web::dev::ServerHandle,
    watch: Arc<VideoWatch>,
    invalidation: Option<Arc<RedisInvalidationBus>>,
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownHandle")
    }
}

impl ShutdownHandle {
    pub async fn stop(&self) {
        self.watch.close();
        self.server.stop(true).await;
        if let Some(bus) = &self.invalidation {
            bus.close();
        }
    }
}

/// The stop signals, SIGINT (Ctrl-C) and, on Unix, SIGTERM, listened for from the moment
/// this is made: from then on they no longer end the process by their default action
/// but are kept until [`ShutdownSignals::received`] reads them.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    /// Starts listening (on the current Tokio runtime). A signal that cannot be listened
    /// for is logged and never arrives.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for {name}");
                    None
                }
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for the first of the signals (one sent before this call included).
    pub async fn received(self) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(self.interrupt) => {}
                () = next(self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The admin to create at start-up from `ADMIN_EMAIL`, `ADMIN_PASSWORD` and
/// `ADMIN_USERNAME`, if they are set.
///
/// # Errors
/// A value that is not a valid username or e-mail address.
pub fn admin_from_settings(settings: &Settings) -> Result<Option<CreateAdmin>, StartupError> {
    let (Some(email), Some(password)) = (&settings.auth.admin_email, &settings.auth.admin_password)
    else {
        return Ok(None);
    };
    Ok(Some(admin_request(
        &settings.auth.admin_username,
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

/// Applies the migrations and returns.
///
/// # Errors
/// The database cannot be reached or migrated.
pub async fn migrate_only(settings: &Settings) -> Result<(), StartupError> {
    open_database(settings).await.map(|_| ())
}
