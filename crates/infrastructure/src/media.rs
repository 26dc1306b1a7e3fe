//! [`MediaStore`] on the local filesystem under `MEDIA_ROOT`: files are named by
//! generated keys, written as `<key>.part` and renamed into place when complete, so a
//! crash never leaves a half file that looks finished. It also lists its files for the
//! periodic media sweep, which removes the `.part` files a dead render left behind.
//! [`s3`] keeps the files in an S3-compatible bucket instead, staging them here.

pub mod s3;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use vidgen_application::storage::{MediaInventory, StoredFile};
use vidgen_application::videos::ports::{
    LocalFile, MediaError, MediaObject, MediaReader, MediaStore,
};

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

    /// Where the complete file of `key` lives.
    pub fn path(&self, key: &str) -> PathBuf {
        self.root.join(Self::checked(key).unwrap_or("invalid"))
    }

    /// The folder holding the files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of the store named `name`: a key, or a key and `.part`.
    fn parse_name(name: &str) -> Option<(String, bool)> {
        match name.strip_suffix(".part") {
            Some(key) => Self::checked(key).map(|key| (key.to_owned(), true)),
            None => Self::checked(name).map(|key| (key.to_owned(), false)),
        }
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

    async fn open(&self, key: &str) -> Result<MediaObject, MediaError> {
        let metadata = tokio::fs::metadata(self.path(key))
            .await
            .map_err(MediaError)?;
        if !metadata.is_file() {
            return Err(MediaError(std::io::ErrorKind::NotFound.into()));
        }
        let modified = metadata.modified().map_err(MediaError)?;
        Ok(MediaObject {
            size: metadata.len(),
            modified: modified.into(),
            etag: file_etag(&metadata, modified),
        })
    }

    async fn read(&self, key: &str, start: u64, length: u64) -> Result<MediaReader, MediaError> {
        let mut file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(MediaError)?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(MediaError)?;
        Ok(Box::pin(file.take(length)))
    }

    async fn local_copy(&self, key: &str) -> Result<LocalFile, MediaError> {
        let path = self.path(key);
        tokio::fs::metadata(&path).await.map_err(MediaError)?;
        Ok(LocalFile::stored(path))
    }
}

/// The validator actix-files gave these files (inode, size and modification time), so
/// the ETags clients hold stay valid now that files are served through the port.
fn file_etag(metadata: &std::fs::Metadata, modified: std::time::SystemTime) -> String {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(metadata);
    #[cfg(not(unix))]
    let inode = 0_u64;
    let (secs, nanos) = match modified.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => (i128::from(since.as_secs()), since.subsec_nanos()),
        Err(before) => {
            let before = before.duration();
            if before.subsec_nanos() == 0 {
                (-i128::from(before.as_secs()), 0)
            } else {
                (
                    -i128::from(before.as_secs()) - 1,
                    1_000_000_000 - before.subsec_nanos(),
                )
            }
        }
    };
    format!("{inode:x}:{:x}:{secs:x}:{nanos:x}", metadata.len())
}

#[async_trait]
impl MediaInventory for FsMediaStore {
    async fn files(&self) -> Result<Vec<StoredFile>, MediaError> {
        let mut entries = tokio::fs::read_dir(&self.root).await.map_err(MediaError)?;
        let mut files = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(MediaError)? {
            let Some((key, staged)) = entry.file_name().to_str().and_then(Self::parse_name) else {
                continue;
            };
            let metadata = match entry.metadata().await {
                Ok(metadata) => metadata,
                // Removed between listing and looking: nothing left to sweep.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(MediaError(error)),
            };
            if !metadata.is_file() {
                continue;
            }
            let modified = metadata.modified().map_err(MediaError)?;
            files.push(StoredFile {
                key,
                staged,
                modified: modified.into(),
            });
        }
        Ok(files)
    }

    async fn delete(&self, file: &StoredFile) -> Result<(), MediaError> {
        let path = if file.staged {
            self.staging_path(&file.key)
        } else {
            self.path(&file.key)
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(MediaError(error)),
        }
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

    #[tokio::test]
    async fn lists_its_own_files_and_deletes_them_one_by_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsMediaStore::new(dir.path()).expect("store");
        let committed = store.new_key("mp4");
        let staged = store.new_key("png");
        std::fs::write(store.path(&committed), b"video").expect("write");
        std::fs::write(store.staging_path(&staged), b"half").expect("write");
        std::fs::write(dir.path().join("README.txt"), b"not ours").expect("write");
        std::fs::create_dir(dir.path().join(store.new_key("mp4"))).expect("a folder");
        let mut files = store.files().await.expect("files");
        files.sort_by_key(|f| f.staged);
        let listed: Vec<(&str, bool)> = files.iter().map(|f| (f.key.as_str(), f.staged)).collect();
        assert_eq!(
            listed,
            [(committed.as_str(), false), (staged.as_str(), true)]
        );
        let age = chrono::Utc::now() - files[0].modified;
        assert!(age < chrono::Duration::minutes(5), "modified {age} ago");
        for file in &files {
            store.delete(file).await.expect("delete");
            store.delete(file).await.expect("deleting twice is fine");
        }
        assert!(!store.path(&committed).exists());
        assert!(!store.staging_path(&staged).exists());
        assert!(dir.path().join("README.txt").exists(), "foreign files stay");
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
