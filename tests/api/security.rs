//! The second outside audit's reproductions, each replayed against the real application:
//! a client picking its own address behind the proxy, a flood of tiny multipart parts,
//! percent-encoded paths around the guards, a stolen token moving an account to another
//! mailbox, links built from forwarding headers, two login budgets per account, and an
//! avatar route that told which users exist.

use std::io::Cursor;

use futures_util::stream;
use serde_json::{Value, json};

use crate::account::{app_mailing_to, parse};
use crate::helpers::{PASSWORD, TestApp, assert_problem, json, paths, spawn_app_with};
use crate::mail_sink::MailSink;

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An app behind a trusted proxy on loopback, `requests` API calls a minute per client,
/// reading `forwarded_header` (its default when `None`).
async fn behind_proxy(requests: u32, forwarded_header: Option<&'static str>) -> TestApp {
    spawn_app_with(move |vars| {
        vars.insert("RATE_LIMIT_REQUESTS".into(), requests.to_string());
        vars.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
        if let Some(name) = forwarded_header {
            vars.insert("FORWARDED_HEADER".into(), name.into());
        }
    })
    .await
}

/// Anonymous `GET /users/me` with `headers` until refused (at most `tries`).
async fn refused_within(app: &TestApp, headers: &[(&str, String)], tries: usize) -> bool {
    for _ in 0..tries {
        let mut request = app.client.get(app.url(&paths::me()));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if request.send().await.expect("send").status().as_u16() == 429 {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_client_cannot_pick_its_address_with_the_other_forwarding_header() {
    // The proxy appends X-Forwarded-For (the default); the client varies `Forwarded`.
    let app = behind_proxy(5, None).await;
    let spoofing = |n: usize| {
        vec![
            ("Forwarded", format!("for=198.51.100.{n}")),
            ("X-Forwarded-For", "203.0.113.7".to_owned()),
        ]
    };
    let mut refused = false;
    for n in 0..10 {
        if refused_within(&app, &spoofing(n), 1).await {
            refused = true;
            break;
        }
    }
    assert!(refused, "every spoofed Forwarded value shared one budget");

    // The proxies write `Forwarded`: then X-Forwarded-For is the client's to forge.
    let app = behind_proxy(5, Some("forwarded")).await;
    let mut refused = false;
    for n in 0..10 {
        let headers = vec![
            ("X-Forwarded-For", format!("198.51.100.{n}")),
            ("Forwarded", "for=203.0.113.7".to_owned()),
        ];
        if refused_within(&app, &headers, 1).await {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "every spoofed X-Forwarded-For value shared one budget"
    );
    // A client the proxy names in `Forwarded` has a budget of its own.
    let other = vec![("Forwarded", "for=\"[2001:db8::1]:443\"".to_owned())];
    assert!(!refused_within(&app, &other, 2).await);
}

#[tokio::test]
async fn ipv6_clients_are_counted_by_their_64() {
    let app = behind_proxy(5, None).await;
    let mut refused = false;
    for n in 1..=10 {
        let headers = vec![("X-Forwarded-For", format!("2001:db8:1:2::{n:x}"))];
        if refused_within(&app, &headers, 1).await {
            refused = true;
            break;
        }
    }
    assert!(refused, "addresses of one /64 share a budget");
    let elsewhere = vec![("X-Forwarded-For", "2001:db8:1:3::1".to_owned())];
    assert!(
        !refused_within(&app, &elsewhere, 2).await,
        "another /64 is another client"
    );
}

#[tokio::test]
async fn an_encoded_path_gets_the_guards_of_its_plain_form() {
    let app = spawn_app_with(|vars| {
        vars.insert("RATE_LIMIT_REQUESTS".into(), "60".into());
    })
    .await;
    let jane = app.user("jane").await;
    let encoded = paths::me().replacen("/api/", "/%61pi/", 1);
    assert_ne!(encoded, paths::me());
    let response = app
        .client
        .get(app.url(&encoded))
        .bearer_auth(&jane.access_token)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        header(&response, "x-ratelimit-limit").as_deref(),
        Some("60")
    );
    assert!(
        header(&response, "cache-control").is_some_and(|v| v.contains("private")),
        "{:?}",
        response.headers()
    );
    let etag = header(&response, "etag").expect("an ETag");
    let again = app
        .client
        .get(app.url(&encoded))
        .bearer_auth(&jane.access_token)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status().as_u16(), 304);
}

/// A chunked `multipart/form-data` body of `count` empty parts named `x0`, `x1`, ...
/// (the audit's: no `Content-Length`, so only the bytes read can bound it).
fn flood(count: usize) -> reqwest::Body {
    let parts = (0..count).map(|i| {
        Ok::<_, std::io::Error>(format!(
            "--B0undary\r\nContent-Disposition: form-data; name=\"x{i}\"\r\n\r\n\r\n"
        ))
    });
    let end = std::iter::once(Ok("--B0undary--\r\n".to_owned()));
    reqwest::Body::wrap_stream(stream::iter(parts.chain(end)))
}

#[tokio::test]
async fn a_flood_of_tiny_parts_is_one_error_at_once() {
    let app = spawn_app_with(|vars| {
        vars.insert("MAX_UPLOAD_BYTES".into(), "1048576".into());
        vars.insert("MAX_AVATAR_BYTES".into(), "65536".into());
    })
    .await;
    let jane = app.user("jane").await;
    for path in [paths::video_upload(), paths::user_avatar(jane.id)] {
        let request = if path.ends_with("/avatar") {
            app.client.put(app.url(&path))
        } else {
            app.client.post(app.url(&path))
        };
        let response = request
            .bearer_auth(&jane.access_token)
            .header("Content-Type", "multipart/form-data; boundary=B0undary")
            .body(flood(320_000))
            .send()
            .await
            .expect("send");
        let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(
            body["error_details"],
            json!([{"field": "x0", "message": "unknown field", "code": "unknown_field"}]),
            "{path}"
        );
    }
}

#[tokio::test]
async fn every_byte_of_a_chunked_form_counts_against_its_budget() {
    let app = spawn_app_with(|vars| {
        vars.insert("MAX_AVATAR_BYTES".into(), "65536".into());
    })
    .await;
    let jane = app.user("jane").await;
    // A preamble (which no part holds, and the parser skips) far past the budget.
    let padding = "this is the preamble of a multipart body, which parsers skip.\r\n";
    let chunks = std::iter::repeat_n(padding.to_owned(), 20_000)
        .chain(std::iter::once(
            "--B0undary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B0undary--\r\n"
                .to_owned(),
        ))
        .map(Ok::<_, std::io::Error>);
    let response = app
        .client
        .put(app.url(&paths::user_avatar(jane.id)))
        .bearer_auth(&jane.access_token)
        .header("Content-Type", "multipart/form-data; boundary=B0undary")
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await;
    // Either the 413 arrives, or the server closes the connection after answering it
    // while the client is still sending.
    if let Ok(response) = response {
        assert_problem(response, 413, "PAYLOAD_TOO_LARGE").await;
    }
}

#[tokio::test]
async fn changing_ones_own_address_needs_the_password_and_tells_the_old_address() {
    let sink = MailSink::start().await;
    let app = app_mailing_to(&sink, false).await;
    let jane = app.user("jane").await;
    let change = |body: Value| {
        let app = &app;
        let token = jane.access_token.clone();
        async move { app.update_user(jane.id, &token, &body).await }
    };

    // A stolen access token alone cannot move the account.
    let body = assert_problem(
        change(json!({"email": "thief@example.net"})).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    assert_eq!(body["error_details"][0]["field"], "current_password");
    assert_problem(
        change(json!({"email": "thief@example.net", "current_password": "Wr0ngPassword"})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["email"], "jane@example.com", "nothing changed");

    // With the password it moves, and the old address is told.
    let moved = change(json!({"email": "jane@new.example", "current_password": PASSWORD})).await;
    assert_eq!(moved.status().as_u16(), 200);
    let mails = sink.wait_for("jane@example.com", 1).await;
    let notice = parse(&mails[0]);
    assert!(notice.subject.contains("changed"), "{}", notice.subject);
    assert!(notice.text.contains("jane@new.example"), "{}", notice.text);
    assert!(notice.html.contains("jane@new.example"), "{}", notice.html);

    // The same address needs no password (a full replacement keeps it).
    let same = app
        .replace_user(
            jane.id,
            &jane.access_token,
            &json!({"username": "jane", "name": "Jane", "email": "jane@new.example"}),
        )
        .await;
    assert_eq!(same.status().as_u16(), 200);

    // An admin moving someone else needs none, and the old address is told too.
    let admin = app.admin().await;
    let response = app
        .update_user(
            jane.id,
            &admin.access_token,
            &json!({"email": "jane@third.example"}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    sink.wait_for("jane@new.example", 1).await;
}

#[tokio::test]
async fn the_username_and_the_address_of_an_account_share_one_login_budget() {
    let app = spawn_app_with(|vars| {
        vars.insert("LOGIN_RATE_LIMIT".into(), "3".into());
    })
    .await;
    app.register("jane").await;
    assert_eq!(
        app.post_login("jane", "Wr0ngPassword")
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        app.post_login("jane@example.com", "Wr0ngPassword")
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        app.post_login("JANE", "Wr0ngPassword")
            .await
            .status()
            .as_u16(),
        401
    );
    assert_problem(
        app.post_login("jane@example.com", PASSWORD).await,
        429,
        "RATE_LIMITED",
    )
    .await;
}

#[tokio::test]
async fn a_missing_user_and_a_missing_avatar_get_one_answer() {
    let app = spawn_app_with(|_| {}).await;
    let jane = app.user("jane").await;
    let missing_user = app
        .get_as(&paths::user_avatar(999_999), &jane.access_token)
        .await;
    let no_avatar = app
        .get_as(&paths::user_avatar(jane.id), &jane.access_token)
        .await;
    let a = assert_problem(missing_user, 404, "NOT_FOUND").await;
    let b = assert_problem(no_avatar, 404, "NOT_FOUND").await;
    assert_eq!(a["message"], b["message"]);
    assert_eq!(a["detail"], b["detail"]);
}

fn small_png() -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(16, 12, |x, y| image::Rgb([x as u8 * 9, y as u8 * 9, 77]));
    let mut bytes = Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("encode a PNG");
    bytes.into_inner()
}

#[tokio::test]
async fn links_never_start_at_a_forwarded_host() {
    let app = spawn_app_with(|vars| {
        vars.insert("TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    })
    .await;
    let jane = app.user("jane").await;
    let set = app
        .put_avatar_bytes(jane.id, &jane.access_token, small_png())
        .await;
    assert_eq!(set.status().as_u16(), 200);
    let response = app
        .client
        .get(app.url(&paths::me()))
        .bearer_auth(&jane.access_token)
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "javascript")
        .header("Forwarded", "host=evil.example;proto=javascript")
        .send()
        .await
        .expect("send");
    let me = json(response).await;
    let link = me["avatar_url"].as_str().expect("an avatar link");
    assert!(link.starts_with(&app.url("/")), "{link}");
    assert!(!link.contains("evil"), "{link}");
}
