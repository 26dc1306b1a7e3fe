//! Every bound the OpenAPI document shows (lengths, ranges, patterns, defaults and the
//! sort columns) is the domain's or the application's constant: the test walks the
//! generated document and holds each bound it finds to the constant it must come from,
//! and fails on a bound that no constant accounts for.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vidgen_application::idempotency::IdempotencyKey;
use vidgen_application::users::ports::UserSortField;
use vidgen_application::videos::ports::VideoSortField;
use vidgen_domain::listing::{Page, SEARCH_MAX_LEN, SEARCH_MIN_LEN};
use vidgen_domain::users::account_tokens::ACCOUNT_TOKEN_MAX_LEN;
use vidgen_domain::users::profile::{Address, CountryCode, Preferences};
use vidgen_domain::users::{
    Age, Email, PasswordPolicy, PersonName, REFRESH_TOKEN_MAX_LEN, Username,
};
use vidgen_domain::videos::{
    Description, DurationSeconds, PROGRESS_MAX, Prompt, Resolution, Title,
};
use vidgen_http_adapter::openapi::DocsInfo;

/// The keywords that state a bound.
const BOUNDS: &[&str] = &[
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
    "default",
    "maxProperties",
];

/// A required, non-empty string (the smallest length that is not "absent").
const NON_EMPTY: usize = 1;
/// Ids are positive integers.
const MIN_ID: i64 = 1;

type Expected = BTreeMap<(String, &'static str), Value>;

fn expect(map: &mut Expected, at: &str, keyword: &'static str, value: Value) {
    map.insert((at.to_owned(), keyword), value);
}

fn lengths(map: &mut Expected, at: &str, min: Option<usize>, max: usize) {
    if let Some(min) = min {
        expect(map, at, "minLength", json!(min));
    }
    expect(map, at, "maxLength", json!(max));
}

/// What each bound must be, by `Schema.field` or `param name`.
fn expected() -> Expected {
    let mut map = Expected::new();
    for schema in ["UserCreate", "UserUpdate", "UserReplace"] {
        let username = format!("{schema}.username");
        lengths(
            &mut map,
            &username,
            Some(Username::MIN_LEN),
            Username::MAX_LEN,
        );
        expect(&mut map, &username, "pattern", json!(Username::PATTERN));
        lengths(
            &mut map,
            &format!("{schema}.name"),
            Some(PersonName::MIN_LEN),
            PersonName::MAX_LEN,
        );
        lengths(&mut map, &format!("{schema}.email"), None, Email::MAX_LEN);
    }
    lengths(&mut map, "UserResponse.email", None, Email::MAX_LEN);
    lengths(
        &mut map,
        "PasswordRecoveryRequest.email",
        None,
        Email::MAX_LEN,
    );
    for at in [
        "PasswordResetRequest.token",
        "EmailVerificationRequest.token",
    ] {
        lengths(&mut map, at, Some(NON_EMPTY), ACCOUNT_TOKEN_MAX_LEN);
    }
    for at in [
        "UserCreate.password",
        "UserCreate.confirm_password",
        "PasswordChange.new_password",
        "PasswordChange.confirm_password",
        "PasswordResetRequest.new_password",
        "PasswordResetRequest.confirm_password",
    ] {
        lengths(
            &mut map,
            at,
            Some(PasswordPolicy::MIN_LEN),
            PasswordPolicy::MAX_LEN,
        );
    }
    for at in [
        "PasswordChange.current_password",
        "UserUpdate.current_password",
        "UserReplace.current_password",
        "LoginRequest.password",
    ] {
        lengths(&mut map, at, Some(NON_EMPTY), PasswordPolicy::MAX_LEN);
    }
    lengths(
        &mut map,
        "LoginRequest.username",
        Some(NON_EMPTY),
        Email::MAX_LEN,
    );
    lengths(
        &mut map,
        "RefreshRequest.refresh_token",
        Some(NON_EMPTY),
        REFRESH_TOKEN_MAX_LEN,
    );
    for at in ["UserCreate.age", "UserResponse.age"] {
        expect(&mut map, at, "minimum", json!(Age::MIN));
        expect(&mut map, at, "maximum", json!(Age::MAX));
    }

    for schema in ["VideoCreate", "VideoUpdate"] {
        lengths(
            &mut map,
            &format!("{schema}.title"),
            Some(Title::MIN_LEN),
            Title::MAX_LEN,
        );
        lengths(
            &mut map,
            &format!("{schema}.description"),
            None,
            Description::MAX_LEN,
        );
    }
    lengths(
        &mut map,
        "VideoCreate.prompt",
        Some(Prompt::MIN_LEN),
        Prompt::MAX_LEN,
    );
    lengths(
        &mut map,
        "VideoCreate.webhook_url",
        None,
        vidgen_domain::webhooks::WebhookUrl::MAX_LEN,
    );
    let duration = "VideoCreate.duration_seconds";
    expect(&mut map, duration, "minimum", json!(DurationSeconds::MIN));
    expect(&mut map, duration, "maximum", json!(DurationSeconds::MAX));
    expect(
        &mut map,
        duration,
        "default",
        json!(DurationSeconds::DEFAULT),
    );
    expect(
        &mut map,
        "VideoCreate.resolution",
        "default",
        json!(Resolution::default().as_str()),
    );
    expect(&mut map, "VideoResponse.progress", "minimum", json!(0));
    expect(
        &mut map,
        "VideoResponse.progress",
        "maximum",
        json!(PROGRESS_MAX),
    );

    for (field, max) in [
        ("street", Address::STREET_MAX_LEN),
        ("city", Address::CITY_MAX_LEN),
        ("state", Address::STATE_MAX_LEN),
        ("zip_code", Address::ZIP_CODE_MAX_LEN),
    ] {
        lengths(
            &mut map,
            &format!("Address.{field}"),
            Some(Address::MIN_LEN),
            max,
        );
    }
    expect(
        &mut map,
        "Address.zip_code",
        "pattern",
        json!(Address::ZIP_CODE_PATTERN),
    );
    lengths(
        &mut map,
        "Address.country",
        Some(CountryCode::LEN),
        CountryCode::LEN,
    );
    expect(
        &mut map,
        "Address.country",
        "pattern",
        json!(CountryCode::PATTERN),
    );
    for at in ["ProfileReplace.preferences", "UserProfile.preferences"] {
        expect(&mut map, at, "maxProperties", json!(Preferences::MAX_KEYS));
    }

    expect(&mut map, "param skip", "minimum", json!(0));
    expect(&mut map, "param skip", "default", json!(Page::DEFAULT_SKIP));
    expect(&mut map, "param limit", "minimum", json!(Page::MIN_LIMIT));
    expect(&mut map, "param limit", "maximum", json!(Page::MAX_LIMIT));
    expect(
        &mut map,
        "param limit",
        "default",
        json!(Page::DEFAULT_LIMIT),
    );
    lengths(
        &mut map,
        "param search",
        Some(SEARCH_MIN_LEN),
        SEARCH_MAX_LEN,
    );
    expect(&mut map, "param user_id", "minimum", json!(MIN_ID));
    expect(&mut map, "param video_id", "minimum", json!(MIN_ID));
    lengths(
        &mut map,
        "param Idempotency-Key",
        Some(NON_EMPTY),
        IdempotencyKey::MAX_LEN,
    );
    expect(
        &mut map,
        "param Idempotency-Key",
        "pattern",
        json!(IdempotencyKey::PATTERN),
    );
    map
}

fn document() -> Value {
    vidgen_http_adapter::app::openapi_document(&DocsInfo {
        version: "0".into(),
    })
}

/// Every bound in the document, by where it is. A parameter documented on several
/// operations must say the same everywhere.
fn documented_bounds(spec: &Value) -> Expected {
    let mut found = Expected::new();
    let mut record = |at: String, schema: &Value| {
        for keyword in BOUNDS {
            if let Some(value) = schema.get(*keyword) {
                let key = (at.clone(), *keyword);
                if let Some(earlier) = found.get(&key) {
                    assert_eq!(earlier, value, "{at} {keyword} differs between operations");
                }
                found.insert(key, value.clone());
            }
        }
    };
    for (name, schema) in spec["components"]["schemas"].as_object().expect("schemas") {
        if let Some(properties) = schema["properties"].as_object() {
            for (field, property) in properties {
                record(format!("{name}.{field}"), property);
            }
        }
    }
    for item in spec["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("path item").values() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("parameter name");
                record(format!("param {name}"), &parameter["schema"]);
            }
        }
    }
    found
}

