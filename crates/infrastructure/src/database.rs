//! The database connection: opening it (SQLite or PostgreSQL), migrating it, checking it.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ActiveModelTrait, ConnectOptions, Database, DatabaseConnection, DbErr, Set};
use vidgen_application::health::{StorageHealth, StorageHealthError};
use vidgen_migrations::{Migrator, MigratorTrait};

use crate::entities::instance;

pub use sea_orm::DatabaseConnection as Db;

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot create the folder for the SQLite database `{path}`")]
    CreateFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the database")]
    Connect(#[source] DbErr),
    #[error("cannot apply the database migrations")]
    Migrate(#[source] DbErr),
    #[error("database query failed")]
    Query(#[source] DbErr),
}

/// The longest a request waits for a pooled connection. With the database down, requests
/// fail after this with 503 instead of queueing for the whole connect timeout.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest the readiness probe waits for the database: load balancers expect an
/// answer within a second either way.
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(900);

/// Whether a database error means the database cannot be reached (refused, reset or
/// timed-out connections, an exhausted or closed pool), as opposed to a failed statement.
pub fn is_unreachable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(
                inner.as_ref(),
                Sqlx::Io(_)
                    | Sqlx::Tls(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    pub url: String,
    pub pool_size: u32,
    /// Bound on connecting.
    pub connect_timeout: Duration,
    /// Bound on waiting for a pooled connection: [`ACQUIRE_TIMEOUT`] for the server, so
    /// that requests fail fast with the database down; longer in tests, where a loaded
    /// machine may keep a small pool busy for more than a second.
    pub acquire_timeout: Duration,
}

/// Opens a pool to the database named by the URL, failing within the connect timeout
/// when it is unreachable. For SQLite the file's folder is created, and the connection
/// uses WAL journaling, a busy timeout and enforced foreign keys.
///
/// # Errors
/// `CreateFolder` when the SQLite folder cannot be made; `Connect` when the database does
/// not answer in time or refuses the connection.
pub async fn connect(options: &DatabaseOptions) -> Result<DatabaseConnection, DatabaseError> {
    if let Some(path) = sqlite_file_path(&options.url)
        && let Some(parent) = Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| DatabaseError::CreateFolder {
            path: path.clone(),
            source,
        })?;
    }

    let mut opts = ConnectOptions::new(options.url.clone());
    opts.max_connections(options.pool_size)
        .min_connections(0)
        .connect_timeout(options.connect_timeout)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .create_if_missing(true)
        });

    if options.url.starts_with("sqlite:") {
        // A SQLite connection is a file handle that no server or firewall can drop: the
        // ping sqlx sends on every checkout by default is pure overhead (about a tenth of
        // a cheap request).
        opts.test_before_acquire(false);
    } else {
        // Only a connection idle long enough to have been dropped by the server or a
        // proxy is pinged before use, not every hot one (a round trip per checkout).
        opts.test_before_acquire_if_idle_for(Duration::from_secs(30));
    }

    let connecting = Database::connect(opts);
    let db = tokio::time::timeout(options.connect_timeout + Duration::from_secs(1), connecting)
        .await
        .map_err(|_| DatabaseError::Connect(DbErr::Custom("connection timed out".into())))?
        .map_err(DatabaseError::Connect)?;
    db.ping().await.map_err(DatabaseError::Connect)?;
    Ok(db)
}

/// The file behind a `sqlite:` URL, if it names one (not `:memory:`).
pub fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| path.to_owned())
}

/// Applies every pending migration.
///
/// # Errors
/// `Migrate` when a migration fails (the failing migration's own error is the source).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DatabaseError> {
    Migrator::up(db, None).await.map_err(DatabaseError::Migrate)
}

/// Number of migrations the code knows that the database has not applied.
///
/// # Errors
/// `Query` when the migration table cannot be read.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DatabaseError> {
    Migrator::get_pending_migrations(db)
        .await
        .map(|pending| pending.len())
        .map_err(DatabaseError::Query)
}

/// Records this server process in `instances` and returns its id.
///
/// # Errors
/// `Query` when the row cannot be written.
pub async fn register_instance(
    db: &DatabaseConnection,
    version: &str,
) -> Result<String, DatabaseError> {
    let now = chrono::Utc::now();
    let id = uuid::Uuid::new_v4().to_string();
    let hostname = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().chars().take(255).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    instance::ActiveModel {
        id: Set(id.clone()),
        version: Set(version.chars().take(64).collect()),
        hostname: Set(hostname),
        started_at: Set(now),
        last_seen_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(DatabaseError::Query)?;
    Ok(id)
}

/// [`StorageHealth`] backed by the sea-orm connection.
#[derive(Debug, Clone)]
pub struct SeaOrmStorageHealth {
    db: DatabaseConnection,
    timeout: Duration,
}

impl SeaOrmStorageHealth {
    /// A probe that answers within `timeout`, and never later than
    /// [`READINESS_TIMEOUT`].
    pub fn new(db: DatabaseConnection, timeout: Duration) -> Self {
        Self {
            db,
            timeout: timeout.min(READINESS_TIMEOUT),
        }
    }
}

#[async_trait]
impl StorageHealth for SeaOrmStorageHealth {
    async fn check(&self) -> Result<(), StorageHealthError> {
        let probe = async {
            self.db
                .ping()
                .await
                .map_err(|e| StorageHealthError::Unreachable(Box::new(e)))?;
            let pending = Migrator::get_pending_migrations(&self.db)
                .await
                .map_err(|e| StorageHealthError::Unreachable(Box::new(e)))?
                .len();
            if pending > 0 {
                return Err(StorageHealthError::MigrationsPending { pending });
            }
            Ok(())
        };
        tokio::time::timeout(self.timeout, probe)
            .await
            .map_err(|_| StorageHealthError::Unreachable("timed out".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_and_statement_failures_are_not() {
        use sea_orm::{ConnAcquireErr, RuntimeErr};
        use std::sync::Arc;
        let sqlx = |e: sea_orm::sqlx::Error| RuntimeErr::SqlxError(Arc::new(e));
        let refused = || {
            sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        };
        let cases = [
            (DbErr::ConnectionAcquire(ConnAcquireErr::Timeout), true),
            (
                DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
                true,
            ),
            (DbErr::Conn(sqlx(refused())), true),
            (DbErr::Exec(sqlx(refused())), true),
            (DbErr::Query(sqlx(sea_orm::sqlx::Error::PoolClosed)), true),
            (DbErr::Query(sqlx(sea_orm::sqlx::Error::RowNotFound)), false),
            (
                DbErr::Query(sqlx(sea_orm::sqlx::Error::Protocol("bad".into()))),
                false,
            ),
            (DbErr::Custom("no".into()), false),
            (DbErr::RecordNotFound("x".into()), false),
        ];
        for (error, expected) in cases {
            assert_eq!(is_unreachable(&error), expected, "{error:?}");
        }
    }

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        let cases = [
            (
                "sqlite://./data/vidgen.db?mode=rwc",
                Some("./data/vidgen.db"),
            ),
            ("sqlite:///tmp/x.db", Some("/tmp/x.db")),
            ("sqlite:relative.db", Some("relative.db")),
            ("sqlite::memory:", None),
            ("postgres://localhost/db", None),
        ];
        for (url, expected) in cases {
            assert_eq!(sqlite_file_path(url).as_deref(), expected, "{url}");
        }
    }
}
