//! [`OpaqueTokens`]: 256-bit random tokens, base64url-encoded, stored as SHA-256 hex.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use vidgen_application::auth::ports::{OpaqueToken, OpaqueTokens, TokenHash};

/// Random tokens from the operating system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomOpaqueTokens;

impl OpaqueTokens for RandomOpaqueTokens {
    fn generate(&self) -> OpaqueToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let plain = URL_SAFE_NO_PAD.encode(bytes);
        let hash = self.hash(&plain);
        OpaqueToken { plain, hash }
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
    fn tokens_are_random_and_hashed_consistently() {
        let tokens = RandomOpaqueTokens;
        let a = tokens.generate();
        let b = tokens.generate();
        assert_ne!(a.plain, b.plain);
        assert_eq!(a.plain.len(), 43);
        assert_eq!(a.hash, tokens.hash(&a.plain));
        assert_eq!(a.hash.0.len(), 64);
        assert_ne!(a.hash.0, a.plain);
    }
}