#[test]
fn every_documented_bound_is_its_constant() {
    let expected = expected();
    let found = documented_bounds(&document());
    for ((at, keyword), value) in &found {
        match expected.get(&(at.clone(), *keyword)) {
            Some(want) => assert_eq!(value, want, "{at} {keyword}"),
            None => panic!("{at} documents {keyword} = {value}, which no constant accounts for"),
        }
    }
    for (at, keyword) in expected.keys() {
        assert!(
            found.contains_key(&(at.clone(), *keyword)),
            "{at} should document {keyword}"
        );
    }
}

#[test]
fn sort_columns_are_the_application_sort_fields() {
    let spec = document();
    let users: Vec<&str> = UserSortField::ALL.iter().map(|f| f.as_str()).collect();
    let videos: Vec<&str> = VideoSortField::ALL.iter().map(|f| f.as_str()).collect();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] != "sort_by" {
                    continue;
                }
                let listed: Vec<&str> = parameter["schema"]["enum"]
                    .as_array()
                    .expect("sort_by enum")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let want = if path.contains("videos") {
                    &videos
                } else {
                    &users
                };
                assert_eq!(&listed, want, "{method} {path}");
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked, 3,
        "list_users, list_videos and list_user_videos sort"
    );
}

/// Prose never restates a bound: a description next to a documented bound does not
/// contain that bound's number (the schema shows it, from the constant).
#[test]
fn descriptions_do_not_restate_bounds() {
    let spec = document();
    let mut described: Vec<(String, &Value)> = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().expect("schemas") {
        if let Some(properties) = schema["properties"].as_object() {
            for (field, property) in properties {
                described.push((format!("{name}.{field}"), property));
            }
        }
    }
    for item in spec["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("path item").values() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("parameter name");
                described.push((format!("param {name}"), parameter));
            }
        }
    }
    for (at, item) in described {
        let Some(description) = item["description"].as_str() else {
            continue;
        };
        let words: Vec<&str> = description
            .split(|c: char| !c.is_ascii_alphanumeric())
            .collect();
        let schema = item.get("schema").unwrap_or(item);
        for keyword in BOUNDS {
            if let Some(number) = schema.get(*keyword).filter(|v| v.is_number()) {
                let number = number.to_string();
                assert!(
                    !words.contains(&number.as_str()),
                    "{at}: the description {description:?} restates {keyword} {number}"
                );
            }
        }
    }
}
