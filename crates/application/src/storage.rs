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

    /// The storage could not be reached at all (refused or timed-out connection, closed
    /// pool): an outage of a dependency, not a bug, so callers answer "try again later".
    pub fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Box::new(StorageUnavailable(Box::new(error))))
    }

    pub fn is_unavailable(&self) -> bool {
        self.0.is::<StorageUnavailable>()
    }
}

/// Marks a storage failure as an outage (see [`RepositoryError::unavailable`]). Found
/// anywhere in an error's `source()` chain, it means a dependency is down.
#[derive(Debug, thiserror::Error)]
#[error("the storage is unreachable")]
pub struct StorageUnavailable(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Whether a dependency outage (a [`StorageUnavailable`]) caused `error`.
pub fn caused_by_outage(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<StorageUnavailable>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_recognised_through_any_wrapping() {
        #[derive(Debug, thiserror::Error)]
        #[error("use case failed")]
        struct UseCase(#[source] Box<dyn std::error::Error + Send + Sync>);

        let down = RepositoryError::unavailable(std::io::Error::other("refused"));
        assert!(down.is_unavailable());
        let wrapped = UseCase(Box::new(down));
        assert!(caused_by_outage(&wrapped));

        let bug = RepositoryError::new(std::io::Error::other("syntax error"));
        assert!(!bug.is_unavailable());
        assert!(!caused_by_outage(&UseCase(Box::new(bug))));
    }
}

/// A file in the media store, as the media sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// The key the file belongs to (for a staged file, the key it will be committed as).
    pub key: String,
    /// A `.part` file: written by a render or an upload that has not committed it yet.
    pub staged: bool,
    /// When the file was last written.
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// Lists and deletes the files of the media store one by one, for the periodic sweep.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait MediaInventory: Send + Sync {
    /// Every file under the store's generated names (staged and committed); other files
    /// in the folder are not the store's and are not listed.
    ///
    /// # Errors
    /// The folder cannot be read.
    async fn files(&self) -> Result<Vec<StoredFile>, crate::videos::ports::MediaError>;

    /// Deletes this one file (the staged copy only, for a staged file); a file that is
    /// already gone is not an error.
    ///
    /// # Errors
    /// The file exists but cannot be removed.
    async fn delete(&self, file: &StoredFile) -> Result<(), crate::videos::ports::MediaError>;
}

/// Which media keys stored rows refer to (videos' files and thumbnails, avatars).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait MediaReferences: Send + Sync {
    /// The keys among `keys` that some row refers to.
    ///
    /// # Errors
    /// A storage failure.
    async fn referenced(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, RepositoryError>;
}
