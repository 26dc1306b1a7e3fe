use serde_json::{Map, Value, json};

use super::*;

fn valid() -> AddressInput {
    AddressInput {
        street: "221B Baker Street".into(),
        city: "London".into(),
        state: "Greater London".into(),
        zip_code: "NW1 6XE".into(),
        country: "GB".into(),
    }
}

#[test]
fn a_valid_address_is_kept_trimmed_with_an_upper_case_country() {
    let mut input = valid();
    input.city = "  London ".into();
    input.country = "gb".into();
    let address = Address::parse(&input).expect("valid address");
    assert_eq!(address.street(), "221B Baker Street");
    assert_eq!(address.city(), "London");
    assert_eq!(address.state(), "Greater London");
    assert_eq!(address.zip_code(), "NW1 6XE");
    assert_eq!(address.country().as_ref(), "GB");
}

#[test]
fn each_broken_address_rule_names_its_field_and_code() {
    type Edit = fn(&mut AddressInput);
    let cases: &[(&str, Edit, &str, &str)] = &[
        (
            "empty street",
            |a| a.street = String::new(),
            "street",
            "too_short",
        ),
        (
            "blank street",
            |a| a.street = "   ".into(),
            "street",
            "too_short",
        ),
        (
            "long street",
            |a| a.street = "s".repeat(Address::STREET_MAX_LEN + 1),
            "street",
            "too_long",
        ),
        (
            "street with a line break",
            |a| a.street = "a\nb".into(),
            "street",
            "control_characters",
        ),
        (
            "empty city",
            |a| a.city = String::new(),
            "city",
            "too_short",
        ),
        (
            "long city",
            |a| a.city = "c".repeat(Address::CITY_MAX_LEN + 1),
            "city",
            "too_long",
        ),
        (
            "city with NUL",
            |a| a.city = "Lon\0don".into(),
            "city",
            "control_characters",
        ),
        (
            "empty state",
            |a| a.state = String::new(),
            "state",
            "too_short",
        ),
        (
            "long state",
            |a| a.state = "s".repeat(Address::STATE_MAX_LEN + 1),
            "state",
            "too_long",
        ),
        (
            "empty zip",
            |a| a.zip_code = String::new(),
            "zip_code",
            "too_short",
        ),
        (
            "long zip",
            |a| a.zip_code = "1".repeat(Address::ZIP_CODE_MAX_LEN + 1),
            "zip_code",
            "too_long",
        ),
        (
            "zip with punctuation",
            |a| a.zip_code = "12345!".into(),
            "zip_code",
            "pattern",
        ),
        (
            "zip starting with a dash",
            |a| a.zip_code = "-123".into(),
            "zip_code",
            "pattern",
        ),
        (
            "country of three letters",
            |a| a.country = "GBR".into(),
            "country",
            "pattern",
        ),
        (
            "country of digits",
            |a| a.country = "12".into(),
            "country",
            "pattern",
        ),
        (
            "empty country",
            |a| a.country = String::new(),
            "country",
            "pattern",
        ),
        (
            "unassigned country",
            |a| a.country = "ZZ".into(),
            "country",
            "country",
        ),
        (
            "user-assigned country",
            |a| a.country = "XK".into(),
            "country",
            "country",
        ),
        (
            "non-ASCII country",
            |a| a.country = "ÜS".into(),
            "country",
            "pattern",
        ),
    ];
    for (name, edit, field, code) in cases {
        let mut input = valid();
        edit(&mut input);
        let violations = Address::parse(&input).expect_err(name);
        assert_eq!(violations.len(), 1, "{name}: {violations:?}");
        assert_eq!(violations[0].field, *field, "{name}: field");
        assert_eq!(violations[0].code, *code, "{name}: code");
        assert!(!violations[0].message.is_empty(), "{name}: message");
    }
}

#[test]
fn the_longest_allowed_fields_pass() {
    let input = AddressInput {
        street: "s".repeat(Address::STREET_MAX_LEN),
        city: "c".repeat(Address::CITY_MAX_LEN),
        state: "é".repeat(Address::STATE_MAX_LEN),
        zip_code: "9".repeat(Address::ZIP_CODE_MAX_LEN),
        country: "us".into(),
    };
    assert!(Address::parse(&input).is_ok());
}

#[test]
fn every_broken_field_is_reported_at_once() {
    let input = AddressInput {
        street: String::new(),
        city: "x".repeat(Address::CITY_MAX_LEN + 1),
        state: "ok".into(),
        zip_code: "#".into(),
        country: "QQ".into(),
    };
    let fields: Vec<&str> = Address::parse(&input)
        .expect_err("broken")
        .iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["street", "city", "zip_code", "country"]);
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn keys(count: usize) -> Map<String, Value> {
    (0..count).map(|i| (format!("k{i}"), json!(i))).collect()
}

