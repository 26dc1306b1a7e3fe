//! sea-orm implementations of the repository ports.

mod account_tokens;
mod analytics;
mod cached_users;
mod idempotency;
mod jobs;
mod media_references;
mod profiles;
mod refresh_tokens;
mod users;
mod videos;

pub use account_tokens::SeaOrmAccountTokenRepository;
pub use analytics::SeaOrmAnalyticsRepository;
pub use cached_users::CachedUserRepository;
pub use idempotency::SeaOrmIdempotencyStore;
pub use jobs::SeaOrmJobQueue;
pub use media_references::SeaOrmMediaReferences;
pub use profiles::SeaOrmProfileRepository;
pub use refresh_tokens::SeaOrmRefreshTokenRepository;
pub use users::SeaOrmUserRepository;
pub use videos::SeaOrmVideoRepository;

use sea_orm::DbErr;
use vidgen_application::storage::RepositoryError;

pub(crate) fn storage(error: DbErr) -> RepositoryError {
    if crate::database::is_unreachable(&error) {
        RepositoryError::unavailable(error)
    } else {
        RepositoryError::new(error)
    }
}

/// Escapes `%`, `_` and `\` so user input is matched literally inside `LIKE`.
pub(crate) fn like_contains(raw: &str) -> String {
    let mut pattern = String::with_capacity(raw.len() + 2);
    pattern.push('%');
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(super::like_contains("plain"), "%plain%");
    }
}
