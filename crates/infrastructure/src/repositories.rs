//! sea-orm implementations of the repository ports.

mod account_tokens;
mod analytics;
mod cached_users;
mod cached_videos;
mod idempotency;
mod jobs;
mod list_cache;
mod media_references;
mod profiles;
mod refresh_tokens;
mod users;
mod videos;

pub use account_tokens::SeaOrmAccountTokenRepository;
pub use analytics::SeaOrmAnalyticsRepository;
pub use cached_users::CachedUserRepository;
pub use cached_videos::CachedVideoRepository;
pub use idempotency::SeaOrmIdempotencyStore;
pub use jobs::SeaOrmJobQueue;
pub use list_cache::ListCacheOptions;
pub use media_references::SeaOrmMediaReferences;
pub use profiles::SeaOrmProfileRepository;
pub use refresh_tokens::SeaOrmRefreshTokenRepository;
pub use users::SeaOrmUserRepository;
pub use videos::SeaOrmVideoRepository;

use sea_orm::sea_query::{Alias, Expr, SelectStatement};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryOrder, QuerySelect, QueryTrait,
    Select,
};
use vidgen_application::storage::RepositoryError;
use vidgen_domain::listing::{Page, SortOrder};

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

/// The column a page's rows carry their filter's total in.
const PAGE_TOTAL: &str = "vidgen_page_total";

/// `SELECT COUNT(*)` over what `filtered` selects.
fn count_of<E: EntityTrait>(filtered: &Select<E>) -> SelectStatement {
    SelectStatement::new()
        .expr(Expr::cust("COUNT(*)"))
        .from_subquery(filtered.clone().into_query(), Alias::new("vidgen_counted"))
        .to_owned()
}

/// One page of `filtered`, sorted by `sort` then by `tie` (a unique column, so that pages
/// never overlap) in `direction`, and the number of rows `filtered` matches, in one
/// statement: the count rides along as an
/// uncorrelated scalar subquery, which both databases evaluate once per statement, so a
/// list costs one round trip to the database instead of two. Only a page past the end
/// (no rows to carry the count) asks for the count separately.
pub(crate) async fn page_with_total<E, C>(
    db: &C,
    filtered: Select<E>,
    (sort, tie): (E::Column, E::Column),
    direction: SortOrder,
    page: Page,
) -> Result<(Vec<E::Model>, u64), DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
    C: ConnectionTrait,
{
    let count = count_of(&filtered);
    let order = match direction {
        SortOrder::Asc => sea_orm::Order::Asc,
        SortOrder::Desc => sea_orm::Order::Desc,
    };
    let mut statement = filtered
        .clone()
        .order_by(sort, order.clone())
        .order_by(tie, order)
        .offset(page.skip())
        .limit(page.limit())
        .into_query();
    statement.expr_as(
        Expr::SubQuery(None, Box::new(count.clone().into())),
        Alias::new(PAGE_TOTAL),
    );
    let rows = db.query_all(&statement).await?;
    let Some(first) = rows.first() else {
        if page.skip() == 0 {
            return Ok((Vec::new(), 0));
        }
        let total = match db.query_one(&count).await? {
            Some(row) => row.try_get_by_index::<i64>(0)?,
            None => 0,
        };
        return Ok((Vec::new(), u64::try_from(total).unwrap_or(0)));
    };
    let total = u64::try_from(first.try_get::<i64>("", PAGE_TOTAL)?).unwrap_or(0);
    let models = rows
        .iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((models, total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(super::like_contains("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(super::like_contains("plain"), "%plain%");
    }
}
