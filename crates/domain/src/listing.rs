//! Paging and sorting of collections: the limits every list endpoint shares.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Fewest characters of a `search` filter, once trimmed.
pub const SEARCH_MIN_LEN: usize = 1;
/// Most characters of a `search` filter.
pub const SEARCH_MAX_LEN: usize = 200;

/// Which window of a collection to return: `skip` rows, then at most `limit` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    skip: u64,
    limit: u64,
}

/// A `skip` or `limit` outside the contract's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("limit must be between {} and {}", Page::MIN_LIMIT, Page::MAX_LIMIT)]
    LimitOutOfRange,
    #[error("skip must be at most {}", Page::MAX_SKIP)]
    SkipTooLarge,
    #[error("skip must be at least {}", Page::DEFAULT_SKIP)]
    SkipNegative,
}

impl Page {
    /// Smallest page size a client may ask for.
    pub const MIN_LIMIT: u64 = 1;
    /// Largest page size a client may ask for.
    pub const MAX_LIMIT: u64 = 1000;
    /// Page size when the client does not say.
    pub const DEFAULT_LIMIT: u64 = 100;
    /// Rows skipped when the client does not say.
    pub const DEFAULT_SKIP: u64 = 0;
    /// Largest offset accepted (keeps offsets inside a signed 64-bit SQL integer).
    pub const MAX_SKIP: u64 = i64::MAX as u64;

    /// Builds a page, refusing values outside the contract's bounds.
    ///
    /// # Errors
    /// `LimitOutOfRange` when `limit` is not in `MIN_LIMIT..=MAX_LIMIT`,
    /// `SkipTooLarge` when `skip` exceeds `MAX_SKIP`.
    pub fn new(skip: u64, limit: u64) -> Result<Self, PageError> {
        if !(Self::MIN_LIMIT..=Self::MAX_LIMIT).contains(&limit) {
            return Err(PageError::LimitOutOfRange);
        }
        if skip > Self::MAX_SKIP {
            return Err(PageError::SkipTooLarge);
        }
        Ok(Self { skip, limit })
    }

    /// Builds a page from signed numbers as a client sends them, reporting every bound
    /// broken (a negative `skip` and a `limit` out of range together).
    ///
    /// # Errors
    /// `SkipNegative` below zero, `LimitOutOfRange` outside `MIN_LIMIT..=MAX_LIMIT`.
    pub fn from_signed(skip: i64, limit: i64) -> Result<Self, Vec<PageError>> {
        let mut errors = Vec::new();
        let skip = u64::try_from(skip).map_err(|_| errors.push(PageError::SkipNegative));
        let limit = u64::try_from(limit)
            .ok()
            .filter(|limit| (Self::MIN_LIMIT..=Self::MAX_LIMIT).contains(limit))
            .ok_or_else(|| errors.push(PageError::LimitOutOfRange));
        match (skip, limit) {
            (Ok(skip), Ok(limit)) => Self::new(skip, limit).map_err(|e| vec![e]),
            _ => Err(errors),
        }
    }

    pub fn skip(&self) -> u64 {
        self.skip
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Number of pages needed for `total` rows at this page size: ceil(total / limit).
    pub fn page_count(&self, total: u64) -> u64 {
        total.div_ceil(self.limit)
    }

    /// The page after this one, if rows remain beyond it.
    pub fn next(&self, total: u64) -> Option<Page> {
        let next_skip = self.skip.checked_add(self.limit)?;
        (next_skip < total).then_some(Page {
            skip: next_skip,
            limit: self.limit,
        })
    }

    /// The page before this one, if this one does not start at the first row.
    pub fn prev(&self) -> Option<Page> {
        (self.skip > 0).then(|| Page {
            skip: self.skip.saturating_sub(self.limit),
            limit: self.limit,
        })
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            skip: 0,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// Direction of a sort. The contract's default is descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

impl SortOrder {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

impl fmt::Display for SortOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sort order that is neither `asc` nor `desc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sort_order must be `asc` or `desc`")]
pub struct SortOrderError;

impl FromStr for SortOrder {
    type Err = SortOrderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            _ => Err(SortOrderError),
        }
    }
}

/// One page of a collection together with the number of rows matching the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: Page,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_at_the_boundaries() {
        let cases = [
            (0, 0, Err(PageError::LimitOutOfRange)),
            (0, 1, Ok(())),
            (0, 1000, Ok(())),
            (0, 1001, Err(PageError::LimitOutOfRange)),
            (Page::MAX_SKIP, 10, Ok(())),
            (Page::MAX_SKIP + 1, 10, Err(PageError::SkipTooLarge)),
        ];
        for (skip, limit, expected) in cases {
            assert_eq!(
                Page::new(skip, limit).map(|_| ()),
                expected,
                "skip={skip} limit={limit}"
            );
        }
    }

    #[test]
    fn signed_pages_report_every_broken_bound() {
        use PageError::{LimitOutOfRange as Limit, SkipNegative as Skip};
        type Case = (i64, i64, Result<(), Vec<PageError>>);
        let cases: &[Case] = &[
            (0, 1, Ok(())),
            (i64::MAX, 1000, Ok(())),
            (-1, 10, Err(vec![Skip])),
            (0, -5, Err(vec![Limit])),
            (0, 0, Err(vec![Limit])),
            (0, 1001, Err(vec![Limit])),
            (-1, 0, Err(vec![Skip, Limit])),
            (i64::MIN, i64::MIN, Err(vec![Skip, Limit])),
        ];
        for (skip, limit, expected) in cases {
            assert_eq!(
                &Page::from_signed(*skip, *limit).map(|_| ()),
                expected,
                "skip={skip} limit={limit}"
            );
        }
    }

    #[test]
    fn page_count_rounds_up() {
        let page = Page::new(0, 20).expect("valid page");
        for (total, pages) in [(0, 0), (1, 1), (20, 1), (21, 2), (1000, 50)] {
            assert_eq!(page.page_count(total), pages, "total={total}");
        }
    }

    #[test]
    fn next_and_prev_pages() {
        let first = Page::new(0, 10).expect("valid page");
        assert_eq!(first.prev(), None);
        assert_eq!(first.next(25), Page::new(10, 10).ok());
        let last = Page::new(20, 10).expect("valid page");
        assert_eq!(last.next(25), None);
        assert_eq!(last.prev(), Page::new(10, 10).ok());
        let odd = Page::new(5, 10).expect("valid page");
        assert_eq!(odd.prev(), Page::new(0, 10).ok());
    }

    #[test]
    fn sort_order_parses_only_the_two_values() {
        assert_eq!("asc".parse(), Ok(SortOrder::Asc));
        assert_eq!("desc".parse(), Ok(SortOrder::Desc));
        for bad in ["ASC", "", "up", " asc"] {
            assert!(bad.parse::<SortOrder>().is_err(), "{bad:?} should fail");
        }
        assert_eq!(SortOrder::default(), SortOrder::Desc);
    }
}
