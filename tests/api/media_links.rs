//! Signed media links: `content_url`, `thumbnail_url` and `avatar_url` open without a
//! bearer token (what a `<video>` or `<img>` element needs), with ranges and ETags as
//! with the token; every bad link is 404, and a password change or suspension ends old
//! links.

use serde_json::json;

use crate::helpers::{
    PASSWORD, TestApp, TestUser, assert_problem, json, paths, spawn_app, wait_for_video,
};

async fn completed_video(app: &TestApp, user: &TestUser, title: &str) -> serde_json::Value {
    let response = app
        .create_video(
            &user.access_token,
            &json!({"title": title, "prompt": "A lighthouse at night", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    wait_for_video(app, user, id, "completed").await
}

fn link<'a>(video: &'a serde_json::Value, field: &str) -> &'a str {
    video[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {video}"))
}

/// `url` with its query parameter `name` replaced by `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == name => format!("{key}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .expect("a query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

async fn anonymous(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(url).send().await.expect("GET")
}

#[tokio::test]
async fn signed_links_open_files_without_a_token_with_ranges_and_etags() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let video = completed_video(&app, &jane, "Lighthouse").await;
    let content = link(&video, "content_url");
    let thumbnail = link(&video, "thumbnail_url");
    let id = video["id"].as_i64().expect("id");
    for (url, path) in [
        (content, paths::video_content(id)),
        (thumbnail, paths::video_thumbnail(id)),
    ] {
        assert!(
            url.starts_with(&format!("{}?", app.url(&path))),
            "absolute and under the route: {url}"
        );
        assert!(param(url, "expires").parse::<i64>().is_ok(), "{url}");
    }

    let whole = anonymous(&app, content).await;
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    let etag = whole.headers()["etag"].clone();
    let bytes = whole.bytes().await.expect("body");
    assert_eq!(Some(bytes.len() as i64), video["file_size"].as_i64());
    assert_eq!(&bytes[4..8], b"ftyp");

    let ranged = app
        .client
        .get(content)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await.expect("body").len(), 100);
    let revalidated = app
        .client
        .get(content)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(revalidated.status().as_u16(), 304);

    let picture = anonymous(&app, thumbnail).await;
    assert_eq!(picture.status().as_u16(), 200);
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert!(
        picture
            .bytes()
            .await
            .expect("body")
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );

    // The bearer token still opens the same routes, without a signature.
    let with_token = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(with_token.status().as_u16(), 200);
    // Without either, the route asks for authentication.
    let bare = anonymous(&app, &app.url(&paths::video_content(id))).await;
    assert_problem(bare, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn links_are_stable_between_reads_so_the_json_keeps_its_etag() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let video = completed_video(&app, &jane, "Stable").await;
    let id = video["id"].as_i64().expect("id");
    let first = app.get_video(id, &jane.access_token).await;
    let first_etag = first.headers()["etag"].clone();
    let first = json(first).await;
    let second = app.get_video(id, &jane.access_token).await;
    assert_eq!(second.headers()["etag"], first_etag);
    assert_eq!(json(second).await["content_url"], first["content_url"]);
    // A list shows the same links.
    let list = json(app.list_videos("", &jane.access_token).await).await;
    assert_eq!(list[0]["content_url"], first["content_url"]);
    assert_eq!(list[0]["thumbnail_url"], first["thumbnail_url"]);
}

#[tokio::test]
async fn every_bad_link_is_not_found() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let lake = completed_video(&app, &jane, "Lake").await;
    let hill = completed_video(&app, &jane, "Hill").await;
    let content = link(&lake, "content_url");
    let signature = param(content, "signature");
    let expires: i64 = param(content, "expires").parse().expect("expires");
    let mut altered = signature.to_owned();
    let last = altered.pop().expect("a character");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let hill_id = hill["id"].as_i64().expect("id");
    let lake_id = lake["id"].as_i64().expect("id");
    let bad = [
        with_param(content, "signature", &altered),
        with_param(content, "signature", "forged"),
        with_param(content, "expires", &(expires + 1).to_string()),
        with_param(content, "expires", "tomorrow"),
        with_param(content, "expires", &(expires - 100_000).to_string()),
        // The signature of one video opens no other, nor the other file of the same one.
        format!(
            "{}?expires={expires}&signature={signature}",
            app.url(&paths::video_content(hill_id))
        ),
        format!(
            "{}?expires={expires}&signature={signature}",
            app.url(&paths::video_thumbnail(lake_id))
        ),
        // Half a link.
        format!(
            "{}?signature={signature}",
            app.url(&paths::video_content(lake_id))
        ),
        format!(
            "{}?expires={expires}",
            app.url(&paths::video_content(lake_id))
        ),
    ];
    for url in bad {
        assert_problem(anonymous(&app, &url).await, 404, "NOT_FOUND").await;
    }
    // The untouched link still works.
    assert_eq!(anonymous(&app, content).await.status().as_u16(), 200);
}

