//! Query parameters every list endpoint shares: paging and sort order.

use paperclip::actix::Apiv2Schema;
use serde::Deserialize;
use vidgen_domain::listing::{Page, PageError, SortOrder};

use crate::error::{ApiError, FieldError};

/// `asc` or `desc`.
#[derive(Debug, Clone, Copy, Deserialize, Apiv2Schema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrderDto {
    Asc,
    Desc,
}

impl From<SortOrderDto> for SortOrder {
    fn from(order: SortOrderDto) -> Self {
        match order {
            SortOrderDto::Asc => Self::Asc,
            SortOrderDto::Desc => Self::Desc,
        }
    }
}

/// The page asked for, with the contract's defaults.
///
/// # Errors
/// 422 naming `limit` or `skip` when out of bounds.
pub fn page(skip: Option<u64>, limit: Option<u64>) -> Result<Page, ApiError> {
    Page::new(skip.unwrap_or(0), limit.unwrap_or(Page::DEFAULT_LIMIT)).map_err(|error| {
        let field = match error {
            PageError::LimitOutOfRange => "limit",
            PageError::SkipTooLarge => "skip",
        };
        ApiError::Validation(vec![FieldError::new(field, error.to_string(), "range")])
    })
}

/// A `search` filter: at least one character once trimmed.
///
/// # Errors
/// 422 naming `search` when empty.
pub fn search(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Err(ApiError::invalid_field(
            "search",
            "must contain at least 1 character",
            "too_short",
        )),
        Some(text) if text.chars().count() > 200 => Err(ApiError::invalid_field(
            "search",
            "must be at most 200 characters",
            "too_long",
        )),
        Some(text) => Ok(Some(text.trim().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_bound() {
        assert_eq!(page(None, None).ok(), Page::new(0, 100).ok());
        for (skip, limit, field) in [(None, Some(0), "limit"), (None, Some(1001), "limit")] {
            match page(skip, limit) {
                Err(ApiError::Validation(errors)) => assert_eq!(errors[0].field, field),
                other => panic!("{skip:?} {limit:?}: {other:?}"),
            }
        }
        assert!(search(Some("  ".into())).is_err());
        assert_eq!(
            search(Some(" ann ".into())).ok().flatten().as_deref(),
            Some("ann")
        );
    }
}
