//! Readiness: is this instance able to serve requests that need the database?

use std::sync::Arc;

use async_trait::async_trait;

/// Why the storage is not ready.
#[derive(Debug, thiserror::Error)]
pub enum StorageHealthError {
    /// The database did not answer (or answered with an error) within its timeout.
    #[error("the database is unreachable")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The schema is behind the code: some migrations have not been applied.
    #[error("{pending} database migration(s) not applied")]
    MigrationsPending { pending: usize },
}

/// Checks the storage this instance depends on.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StorageHealth: Send + Sync {
    /// Pings the database and checks that every known migration is applied.
    ///
    /// # Errors
    /// `Unreachable` when the database does not answer; `MigrationsPending` when the
    /// schema is older than the code.
    async fn check(&self) -> Result<(), StorageHealthError>;
}

/// The outcome of a readiness check, as the operations routes report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    NotReady { reason: String },
}

/// Runs the readiness check.
#[derive(Clone)]
pub struct HealthService {
    storage: Arc<dyn StorageHealth>,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

impl HealthService {
    pub fn new(storage: Arc<dyn StorageHealth>) -> Self {
        Self { storage }
    }

    /// Asks every dependency whether it is ready. A failure is logged with its cause and
    /// reported with a short reason that is safe to show a client.
    #[tracing::instrument(skip(self))]
    pub async fn readiness(&self) -> Readiness {
        match self.storage.check().await {
            Ok(()) => Readiness::Ready,
            Err(error) => {
                tracing::warn!(error = %error, cause = ?std::error::Error::source(&error), "not ready");
                Readiness::NotReady {
                    reason: error.to_string(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_when_storage_is_healthy() {
        let mut storage = MockStorageHealth::new();
        storage.expect_check().times(1).returning(|| Ok(()));
        let service = HealthService::new(Arc::new(storage));
        assert_eq!(service.readiness().await, Readiness::Ready);
    }

    #[tokio::test]
    async fn not_ready_reports_pending_migrations() {
        let mut storage = MockStorageHealth::new();
        storage
            .expect_check()
            .returning(|| Err(StorageHealthError::MigrationsPending { pending: 2 }));
        let service = HealthService::new(Arc::new(storage));
        assert_eq!(
            service.readiness().await,
            Readiness::NotReady {
                reason: "2 database migration(s) not applied".into()
            }
        );
    }

    #[tokio::test]
    async fn not_ready_hides_the_driver_error() {
        let mut storage = MockStorageHealth::new();
        storage.expect_check().returning(|| {
            Err(StorageHealthError::Unreachable(
                "connection refused at 10.0.0.1:5432".into(),
            ))
        });
        let service = HealthService::new(Arc::new(storage));
        let Readiness::NotReady { reason } = service.readiness().await else {
            panic!("expected not ready");
        };
        assert_eq!(reason, "the database is unreachable");
    }
}