/// Changes `user`'s password (from [`PASSWORD`]), which ends the links signed before.
async fn change_password(app: &TestApp, user: &TestUser) {
    let changed = app
        .change_password(
            user.id,
            &user.access_token,
            &json!({"current_password": PASSWORD, "new_password": "N3wPassword!", "confirm_password": "N3wPassword!"}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 204, "password change");
}

#[tokio::test]
async fn a_password_change_or_a_suspension_ends_old_links() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let video = completed_video(&app, &jane, "Before").await;
    let old = link(&video, "content_url").to_owned();
    assert_eq!(anonymous(&app, &old).await.status().as_u16(), 200);
    change_password(&app, &jane).await;
    assert_problem(anonymous(&app, &old).await, 404, "NOT_FOUND").await;

    // A new session gets new links, which work until the user is suspended.
    let tokens = app.login("jane", "N3wPassword!").await;
    let token = crate::helpers::access_token(&tokens).to_owned();
    let id = video["id"].as_i64().expect("id");
    let fresh = json(app.get_video(id, &token).await).await;
    let new = link(&fresh, "content_url").to_owned();
    assert_ne!(new, old);
    assert_eq!(anonymous(&app, &new).await.status().as_u16(), 200);
    let admin = app.admin().await;
    let suspended = app
        .set_user_status(jane.id, &admin.access_token, "suspended")
        .await;
    assert_eq!(suspended.status().as_u16(), 200);
    assert_problem(anonymous(&app, &new).await, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn an_admin_sees_links_signed_for_the_owner() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let video = completed_video(&app, &jane, "Jane's").await;
    let admin = app.admin().await;
    let id = video["id"].as_i64().expect("id");
    let seen = json(app.get_video(id, &admin.access_token).await).await;
    assert_eq!(seen["content_url"], video["content_url"]);
    let listed = json(app.list_videos("", &admin.access_token).await).await;
    assert_eq!(listed[0]["content_url"], video["content_url"]);
    assert_eq!(
        anonymous(&app, link(&seen, "content_url"))
            .await
            .status()
            .as_u16(),
        200
    );
}

/// A small PNG picture, as an upload.
fn picture() -> Vec<u8> {
    let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    }));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

/// `user`'s signed `avatar_url` after uploading a picture.
async fn avatar_link(app: &TestApp, user: &TestUser) -> String {
    let response = app
        .put_avatar_bytes(user.id, &user.access_token, picture())
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = json(response).await;
    link(&body, "avatar_url").to_owned()
}

#[tokio::test]
async fn a_signed_avatar_link_opens_without_a_token_and_only_that_avatar() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let url = avatar_link(&app, &jane).await;
    assert!(
        url.starts_with(&app.url(&format!("/api/v1/users/{}/avatar?", jane.id))),
        "{url}"
    );
    let response = anonymous(&app, &url).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/png"[..])
    );
    let etag = response.headers().get("etag").cloned().expect("an ETag");
    let revalidated = app
        .client
        .get(&url)
        .header("If-None-Match", etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(revalidated.status().as_u16(), 304, "ETags work with links");

    // Every view of the user carries the same link within its time bucket.
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["avatar_url"], url.as_str());
    let other = app.user("other").await;
    let public = json(app.get_user_by_username("jane", &other.access_token).await).await;
    assert_eq!(public["avatar_url"], url.as_str());

    // Another user's avatar does not open with Jane's signature.
    let theirs = avatar_link(&app, &other).await;
    let stolen = with_param(&theirs, "signature", param(&url, "signature"));
    assert_problem(anonymous(&app, &stolen).await, 404, "NOT_FOUND").await;
    for bad in [
        with_param(&url, "signature", "AAAA"),
        with_param(&url, "expires", "1"),
        url.split_once('?')
            .map(|(base, _)| format!("{base}?expires=1"))
            .expect("query"),
    ] {
        assert_problem(anonymous(&app, &bad).await, 404, "NOT_FOUND").await;
    }
    // Without any link query the route still wants the bearer token.
    let bare = url.split_once('?').expect("query").0;
    assert_eq!(anonymous(&app, bare).await.status().as_u16(), 401);
    assert_eq!(
        app.get_avatar(jane.id, &other.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_password_change_ends_old_avatar_links() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let url = avatar_link(&app, &jane).await;
    assert_eq!(anonymous(&app, &url).await.status().as_u16(), 200);
    change_password(&app, &jane).await;
    assert_problem(anonymous(&app, &url).await, 404, "NOT_FOUND").await;
}
