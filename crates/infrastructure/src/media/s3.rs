//! [`MediaStore`] on an S3-compatible bucket (`STORAGE_BACKEND=s3`), through the
//! `object_store` crate. Files are still written to a local staging file under
//! `MEDIA_ROOT`; [`commit`](MediaStore::commit) uploads it under its key (one PUT for a
//! small file, a multipart upload for a large one, which S3 only shows once it is
//! completed) and then removes the staged copy, so a crash never leaves a half object
//! that looks finished. Reads ask the bucket for the byte range they need and stream it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, PutPayload, RetryConfig, WriteMultipart,
};
use secrecy::ExposeSecret;
use tokio::io::AsyncReadExt;
use vidgen_application::storage::{MediaInventory, StoredFile};
use vidgen_application::videos::ports::{
    LocalFile, MediaError, MediaObject, MediaReader, MediaStore,
};

use super::FsMediaStore;
use crate::settings::S3Settings;

/// Files at least this large are uploaded in parts of this size.
pub const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;

/// Parts uploaded at once by a multipart upload.
const PARTS_IN_FLIGHT: usize = 4;

/// How long start-up waits for the bucket to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the bucket cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum S3SetupError {
    #[error("the S3 client cannot be configured: {0}")]
    Config(String),
    #[error("bucket `{bucket}` did not answer within {seconds} s at {endpoint}")]
    Timeout {
        bucket: String,
        endpoint: String,
        seconds: u64,
    },
    #[error("bucket `{bucket}` is not reachable at {endpoint}: {reason}")]
    Unreachable {
        bucket: String,
        endpoint: String,
        reason: String,
    },
    #[error("cannot use MEDIA_ROOT `{path}` for staging")]
    Staging {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Objects in one bucket, staged in a local folder.
#[derive(Debug, Clone)]
pub struct S3MediaStore {
    bucket: Arc<AmazonS3>,
    staging: FsMediaStore,
    name: String,
    endpoint: String,
}

fn failure(error: object_store::Error) -> MediaError {
    let kind = match error {
        object_store::Error::NotFound { .. } => std::io::ErrorKind::NotFound,
        _ => std::io::ErrorKind::Other,
    };
    MediaError(std::io::Error::new(kind, error))
}

impl S3MediaStore {
    /// A client for the bucket in `settings`, staging under `staging_root` (created).
    /// Nothing is asked of the bucket yet: see [`S3MediaStore::check`].
    ///
    /// # Errors
    /// The settings do not make a client, or the staging folder cannot be created.
    pub fn new(settings: &S3Settings, staging_root: &Path) -> Result<Self, S3SetupError> {
        let staging = FsMediaStore::new(staging_root).map_err(|source| S3SetupError::Staging {
            path: staging_root.display().to_string(),
            source,
        })?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(settings.secret_access_key.expose_secret())
            .with_virtual_hosted_style_request(!settings.force_path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300))
                    .with_allow_http(true),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        let endpoint = match &settings.endpoint {
            Some(endpoint) => {
                builder = builder.with_endpoint(endpoint);
                endpoint.clone()
            }
            None => format!("the AWS endpoint of {}", settings.region),
        };
        let bucket = builder
            .build()
            .map_err(|error| S3SetupError::Config(error.to_string()))?;
        Ok(Self {
            bucket: Arc::new(bucket),
            staging,
            name: settings.bucket.clone(),
            endpoint,
        })
    }

    /// Lists one key of the bucket, to learn at start-up that it exists and that the
    /// credentials open it.
    ///
    /// # Errors
    /// The bucket does not answer in time, or answers with an error (missing bucket,
    /// refused credentials).
    pub async fn check(&self) -> Result<(), S3SetupError> {
        let mut listing = self.bucket.list(None);
        match tokio::time::timeout(CHECK_TIMEOUT, listing.next()).await {
            Err(_) => Err(S3SetupError::Timeout {
                bucket: self.name.clone(),
                endpoint: self.endpoint.clone(),
                seconds: CHECK_TIMEOUT.as_secs(),
            }),
            Ok(Some(Err(error))) => Err(S3SetupError::Unreachable {
                bucket: self.name.clone(),
                endpoint: self.endpoint.clone(),
                reason: one_line(&error),
            }),
            Ok(None | Some(Ok(_))) => Ok(()),
        }
    }

    fn location(key: &str) -> Result<ObjectPath, MediaError> {
        FsMediaStore::checked(key)
            .map(ObjectPath::from)
            .ok_or_else(|| {
                MediaError(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a media key",
                ))
            })
    }

    /// Uploads the staged file of `key` under `location`.
    async fn upload(&self, key: &str, location: &ObjectPath) -> Result<(), MediaError> {
        let mut file = tokio::fs::File::open(self.staging.staging_path(key))
            .await
            .map_err(MediaError)?;
        let size = file.metadata().await.map_err(MediaError)?.len();
        if size < MULTIPART_THRESHOLD as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut bytes).await.map_err(MediaError)?;
            self.bucket
                .put(location, PutPayload::from(bytes))
                .await
                .map_err(failure)?;
            return Ok(());
        }
        let upload = self.bucket.put_multipart(location).await.map_err(failure)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_THRESHOLD);
        let mut buffer = vec![0_u8; 1024 * 1024];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(MediaError(error));
                }
            };
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(failure(error));
            }
            writer.write(&buffer[..read]);
        }
        // A failed completion aborts the upload itself: no object appears.
        writer.finish().await.map_err(failure)?;
        Ok(())
    }

    /// Every object of the bucket under a generated name.
    async fn objects(&self) -> Result<Vec<StoredFile>, MediaError> {
        let objects: Vec<object_store::ObjectMeta> = self
            .bucket
            .list(None)
            .try_collect()
            .await
            .map_err(failure)?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                let key = FsMediaStore::checked(object.location.as_ref())?.to_owned();
                Some(StoredFile {
                    key,
                    staged: false,
                    modified: object.last_modified,
                })
            })
            .collect())
    }
}

