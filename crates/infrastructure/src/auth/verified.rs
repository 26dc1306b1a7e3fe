//! Access tokens verified once and remembered until they expire.
//!
//! Checking an HS256 token (base64, HMAC-SHA256 and two JSON documents) is the largest
//! cost of an authenticated request that the database or cache does not serve, and a
//! client sends the same token with every request for its whole lifetime. A token's
//! signature and claims cannot change, so once it verified, the same string verifies
//! again with the same claims until its `exp`: the cache keeps the exact token string
//! with what it asserted and serves it only before that expiry (the same leeway as the
//! full check). Failed checks are never kept, and revocation is unaffected: the token
//! version in the claims is compared with the user's on every request, after this.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use moka::sync::Cache;
use vidgen_application::auth::ports::{AccessClaims, TokenError, TokenVerifier};

use super::JwtTokenIssuer;

/// The longest a verified token is remembered, however long it lives.
const KEPT_FOR: Duration = Duration::from_secs(300);

/// See the module docs.
pub struct CachedTokenVerifier {
    inner: Arc<JwtTokenIssuer>,
    verified: Cache<Box<str>, (AccessClaims, i64), crate::CacheHasher>,
}

impl std::fmt::Debug for CachedTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTokenVerifier")
            .field("tokens", &self.verified.entry_count())
            .finish_non_exhaustive()
    }
}

impl CachedTokenVerifier {
    /// Remembers up to `capacity` tokens verified by `inner`.
    pub fn new(inner: Arc<JwtTokenIssuer>, capacity: u64) -> Self {
        Self {
            inner,
            verified: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(KEPT_FOR)
                .build_with_hasher(crate::CacheHasher::default()),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

impl TokenVerifier for CachedTokenVerifier {
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if let Some((claims, expires)) = self.verified.get(token) {
            if unix_now().saturating_sub(JwtTokenIssuer::LEEWAY_SECONDS) <= expires {
                return Ok(claims);
            }
            self.verified.invalidate(token);
        }
        let (claims, expires) = self.inner.verify_until(token)?;
        self.verified
            .insert(Box::from(token), (claims.clone(), expires));
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use vidgen_application::auth::ports::TokenIssuer;
    use vidgen_domain::users::{Role, UserId};

    use super::*;
    use crate::auth::JwtSettings;

    fn issuer(lifetime: u64) -> Arc<JwtTokenIssuer> {
        Arc::new(JwtTokenIssuer::new(&JwtSettings {
            secret: b"a-test-secret-that-is-at-least-32-bytes".to_vec(),
            lifetime: Duration::from_secs(lifetime),
        }))
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            user_id: UserId::new(7).expect("a valid id"),
            role: Role::User,
            token_version: 3,
        }
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache_with_its_claims() {
        let jwt = issuer(600);
        let verifier = CachedTokenVerifier::new(jwt.clone(), 10);
        let token = jwt.issue(&claims(), Utc::now()).expect("issued").token;
        assert_eq!(verifier.verify(&token), Ok(claims()));
        verifier.verified.run_pending_tasks();
        assert_eq!(verifier.verified.entry_count(), 1);
        // What is kept is what is served: another version planted under the same token.
        let planted = AccessClaims {
            token_version: 9,
            ..claims()
        };
        verifier.verified.insert(
            Box::from(token.as_str()),
            (planted.clone(), unix_now() + 60),
        );
        assert_eq!(verifier.verify(&token), Ok(planted));
    }

    #[test]
    fn tampered_and_foreign_tokens_are_refused_and_not_kept() {
        let jwt = issuer(600);
        let verifier = CachedTokenVerifier::new(jwt.clone(), 10);
        let token = jwt.issue(&claims(), Utc::now()).expect("issued").token;
        assert!(verifier.verify(&token).is_ok());
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(verifier.verify(&tampered), Err(TokenError::Invalid));
        let foreign = JwtTokenIssuer::new(&JwtSettings {
            secret: b"another-secret-that-is-at-least-32-bytes".to_vec(),
            lifetime: Duration::from_secs(600),
        })
        .issue(&claims(), Utc::now())
        .expect("issued")
        .token;
        assert_eq!(verifier.verify(&foreign), Err(TokenError::Invalid));
        verifier.verified.run_pending_tasks();
        assert_eq!(verifier.verified.entry_count(), 1, "only the good token");
    }

    #[test]
    fn a_kept_token_past_its_expiry_is_refused() {
        let jwt = issuer(600);
        let verifier = CachedTokenVerifier::new(jwt.clone(), 10);
        let token = jwt.issue(&claims(), Utc::now()).expect("issued").token;
        // As if the token had been kept when it verified and had since expired.
        let stale = AccessClaims {
            token_version: 9,
            ..claims()
        };
        verifier.verified.insert(
            Box::from(token.as_str()),
            (stale, unix_now() - JwtTokenIssuer::LEEWAY_SECONDS - 1),
        );
        assert_eq!(
            verifier.verify(&token),
            Ok(claims()),
            "checked again in full"
        );
        let expired = jwt
            .issue(&claims(), Utc::now() - chrono::Duration::seconds(700))
            .expect("issued")
            .token;
        verifier.verified.insert(
            Box::from(expired.as_str()),
            (claims(), unix_now() - JwtTokenIssuer::LEEWAY_SECONDS - 1),
        );
        assert_eq!(verifier.verify(&expired), Err(TokenError::Expired));
        assert!(verifier.verified.get(expired.as_str()).is_none());
    }
}
