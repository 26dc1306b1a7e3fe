//! Login, refresh rotation with reuse detection, logout, password change and token
//! attacks, through real HTTP.

use serde_json::json;

use crate::helpers::{PASSWORD, access_token, assert_problem, json, paths, spawn_app};

#[tokio::test]
async fn login_by_username_email_json_and_form() {
    let app = spawn_app().await;
    app.register("jane_doe").await;
    for login in [
        "jane_doe",
        "JANE_DOE",
        "jane_doe@example.com",
        "Jane_Doe@Example.COM",
    ] {
        let tokens = app.login(login, PASSWORD).await;
        assert_eq!(tokens["token_type"], "bearer", "{login}");
        assert_eq!(tokens["expires_in"], 1800, "{login}");
        assert!(
            tokens["refresh_token"]
                .as_str()
                .is_some_and(|t| t.len() >= 32)
        );
        let me = app.get_me(access_token(&tokens)).await;
        assert_eq!(json(me).await["username"], "jane_doe", "{login}");
    }
    let form = app
        .client
        .post(app.url(&paths::login()))
        .form(&[
            ("grant_type", "password"),
            ("username", "jane_doe"),
            ("password", PASSWORD),
            ("scope", ""),
        ])
        .send()
        .await
        .expect("form login");
    assert_eq!(form.status().as_u16(), 200);
    assert!(json(form).await["access_token"].is_string());

    let xml = app
        .client
        .post(app.url(&paths::login()))
        .header("content-type", "application/xml")
        .body("<login/>")
        .send()
        .await
        .expect("request");
    assert_problem(xml, 415, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("jane_doe").await;
    let mut bodies = Vec::new();
    for (login, password) in [("jane_doe", "Wr0ngPassword"), ("nobody_here", PASSWORD)] {
        let response = app.post_login(login, password).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let mut body = assert_problem(response, 401, "UNAUTHORIZED").await;
        for volatile in ["request_id", "timestamp"] {
            body[volatile] = json!(null);
        }
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let user = app.user("jane_doe").await;

    let first = app.refresh(&user.refresh_token).await;
    assert_eq!(first.status().as_u16(), 200);
    let rotated = json(first).await;
    let second_refresh = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(second_refresh, user.refresh_token);
    let me = app.get_me(access_token(&rotated)).await;
    assert_eq!(me.status().as_u16(), 200);

    // The spent token again: refused, and the whole family with it.
    let reuse = app.refresh(&user.refresh_token).await;
    assert_problem(reuse, 401, "UNAUTHORIZED").await;
    let after = app.refresh(&second_refresh).await;
    assert_problem(after, 401, "UNAUTHORIZED").await;

    let garbage = app.refresh("not-a-token").await;
    assert_problem(garbage, 401, "UNAUTHORIZED").await;
    let empty = app.refresh("").await;
    assert_problem(empty, 422, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = spawn_app().await;
    let user = app.user("jane_doe").await;
    let other_session = app.login("jane_doe", PASSWORD).await;
    let logout = app.logout(&user.access_token, &user.refresh_token).await;
    assert_eq!(logout.status().as_u16(), 204);
    let refresh = app.refresh(&user.refresh_token).await;
    assert_problem(refresh, 401, "UNAUTHORIZED").await;
    // Another session of the same user is untouched.
    let other = app
        .refresh(crate::helpers::refresh_token(&other_session))
        .await;
    assert_eq!(other.status().as_u16(), 200);

    let anonymous = app
        .post_json(&paths::logout(), &json!({"refresh_token": "x"}))
        .await;
    assert_problem(anonymous, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_password_change_ends_every_session() {
    let app = spawn_app().await;
    let user = app.user("jane_doe").await;
    let wrong = app
        .change_password(
            user.id,
            &user.access_token,
            &json!({"current_password": "Wr0ngPassword", "new_password": "N3wPassword", "confirm_password": "N3wPassword"}),
        )
        .await;
    let body = assert_problem(wrong, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["error_details"][0]["field"], "current_password");

    let weak = app
        .change_password(
            user.id,
            &user.access_token,
            &json!({"current_password": PASSWORD, "new_password": "weak", "confirm_password": "other"}),
        )
        .await;
    let body = assert_problem(weak, 422, "VALIDATION_ERROR").await;
    let fields: Vec<&str> = body["error_details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"new_password") && fields.contains(&"__all__"),
        "{body}"
    );

    let changed = app
        .change_password(
            user.id,
            &user.access_token,
            &json!({"current_password": PASSWORD, "new_password": "N3wPassword", "confirm_password": "N3wPassword"}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 204);

    assert_problem(app.get_me(&user.access_token).await, 401, "UNAUTHORIZED").await;
    let refresh = app.refresh(&user.refresh_token).await;
    assert_problem(refresh, 401, "UNAUTHORIZED").await;
    let old = app.post_login("jane_doe", PASSWORD).await;
    assert_problem(old, 401, "UNAUTHORIZED").await;
    app.login("jane_doe", "N3wPassword").await;
}

#[tokio::test]
async fn only_the_user_changes_their_password() {
    let app = spawn_app().await;
    let user = app.user("jane_doe").await;
    let admin = app.admin().await;
    let body = json!({"current_password": PASSWORD, "new_password": "N3wPassword", "confirm_password": "N3wPassword"});
    let by_admin = app
        .change_password(user.id, &admin.access_token, &body)
        .await;
    assert_problem(by_admin, 403, "FORBIDDEN").await;
}

fn forge(header: &serde_json::Value, claims: &serde_json::Value, secret: &[u8]) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let head = URL_SAFE_NO_PAD.encode(header.to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let signature = jsonwebtoken::crypto::sign(
        format!("{head}.{body}").as_bytes(),
        &key,
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("sign");
    format!("{head}.{body}.{signature}")
}

#[tokio::test]
async fn token_attacks_are_refused() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let app = spawn_app().await;
    let user = app.user("jane_doe").await;
    let secret = crate::helpers::SECRET_KEY.as_bytes();
    let now = chrono::Utc::now().timestamp();
    let claims = |overrides: serde_json::Value| {
        let mut claims = json!({
            "sub": user.id.to_string(), "exp": now + 600, "iat": now, "nbf": now,
            "iss": "vidgen", "aud": "vidgen-api", "jti": uuid::Uuid::new_v4().to_string(),
            "role": "user", "ver": 0
        });
        if let (Some(target), Some(extra)) = (claims.as_object_mut(), overrides.as_object()) {
            for (key, value) in extra {
                target.insert(key.clone(), value.clone());
            }
        }
        claims
    };
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});

    // The forger is right when it uses the real key and claims: the control case.
    let genuine = forge(&hs256, &claims(json!({})), secret);
    assert_eq!(app.get_me(&genuine).await.status().as_u16(), 200);

    let mut tampered: Vec<&str> = user.access_token.split('.').collect();
    let admin_claims =
        URL_SAFE_NO_PAD.encode(claims(json!({"role": "admin", "sub": "1"})).to_string());
    tampered[1] = &admin_claims;
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let attacks = [
        (
            "expired",
            forge(
                &hs256,
                &claims(json!({"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200})),
                secret,
            ),
        ),
        (
            "wrong key",
            forge(
                &hs256,
                &claims(json!({})),
                b"another-secret-that-is-32-bytes-long!",
            ),
        ),
        (
            "wrong audience",
            forge(&hs256, &claims(json!({"aud": "someone-else"})), secret),
        ),
        (
            "wrong issuer",
            forge(&hs256, &claims(json!({"iss": "evil"})), secret),
        ),
        (
            "old token version",
            forge(&hs256, &claims(json!({"ver": -1})), secret),
        ),
        ("alg none", none_token),
        ("tampered payload", tampered.join(".")),
        ("garbage", "abc".to_owned()),
    ];
    for (name, token) in attacks {
        let response = app.get_me(&token).await;
        assert_eq!(response.status().as_u16(), 401, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
        assert_problem(response, 401, "UNAUTHORIZED").await;
    }
    let no_header = app.get(&paths::me()).await;
    assert_problem(no_header, 401, "UNAUTHORIZED").await;
}
