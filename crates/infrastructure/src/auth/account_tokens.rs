//! [`AccountTokens`]: the token of an account e-mail is `HMAC-SHA256(SECRET_KEY, seal)`
//! of a 256-bit random seal, base64url-encoded. The mail job keeps the seal, the token
//! table keeps the token's SHA-256; neither is a usable token without the key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use vidgen_application::account::ports::{AccountTokens, SealedToken};
use vidgen_application::auth::ports::TokenHash;

/// Bytes of randomness in a seal.
const SEAL_BYTES: usize = 32;

/// Separates this use of the key from its others (JWTs, media links).
const CONTEXT: &[u8] = b"vidgen account token v1:";

/// Account tokens keyed with the server's secret.
#[derive(Clone)]
pub struct HmacAccountTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for HmacAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacAccountTokens([redacted])")
    }
}

impl HmacAccountTokens {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn derive(&self, seal: &[u8]) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(CONTEXT);
        mac.update(seal);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl AccountTokens for HmacAccountTokens {
    fn generate(&self) -> SealedToken {
        let mut seal = [0u8; SEAL_BYTES];
        rand::rng().fill_bytes(&mut seal);
        let plain = self.derive(&seal);
        let hash = self.hash(&plain);
        SealedToken {
            seal: URL_SAFE_NO_PAD.encode(seal),
            plain,
            hash,
        }
    }

    fn open(&self, seal: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(seal).ok()?;
        (bytes.len() == SEAL_BYTES).then(|| self.derive(&bytes))
    }

    fn hash(&self, plain: &str) -> TokenHash {
        let digest = Sha256::digest(plain.as_bytes());
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_to_their_token_only_with_the_same_key() {
        let tokens = HmacAccountTokens::new(b"k".repeat(32).as_slice());
        let a = tokens.generate();
        let b = tokens.generate();
        assert_ne!(a.plain, b.plain, "random");
        assert_eq!(a.plain.len(), 43, "256 bits, base64url");
        assert_eq!(tokens.open(&a.seal).as_deref(), Some(a.plain.as_str()));
        assert_eq!(a.hash, tokens.hash(&a.plain));
        assert_eq!(a.hash.0.len(), 64);
        assert_ne!(a.seal, a.plain, "the seal is not the token");

        let other = HmacAccountTokens::new(b"x".repeat(32).as_slice());
        assert_ne!(other.open(&a.seal).as_deref(), Some(a.plain.as_str()));
        for bad in ["", "not base64!", "c2hvcnQ"] {
            assert_eq!(tokens.open(bad), None, "{bad:?}");
        }
    }
}
