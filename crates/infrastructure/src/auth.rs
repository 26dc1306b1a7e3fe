//! Token adapters: signed JWT access tokens, random opaque tokens and the keyed tokens of
//! account e-mails.

mod account_tokens;
mod jwt;
mod opaque;
mod verified;

pub use account_tokens::HmacAccountTokens;
pub use jwt::{JwtSettings, JwtTokenIssuer};
pub use opaque::RandomOpaqueTokens;
pub use verified::CachedTokenVerifier;
