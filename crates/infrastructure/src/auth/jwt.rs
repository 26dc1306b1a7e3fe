//! [`TokenIssuer`] and [`TokenVerifier`] with HS256 JSON Web Tokens.
//!
//! Tokens carry `sub`, `exp`, `iat`, `nbf`, `iss`, `aud`, `jti`, the user's role and
//! token version. Verification accepts HS256 only (so `alg: none` and every other
//! algorithm are refused) and requires every one of those claims.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use vidgen_application::auth::ports::{
    AccessClaims, IssueError, IssuedAccessToken, TokenError, TokenIssuer, TokenVerifier,
};
use vidgen_domain::users::{Role, UserId};

/// Issuer and audience written into (and required from) every token.
pub const ISSUER: &str = "vidgen";
pub const AUDIENCE: &str = "vidgen-api";

/// How tokens are signed and how long they live.
#[derive(Clone)]
pub struct JwtSettings {
    pub secret: Vec<u8>,
    pub lifetime: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"[redacted]")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    iss: String,
    aud: String,
    jti: String,
    role: String,
    ver: i64,
}

/// Signs and verifies access tokens.
pub struct JwtTokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
}

impl std::fmt::Debug for JwtTokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokenIssuer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl JwtTokenIssuer {
    pub fn new(settings: &JwtSettings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = ["exp", "nbf", "iat", "iss", "aud", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = Self::LEEWAY_SECONDS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(&settings.secret),
            decoding: DecodingKey::from_secret(&settings.secret),
            validation,
            lifetime: settings.lifetime,
        }
    }
}

impl TokenIssuer for JwtTokenIssuer {
    fn issue(
        &self,
        claims: &AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, IssueError> {
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let issued_at = now.timestamp();
        let body = Claims {
            sub: claims.user_id.get().to_string(),
            exp: issued_at.saturating_add(lifetime),
            iat: issued_at,
            nbf: issued_at,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            role: claims.role.as_str().to_owned(),
            ver: claims.token_version,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &body, &self.encoding)
            .map_err(|e| IssueError(Box::new(e)))?;
        Ok(IssuedAccessToken {
            token,
            expires_in_seconds: self.lifetime.as_secs(),
        })
    }
}

impl TokenVerifier for JwtTokenIssuer {
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify_until(token).map(|(claims, _)| claims)
    }
}

impl JwtTokenIssuer {
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub const LEEWAY_SECONDS: i64 = 5;

    /// What [`TokenVerifier::verify`] returns, with the token's `exp` (Unix seconds).
    ///
    /// # Errors
    /// As [`TokenVerifier::verify`].
    pub fn verify_until(&self, token: &str) -> Result<(AccessClaims, i64), TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        let claims = data.claims;
        let user_id = claims
            .sub
            .parse::<i64>()
            .ok()
            .and_then(UserId::new)
            .ok_or(TokenError::Invalid)?;
        let role = claims
            .role
            .parse::<Role>()
            .map_err(|_| TokenError::Invalid)?;
        if uuid::Uuid::parse_str(&claims.jti).is_err() {
            return Err(TokenError::Invalid);
        }
        Ok((
            AccessClaims {
                user_id,
                role,
                token_version: claims.ver,
            },
            claims.exp,
        ))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const SECRET: &[u8] = b"a-test-secret-that-is-at-least-32-bytes";

