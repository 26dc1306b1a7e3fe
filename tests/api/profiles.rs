//! `/users/{id}/profile`: who may read and replace it, the nested address checked field
//! by field with dotted paths, preferences as a bounded JSON object, on both databases.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_problem, json, spawn_app};

fn address() -> Value {
    json!({
        "street": "221B Baker Street",
        "city": "London",
        "state": "Greater London",
        "zip_code": "NW1 6XE",
        "country": "gb",
    })
}

#[tokio::test]
async fn a_new_profile_is_empty_and_a_put_replaces_it_whole() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;

    let empty = app.get_profile(jane.id, &jane.access_token).await;
    assert_eq!(empty.status().as_u16(), 200);
    let empty = json(empty).await;
    assert_eq!(empty["address"], Value::Null, "{empty}");
    assert_eq!(empty["preferences"], json!({}), "{empty}");
    assert_eq!(empty["user"]["id"], jane.id, "{empty}");
    assert_eq!(
        empty["user"]["email"], "jane@example.com",
        "the full user: {empty}"
    );

    let preferences =
        json!({"theme": "dark", "notify": {"email": true, "days": [1, 5]}, "ratio": 1.5});
    let put = app
        .put_profile(
            jane.id,
            &jane.access_token,
            &json!({"address": address(), "preferences": preferences}),
        )
        .await;
    assert_eq!(put.status().as_u16(), 200);
    let put = json(put).await;
    assert_eq!(put["address"]["country"], "GB", "stored upper-case: {put}");
    assert_eq!(put["address"]["zip_code"], "NW1 6XE", "{put}");
    assert_eq!(put["preferences"], preferences, "{put}");
    assert_eq!(put["user"]["username"], "jane", "{put}");
    assert!(put["user"]["created_at"].is_string(), "{put}");

    let read = json(app.get_profile(jane.id, &jane.access_token).await).await;
    assert_eq!(read["address"], put["address"], "read back: {read}");
    assert_eq!(read["preferences"], preferences, "read back: {read}");

    // PUT replaces: what is left out is gone.
    let cleared = app
        .put_profile(jane.id, &jane.access_token, &json!({"address": null}))
        .await;
    assert_eq!(cleared.status().as_u16(), 200);
    let read = json(app.get_profile(jane.id, &jane.access_token).await).await;
    assert_eq!(read["address"], Value::Null, "{read}");
    assert_eq!(read["preferences"], json!({}), "{read}");
}

#[tokio::test]
async fn profiles_are_read_by_self_and_staff_and_written_by_self_and_admins() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let other = app.user("other").await;
    let moderator = app.moderator("mod").await;
    let admin = app.admin().await;
    let body = json!({"address": address(), "preferences": {"lang": "en"}});

    for (who, token) in [
        ("self", &jane.access_token),
        ("moderator", &moderator.access_token),
        ("admin", &admin.access_token),
    ] {
        let response = app.get_profile(jane.id, token).await;
        assert_eq!(response.status().as_u16(), 200, "{who} reads");
    }
    assert_problem(
        app.get_profile(jane.id, &other.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;

    for (who, token) in [("self", &jane.access_token), ("admin", &admin.access_token)] {
        let response = app.put_profile(jane.id, token, &body).await;
        assert_eq!(response.status().as_u16(), 200, "{who} writes");
    }
    assert_problem(
        app.put_profile(jane.id, &moderator.access_token, &body)
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        app.put_profile(jane.id, &other.access_token, &body).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let anonymous = app
        .client
        .get(app.url(&crate::helpers::paths::user_profile(jane.id)))
        .send()
        .await
        .expect("request");
    assert_problem(anonymous, 401, "UNAUTHORIZED").await;
    assert_problem(
        app.get_profile(999_999, &admin.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_problem(
        app.get_profile(0, &admin.access_token).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
}

/// Replaces `user`'s profile with `body`, which must be refused with 422: the problem.
async fn refused(app: &TestApp, user: &TestUser, body: &Value) -> Value {
    assert_problem(
        app.put_profile(user.id, &user.access_token, body).await,
        422,
        "VALIDATION_ERROR",
    )
    .await
}

/// The `(field, code)` pairs of a validation error.
fn entries(body: &Value) -> Vec<(String, String)> {
    body["error_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no error_details: {body}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_problem_of_the_address_is_reported_at_once_with_dotted_paths() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let body = json!({
        "address": {
            "street": "",
            "city": "c".repeat(101),
            "state": "Greater London",
            "zip_code": "#12",
            "country": "ZZ",
        },
        "preferences": {"theme": "dark"},
    });
    let problem = refused(&app, &jane, &body).await;
    let expected: Vec<(String, String)> = [
        ("address.city", "too_long"),
        ("address.country", "country"),
        ("address.street", "too_short"),
        ("address.zip_code", "pattern"),
    ]
    .iter()
    .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(entries(&problem), expected, "{problem}");

    // Nothing was stored.
    let read = json(app.get_profile(jane.id, &jane.access_token).await).await;
    assert_eq!(read["address"], Value::Null, "{read}");
}

#[tokio::test]
async fn shape_errors_inside_the_address_name_their_path() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    /// (case, body, expected `(field, code)` entries)
    type Case<'a> = (&'a str, Value, &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "missing field and unknown field",
            json!({"address": {"street": "1 Main St", "city": "X", "state": "Y", "country": "US", "planet": "Earth"}}),
            &[
                ("address.planet", "unknown_field"),
                ("address.zip_code", "missing"),
            ],
        ),
        (
            "wrong type",
            json!({"address": {"street": 5, "city": "X", "state": "Y", "zip_code": "1", "country": "US"}}),
            &[("address.street", "type")],
        ),
        (
            "address not an object",
            json!({"address": "London"}),
            &[("address", "type")],
        ),
        (
            "preferences not an object",
            json!({"preferences": ["dark"]}),
            &[("preferences", "type")],
        ),
        (
            "unknown top-level field",
            json!({"preferences": {}, "avatar": "x"}),
            &[("avatar", "unknown_field")],
        ),
        (
            "bad country shape and bad type together",
            json!({"address": {"street": "1 Main St", "city": 3, "state": "Y", "zip_code": "1", "country": "USA"}}),
            &[("address.city", "type"), ("address.country", "pattern")],
        ),
    ];
    for (name, body, expected) in cases {
        let problem = refused(&app, &jane, body).await;
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(entries(&problem), expected, "{name}: {problem}");
    }
}

#[tokio::test]
async fn preferences_are_bounded_in_keys_and_size() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!(i))).collect();
    let ok = app
        .put_profile(jane.id, &jane.access_token, &json!({"preferences": fifty}))
        .await;
    assert_eq!(ok.status().as_u16(), 200, "50 keys are allowed");

    let fifty_one: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(i))).collect();
    let problem = refused(&app, &jane, &json!({"preferences": fifty_one})).await;
    assert_eq!(
        entries(&problem),
        [("preferences".to_owned(), "too_many_keys".to_owned())],
        "{problem}"
    );

    let big = json!({"preferences": {"blob": "x".repeat(16 * 1024)}});
    let problem = refused(&app, &jane, &big).await;
    assert_eq!(
        entries(&problem),
        [("preferences".to_owned(), "too_large".to_owned())],
        "{problem}"
    );

    // The address and the preferences are reported together.
    let mut bad_address = address();
    bad_address["country"] = json!("12");
    let problem = refused(
        &app,
        &jane,
        &json!({"address": bad_address, "preferences": {"blob": "x".repeat(16 * 1024)}}),
    )
    .await;
    assert_eq!(
        entries(&problem),
        [
            ("address.country".to_owned(), "pattern".to_owned()),
            ("preferences".to_owned(), "too_large".to_owned())
        ],
        "{problem}"
    );
}

