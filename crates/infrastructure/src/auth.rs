//! Token adapters: signed JWT access tokens and random opaque tokens.

mod jwt;
mod opaque;

pub use jwt::{JwtSettings, JwtTokenIssuer};
pub use opaque::RandomOpaqueTokens;
