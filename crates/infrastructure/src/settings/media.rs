//! Media storage: where video files live and how large an upload may be.

use std::path::PathBuf;

use secrecy::SecretString;

use super::SettingsError;
use super::source::Source;

/// Where media files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageBackend {
    /// Files under `MEDIA_ROOT`.
    Fs,
    /// Objects in an S3-compatible bucket (staged under `MEDIA_ROOT`).
    S3,
}

/// The bucket of `STORAGE_BACKEND=s3`.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_ENDPOINT`: an S3-compatible server's URL; AWS's own endpoint when unset.
    pub endpoint: Option<String>,
    /// `S3_REGION` (default `us-east-1`).
    pub region: String,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// `S3_FORCE_PATH_STYLE`: `http://host/bucket/key` instead of
    /// `http://bucket.host/key` (most S3-compatible servers want this).
    pub force_path_style: bool,
}

/// The media store's settings.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// `MEDIA_ROOT`: the folder holding video files.
    pub root: PathBuf,
    /// `MAX_UPLOAD_BYTES`: largest video upload.
    pub max_upload_bytes: u64,
    /// `MAX_AVATAR_BYTES`: largest avatar.
    pub max_avatar_bytes: u64,
    /// `MEDIA_URL_TTL_SECONDS`: how long a signed media link opens.
    pub media_url_ttl_seconds: u64,
    /// `STORAGE_BACKEND` (`fs` | `s3`, default `fs`).
    pub backend: StorageBackend,
    /// The `S3_*` variables: set exactly when the backend is `s3`.
    pub s3: Option<S3Settings>,
}

impl MediaSettings {
    /// Reads the media variables.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let root = PathBuf::from(
            r.string("MEDIA_ROOT")
                .unwrap_or_else(|| "./data/media".to_owned()),
        );
        let max_upload_bytes: u64 = r.number("MAX_UPLOAD_BYTES", 100 * 1024 * 1024, 1024, 1 << 40);
        let max_avatar_bytes: u64 = r.number("MAX_AVATAR_BYTES", 2 * 1024 * 1024, 1024, 1 << 30);
        let media_url_ttl_seconds: u64 = r.number("MEDIA_URL_TTL_SECONDS", 3600, 10, 7 * 24 * 3600);
        let backend = r.parse_enum(
            "STORAGE_BACKEND",
            StorageBackend::Fs,
            &[("fs", StorageBackend::Fs), ("s3", StorageBackend::S3)],
        );
        let s3 = (backend == StorageBackend::S3).then(|| {
            let mut required = |name: &str| {
                r.string(name).unwrap_or_else(|| {
                    r.problem(name, "is required when STORAGE_BACKEND=s3");
                    String::new()
                })
            };
            let bucket = required("S3_BUCKET");
            let access_key_id = required("S3_ACCESS_KEY_ID");
            let secret_access_key = SecretString::from(required("S3_SECRET_ACCESS_KEY"));
            if !bucket.is_empty() && !valid_bucket_name(&bucket) {
                r.problem(
                    "S3_BUCKET",
                    "expected 3 to 63 lower-case letters, digits, dots and hyphens",
                );
            }
            let endpoint = r.string("S3_ENDPOINT");
            if let Some(url) = &endpoint
                && url::Url::parse(url).map_or(true, |u| {
                    !matches!(u.scheme(), "http" | "https") || !u.has_host()
                })
            {
                r.problem("S3_ENDPOINT", "expected an http:// or https:// URL");
            }
            let region = r.string("S3_REGION").unwrap_or_else(|| "us-east-1".into());
            let force_path_style = r.boolean("S3_FORCE_PATH_STYLE", false);
            S3Settings {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
                force_path_style,
            }
        });
        r.finish(Self {
            root,
            max_upload_bytes,
            max_avatar_bytes,
            media_url_ttl_seconds,
            backend,
            s3,
        })
    }
}

