//! [`LinkSigner`] by HMAC-SHA256 under a key of its own: the key is derived from
//! `SECRET_KEY` for media links only (an HMAC of a fixed label), so a media link
//! signature can never double as a token signature or the other way round.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vidgen_application::media_links::LinkSigner;

/// What the media link key is derived for (changing it invalidates every link).
const PURPOSE: &[u8] = b"vidgen media links v1";

/// Signs media links. Its `Debug` shows no key material.
///
/// It keeps the MAC already keyed (the key's inner and outer pads hashed once) and clones
/// it per signature: a list of twenty videos signs forty links, and keying each anew
/// doubled the hashing.
#[derive(Clone)]
pub struct HmacLinkSigner {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for HmacLinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacLinkSigner([REDACTED])")
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // An HMAC takes a key of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

impl HmacLinkSigner {
    /// The signer whose key is derived from `secret` (`SECRET_KEY`).
    pub fn new(secret: &[u8]) -> Self {
        let mut derive = mac(secret);
        derive.update(PURPOSE);
        Self {
            keyed: mac(&derive.finalize().into_bytes()),
        }
    }
}

impl LinkSigner for HmacLinkSigner {
    fn sign(&self, message: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(message);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.keyed.clone();
        mac.update(message);
        mac.verify_slice(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let signer = HmacLinkSigner::new(b"a secret key that is long enough for tests");
        let signature = signer.sign(b"GET\n/a\n1\n0");
        assert_eq!(
            signature.len(),
            43,
            "32 bytes, URL-safe base64 without padding"
        );
        assert!(signer.verify(b"GET\n/a\n1\n0", &signature));
        assert!(!signer.verify(b"GET\n/b\n1\n0", &signature));
        let other = HmacLinkSigner::new(b"another secret key that is long enough");
        assert!(!other.verify(b"GET\n/a\n1\n0", &signature));
        assert!(!signer.verify(b"GET\n/a\n1\n0", "not base64!"));
        assert!(!signer.verify(b"GET\n/a\n1\n0", &signature[..20]));
    }

    #[test]
    fn the_link_key_is_not_the_secret_itself() {
        let secret = b"a secret key that is long enough for tests";
        let signer = HmacLinkSigner::new(secret);
        let mut plain = mac(secret);
        plain.update(b"GET\n/a\n1\n0");
        let under_secret = URL_SAFE_NO_PAD.encode(plain.finalize().into_bytes());
        assert_ne!(signer.sign(b"GET\n/a\n1\n0"), under_secret);
    }
}
