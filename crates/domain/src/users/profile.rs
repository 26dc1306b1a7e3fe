//! A user's profile: a postal [`Address`] and free-form [`Preferences`], and the rules of
//! an [`Avatar`] picture.

use std::fmt;

use serde_json::{Map, Value};

use crate::text::{self, ControlCharacters};

/// One broken rule of one field of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressViolation {
    /// The field's name inside the address (`zip_code`).
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

/// The text of an address as a client sent it, before any rule is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput {
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: String,
}

/// A postal address whose every field was checked: trimmed one-line texts within their
/// lengths, and a country that is an assigned ISO 3166-1 alpha-2 code (stored upper-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    street: String,
    city: String,
    state: String,
    zip_code: String,
    country: CountryCode,
}

impl Address {
    pub const STREET_MAX_LEN: usize = 200;
    pub const CITY_MAX_LEN: usize = 100;
    pub const STATE_MAX_LEN: usize = 100;
    pub const ZIP_CODE_MAX_LEN: usize = 20;
    /// Every text field needs at least this many characters (after trimming).
    pub const MIN_LEN: usize = 1;
    /// What a postal code may contain.
    pub const ZIP_CODE_PATTERN: &'static str = "^[A-Za-z0-9][A-Za-z0-9 -]*$";

    /// Checks every field.
    ///
    /// # Errors
    /// Every broken rule of every field, in field order.
    pub fn parse(input: &AddressInput) -> Result<Self, Vec<AddressViolation>> {
        let mut violations = Vec::new();
        let street = line(
            &input.street,
            "street",
            Self::STREET_MAX_LEN,
            &mut violations,
        );
        let city = line(&input.city, "city", Self::CITY_MAX_LEN, &mut violations);
        let state = line(&input.state, "state", Self::STATE_MAX_LEN, &mut violations);
        let zip_code = line(
            &input.zip_code,
            "zip_code",
            Self::ZIP_CODE_MAX_LEN,
            &mut violations,
        )
        .filter(|zip| {
            let valid = zip
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
                && zip.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
            if !valid {
                violations.push(AddressViolation {
                    field: "zip_code",
                    code: "pattern",
                    message: "may contain only letters, digits, spaces and `-`, starting with a letter or digit".into(),
                });
            }
            valid
        });
        let country = match CountryCode::parse(&input.country) {
            Ok(country) => Some(country),
            Err(error) => {
                violations.push(AddressViolation {
                    field: "country",
                    code: error.code(),
                    message: error.to_string(),
                });
                None
            }
        };
        match (street, city, state, zip_code, country) {
            (Some(street), Some(city), Some(state), Some(zip_code), Some(country))
                if violations.is_empty() =>
            {
                Ok(Self {
                    street,
                    city,
                    state,
                    zip_code,
                    country,
                })
            }
            _ => Err(violations),
        }
    }

    pub fn street(&self) -> &str {
        &self.street
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub fn state(&self) -> &str {
        &self.state
    }

    pub fn zip_code(&self) -> &str {
        &self.zip_code
    }

    pub fn country(&self) -> &CountryCode {
        &self.country
    }
}

/// A trimmed one-line text of `1..=max` characters, or its violations.
fn line(
    raw: &str,
    field: &'static str,
    max: usize,
    violations: &mut Vec<AddressViolation>,
) -> Option<String> {
    if text::check_single_line(raw).is_err() {
        violations.push(AddressViolation {
            field,
            code: ControlCharacters::CODE,
            message: ControlCharacters.to_string(),
        });
        return None;
    }
    let trimmed = raw.trim();
    let length = trimmed.chars().count();
    if length < Address::MIN_LEN {
        violations.push(AddressViolation {
            field,
            code: "too_short",
            message: "must not be empty".into(),
        });
        None
    } else if length > max {
        violations.push(AddressViolation {
            field,
            code: "too_long",
            message: format!("must be at most {max} characters"),
        });
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// An ISO 3166-1 alpha-2 country code (`US`, `DE`), checked against the maintained list
/// of the `celes` crate, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountryCode(&'static str);

/// Why a country code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CountryCodeError {
    #[error("must be two letters (an ISO 3166-1 alpha-2 code)")]
    Shape,
    #[error("is not an ISO 3166-1 alpha-2 country code")]
    Unknown,
}

impl CountryCodeError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Shape => "pattern",
            Self::Unknown => "country",
        }
    }
}

impl CountryCode {
    pub const LEN: usize = 2;
    pub const PATTERN: &'static str = "^[A-Za-z]{2}$";
    /// Codes the list carries that ISO 3166-1 has not assigned (Kosovo's user-assigned
    /// `XK`).
    const NOT_ASSIGNED: [&'static str; 1] = ["XK"];

    /// Accepts any letter case; the code is kept upper-case.
    ///
    /// # Errors
    /// `Shape` unless two ASCII letters; `Unknown` when no country has the code.
    pub fn parse(raw: &str) -> Result<Self, CountryCodeError> {
        if raw.len() != Self::LEN || !raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(CountryCodeError::Shape);
        }
        let country = celes::Country::from_alpha2(raw).map_err(|_| CountryCodeError::Unknown)?;
        if Self::NOT_ASSIGNED.contains(&country.alpha2) {
            return Err(CountryCodeError::Unknown);
        }
        Ok(Self(country.alpha2))
    }
}

