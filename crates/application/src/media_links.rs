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

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Tells this signer's remembered signatures from another's (its clones share it).
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// How many signatures a thread remembers before it forgets them all.
const REMEMBERED: usize = 4096;

/// Signatures made on this thread, by signer, expiry and token version, then path.
///
/// A link's signature is the same on every request within its time bucket, and a list
/// page signs two links per video: remembering them saves the MAC (the largest cost of
/// a video list page after its JSON) and the formatting of its message. Per thread, so
/// no lock is taken; bounded by [`REMEMBERED`], past which it starts afresh (stale
/// buckets are never looked up again and go then).
#[derive(Default)]
struct Remembered {
    entries: usize,
    signatures: HashMap<(u64, i64, i64), HashMap<Box<str>, String>>,
}

thread_local! {
    static REMEMBERED_SIGNATURES: RefCell<Remembered> = RefCell::default();
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
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The lifetime of a link.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Tells this signer from any other made by [`MediaLinks::new`] (its clones share
    /// it): equal ids and expiries give equal signatures.
    pub fn signer_id(&self) -> u64 {
        self.id
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
    /// Signatures are remembered per thread (see [`Remembered`]).
    pub fn sign_until(&self, path: &str, token_version: i64, expires: i64) -> LinkSignature {
        let key = (self.id, expires, token_version);
        let known = REMEMBERED_SIGNATURES.with_borrow(|memo| {
            memo.signatures
                .get(&key)
                .and_then(|paths| paths.get(path))
                .cloned()
        });
        let signature = known.unwrap_or_else(|| {
            let signature = self
                .signer
                .sign(message(path, expires, token_version).as_bytes());
            REMEMBERED_SIGNATURES.with_borrow_mut(|memo| {
                if memo.entries >= REMEMBERED {
                    *memo = Remembered::default();
                }
                memo.entries += 1;
                memo.signatures
                    .entry(key)
                    .or_default()
                    .insert(path.into(), signature.clone());
            });
            signature
        });
        LinkSignature { expires, signature }
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

    /// A signer that counts its MACs and tags them with `tag`.
    fn counting(tag: &'static str, count: &Arc<AtomicU64>) -> MediaLinks {
        let mut signer = MockLinkSigner::new();
        let count = count.clone();
        signer.expect_sign().returning(move |message| {
            count.fetch_add(1, Ordering::SeqCst);
            format!("{tag}:{}", String::from_utf8_lossy(message))
        });
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| at(1_000_000));
        MediaLinks::new(Arc::new(signer), Arc::new(clock), 3600)
    }

    #[test]
    fn a_signature_is_remembered_for_its_signer_path_version_and_expiry() {
        let count = Arc::new(AtomicU64::new(0));
        let links = counting("a", &count);
        let first = links.sign_until(PATH, 3, 5_000);
        assert_eq!(first.signature, format!("a:{}", message(PATH, 5_000, 3)));
        assert_eq!(links.clone().sign_until(PATH, 3, 5_000), first);
        assert_eq!(count.load(Ordering::SeqCst), 1, "the second was remembered");
        for (path, version, expires) in [
            ("/api/v1/videos/8/content", 3, 5_000),
            (PATH, 4, 5_000),
            (PATH, 3, 5_360),
        ] {
            let signed = links.sign_until(path, version, expires);
            assert_eq!(
                signed.signature,
                format!("a:{}", message(path, expires, version))
            );
        }
        assert_eq!(count.load(Ordering::SeqCst), 4);
        // Another signer (another key) never gets the first one's signatures.
        let other = counting("b", &count);
        assert_eq!(
            other.sign_until(PATH, 3, 5_000).signature,
            format!("b:{}", message(PATH, 5_000, 3))
        );
        assert_eq!(count.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn remembered_signatures_are_bounded() {
        let count = Arc::new(AtomicU64::new(0));
        let links = counting("a", &count);
        for n in 0..=REMEMBERED {
            links.sign_until(&format!("/api/v1/videos/{n}/content"), 0, 5_000);
        }
        let kept = REMEMBERED_SIGNATURES.with_borrow(|memo| memo.entries);
        assert!(kept <= REMEMBERED, "{kept} kept");
        assert_eq!(count.load(Ordering::SeqCst), REMEMBERED as u64 + 1);
        // Forgotten, so signed again (and right).
        let first = links.sign_until("/api/v1/videos/0/content", 0, 5_000);
        assert_eq!(count.load(Ordering::SeqCst), REMEMBERED as u64 + 2);
        assert_eq!(
            first.signature,
            format!("a:{}", message("/api/v1/videos/0/content", 5_000, 0))
        );
    }
}
