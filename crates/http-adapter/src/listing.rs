//! Query parameters every list endpoint shares: paging, search, sort column and order.

use std::marker::PhantomData;

use paperclip::actix::Apiv2Schema;
use paperclip::v2::models::{DataType, DefaultSchemaRaw};
use serde::{Deserialize, Deserializer};
use vidgen_application::users::ports::UserSortField;
use vidgen_application::videos::ports::VideoSortField;
use vidgen_domain::listing::{Page, PageError, SEARCH_MAX_LEN, SEARCH_MIN_LEN, SortOrder};
use vidgen_domain::text;

use crate::error::{ApiError, FieldError};
use crate::registry::{Constraint as C, ParamDoc};

/// Constraints of the paging and search parameters, from the domain's bounds.
pub const PARAM_DOCS: &[ParamDoc] = &[
    ParamDoc {
        name: "skip",
        constraints: &[C::Minimum(0), C::DefaultInt(Page::DEFAULT_SKIP as i64)],
    },
    ParamDoc {
        name: "limit",
        constraints: &[
            C::Minimum(Page::MIN_LIMIT as i64),
            C::Maximum(Page::MAX_LIMIT as i64),
            C::DefaultInt(Page::DEFAULT_LIMIT as i64),
        ],
    },
    ParamDoc {
        name: "search",
        constraints: &[
            C::MinLength(SEARCH_MIN_LEN as u64),
            C::MaxLength(SEARCH_MAX_LEN as u64),
        ],
    },
];

/// A closed set of columns a collection may be sorted by, named on the wire as the
/// application names them.
pub trait SortColumn: Copy + Sized + 'static {
    /// Every column's wire name, in the order the document lists them.
    const NAMES: &'static [&'static str];
    fn parse(raw: &str) -> Option<Self>;
}

/// The wire names of a sort enum's `ALL`, computed at compile time.
macro_rules! wire_names {
    ($field:ty) => {{
        let mut out = [""; <$field>::ALL.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = <$field>::ALL[i].as_str();
            i += 1;
        }
        out
    }};
}

const USER_SORT_NAMES: [&str; UserSortField::ALL.len()] = wire_names!(UserSortField);
const VIDEO_SORT_NAMES: [&str; VideoSortField::ALL.len()] = wire_names!(VideoSortField);

impl SortColumn for UserSortField {
    const NAMES: &'static [&'static str] = &USER_SORT_NAMES;

    fn parse(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
}

impl SortColumn for VideoSortField {
    const NAMES: &'static [&'static str] = &VIDEO_SORT_NAMES;

    fn parse(raw: &str) -> Option<Self> {
        Self::parse(raw)
    }
}

/// A `sort_by` parameter: one of `F`'s columns.
#[derive(Debug, Clone, Copy)]
pub struct SortBy<F>(F);

impl<F> SortBy<F> {
    pub fn get(self) -> F {
        self.0
    }
}

impl<'de, F: SortColumn> Deserialize<'de> for SortBy<F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<F>(PhantomData<F>);
        impl<F: SortColumn> serde::de::Visitor<'_> for Visitor<F> {
            type Value = SortBy<F>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "one of {}", F::NAMES.join(", "))
            }

            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Self::Value, E> {
                F::parse(raw)
                    .map(SortBy)
                    .ok_or_else(|| E::unknown_variant(raw, F::NAMES))
            }
        }
        deserializer.deserialize_str(Visitor(PhantomData))
    }
}

impl<F: SortColumn> paperclip::v2::schema::Apiv2Schema for SortBy<F> {
    fn raw_schema() -> DefaultSchemaRaw {
        DefaultSchemaRaw {
            data_type: Some(DataType::String),
            enum_: F::NAMES
                .iter()
                .map(|name| serde_json::json!(name))
                .collect(),
            ..DefaultSchemaRaw::default()
        }
    }
}

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

/// The problems of the paging and search parameters, each under its own name.
pub fn list_errors(skip: Option<i64>, limit: Option<i64>, search: Option<&str>) -> Vec<FieldError> {
    let mut errors = page_errors(skip, limit);
    errors.extend(search_error(search));
    errors
}

fn signed_page(skip: Option<i64>, limit: Option<i64>) -> Result<Page, Vec<PageError>> {
    let or_default = |value: Option<i64>, default: u64| {
        value.unwrap_or_else(|| i64::try_from(default).unwrap_or(i64::MAX))
    };
    Page::from_signed(
        or_default(skip, Page::DEFAULT_SKIP),
        or_default(limit, Page::DEFAULT_LIMIT),
    )
}

fn page_errors(skip: Option<i64>, limit: Option<i64>) -> Vec<FieldError> {
    signed_page(skip, limit)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|error| {
            let field = match error {
                PageError::LimitOutOfRange => "limit",
                PageError::SkipTooLarge | PageError::SkipNegative => "skip",
            };
            FieldError::new(field, error.to_string(), "range")
        })
        .collect()
}

/// The page asked for, with the contract's defaults.
///
/// # Errors
/// 422 naming `limit` and `skip` when out of bounds.
pub fn page(skip: Option<i64>, limit: Option<i64>) -> Result<Page, ApiError> {
    signed_page(skip, limit).map_err(|_| ApiError::Validation(page_errors(skip, limit)))
}

fn search_error(raw: Option<&str>) -> Option<FieldError> {
    let text = raw?;
    if text.trim().chars().count() < SEARCH_MIN_LEN {
        return Some(FieldError::new(
            "search",
            format!("must contain at least {SEARCH_MIN_LEN} character"),
            "too_short",
        ));
    }
    if text.chars().count() > SEARCH_MAX_LEN {
        return Some(FieldError::new(
            "search",
            format!("must be at most {SEARCH_MAX_LEN} characters"),
            "too_long",
        ));
    }
    text::check_single_line(text)
        .err()
        .map(|e| FieldError::new("search", e.to_string(), e.code()))
}

/// A `search` filter: `SEARCH_MIN_LEN..=SEARCH_MAX_LEN` characters of one line, trimmed.
///
/// # Errors
/// 422 naming `search` when empty, too long or holding a control character.
pub fn search(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match search_error(raw.as_deref()) {
        Some(error) => Err(ApiError::Validation(vec![error])),
        None => Ok(raw.map(|text| text.trim().to_owned())),
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