impl AsRef<str> for CountryCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Why preferences are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PreferencesError {
    #[error("must have at most {} keys", Preferences::MAX_KEYS)]
    TooManyKeys,
    #[error("must be at most {} bytes as JSON", Preferences::MAX_BYTES)]
    TooLarge,
    /// A key or a text value, at any depth, holds a control character (NUL included:
    /// PostgreSQL's `jsonb` cannot store it, and no text field of the API accepts one).
    #[error("keys and texts must not contain control characters")]
    ControlCharacters,
}

impl PreferencesError {
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooManyKeys => "too_many_keys",
            Self::TooLarge => "too_large",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }
}

/// A JSON object of a user's own settings (theme, language, ...), whose content the
/// service does not interpret: at most [`Preferences::MAX_KEYS`] keys at its top level
/// and [`Preferences::MAX_BYTES`] bytes written as compact JSON, with no control
/// character in any key or text at any depth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences(Map<String, Value>);

impl Preferences {
    pub const MAX_KEYS: usize = 50;
    pub const MAX_BYTES: usize = 16 * 1024;

    /// # Errors
    /// Every broken rule: too many keys, too large, control characters.
    pub fn parse(object: Map<String, Value>) -> Result<Self, Vec<PreferencesError>> {
        let mut errors = Vec::new();
        if object.len() > Self::MAX_KEYS {
            errors.push(PreferencesError::TooManyKeys);
        }
        if compact_len(&object) > Self::MAX_BYTES {
            errors.push(PreferencesError::TooLarge);
        }
        if !texts_are_single_line(&object) {
            errors.push(PreferencesError::ControlCharacters);
        }
        if errors.is_empty() {
            Ok(Self(object))
        } else {
            Err(errors)
        }
    }

    /// Preferences read back from storage, taken as they are: they were checked when
    /// written, under the rules of their time (control characters were accepted before
    /// they were refused), and a profile must stay readable.
    pub fn from_stored(object: Map<String, Value>) -> Self {
        Self(object)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

/// Whether every key and text value of `object`, at any depth, is free of control
/// characters (walked with a stack: the depth is whatever the client nested).
fn texts_are_single_line(object: &Map<String, Value>) -> bool {
    let single = |raw: &str| text::check_single_line(raw).is_ok();
    let keys_single = |map: &Map<String, Value>| map.keys().all(|key| single(key));
    if !keys_single(object) {
        return false;
    }
    let mut pending: Vec<&Value> = object.values().collect();
    while let Some(value) = pending.pop() {
        match value {
            Value::String(raw) if !single(raw) => return false,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) if !keys_single(map) => return false,
            Value::Object(map) => pending.extend(map.values()),
            _ => {}
        }
    }
    true
}

/// The length of `object` written as compact JSON.
fn compact_len(object: &Map<String, Value>) -> usize {
    /// Counts bytes without keeping them.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a map of JSON values into a counter cannot fail; count it as too large if
    // it somehow did.
    match serde_json::to_writer(&mut counter, object) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// The image formats an avatar may be sent (and is stored) in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Png,
    Jpeg,
    WebP,
}

impl ImageFormat {
    pub const ALL: [Self; 3] = [Self::Png, Self::Jpeg, Self::WebP];

    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::WebP => "image/webp",
        }
    }

    /// The extension of a stored file of this format.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::WebP => "webp",
        }
    }

    /// The format of a stored file, from its extension.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }
}

/// The rules of avatar pictures.
#[derive(Debug, Clone, Copy)]
pub struct Avatar;

impl Avatar {
    /// The stored picture fits in a square of this many pixels (larger ones are scaled
    /// down, keeping their proportions).
    pub const MAX_SIDE: u32 = 512;
    /// A picture whose header declares a side longer than this is refused before it is
    /// decoded (a decompression bomb declares huge dimensions in a few bytes).
    pub const MAX_SOURCE_SIDE: u32 = 4096;
    /// A picture declaring more pixels than this is refused before it is decoded. Decoding
    /// costs time and memory in proportion to the pixels, whatever the file's size, so
    /// this bounds what one request may cost; a phone camera's 12-megapixel photo
    /// (4000x3000) fits.
    pub const MAX_SOURCE_PIXELS: u64 = 16_000_000;

    /// Whether a picture declaring `width` x `height` may be decoded.
    pub fn source_fits(width: u32, height: u32) -> bool {
        width > 0
            && height > 0
            && width <= Self::MAX_SOURCE_SIDE
            && height <= Self::MAX_SOURCE_SIDE
            && u64::from(width) * u64::from(height) <= Self::MAX_SOURCE_PIXELS
    }

    /// The size a `width` x `height` picture is stored at: unchanged when it fits in
    /// [`Avatar::MAX_SIDE`], otherwise scaled down to fit, keeping its proportions.
    pub fn stored_size(width: u32, height: u32) -> (u32, u32) {
        let longest = width.max(height);
        if longest <= Self::MAX_SIDE {
            return (width, height);
        }
        let scale = |side: u32| {
            let scaled = u64::from(side) * u64::from(Self::MAX_SIDE) / u64::from(longest);
            u32::try_from(scaled).unwrap_or(Self::MAX_SIDE).max(1)
        };
        (scale(width), scale(height))
    }
}

#[cfg(test)]
mod tests;
