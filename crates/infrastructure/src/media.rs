//! [`MediaStore`] on the local filesystem under `MEDIA_ROOT`: files are named by
//! generated keys, written as `<key>.part` and renamed into place when complete, so a
//! crash never leaves a half file that looks finished.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use vidgen_application::videos::ports::{MediaError, MediaStore};

/// Files under one folder.
#[derive(Debug, Clone)]
pub struct FsMediaStore {
    root: PathBuf,
}

impl FsMediaStore {
    /// Uses (and creates) `root`.
    ///
    /// # Errors
    /// The folder cannot be created.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// A key is ours only if it is a generated name: hex, a dot, a short extension.
    fn checked(key: &str) -> Option<&str> {
        let (name, extension) = key.split_once('.')?;
        let valid = name.len() == 32
            && name.bytes().all(|b| b.is_ascii_hexdigit())
            && (1..=5).contains(&extension.len())
            && extension.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(key)
    }
}

#[async_trait]
impl MediaStore for FsMediaStore {
    fn new_key(&self, extension: &str) -> String {
        format!("{}.{extension}", uuid::Uuid::new_v4().simple())
    }

    fn staging_path(&self, key: &str) -> PathBuf {
        self.root
            .join(format!("{}.part", Self::checked(key).unwrap_or("invalid")))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(Self::checked(key).unwrap_or("invalid"))
    }

    async fn commit(&self, key: &str) -> Result<(), MediaError> {
        tokio::fs::rename(self.staging_path(key), self.path(key))
            .await
            .map_err(MediaError)
    }

    async fn remove(&self, key: &str) -> Result<(), MediaError> {
        for path in [self.path(key), self.staging_path(key)] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(MediaError(error)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn staged_files_are_renamed_into_place_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsMediaStore::new(&dir.path().join("media")).expect("store");
        let key = store.new_key("mp4");
        assert!(key.ends_with(".mp4") && key.len() == 36, "{key}");
        std::fs::write(store.staging_path(&key), b"data").expect("write");
        assert!(!store.path(&key).exists());
        store.commit(&key).await.expect("commit");
        assert_eq!(std::fs::read(store.path(&key)).expect("read"), b"data");
        assert!(!store.staging_path(&key).exists());
        store.remove(&key).await.expect("remove");
        assert!(!store.path(&key).exists());
        store.remove(&key).await.expect("removing twice is fine");
    }

    #[test]
    fn foreign_keys_never_escape_the_root() {
        let store = FsMediaStore {
            root: PathBuf::from("/media"),
        };
        for key in ["../etc/passwd", "a/b.mp4", "x.mp4", ""] {
            assert_eq!(store.path(key), PathBuf::from("/media/invalid"), "{key}");
        }
    }
}
