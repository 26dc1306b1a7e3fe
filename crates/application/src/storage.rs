//! The error every repository port reports when its storage fails for reasons the use
//! case cannot act on (connection lost, constraint it did not expect, ...).

/// A storage failure. Carries the adapter's error as its source, for the logs only.
#[derive(Debug, thiserror::Error)]
#[error("storage failure")]
pub struct RepositoryError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl RepositoryError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(error))
    }
}
