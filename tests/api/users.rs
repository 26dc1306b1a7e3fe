//! The users resource through real HTTP: registration rules, reads, lists, changes,
//! moderation, deletion and every authorisation rule.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, json, paths, spawn_app, spawn_app_with};

fn details(body: &serde_json::Value) -> Vec<(String, String)> {
    body["error_details"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    (
                        d["field"].as_str().unwrap_or_default().to_owned(),
                        d["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn registration(username: &str, email: &str) -> serde_json::Value {
    json!({
        "username": username, "name": "Jane Doe", "email": email,
        "password": PASSWORD, "confirm_password": PASSWORD,
    })
}

#[tokio::test]
async fn registration_creates_an_active_user() {
    let app = spawn_app().await;
    let response = app
        .create_user(&json!({
            "username": "Jane_Doe", "name": "  Jane Doe ", "email": "Jane@Example.COM",
            "password": PASSWORD, "confirm_password": PASSWORD,
            "age": 30, "birth_date": "1995-06-01"
        }))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let body = json(response).await;
    assert_eq!(location, paths::user(&body["id"]));
    assert_eq!(body["username"], "Jane_Doe");
    assert_eq!(body["name"], "Jane Doe");
    assert_eq!(body["email"], "jane@example.com");
    assert_eq!(body["role"], "user");
    assert_eq!(body["status"], "active");
    assert_eq!(body["age"], 30);
    assert_eq!(body["birth_date"], "1995-06-01");
    assert!(body["avatar_url"].is_null());
    assert!(
        body["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let text = body.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );
}

#[tokio::test]
async fn registration_reports_every_broken_rule() {
    let app = spawn_app().await;
    let response = app
        .create_user(&json!({
            "username": "ROOT", "name": "", "email": "not-an-email",
            "password": "short", "confirm_password": "different",
            "age": 151, "birth_date": "2999-01-01"
        }))
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    let found = details(&body);
    for expected in [
        ("username", "username_reserved"),
        ("name", "too_short"),
        ("email", "email"),
        ("password", "password_too_short"),
        ("password", "password_strength"),
        ("age", "range"),
        ("birth_date", "birth_date_in_future"),
        ("__all__", "password_mismatch"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {found:?}"
        );
    }
    // Two strength rules fail on one field: both are reported.
    let password_errors = found.iter().filter(|(f, _)| f == "password").count();
    assert!(password_errors >= 3, "{found:?}");

    let mismatch = app
        .create_user(&json!({
            "username": "jane", "name": "Jane", "email": "jane@example.com",
            "password": PASSWORD, "confirm_password": PASSWORD,
            "age": 10, "birth_date": "1990-01-01"
        }))
        .await;
    let body = assert_problem(mismatch, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        details(&body),
        vec![("__all__".to_owned(), "age_birth_date_mismatch".to_owned())]
    );

    let mass_assignment = app
        .create_user(&json!({
            "username": "jane", "name": "Jane", "email": "jane@example.com",
            "password": PASSWORD, "confirm_password": PASSWORD, "role": "admin"
        }))
        .await;
    let body = assert_problem(mass_assignment, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        details(&body),
        vec![("role".to_owned(), "unknown_field".to_owned())]
    );

    let wrong_type = app.create_user(&json!({"username": 5})).await;
    let body = assert_problem(wrong_type, 422, "VALIDATION_ERROR").await;
    assert_eq!(details(&body)[0].0, "username");
}

#[tokio::test]
async fn duplicates_are_refused_ignoring_case() {
    let app = spawn_app().await;
    app.register("jane_doe").await;
    let email = app
        .create_user(&registration("someone_else", "JANE_DOE@example.com"))
        .await;
    assert_problem(email, 409, "EMAIL_TAKEN").await;
    let username = app
        .create_user(&registration("JANE_DOE", "other@example.com"))
        .await;
    assert_problem(username, 409, "USERNAME_TAKEN").await;
}

#[tokio::test]
async fn concurrent_duplicate_registrations_create_one_user() {
    let app = spawn_app().await;
    let attempts = (0..6).map(|i| {
        let body = registration(&format!("racer{i}"), "race@example.com");
        let app = &app;
        async move { app.create_user(&body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn email_domains_are_checked_against_the_lists() {
    let app = spawn_app_with(|vars| {
        vars.insert("EMAIL_BLOCKED_DOMAINS".into(), "spam.test".into());
    })
    .await;
    let blocked = app
        .create_user(&registration("spammer", "x@mail.spam.test"))
        .await;
    let body = assert_problem(blocked, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        details(&body),
        vec![("email".to_owned(), "email_domain".to_owned())]
    );

    // The application's rules are reported together with the field rules.
    let mut everything = registration("root", "x@spam.test");
    everything["name"] = json!("");
    everything["birth_date"] = json!("1899-12-31");
    let response = app.create_user(&everything).await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    let found = details(&body);
    for expected in [
        ("birth_date", "birth_date_too_early"),
        ("email", "email_domain"),
        ("name", "too_short"),
        ("username", "username_reserved"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} missing from {found:?}"
        );
    }
}

#[tokio::test]
async fn users_see_only_themselves() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let john = app.user("john").await;
    let theirs = paths::user(john.id);
    let update = json!({"name": "Hacked"});
    let password = json!({"current_password": PASSWORD, "new_password": "N3wPassword", "confirm_password": "N3wPassword"});
    let replace = json!({"username": "hacked", "name": "Hacked", "email": "hacked@example.com"});
    let attempts: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, theirs.clone(), None),
        (Method::PATCH, theirs.clone(), Some(update)),
        (Method::PUT, theirs.clone(), Some(replace)),
        (Method::DELETE, theirs.clone(), None),
        (Method::PUT, format!("{theirs}/password"), Some(password)),
        (
            Method::PATCH,
            format!("{theirs}/status"),
            Some(json!({"status": "suspended"})),
        ),
        (
            Method::PATCH,
            format!("{theirs}/role"),
            Some(json!({"role": "admin"})),
        ),
        (Method::GET, paths::user(999999), None),
    ];
    for (method, path, body) in attempts {
        let response = app
            .send(method.clone(), &path, &jane.access_token, body.as_ref())
            .await;
        assert_problem(response, 404, "NOT_FOUND").await;
    }
    // Nothing changed for John.
    let john_me = json(app.get_me(&john.access_token).await).await;
    assert_eq!(john_me["name"], "john Name");
    assert_eq!(john_me["status"], "active");

    let list = app.list_users("", &jane.access_token).await;
    assert_problem(list, 403, "FORBIDDEN").await;

    let public = json(app.get_user_by_username("JOHN", &jane.access_token).await).await;
    assert_eq!(public["username"], "john");
    assert!(public.get("email").is_none(), "{public}");
    assert!(public.get("role").is_none(), "{public}");
    let missing = app.get_user_by_username("nobody", &jane.access_token).await;
    assert_problem(missing, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn path_ids_must_be_positive_integers() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    for id in ["0", "-1", "abc", "1.5"] {
        let response = app.get_user(id, &jane.access_token).await;
        assert_problem(response, 422, "VALIDATION_ERROR").await;
    }
}

#[tokio::test]
async fn updates_with_put_and_patch() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    app.register("john").await;

    let patched = app
        .update_user(jane.id, &jane.access_token, &json!({"name": "Jane Q"}))
        .await;
    assert_eq!(patched.status().as_u16(), 200);
    let body = json(patched).await;
    assert_eq!(body["name"], "Jane Q");
    assert_eq!(body["username"], "jane");

    let forbidden_field = app
        .update_user(jane.id, &jane.access_token, &json!({"role": "admin"}))
        .await;
    let body = assert_problem(forbidden_field, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        details(&body)[0],
        ("role".to_owned(), "unknown_field".to_owned())
    );

    let taken = app
        .update_user(
            jane.id,
            &jane.access_token,
            &json!({"email": "JOHN@example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_problem(taken, 409, "EMAIL_TAKEN").await;
    let taken = app
        .update_user(jane.id, &jane.access_token, &json!({"username": "John"}))
        .await;
    assert_problem(taken, 409, "USERNAME_TAKEN").await;

    let incomplete = app
        .replace_user(jane.id, &jane.access_token, &json!({"name": "Only"}))
        .await;
    assert_problem(incomplete, 422, "VALIDATION_ERROR").await;
    let replaced = app
        .replace_user(
            jane.id,
            &jane.access_token,
            &json!({"username": "jane2", "name": "Jane Two", "email": "jane2@example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(replaced.status().as_u16(), 200);
    let body = json(replaced).await;
    assert_eq!(
        (
            body["username"].as_str(),
            body["name"].as_str(),
            body["email"].as_str()
        ),
        (Some("jane2"), Some("Jane Two"), Some("jane2@example.com"))
    );
    app.login("jane2@example.com", PASSWORD).await;
}

#[tokio::test]
async fn moderators_and_admins_by_their_roles() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let moderator = app.moderator("mod").await;
    let jane = app.user("jane").await;
    let other_mod = app.moderator("mod2").await;

    // Moderators see users but may not change their details or delete them.
    let seen = app.get_user(jane.id, &moderator.access_token).await;
    assert_eq!(seen.status().as_u16(), 200);
    let patch = app
        .update_user(jane.id, &moderator.access_token, &json!({"name": "X"}))
        .await;
    assert_problem(patch, 403, "FORBIDDEN").await;
    let delete = app.delete_user(jane.id, &moderator.access_token).await;
    assert_problem(delete, 403, "FORBIDDEN").await;

    // Moderators suspend plain users, not moderators or admins; never roles.
    for (target, expected) in [(other_mod.id, 403), (admin.id, 403)] {
        let response = app
            .set_user_status(target, &moderator.access_token, "suspended")
            .await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "moderator -> {target}"
        );
    }
    let role = app
        .set_user_role(jane.id, &moderator.access_token, "moderator")
        .await;
    assert_problem(role, 403, "FORBIDDEN").await;

    let suspended = app
        .set_user_status(jane.id, &moderator.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    assert_eq!(json(suspended).await["status"], "suspended");

    // A suspended user's tokens stop at once and login answers 403.
    assert_problem(app.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    let refresh = app.refresh(&jane.refresh_token).await;
    assert_problem(refresh, 401, "UNAUTHORIZED").await;
    let login = app.post_login("jane", PASSWORD).await;
    assert_problem(login, 403, "FORBIDDEN").await;

    // The admin reactivates her and changes roles; nobody changes their own.
    let reactivated = app
        .set_user_status(jane.id, &admin.access_token, "active")
        .await;
    assert_eq!(reactivated.status().as_u16(), 200);
    app.login("jane", PASSWORD).await;
    let own_role = app
        .set_user_role(admin.id, &admin.access_token, "user")
        .await;
    assert_problem(own_role, 403, "FORBIDDEN").await;
    let own_status = app
        .set_user_status(admin.id, &admin.access_token, "inactive")
        .await;
    assert_problem(own_status, 403, "FORBIDDEN").await;
    let bad_role = app
        .set_user_role(jane.id, &admin.access_token, "superuser")
        .await;
    assert_problem(bad_role, 422, "VALIDATION_ERROR").await;

    // Admins change anyone's details.
    let renamed = app
        .update_user(jane.id, &admin.access_token, &json!({"name": "Renamed"}))
        .await;
    assert_eq!(json(renamed).await["name"], "Renamed");
}

#[tokio::test]
async fn deleting_users() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let jane = app.user("jane").await;
    let john = app.user("john").await;

    let gone = app.delete_user(jane.id, &jane.access_token).await;
    assert_eq!(gone.status().as_u16(), 204);
    assert_problem(app.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    let refresh = app.refresh(&jane.refresh_token).await;
    assert_problem(refresh, 401, "UNAUTHORIZED").await;

    let by_admin = app.delete_user(john.id, &admin.access_token).await;
    assert_eq!(by_admin.status().as_u16(), 204);
    let again = app.delete_user(john.id, &admin.access_token).await;
    assert_problem(again, 404, "NOT_FOUND").await;
    // The email is free again.
    app.register("john").await;
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        app.register(name).await;
    }
    let moderator = app.moderator("mallory").await;
    let token = &admin.access_token;

    let all = app
        .list_users("limit=2&sort_by=username&sort_order=asc", token)
        .await;
    assert_eq!(all.status().as_u16(), 200);
    assert_eq!(all.headers()["x-total-count"], "7");
    assert_eq!(all.headers()["x-page-count"], "4");
    let link = all.headers()["link"].to_str().expect("link").to_owned();
    assert!(link.contains("skip=2&limit=2>; rel=\"next\""), "{link}");
    assert!(!link.contains("rel=\"prev\""), "{link}");
    let page: Vec<String> = json(all)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(page, vec!["admin", "alice"]);

    // A page past the end has no rows to carry the total: it is counted on its own.
    let beyond = app
        .list_users("limit=2&skip=50&sort_by=username&sort_order=asc", token)
        .await;
    assert_eq!(beyond.status().as_u16(), 200);
    assert_eq!(beyond.headers()["x-total-count"], "7");
    assert_eq!(json(beyond).await, serde_json::json!([]));
    let last = app
        .list_users("limit=2&skip=6&sort_by=username&sort_order=asc", token)
        .await;
    assert_eq!(last.headers()["x-total-count"], "7");

    let second = app
        .list_users("limit=2&skip=2&sort_by=username&sort_order=asc", token)
        .await;
    let link = second.headers()["link"].to_str().expect("link").to_owned();
    assert!(
        link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    let page: Vec<String> = json(second)
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(page, vec!["bob", "carol"]);

    let desc = json(app.list_users("sort_by=username", token).await).await;
    assert_eq!(desc[0]["username"], "mallory");

    let search = app.list_users("search=AR", token).await;
    assert_eq!(search.headers()["x-total-count"], "1");
    assert_eq!(json(search).await[0]["username"], "carol");
    let by_email = app.list_users("search=erin%40example", token).await;
    assert_eq!(by_email.headers()["x-total-count"], "1");
    let wildcard = app.list_users("search=%25", token).await;
    assert_eq!(wildcard.headers()["x-total-count"], "0");

    let moderators = json(app.list_users("role=moderator", token).await).await;
    assert_eq!(moderators.as_array().map(Vec::len), Some(1));
    let suspend = app.set_user_status(2, token, "inactive").await;
    assert_eq!(suspend.status().as_u16(), 200);
    let inactive = app.list_users("status=inactive", token).await;
    assert_eq!(inactive.headers()["x-total-count"], "1");

    // Moderators list too.
    assert_eq!(
        app.list_users("", &moderator.access_token)
            .await
            .status()
            .as_u16(),
        200
    );

    for bad in [
        "limit=0",
        "limit=1001",
        "skip=-1",
        "sort_by=password_hash",
        "sort_order=up",
        "status=banned",
        "search=",
    ] {
        let response = app.list_users(bad, token).await;
        assert_problem(response, 422, "VALIDATION_ERROR").await;
    }
}

#[tokio::test]
async fn reads_carry_strong_etags_and_revalidate() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let first = app.get_me(&jane.access_token).await;
    assert_eq!(first.headers()["cache-control"], "private, no-cache");
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");

    let cached = app
        .client
        .get(app.url(&paths::me()))
        .bearer_auth(&jane.access_token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(cached.status().as_u16(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert!(cached.bytes().await.expect("body").is_empty());

    let renamed = app
        .update_user(jane.id, &jane.access_token, &json!({"name": "New Name"}))
        .await;
    assert_eq!(renamed.status().as_u16(), 200);
    let after = app
        .client
        .get(app.url(&paths::me()))
        .bearer_auth(&jane.access_token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(
        after.status().as_u16(),
        200,
        "a write changes the representation"
    );
    assert_ne!(after.headers()["etag"], etag.as_str());
    assert_eq!(json(after).await["name"], "New Name");
}

#[tokio::test]
async fn every_sort_column_orders_the_list_both_ways() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for name in ["delta", "alpha", "charlie", "bravo"] {
        app.register(name).await;
    }
    for column in [
        "id",
        "username",
        "email",
        "name",
        "created_at",
        "updated_at",
    ] {
        for order in ["asc", "desc"] {
            let response = app
                .list_users(
                    &format!("sort_by={column}&sort_order={order}"),
                    &admin.access_token,
                )
                .await;
            assert_eq!(response.status().as_u16(), 200, "{column} {order}");
            let body = json(response).await;
            let values: Vec<String> = body
                .as_array()
                .expect("array")
                .iter()
                .map(|u| match &u[column] {
                    serde_json::Value::Number(n) => {
                        format!("{:020}", n.as_i64().unwrap_or_default())
                    }
                    other => other.as_str().unwrap_or_default().to_lowercase(),
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort();
            if order == "desc" {
                sorted.reverse();
            }
            assert_eq!(values, sorted, "{column} {order}");
        }
    }
}
