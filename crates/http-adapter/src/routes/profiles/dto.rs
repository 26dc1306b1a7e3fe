//! Wire types of profiles: `Address`, the `PUT` body and `UserProfile`, with their rules
//! (the domain's, reported per field with dotted paths such as `address.zip_code`).

use std::collections::BTreeMap;

use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vidgen_application::profiles::read::UserProfile as Profile;
use vidgen_application::profiles::replace::ReplaceProfile;
use vidgen_domain::users::profile::{self, AddressInput, CountryCode, Preferences};

use crate::error::{ApiError, FieldError};
use crate::routes::users::dto::UserResponse;
use crate::validation::Validated;

/// A postal address.
#[derive(Debug, Clone, Deserialize, Serialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number (one line, trimmed).
    #[openapi(example = "\"221B Baker Street\"")]
    pub street: String,
    /// City.
    #[openapi(example = "\"London\"")]
    pub city: String,
    /// State, province or region.
    #[openapi(example = "\"Greater London\"")]
    pub state: String,
    /// Postal code: letters, digits, spaces and `-`.
    #[openapi(example = "\"NW1 6XE\"")]
    pub zip_code: String,
    /// The country's ISO 3166-1 two-letter code (any case on input, upper-case on output).
    #[openapi(example = "\"GB\"")]
    pub country: String,
}

impl Address {
    fn input(&self) -> AddressInput {
        AddressInput {
            street: self.street.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip_code: self.zip_code.clone(),
            country: self.country.clone(),
        }
    }
}

impl From<&profile::Address> for Address {
    fn from(address: &profile::Address) -> Self {
        Self {
            street: address.street().to_owned(),
            city: address.city().to_owned(),
            state: address.state().to_owned(),
            zip_code: address.zip_code().to_owned(),
            country: address.country().to_string(),
        }
    }
}

/// A whole profile: what is left out is cleared (`address` null, `preferences` empty).
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ProfileReplace {
    /// The postal address, or null for none.
    pub address: Option<Address>,
    /// Any JSON object of the user's settings (not interpreted by the service), with no
    /// control character in any key or text.
    #[openapi(example = "{\"theme\": \"dark\", \"language\": \"en\"}")]
    pub preferences: Option<BTreeMap<String, Value>>,
}

impl ProfileReplace {
    fn preferences_map(&self) -> serde_json::Map<String, Value> {
        self.preferences
            .as_ref()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The request, once [`Validated::field_errors`] found nothing.
    ///
    /// # Errors
    /// 422 with every problem (never expected after validation).
    pub fn try_into_domain(self) -> Result<ReplaceProfile, ApiError> {
        let errors = self.field_errors();
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let invalid =
            || ApiError::Validation(vec![FieldError::new("__all__", "invalid value", "invalid")]);
        let address = self
            .address
            .as_ref()
            .map(|a| profile::Address::parse(&a.input()))
            .transpose()
            .map_err(|_| invalid())?;
        let preferences = Preferences::parse(self.preferences_map()).map_err(|_| invalid())?;
        Ok(ReplaceProfile {
            address,
            preferences,
        })
    }
}

impl Validated for ProfileReplace {
    fn field_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(address) = &self.address
            && let Err(violations) = profile::Address::parse(&address.input())
        {
            errors.extend(
                violations
                    .into_iter()
                    .map(|v| FieldError::new(format!("address.{}", v.field), v.message, v.code)),
            );
        }
        if let Err(broken) = Preferences::parse(self.preferences_map()) {
            errors.extend(
                broken
                    .into_iter()
                    .map(|e| FieldError::new("preferences", e.to_string(), e.code())),
            );
        }
        errors
    }
}

/// A user with their profile.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserProfile {
    /// The whole user, as `GET /api/v1/users/{user_id}` answers it.
    pub user: UserResponse,
    /// The postal address, null when none was given.
    pub address: Option<Address>,
    /// The user's settings, `{}` when none were given.
    #[openapi(example = "{\"theme\": \"dark\", \"language\": \"en\"}")]
    pub preferences: BTreeMap<String, Value>,
}

impl UserProfile {
    /// The profile, with the user's avatar link built by `urls`.
    pub fn linked(profile: Profile, urls: &crate::media_links::MediaUrls) -> Self {
        Self {
            address: profile.address.as_ref().map(Address::from),
            preferences: profile.preferences.into_map().into_iter().collect(),
            user: UserResponse::linked(profile.user, urls),
        }
    }
}

// ---- the numbers the OpenAPI document shows, from the same domain constants -------------

use crate::registry::{ComponentDoc, Constraint as C, FieldDoc};
use profile::Address as Rules;

const STREET: &[C] = &[
    C::MinLength(Rules::MIN_LEN as u64),
    C::MaxLength(Rules::STREET_MAX_LEN as u64),
];
const CITY: &[C] = &[
    C::MinLength(Rules::MIN_LEN as u64),
    C::MaxLength(Rules::CITY_MAX_LEN as u64),
];
const STATE: &[C] = &[
    C::MinLength(Rules::MIN_LEN as u64),
    C::MaxLength(Rules::STATE_MAX_LEN as u64),
];
const ZIP_CODE: &[C] = &[
    C::MinLength(Rules::MIN_LEN as u64),
    C::MaxLength(Rules::ZIP_CODE_MAX_LEN as u64),
    C::Pattern(Rules::ZIP_CODE_PATTERN),
];
const COUNTRY: &[C] = &[
    C::MinLength(CountryCode::LEN as u64),
    C::MaxLength(CountryCode::LEN as u64),
    C::Pattern(CountryCode::PATTERN),
];
const PREFERENCES: &[C] = &[C::MaxProperties(Preferences::MAX_KEYS as u64), C::AnyValues];
const NULLABLE: &[C] = &[C::Nullable];
/// In a replacement, null preferences clear them, like an empty object.
const PREFERENCES_OR_NULL: &[C] = &[
    C::MaxProperties(Preferences::MAX_KEYS as u64),
    C::AnyValues,
    C::Nullable,
];

/// `Address` is its own component, referred to from both bodies.
pub const COMPONENTS: &[ComponentDoc] = &[
    ComponentDoc {
        name: "Address",
        description: "A postal address.",
        at: &[("ProfileReplace", "address"), ("UserProfile", "address")],
    },
    // The embedded user is the API's own `UserResponse` (with its nullable fields).
    ComponentDoc {
        name: "UserResponse",
        description: "A user, as the users routes show it.",
        at: &[("UserProfile", "user")],
    },
];

/// Constraints of the profile wire types.
pub const FIELD_DOCS: &[FieldDoc] = &[
    FieldDoc {
        schema: "Address",
        field: "street",
        constraints: STREET,
    },
    FieldDoc {
        schema: "Address",
        field: "city",
        constraints: CITY,
    },
    FieldDoc {
        schema: "Address",
        field: "state",
        constraints: STATE,
    },
    FieldDoc {
        schema: "Address",
        field: "zip_code",
        constraints: ZIP_CODE,
    },
    FieldDoc {
        schema: "Address",
        field: "country",
        constraints: COUNTRY,
    },
    FieldDoc {
        schema: "ProfileReplace",
        field: "address",
        constraints: NULLABLE,
    },
    FieldDoc {
        schema: "ProfileReplace",
        field: "preferences",
        constraints: PREFERENCES_OR_NULL,
    },
    FieldDoc {
        schema: "UserProfile",
        field: "address",
        constraints: NULLABLE,
    },
    FieldDoc {
        schema: "UserProfile",
        field: "preferences",
        constraints: PREFERENCES,
    },
];
