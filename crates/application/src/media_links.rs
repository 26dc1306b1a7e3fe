//! Signed media links: a video's file, its thumbnail or an avatar can be fetched by a
//! browser element (`<video src>`, `<img src>`) that cannot send an `Authorization`
//! header, through a link carrying `expires` and `signature`.
//!
//! The signature is a MAC (the [`LinkSigner`] port; HMAC-SHA256 under a key derived from
//! `SECRET_KEY` for this purpose only) over the method, the path, the expiry and the
//! owner's token version, so a link opens only the resource it names, only until it
//! expires, and no longer once its owner's sessions end (a password change, suspension
//! or deletion bumps the version). Expiries are rounded up to a time bucket, so a link is
//! the same on every request within the bucket and the JSON that embeds it (and its
//! `ETag`) does not change on each read.

use std::sync::Arc;

use crate::clock::Clock;

/// The MAC behind media links.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait LinkSigner: Send + Sync {
    /// The signature of `message`, URL-safe.
    fn sign(&self, message: &[u8]) -> String;
    /// Whether `signature` is the one of `message` (in constant time).
    fn verify(&self, message: &[u8], signature: &str) -> bool;
}

/// The query a signed link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSignature {
    /// Unix seconds after which the link no longer opens.
    pub expires: i64,
    pub signature: String,
}

/// How many buckets a link's lifetime spans: a link handed out is valid for at least
/// nine tenths of `MEDIA_URL_TTL_SECONDS`.
const BUCKETS_PER_TTL: i64 = 10;

/// Signs and checks media links.
#[derive(Clone)]
pub struct MediaLinks {
    signer: Arc<dyn LinkSigner>,
    clock: Arc<dyn Clock>,
    ttl_seconds: i64,
}

impl std::fmt::Debug for MediaLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaLinks")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

/// What is signed: the method (links are for `GET`), the path, the expiry and the
/// owner's token version, one per line.
fn message(path: &str, expires: i64, token_version: i64) -> String {
    format!("GET\n{path}\n{expires}\n{token_version}")
}

impl MediaLinks {
    /// Links valid `ttl_seconds` (`MEDIA_URL_TTL_SECONDS`, at least 1).
    pub fn new(signer: Arc<dyn LinkSigner>, clock: Arc<dyn Clock>, ttl_seconds: u64) -> Self {
        Self {
            signer,
            clock,
            ttl_seconds: i64::try_from(ttl_seconds).unwrap_or(i64::MAX).max(1),
        }
    }

    /// The lifetime of a link.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// The signature of a link to `path` whose owner's token version is
    /// `token_version`: the same for every call within one time bucket.
    pub fn sign(&self, path: &str, token_version: i64) -> LinkSignature {
        self.sign_until(path, token_version, self.expiry())
    }

    /// When a link signed now expires: the end of the bucket after this one's, so the
    /// same for every call within one time bucket. A response that signs many links
    /// reads the clock once, here, and passes it to [`Self::sign_until`].
    pub fn expiry(&self) -> i64 {
        let now = self.clock.now().timestamp();
        let bucket = (self.ttl_seconds / BUCKETS_PER_TTL).max(1);
        now.div_euclid(bucket)
            .saturating_add(1)
            .saturating_mul(bucket)
            .saturating_add(self.ttl_seconds - bucket)
    }

    /// The signature of a link to `path` expiring at `expires` (from [`Self::expiry`]).
    pub fn sign_until(&self, path: &str, token_version: i64, expires: i64) -> LinkSignature {
        LinkSignature {
            expires,
            signature: self
                .signer
                .sign(message(path, expires, token_version).as_bytes()),
        }
    }

    /// Whether a link to `path` with this query opens now, for an owner whose token
    /// version is `token_version`: not expired, not expiring implausibly far in the
    /// future, and signed for exactly this path and version.
    pub fn verify(&self, path: &str, token_version: i64, link: &LinkSignature) -> bool {
        let now = self.clock.now().timestamp();
        if link.expires < now || link.expires > now.saturating_add(self.ttl_seconds) {
            return false;
        }
        self.signer.verify(
            message(path, link.expires, token_version).as_bytes(),
            &link.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::clock::MockClock;

    /// A stand-in MAC: the message itself, reversed (enough to tell messages apart).
    struct Reversed;

    impl LinkSigner for Reversed {
        fn sign(&self, message: &[u8]) -> String {
            String::from_utf8_lossy(message).chars().rev().collect()
        }

        fn verify(&self, message: &[u8], signature: &str) -> bool {
            self.sign(message) == signature
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().expect("time")
    }

    fn links(now: i64, ttl: u64) -> MediaLinks {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || at(now));
        MediaLinks::new(Arc::new(Reversed), Arc::new(clock), ttl)
    }

    const PATH: &str = "/api/v1/videos/7/content";

    #[test]
    fn a_link_is_stable_within_its_bucket_and_valid_most_of_its_ttl() {
        // Buckets of a tenth of the TTL: 360 s, the first starting here.
        let start = 360 * 2778;
        let first = links(start, 3600).sign(PATH, 0);
        let later = links(start + 359, 3600).sign(PATH, 0);
        assert_eq!(first, later, "same bucket, same link");
        for now in [start, start + 359] {
            assert!(first.expires - now >= 3600 - 360);
            assert!(first.expires - now <= 3600);
        }
        let next_bucket = links(start + 360, 3600).sign(PATH, 0);
        assert_eq!(next_bucket.expires, first.expires + 360);
    }

    #[test]
    fn a_signed_link_opens_until_it_expires() {
        let signed = links(1_000_000, 3600).sign(PATH, 3);
        assert!(links(1_000_000, 3600).verify(PATH, 3, &signed));
        assert!(links(signed.expires, 3600).verify(PATH, 3, &signed));
        assert!(!links(signed.expires + 1, 3600).verify(PATH, 3, &signed));
    }

    #[test]
    fn another_path_version_expiry_or_signature_does_not_open() {
        let now = 1_000_000;
        let signed = links(now, 3600).sign(PATH, 3);
        let check = links(now, 3600);
        assert!(!check.verify("/api/v1/videos/8/content", 3, &signed));
        assert!(!check.verify("/api/v1/videos/7/thumbnail", 3, &signed));
        assert!(!check.verify(PATH, 4, &signed), "sessions ended since");
        let stretched = LinkSignature {
            expires: signed.expires + 10,
            ..signed.clone()
        };
        assert!(!check.verify(PATH, 3, &stretched));
        let forged = LinkSignature {
            signature: "forged".into(),
            ..signed.clone()
        };
        assert!(!check.verify(PATH, 3, &forged));
    }

    #[test]
    fn an_expiry_beyond_the_ttl_is_refused_even_when_signed() {
        // A link minted with a longer lifetime (an older setting) no longer opens.
        let long = links(1_000_000, 86_400).sign(PATH, 0);
        assert!(!links(1_000_000, 3600).verify(PATH, 0, &long));
    }
}