    fn issuer(secret: &[u8], lifetime: u64) -> JwtTokenIssuer {
        JwtTokenIssuer::new(&JwtSettings {
            secret: secret.to_vec(),
            lifetime: Duration::from_secs(lifetime),
        })
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            user_id: UserId::new(42).expect("id"),
            role: Role::Moderator,
            token_version: 3,
        }
    }

    fn encode_raw(header: &serde_json::Value, body: &serde_json::Value, secret: &[u8]) -> String {
        use hmac_sign::sign;
        let head = URL_SAFE_NO_PAD.encode(header.to_string());
        let payload = URL_SAFE_NO_PAD.encode(body.to_string());
        let signature = sign(format!("{head}.{payload}").as_bytes(), secret);
        format!("{head}.{payload}.{signature}")
    }

    /// HS256 signatures for hand-made tokens, through jsonwebtoken's own signer.
    mod hmac_sign {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;

        pub fn sign(message: &[u8], secret: &[u8]) -> String {
            let key = jsonwebtoken::EncodingKey::from_secret(secret);
            let signature =
                jsonwebtoken::crypto::sign(message, &key, jsonwebtoken::Algorithm::HS256)
                    .expect("sign");
            // `crypto::sign` already returns base64url; normalise in case of padding.
            URL_SAFE_NO_PAD.encode(
                URL_SAFE_NO_PAD
                    .decode(signature.trim_end_matches('='))
                    .expect("b64"),
            )
        }
    }

    fn valid_body(now: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": "42", "exp": now + 600, "iat": now, "nbf": now, "iss": ISSUER,
            "aud": AUDIENCE, "jti": uuid::Uuid::new_v4().to_string(), "role": "user", "ver": 0
        })
    }

    #[test]
    fn issued_tokens_verify_back_to_their_claims() {
        let issuer = issuer(SECRET, 1800);
        let token = issuer.issue(&claims(), Utc::now()).expect("issue");
        assert_eq!(token.expires_in_seconds, 1800);
        assert_eq!(issuer.verify(&token.token), Ok(claims()));
    }

    #[test]
    fn hand_made_valid_tokens_verify() {
        let now = Utc::now().timestamp();
        let token = encode_raw(
            &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
            &valid_body(now),
            SECRET,
        );
        assert!(issuer(SECRET, 60).verify(&token).is_ok());
    }

    #[test]
    fn attacks_are_refused() {
        let now = Utc::now().timestamp();
        let issuer = issuer(SECRET, 60);
        let hs256 = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        let mut cases: Vec<(&str, String, TokenError)> = Vec::new();

        let mut expired = valid_body(now);
        expired["exp"] = serde_json::json!(now - 3600);
        expired["iat"] = serde_json::json!(now - 7200);
        expired["nbf"] = serde_json::json!(now - 7200);
        cases.push((
            "expired",
            encode_raw(&hs256, &expired, SECRET),
            TokenError::Expired,
        ));

        cases.push((
            "wrong key",
            encode_raw(
                &hs256,
                &valid_body(now),
                b"another-secret-also-32-bytes-long!!",
            ),
            TokenError::Invalid,
        ));
        let mut audience = valid_body(now);
        audience["aud"] = serde_json::json!("someone-else");
        cases.push((
            "wrong audience",
            encode_raw(&hs256, &audience, SECRET),
            TokenError::Invalid,
        ));
        let mut issuer_claim = valid_body(now);
        issuer_claim["iss"] = serde_json::json!("evil");
        cases.push((
            "wrong issuer",
            encode_raw(&hs256, &issuer_claim, SECRET),
            TokenError::Invalid,
        ));
        let mut future = valid_body(now);
        future["nbf"] = serde_json::json!(now + 3600);
        cases.push((
            "not yet valid",
            encode_raw(&hs256, &future, SECRET),
            TokenError::Invalid,
        ));
        let mut missing = valid_body(now);
        if let Some(map) = missing.as_object_mut() {
            map.remove("nbf");
        }
        cases.push((
            "missing nbf",
            encode_raw(&hs256, &missing, SECRET),
            TokenError::Invalid,
        ));
        let mut bad_sub = valid_body(now);
        bad_sub["sub"] = serde_json::json!("0");
        cases.push((
            "non-positive subject",
            encode_raw(&hs256, &bad_sub, SECRET),
            TokenError::Invalid,
        ));

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let none_payload = URL_SAFE_NO_PAD.encode(valid_body(now).to_string());
        cases.push((
            "alg none",
            format!("{none_header}.{none_payload}."),
            TokenError::Invalid,
        ));

        let key = EncodingKey::from_secret(SECRET);
        let other_alg =
            jsonwebtoken::encode(&Header::new(Algorithm::HS512), &valid_body(now), &key)
                .expect("encode");
        cases.push(("HS512", other_alg, TokenError::Invalid));

        let good = encode_raw(&hs256, &valid_body(now), SECRET);
        let mut parts: Vec<&str> = good.split('.').collect();
        let mut tampered_body = valid_body(now);
        tampered_body["role"] = serde_json::json!("admin");
        let tampered_payload = URL_SAFE_NO_PAD.encode(tampered_body.to_string());
        parts[1] = &tampered_payload;
        cases.push(("tampered payload", parts.join("."), TokenError::Invalid));
        cases.push(("garbage", "not.a.token".to_owned(), TokenError::Invalid));
        cases.push(("empty", String::new(), TokenError::Invalid));

        for (name, token, expected) in cases {
            assert_eq!(issuer.verify(&token), Err(expected), "{name}");
        }
    }
}