/// An error and its causes on one line.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

#[async_trait]
impl MediaStore for S3MediaStore {
    fn new_key(&self, extension: &str) -> String {
        self.staging.new_key(extension)
    }

    fn staging_path(&self, key: &str) -> std::path::PathBuf {
        self.staging.staging_path(key)
    }

    async fn commit(&self, key: &str) -> Result<(), MediaError> {
        let location = Self::location(key)?;
        self.upload(key, &location).await?;
        match tokio::fs::remove_file(self.staging.staging_path(key)).await {
            Ok(()) => {}
            // Stored all the same; the sweep removes the staged copy later.
            Err(error) => tracing::warn!(key, error = ?error, "cannot remove a staged file"),
        }
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), MediaError> {
        if let Ok(location) = Self::location(key) {
            match self.bucket.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(failure(error)),
            }
        }
        self.staging.remove(key).await
    }

    async fn open(&self, key: &str) -> Result<MediaObject, MediaError> {
        let meta = self
            .bucket
            .head(&Self::location(key)?)
            .await
            .map_err(failure)?;
        let etag = meta
            .e_tag
            .as_deref()
            .map(|tag| tag.trim_start_matches("W/").trim_matches('"').to_owned())
            .filter(|tag| !tag.is_empty() && !tag.contains('"'))
            .unwrap_or_else(|| {
                format!(
                    "{:x}:{:x}",
                    meta.size,
                    meta.last_modified.timestamp_micros()
                )
            });
        Ok(MediaObject {
            size: meta.size,
            modified: meta.last_modified,
            etag,
        })
    }

    async fn read(&self, key: &str, start: u64, length: u64) -> Result<MediaReader, MediaError> {
        if length == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..start + length)),
            ..GetOptions::default()
        };
        let result = self
            .bucket
            .get_opts(&Self::location(key)?, options)
            .await
            .map_err(failure)?;
        let stream = result.into_stream().map_err(std::io::Error::other);
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream)))
    }

    async fn local_copy(&self, key: &str) -> Result<LocalFile, MediaError> {
        let location = Self::location(key)?;
        let extension = key
            .rsplit_once('.')
            .map_or("bin", |(_, extension)| extension);
        // A staged name, so a copy a crash leaves behind is swept like any staged file.
        let copy = LocalFile::temporary(self.staging.staging_path(&self.new_key(extension)));
        let result = self.bucket.get(&location).await.map_err(failure)?;
        let mut file = tokio::fs::File::create(copy.path())
            .await
            .map_err(MediaError)?;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(failure)?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(MediaError)?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(MediaError)?;
        Ok(copy)
    }
}