/// S3's rule for bucket names (the subset every S3-compatible server accepts).
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_keep_media_under_data() {
        let s = MediaSettings::read(&source(&[])).unwrap();
        assert_eq!(s.root, PathBuf::from("./data/media"));
        assert_eq!(s.max_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(s.max_avatar_bytes, 2 * 1024 * 1024);
        assert_eq!(s.media_url_ttl_seconds, 3600);
        assert_eq!(s.backend, StorageBackend::Fs);
        assert!(s.s3.is_none());
    }

    #[test]
    fn s3_reads_its_bucket_and_credentials() {
        use secrecy::ExposeSecret;
        let s = MediaSettings::read(&source(&[
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "vidgen-media"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
            ("S3_FORCE_PATH_STYLE", "true"),
        ]))
        .unwrap();
        assert_eq!(s.backend, StorageBackend::S3);
        let s3 = s.s3.unwrap();
        assert_eq!(s3.bucket, "vidgen-media");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.access_key_id, "id");
        assert_eq!(s3.secret_access_key.expose_secret(), "secret");
        assert!(s3.force_path_style);
    }

    #[test]
    fn s3_problems_name_their_variable() {
        let complete: &[(&str, &str)] = &[
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "media"),
            ("S3_ACCESS_KEY_ID", "id"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
        ];
        for missing in ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
            let vars: Vec<(&str, &str)> = complete
                .iter()
                .copied()
                .filter(|(name, _)| *name != missing)
                .collect();
            let p = problems_of(MediaSettings::read(&source(&vars)));
            assert_eq!(
                p,
                vec![format!("{missing}: is required when STORAGE_BACKEND=s3")],
                "without {missing}"
            );
        }
        let bad: &[(&str, &str)] = &[
            ("S3_BUCKET", "Bad_Bucket"),
            ("S3_ENDPOINT", "localhost:9000"),
            ("S3_ENDPOINT", "ftp://host"),
            ("S3_FORCE_PATH_STYLE", "maybe"),
        ];
        for (name, value) in bad {
            let mut vars: Vec<(&str, &str)> = complete
                .iter()
                .copied()
                .filter(|(n, _)| n != name)
                .collect();
            vars.push((name, value));
            let p = problems_of(MediaSettings::read(&source(&vars)));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
        let p = problems_of(MediaSettings::read(&source(&[("STORAGE_BACKEND", "gcs")])));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("STORAGE_BACKEND: "), "{p:?}");
        // Without the s3 backend the S3 variables are not read.
        assert!(
            MediaSettings::read(&source(&[("S3_BUCKET", "Bad_Bucket")]))
                .unwrap()
                .s3
                .is_none()
        );
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("MAX_UPLOAD_BYTES", "lots"),
            ("MAX_UPLOAD_BYTES", "1023"),
            ("MAX_AVATAR_BYTES", "1"),
            ("MEDIA_URL_TTL_SECONDS", "0"),
            ("MEDIA_URL_TTL_SECONDS", "forever"),
        ];
        for (name, value) in cases {
            let p = problems_of(MediaSettings::read(&source(&[(name, value)])));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
        let p = problems_of(MediaSettings::read(&source(&[
            ("MAX_UPLOAD_BYTES", "x"),
            ("MAX_AVATAR_BYTES", "y"),
        ])));
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn overrides_are_kept() {
        let s = MediaSettings::read(&source(&[
            ("MEDIA_ROOT", "/srv/media"),
            ("MAX_UPLOAD_BYTES", "2048"),
            ("MAX_AVATAR_BYTES", "4096"),
            ("MEDIA_URL_TTL_SECONDS", "600"),
        ]))
        .unwrap();
        assert_eq!(s.media_url_ttl_seconds, 600);
        assert_eq!(s.root, PathBuf::from("/srv/media"));
        assert_eq!(s.max_upload_bytes, 2048);
        assert_eq!(s.max_avatar_bytes, 4096);
    }
}