/// No key or text of the preferences, at any depth, may hold a control character: a NUL
/// (which PostgreSQL's `jsonb` cannot store, once a 500 there) is refused with 422 on both
/// databases, like a line feed or an escape, and the stored profile stays as it was.
#[tokio::test]
async fn control_characters_anywhere_in_the_preferences_are_refused() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let kept = json!({"theme": "dark"});
    let put = app
        .put_profile(jane.id, &jane.access_token, &json!({"preferences": kept}))
        .await;
    assert_eq!(put.status().as_u16(), 200);
    for preferences in [
        json!({"\u{89}<\u{0}Z": {"a": {}}, "": []}),
        json!({"a": [{"file": false}, {"b": "x\u{0}y"}]}),
        json!({"a": "two\nlines"}),
        json!({"\u{1b}[31m": true}),
    ] {
        let problem = refused(
            &app,
            &jane,
            &json!({"address": null, "preferences": preferences}),
        )
        .await;
        assert_eq!(
            entries(&problem),
            [("preferences".to_owned(), "control_characters".to_owned())],
            "{preferences}: {problem}"
        );
    }
    let read = json(app.get_profile(jane.id, &jane.access_token).await).await;
    assert_eq!(read["preferences"], kept, "{read}");
}

/// Preferences stored before control characters were refused are still read back.
#[tokio::test]
async fn preferences_stored_under_earlier_rules_stay_readable() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let put = app
        .put_profile(
            jane.id,
            &jane.access_token,
            &json!({"preferences": {"a": 1}}),
        )
        .await;
    assert_eq!(put.status().as_u16(), 200);
    let backend = app.db.get_database_backend();
    let stored = r#"{"signature":"Jane\tDoe"}"#;
    let literal = match backend {
        sea_orm::DatabaseBackend::Postgres => format!("'{stored}'::jsonb"),
        _ => format!("'{stored}'"),
    };
    app.db
        .execute_raw(Statement::from_string(
            backend,
            format!(
                "UPDATE user_profiles SET preferences = {literal} WHERE user_id = {}",
                jane.id
            ),
        ))
        .await
        .expect("stored");
    let read = app.get_profile(jane.id, &jane.access_token).await;
    assert_eq!(read.status().as_u16(), 200);
    let read = json(read).await;
    assert_eq!(
        read["preferences"],
        json!({"signature": "Jane\tDoe"}),
        "{read}"
    );
}

#[tokio::test]
async fn a_profile_goes_with_its_user() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let admin = app.admin().await;
    let put = app
        .put_profile(
            jane.id,
            &jane.access_token,
            &json!({"address": address(), "preferences": {"a": 1}}),
        )
        .await;
    assert_eq!(put.status().as_u16(), 200);
    let deleted = app.delete_user(jane.id, &admin.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_problem(
        app.get_profile(jane.id, &admin.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT user_id FROM user_profiles WHERE user_id = {}",
                jane.id
            ),
        ))
        .await
        .expect("query profiles");
    assert!(rows.is_empty(), "the profile row is gone with the user");
}