#[async_trait]
impl MediaInventory for S3MediaStore {
    /// The bucket's objects, and the staged files of the local staging folder.
    async fn files(&self) -> Result<Vec<StoredFile>, MediaError> {
        let mut files = self.objects().await?;
        files.extend(
            self.staging
                .files()
                .await?
                .into_iter()
                .filter(|file| file.staged),
        );
        Ok(files)
    }

    async fn delete(&self, file: &StoredFile) -> Result<(), MediaError> {
        if file.staged {
            return self.staging.delete(file).await;
        }
        match self.bucket.delete(&Self::location(&file.key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(failure(error)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {

    use secrecy::SecretString;

    use super::*;

    pub(crate) fn endpoint() -> String {
        crate::test_support::s3_endpoint()
    }

    pub(crate) fn settings(endpoint: &str, bucket: &str) -> S3Settings {
        S3Settings {
            bucket: bucket.to_owned(),
            endpoint: Some(endpoint.to_owned()),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: SecretString::from("test"),
            force_path_style: true,
        }
    }

    /// A new empty bucket on the test server.
    pub(crate) async fn bucket() -> (String, String) {
        crate::test_support::new_bucket("t").await
    }

    async fn store() -> (S3MediaStore, tempfile::TempDir) {
        let (endpoint, name) = bucket().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = S3MediaStore::new(&settings(&endpoint, &name), dir.path()).expect("store");
        store.check().await.expect("the bucket answers");
        (store, dir)
    }

    async fn read_all(store: &S3MediaStore, key: &str, start: u64, length: u64) -> Vec<u8> {
        let mut reader = store.read(key, start, length).await.expect("read");
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await.expect("read bytes");
        bytes
    }

    fn pattern(size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn a_commit_uploads_the_staged_file_and_removes_it() {
        let (store, _dir) = store().await;
        let key = store.new_key("png");
        let staged = store.staging_path(&key);
        assert!(staged.starts_with(_dir.path()), "staging stays local");
        let missing = store.open(&key).await.expect_err("nothing stored yet");
        assert_eq!(missing.0.kind(), std::io::ErrorKind::NotFound);
        let bytes = pattern(10_000);
        std::fs::write(&staged, &bytes).expect("stage");
        store.commit(&key).await.expect("commit");
        assert!(!staged.exists(), "the staged copy is removed");
        let object = store.open(&key).await.expect("open");
        assert_eq!(object.size, 10_000);
        assert!(!object.etag.is_empty() && !object.etag.contains('"'));
        assert!(chrono::Utc::now() - object.modified < chrono::Duration::minutes(5));
        assert_eq!(read_all(&store, &key, 0, 10_000).await, bytes);
        assert_eq!(read_all(&store, &key, 100, 50).await, &bytes[100..150]);
        assert_eq!(read_all(&store, &key, 9_990, 10).await, &bytes[9_990..]);
        assert!(read_all(&store, &key, 5, 0).await.is_empty());

        let copy = store.local_copy(&key).await.expect("local copy");
        assert_eq!(std::fs::read(copy.path()).expect("copy"), bytes);
        let path = copy.path().to_path_buf();
        drop(copy);
        assert!(!path.exists(), "the copy goes with its handle");

        store.remove(&key).await.expect("remove");
        let gone = store.open(&key).await.expect_err("removed");
        assert_eq!(gone.0.kind(), std::io::ErrorKind::NotFound);
        store.remove(&key).await.expect("removing twice is fine");
        assert!(store.read(&key, 0, 10).await.is_err(), "a missing key");
    }

    #[tokio::test]
    async fn a_large_file_goes_up_in_parts_and_reads_back_identical() {
        let (store, _dir) = store().await;
        let key = store.new_key("mp4");
        let size = 2 * MULTIPART_THRESHOLD + 12_345;
        let bytes = pattern(size);
        std::fs::write(store.staging_path(&key), &bytes).expect("stage");
        store.commit(&key).await.expect("commit");
        let object = store.open(&key).await.expect("open");
        assert_eq!(object.size, size as u64);
        // S3 marks a multipart object's ETag with its number of parts.
        assert!(
            object.etag.ends_with("-3"),
            "multipart ETag: {}",
            object.etag
        );
        assert_eq!(read_all(&store, &key, 0, size as u64).await, bytes);
        let middle = MULTIPART_THRESHOLD as u64 - 10;
        assert_eq!(
            read_all(&store, &key, middle, 20).await,
            &bytes[middle as usize..middle as usize + 20],
            "a range across two parts"
        );
    }

    #[tokio::test]
    async fn a_failed_commit_stores_nothing() {
        let (store, _dir) = store().await;
        let key = store.new_key("mp4");
        assert!(store.commit(&key).await.is_err(), "nothing staged");
        assert!(store.open(&key).await.is_err(), "nothing stored");
        assert!(store.files().await.expect("files").is_empty());
    }

    #[tokio::test]
    async fn an_upload_cut_off_before_completion_leaves_no_object() {
        let (store, _dir) = store().await;
        let key = store.new_key("mp4");
        let location = S3MediaStore::location(&key).expect("location");
        let upload = store.bucket.put_multipart(&location).await.expect("start");
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_THRESHOLD);
        writer.write(&pattern(MULTIPART_THRESHOLD + 1));
        // One part is up; the process dies before the upload is completed.
        writer.wait_for_capacity(0).await.expect("the first part");
        drop(writer);
        let missing = store.open(&key).await.expect_err("no object");
        assert_eq!(missing.0.kind(), std::io::ErrorKind::NotFound);
        assert!(store.files().await.expect("files").is_empty());
    }

    #[tokio::test]
    async fn the_inventory_lists_objects_and_staged_files() {
        let (store, dir) = store().await;
        let committed = store.new_key("mp4");
        std::fs::write(store.staging_path(&committed), b"video").expect("stage");
        store.commit(&committed).await.expect("commit");
        let staged = store.new_key("png");
        std::fs::write(store.staging_path(&staged), b"half").expect("stage");
        store
            .bucket
            .put(
                &ObjectPath::from("notes.txt"),
                PutPayload::from_static(b"x"),
            )
            .await
            .expect("a foreign object");
        std::fs::write(dir.path().join("README.txt"), b"not ours").expect("write");
        let mut files = store.files().await.expect("files");
        files.sort_by_key(|f| f.staged);
        let listed: Vec<(&str, bool)> = files.iter().map(|f| (f.key.as_str(), f.staged)).collect();
        assert_eq!(
            listed,
            [(committed.as_str(), false), (staged.as_str(), true)]
        );
        for file in &files {
            store.delete(file).await.expect("delete");
            store.delete(file).await.expect("deleting twice is fine");
        }
        assert!(store.open(&committed).await.is_err());
        assert!(!store.staging_path(&staged).exists());
        assert!(store.files().await.expect("files").is_empty());
        assert!(
            store
                .bucket
                .head(&ObjectPath::from("notes.txt"))
                .await
                .is_ok(),
            "foreign objects stay"
        );
    }

    #[tokio::test]
    async fn start_up_names_a_missing_bucket_or_a_dead_endpoint() {
        let endpoint = endpoint();
        let dir = tempfile::tempdir().expect("tempdir");
        let missing =
            S3MediaStore::new(&settings(&endpoint, "no-such-bucket"), dir.path()).expect("store");
        let error = missing.check().await.expect_err("a missing bucket");
        let line = error.to_string();
        assert!(
            line.contains("`no-such-bucket`") && line.contains(&endpoint) && !line.contains('\n'),
            "{line}"
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a port")
            .port();
        let dead = format!("http://127.0.0.1:{closed}");
        let unreachable = S3MediaStore::new(&settings(&dead, "media"), dir.path()).expect("store");
        let started = std::time::Instant::now();
        let error = unreachable.check().await.expect_err("nothing listens");
        assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
        let line = error.to_string();
        assert!(line.contains("`media`") && line.contains(&dead), "{line}");
    }
}