#[test]
fn preferences_within_their_limits_are_kept() {
    let cases: &[(&str, Map<String, Value>)] = &[
        ("empty", Map::new()),
        (
            "nested values",
            object(json!({"theme": "dark", "notify": {"email": true, "days": [1, 2]}})),
        ),
        ("the most keys", keys(Preferences::MAX_KEYS)),
        (
            "texts of any script, emoji and escapes written as text",
            object(json!({"名前": ["Ünïcødé 🎬", {"path": "C:\\tmp", "q": "\"x\""}]})),
        ),
        // {"a":"..."}: 8 bytes of framing around the text.
        (
            "exactly the size limit",
            object(json!({"a": "x".repeat(Preferences::MAX_BYTES - 8)})),
        ),
    ];
    for (name, map) in cases {
        let parsed = Preferences::parse(map.clone()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(parsed.as_map(), map, "{name}");
    }
}

#[test]
fn preferences_beyond_their_limits_are_refused() {
    type Case<'a> = (&'a str, Map<String, Value>, &'a [PreferencesError]);
    let cases: &[Case] = &[
        (
            "one key too many",
            keys(Preferences::MAX_KEYS + 1),
            &[PreferencesError::TooManyKeys],
        ),
        (
            "one byte too many",
            object(json!({"a": "x".repeat(Preferences::MAX_BYTES - 7)})),
            &[PreferencesError::TooLarge],
        ),
        (
            "large nested value",
            object(json!({"deep": {"list": vec!["0123456789"; 2000]}})),
            &[PreferencesError::TooLarge],
        ),
        (
            "NUL in a nested key",
            object(json!({"a": {"b": [{"c\u{0}": 1}]}})),
            &[PreferencesError::ControlCharacters],
        ),
        (
            "a line feed in a text in a list",
            object(json!({"a": ["fine", ["also fine", "not\nfine"]]})),
            &[PreferencesError::ControlCharacters],
        ),
        (
            "an escape character in a top-level key",
            object(json!({"\u{1b}[31m": true})),
            &[PreferencesError::ControlCharacters],
        ),
        (
            "both at once",
            (0..=Preferences::MAX_KEYS)
                .map(|i| (format!("k{i}"), json!("y".repeat(400))))
                .collect(),
            &[PreferencesError::TooManyKeys, PreferencesError::TooLarge],
        ),
    ];
    for (name, map, expected) in cases {
        let errors = Preferences::parse(map.clone()).expect_err(name);
        assert_eq!(&errors, expected, "{name}");
        for error in errors {
            assert!(
                !error.code().is_empty() && !error.to_string().is_empty(),
                "{name}"
            );
        }
    }
}

#[test]
fn avatar_sources_are_bounded_before_decoding() {
    let cases: &[(u32, u32, bool, &str)] = &[
        (1, 1, true, "the smallest picture"),
        (512, 512, true, "the stored square"),
        (4000, 3000, true, "a 12-megapixel photo"),
        (3024, 4032, true, "a portrait phone photo"),
        (Avatar::MAX_SOURCE_SIDE, 3000, true, "the longest side"),
        (Avatar::MAX_SOURCE_SIDE + 1, 10, false, "a side too wide"),
        (10, Avatar::MAX_SOURCE_SIDE + 1, false, "a side too tall"),
        (4000, 4000, true, "exactly the pixel budget"),
        (4000, 4001, false, "one row past the pixel budget"),
        (
            Avatar::MAX_SOURCE_SIDE,
            Avatar::MAX_SOURCE_SIDE,
            false,
            "both sides at the limit: past the pixel budget",
        ),
        (8000, 5000, false, "40 megapixels"),
        (8192, 8192, false, "the former ceiling"),
        (100_000, 100_000, false, "a decompression bomb"),
        (0, 10, false, "no width"),
        (u32::MAX, u32::MAX, false, "the largest header values"),
    ];
    for (width, height, fits, what) in cases {
        assert_eq!(
            Avatar::source_fits(*width, *height),
            *fits,
            "{width}x{height} ({what})"
        );
    }
}

#[test]
fn stored_avatars_fit_the_square_keeping_proportions() {
    /// (source size, stored size)
    type Case = ((u32, u32), (u32, u32));
    let cases: &[Case] = &[
        ((100, 50), (100, 50)),
        ((512, 512), (512, 512)),
        ((1024, 1024), (512, 512)),
        ((2000, 1000), (512, 256)),
        ((600, 3000), (102, 512)),
        ((8000, 1), (512, 1)),
    ];
    for (source, stored) in cases {
        assert_eq!(
            Avatar::stored_size(source.0, source.1),
            *stored,
            "{source:?}"
        );
    }
}

#[test]
fn image_formats_round_trip_through_their_extension() {
    for format in ImageFormat::ALL {
        assert_eq!(
            ImageFormat::from_extension(format.extension()),
            Some(format)
        );
        assert!(format.content_type().starts_with("image/"));
    }
    assert_eq!(ImageFormat::from_extension("gif"), None);
}
