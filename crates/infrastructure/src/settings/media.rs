//! Media storage: where video files live and how large an upload may be.

use std::path::PathBuf;

use super::SettingsError;
use super::source::Source;

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
        r.finish(Self {
            root,
            max_upload_bytes,
            max_avatar_bytes,
            media_url_ttl_seconds,
        })
    }
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
