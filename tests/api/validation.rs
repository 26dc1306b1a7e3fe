//! Validation as the contract states it: every problem of a request reported at once, one
//! `error_details` entry per field or parameter, text rules and date bounds answering
//! 422 (never 500) on SQLite and PostgreSQL alike.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, paths, spawn_app};

/// The `error_details` of a 422, as (field, code) pairs.
async fn details(response: reqwest::Response) -> Vec<(String, String)> {
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    body["error_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no error_details: {body}"))
        .iter()
        .map(|entry| {
            (
                entry["field"].as_str().unwrap_or_default().to_owned(),
                entry["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The full `error_details` entries of a 422.
async fn entries(response: reqwest::Response) -> Vec<Value> {
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    body["error_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no error_details: {body}"))
        .clone()
}

fn has(details: &[(String, String)], field: &str, code: &str) -> bool {
    details.iter().any(|(f, c)| f == field && c == code)
}

fn registration() -> Value {
    json!({
        "username": "valid_user",
        "name": "Valid User",
        "email": "valid_user@example.com",
        "password": PASSWORD,
        "confirm_password": PASSWORD,
    })
}

async fn post_form(app: &TestApp, path: &str, form: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

// ---- bodies: every problem at once ----------------------------------------------------

#[tokio::test]
async fn an_empty_registration_lists_every_required_field() {
    let app = spawn_app().await;
    let found = details(app.create_user(&json!({})).await).await;
    for field in ["username", "name", "email", "password", "confirm_password"] {
        assert!(has(&found, field, "missing"), "{field} missing: {found:?}");
    }
    for optional in ["age", "birth_date"] {
        assert!(
            !found.iter().any(|(f, _)| f == optional),
            "{optional} is optional: {found:?}"
        );
    }
}

#[tokio::test]
async fn wrong_types_on_several_fields_are_all_reported() {
    let app = spawn_app().await;
    let mut body = registration();
    body["username"] = json!(42);
    body["email"] = json!(["a@example.com"]);
    body["age"] = json!("thirty");
    body["birth_date"] = json!(true);
    let found = details(app.create_user(&body).await).await;
    for field in ["username", "email", "age", "birth_date"] {
        assert!(has(&found, field, "type"), "{field} type: {found:?}");
    }
    assert_eq!(found.len(), 4, "only the wrong fields: {found:?}");
}

#[tokio::test]
async fn unknown_and_missing_fields_and_broken_rules_come_together() {
    let app = spawn_app().await;
    let found = details(
        app.create_user(&json!({
            "username": "x",
            "email": "not-an-email",
            "role": "admin",
            "is_superuser": true,
        }))
        .await,
    )
    .await;
    for (field, code) in [
        ("role", "unknown_field"),
        ("is_superuser", "unknown_field"),
        ("name", "missing"),
        ("password", "missing"),
        ("confirm_password", "missing"),
    ] {
        assert!(has(&found, field, code), "{field} {code}: {found:?}");
    }
    for field in ["username", "email"] {
        assert!(
            found.iter().any(|(f, c)| f == field && c != "missing"),
            "{field}'s rule is checked too: {found:?}"
        );
    }
}

#[tokio::test]
async fn registration_rules_of_the_application_come_with_the_shape_errors() {
    let app = spawn_app().await;
    let mut body = registration();
    body["username"] = json!("admin");
    body["name"] = json!(5);
    body["birth_date"] = json!("1850-01-01");
    body.as_object_mut().map(|o| o.remove("confirm_password"));
    let found = details(app.create_user(&body).await).await;
    for (field, code) in [
        ("username", "username_reserved"),
        ("name", "type"),
        ("birth_date", "birth_date_too_early"),
        ("confirm_password", "missing"),
    ] {
        assert!(has(&found, field, code), "{field} {code}: {found:?}");
    }
    assert!(
        !found.iter().any(|(f, _)| f == "__all__"),
        "no body rule on placeholders: {found:?}"
    );
}

#[tokio::test]
async fn video_bodies_report_every_field_at_once() {
    let app = spawn_app().await;
    let user = app.user("video_body").await;
    let found = details(
        app.create_video(
            &user.access_token,
            &json!({"resolution": "4k", "duration_seconds": "long", "extra": 1}),
        )
        .await,
    )
    .await;
    for (field, code) in [
        ("title", "missing"),
        ("prompt", "missing"),
        ("duration_seconds", "type"),
        ("extra", "unknown_field"),
    ] {
        assert!(has(&found, field, code), "{field} {code}: {found:?}");
    }
    let resolution = entries(
        app.create_video(
            &user.access_token,
            &json!({"title": "t", "prompt": "p", "resolution": "4k"}),
        )
        .await,
    )
    .await;
    let message = resolution
        .iter()
        .find(|e| e["field"] == "resolution")
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("resolution entry: {resolution:?}"));
    assert!(
        message.contains("720p") && message.contains("1080p"),
        "the allowed values are named: {message}"
    );
}

#[tokio::test]
async fn the_login_form_reports_every_field_at_once() {
    let app = spawn_app().await;
    let found = details(post_form(&app, &paths::login(), "grant_type=password").await).await;
    assert!(has(&found, "username", "missing"), "{found:?}");
    assert!(has(&found, "password", "missing"), "{found:?}");
    let found = details(post_form(&app, &paths::login(), "username=&password=").await).await;
    assert!(found.iter().any(|(f, _)| f == "username"), "{found:?}");
    assert!(found.iter().any(|(f, _)| f == "password"), "{found:?}");
    let found = details(
        app.post_json(&paths::login(), &json!({"username": 1}))
            .await,
    )
    .await;
    assert!(has(&found, "username", "type"), "{found:?}");
    assert!(has(&found, "password", "missing"), "{found:?}");
}

// ---- query and path parameters are named --------------------------------------------

#[tokio::test]
async fn bad_list_parameters_name_themselves_on_users_and_videos() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let cases = [
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=0", "limit"),
        ("skip=-1", "skip"),
        ("skip=first", "skip"),
        ("sort_by=password_hash", "sort_by"),
        ("sort_by=created_at%20desc", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("status=gone", "status"),
    ];
    for (query, field) in cases {
        for response in [
            app.list_users(query, &admin.access_token).await,
            app.list_videos(query, &admin.access_token).await,
        ] {
            let url = response.url().to_string();
            let found = details(response).await;
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            assert_eq!(found[0].0, field, "{url}: {found:?}");
        }
    }
}

#[tokio::test]
async fn several_bad_parameters_each_get_an_entry() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let query = "limit=ten&skip=-1&sort_by=password_hash&sort_order=sideways";
    for response in [
        app.list_users(query, &admin.access_token).await,
        app.list_videos(query, &admin.access_token).await,
    ] {
        let url = response.url().to_string();
        let found = details(response).await;
        let mut fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["limit", "skip", "sort_by", "sort_order"],
            "{url}: {found:?}"
        );
    }
}

#[tokio::test]
async fn closed_sets_name_their_allowed_values() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (response, field, allowed) in [
        (
            app.list_users("sort_by=password_hash", &admin.access_token)
                .await,
            "sort_by",
            &["created_at", "username"][..],
        ),
        (
            app.list_users("role=emperor", &admin.access_token).await,
            "role",
            &["user", "moderator", "admin"][..],
        ),
        (
            app.list_videos("source=stolen", &admin.access_token).await,
            "source",
            &["generated", "upload"][..],
        ),
        (
            app.list_videos("sort_order=up", &admin.access_token).await,
            "sort_order",
            &["asc", "desc"][..],
        ),
    ] {
        let found = entries(response).await;
        let entry = found
            .iter()
            .find(|e| e["field"] == field)
            .unwrap_or_else(|| panic!("{field}: {found:?}"));
        let message = entry["message"].as_str().unwrap_or_default();
        for value in allowed {
            assert!(message.contains(value), "{field} names {value}: {message}");
        }
    }
}

#[tokio::test]
async fn bad_path_ids_name_their_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = &admin.access_token;
    let found = details(app.get_user("abc", token).await).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "user_id", "{found:?}");
    let found = details(app.get_video("1.5", token).await).await;
    assert_eq!(found[0].0, "video_id", "{found:?}");
    let found = details(app.get_user(0, token).await).await;
    assert_eq!(
        found,
        [("user_id".to_owned(), "range".to_owned())],
        "not positive"
    );
    for query in ["owner_id=abc", "owner_id=0"] {
        let found = details(app.list_videos(query, token).await).await;
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert_eq!(found[0].0, "owner_id", "{query}: {found:?}");
    }
    let found = details(app.get_user_video("x", "y", token).await).await;
    let mut fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["user_id", "video_id"], "{found:?}");
}

// ---- text rules and date bounds: 422 on both databases -------------------------------

#[tokio::test]
async fn a_title_with_a_nul_is_refused() {
    let app = spawn_app().await;
    let user = app.user("nul_title").await;
    let found = details(
        app.create_video(
            &user.access_token,
            &json!({"title": "bad\u{0}title", "prompt": "a calm lake"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        found,
        [("title".to_owned(), "control_characters".to_owned())]
    );
}

#[tokio::test]
async fn line_breaks_and_tabs_are_allowed_only_in_description_and_prompt() {
    let app = spawn_app().await;
    let user = app.user("multiline").await;
    let response = app
        .create_video(
            &user.access_token,
            &json!({
                "title": "fine",
                "description": "line one\nline two\ttabbed",
                "prompt": "first\r\nsecond",
            }),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202, "multi-line text is fine");
    let found = details(
        app.create_video(
            &user.access_token,
            &json!({
                "title": "two\nlines",
                "description": "bell\u{7}",
                "prompt": "escape\u{1b}[0m",
            }),
        )
        .await,
    )
    .await;
    for field in ["title", "description", "prompt"] {
        assert!(
            has(&found, field, "control_characters"),
            "{field}: {found:?}"
        );
    }
    let mut body = registration();
    body["name"] = json!("Jane\tDoe");
    let found = details(app.create_user(&body).await).await;
    assert!(has(&found, "name", "control_characters"), "{found:?}");
}

#[tokio::test]
async fn a_search_with_a_nul_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for response in [
        app.list_videos("search=%00", &admin.access_token).await,
        app.list_users("search=a%00b", &admin.access_token).await,
    ] {
        let found = details(response).await;
        assert_eq!(
            found,
            [("search".to_owned(), "control_characters".to_owned())]
        );
    }
}

#[tokio::test]
async fn login_fields_with_a_nul_are_refused() {
    let app = spawn_app().await;
    let found = details(app.post_login("\u{0}", PASSWORD).await).await;
    assert_eq!(
        found,
        [("username".to_owned(), "control_characters".to_owned())]
    );
    let found = details(app.post_login("someone", "pass\u{0}word").await).await;
    assert_eq!(
        found,
        [("password".to_owned(), "control_characters".to_owned())]
    );
    let found = details(post_form(&app, &paths::login(), "username=a%00b&password=x").await).await;
    assert_eq!(
        found,
        [("username".to_owned(), "control_characters".to_owned())]
    );
    let found = details(app.refresh("tok\u{0}en").await).await;
    assert_eq!(
        found,
        [("refresh_token".to_owned(), "control_characters".to_owned())]
    );
}

#[tokio::test]
async fn a_path_username_with_a_nul_is_refused() {
    let app = spawn_app().await;
    let user = app.user("path_nul").await;
    let found = details(app.get_user_by_username("a%00b", &user.access_token).await).await;
    assert_eq!(
        found,
        [("username".to_owned(), "control_characters".to_owned())]
    );
}

#[tokio::test]
async fn birth_dates_outside_the_bounds_are_refused() {
    let app = spawn_app().await;
    for (date, code) in [
        ("-5000-01-01", "birth_date_too_early"),
        ("+20000-01-01", "birth_date_in_future"),
        ("1899-12-31", "birth_date_too_early"),
        ("2999-01-01", "birth_date_in_future"),
    ] {
        let mut body = registration();
        body["birth_date"] = json!(date);
        let found = details(app.create_user(&body).await).await;
        assert!(has(&found, "birth_date", code), "{date}: {found:?}");
    }
    let mut body = registration();
    body["birth_date"] = json!("1950-02-30");
    let found = details(app.create_user(&body).await).await;
    assert!(has(&found, "birth_date", "type"), "not a date: {found:?}");
}

#[tokio::test]
async fn bodies_must_be_objects_and_null_means_the_default() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let created = app
        .create_video(
            &jane.access_token,
            &json!({"title": "Lake", "prompt": "A lake", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(created.status().as_u16(), 202);
    let id = created.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");

    // `resolution` is documented nullable: null means the default.
    let null_resolution = app
        .create_video(
            &jane.access_token,
            &json!({"title": "Lake", "prompt": "A lake", "resolution": null}),
        )
        .await;
    assert_eq!(null_resolution.status().as_u16(), 202);

    for body in [
        json!([null, null]),
        json!(["Lake"]),
        json!("Lake"),
        json!(5),
    ] {
        let response = app.update_video(id, &jane.access_token, &body).await;
        assert_eq!(response.status().as_u16(), 422, "{body}");
    }
    let array = app.create_user(&json!(["jane", "Jane"])).await;
    assert_problem(array, 422, "VALIDATION_ERROR").await;
}
