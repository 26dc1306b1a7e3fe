//! `STORAGE_BACKEND=s3` end to end, against an S3-compatible server (`TEST_S3_ENDPOINT`,
//! or a `moto_server` these tests start; without either they fail): renders, uploads and
//! avatars land in the bucket, not under `MEDIA_ROOT`; content is served from the bucket
//! with ranges and validators; deletions remove the objects; start-up refuses a bucket
//! it cannot reach.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    TestApp, TestUser, base_vars, eventually, json, media_files, spawn_app_with, wait_for_video,
};

/// A new bucket on the test server (`TEST_S3_ENDPOINT`, or a `moto_server` started once
/// for this process).
async fn new_bucket() -> (String, String) {
    vidgen_infrastructure::test_support::new_bucket("e2e").await
}

fn s3_vars(vars: &mut HashMap<String, String>, endpoint: &str, bucket: &str) {
    for (name, value) in [
        ("STORAGE_BACKEND", "s3"),
        ("S3_BUCKET", bucket),
        ("S3_ENDPOINT", endpoint),
        ("S3_REGION", "us-east-1"),
        ("S3_ACCESS_KEY_ID", "test"),
        ("S3_SECRET_ACCESS_KEY", "test"),
        ("S3_FORCE_PATH_STYLE", "true"),
    ] {
        vars.insert(name.to_owned(), value.to_owned());
    }
}

/// The keys in the bucket (the test server answers unsigned listings).
async fn objects(endpoint: &str, bucket: &str) -> Vec<String> {
    let listing = reqwest::get(format!("{endpoint}/{bucket}"))
        .await
        .expect("list the bucket")
        .text()
        .await
        .expect("listing");
    let mut keys: Vec<String> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect();
    keys.sort();
    keys
}

async fn rendered(app: &TestApp, user: &TestUser) -> serde_json::Value {
    let response = app
        .create_video(
            &user.access_token,
            &json!({"title": "Bucket", "prompt": "A harbour in fog", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    wait_for_video(app, user, id, "completed").await
}

#[tokio::test]
async fn renders_are_stored_in_the_bucket_and_served_from_it_with_ranges() {
    let (endpoint, bucket) = new_bucket().await;
    let app = spawn_app_with(|vars| s3_vars(vars, &endpoint, &bucket)).await;
    let jane = app.user("jane").await;
    let video = rendered(&app, &jane).await;
    let id = video["id"].as_i64().expect("id");
    let size = video["file_size"].as_u64().expect("file_size");

    let stored = objects(&endpoint, &bucket).await;
    assert_eq!(stored.len(), 2, "the video and its thumbnail: {stored:?}");
    assert!(
        stored.iter().any(|k| k.ends_with(".mp4")) && stored.iter().any(|k| k.ends_with(".png")),
        "{stored:?}"
    );
    assert!(
        media_files(&app).is_empty(),
        "nothing kept locally: {:?}",
        media_files(&app)
    );

    let whole = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(whole.status().as_u16(), 200);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["cache-control"], "private, no-cache");
    assert!(whole.headers().contains_key("last-modified"));
    let etag = whole.headers()["etag"].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    let bytes = whole.bytes().await.expect("body");
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(&bytes[4..8], b"ftyp");

    let content = app.url(&crate::helpers::paths::video_content(id));
    let get = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = app.client.get(&content).bearer_auth(&jane.access_token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let ranged = get(&[("Range", "bytes=100-199")]).await.expect("range");
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 100-199/{size}").as_str()
    );
    assert_eq!(ranged.headers()["etag"], etag.as_str());
    assert_eq!(ranged.bytes().await.expect("body"), bytes.slice(100..200));
    let tail = get(&[("Range", "bytes=-10")]).await.expect("suffix");
    assert_eq!(tail.status().as_u16(), 206);
    assert_eq!(
        tail.bytes().await.expect("body"),
        bytes.slice(bytes.len() - 10..)
    );

    let revalidated = app
        .client
        .get(&content)
        .bearer_auth(&jane.access_token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("revalidate");
    assert_eq!(revalidated.status().as_u16(), 304);
    assert!(revalidated.bytes().await.expect("body").is_empty());
    let beyond = app
        .client
        .get(&content)
        .bearer_auth(&jane.access_token)
        .header("Range", format!("bytes={size}-"))
        .send()
        .await
        .expect("beyond");
    assert_eq!(beyond.status().as_u16(), 416);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );

    let thumbnail = app.get_video_thumbnail(id, &jane.access_token).await;
    assert_eq!(thumbnail.status().as_u16(), 200);
    assert_eq!(thumbnail.headers()["content-type"], "image/png");
    assert!(
        thumbnail
            .bytes()
            .await
            .expect("thumbnail")
            .starts_with(b"\x89PNG\r\n\x1a\n")
    );

    let deleted = app.delete_video(id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    eventually(Duration::from_secs(10), async || {
        let left = objects(&endpoint, &bucket).await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("objects left after the deletion: {left:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn uploads_and_avatars_go_to_the_bucket_and_are_probed_from_it() {
    let (endpoint, bucket) = new_bucket().await;
    let app = spawn_app_with(|vars| s3_vars(vars, &endpoint, &bucket)).await;
    let jane = app.user("jane").await;
    // A rendered MP4 as the upload's bytes.
    let source = rendered(&app, &jane).await;
    let mp4 = app
        .get_video_content(source["id"].as_i64().expect("id"), &jane.access_token)
        .await
        .bytes()
        .await
        .expect("content")
        .to_vec();
    let before = objects(&endpoint, &bucket).await;

    let form = reqwest::multipart::Form::new()
        .text("title", "Uploaded")
        .part(
            "file",
            reqwest::multipart::Part::bytes(mp4.clone())
                .file_name("clip.mp4")
                .mime_str("video/mp4")
                .expect("mime"),
        );
    let response = app.upload_video(&jane.access_token, form, None).await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    let done = wait_for_video(&app, &jane, id, "completed").await;
    assert_eq!(done["file_size"], json!(mp4.len()));
    assert!(done["duration"].as_f64().expect("duration") > 0.0, "{done}");
    let after = objects(&endpoint, &bucket).await;
    assert_eq!(
        after.len(),
        before.len() + 2,
        "the upload and its thumbnail: {after:?}"
    );
    let served = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.bytes().await.expect("body").to_vec(), mp4);
    assert!(
        media_files(&app).is_empty(),
        "no copies left: {:?}",
        media_files(&app)
    );

    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    }))
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .expect("png");
    let put = app.put_avatar_bytes(jane.id, &jane.access_token, png).await;
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(objects(&endpoint, &bucket).await.len(), after.len() + 1);
    let avatar = app.get_avatar(jane.id, &jane.access_token).await;
    assert_eq!(avatar.status().as_u16(), 200);
    assert!(avatar.headers().contains_key("etag"));
    let deleted = app.delete_avatar(jane.id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    eventually(Duration::from_secs(10), async || {
        let left = objects(&endpoint, &bucket).await;
        if left.len() == after.len() {
            Ok(())
        } else {
            Err(format!("the avatar's object is still there: {left:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn start_up_refuses_a_bucket_it_cannot_reach() {
    let endpoint = vidgen_infrastructure::test_support::s3_endpoint();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = base_vars(dir.path());
    vars.insert(
        "DATABASE_URL".into(),
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        ),
    );
    s3_vars(&mut vars, &endpoint, "missing-bucket");
    let settings = vidgen_infrastructure::settings::Settings::from_map(&vars).expect("settings");
    let error = match vidgen_server::Application::build_with(settings, None).await {
        Ok(_) => panic!("a missing bucket must stop start-up"),
        Err(error) => error,
    };
    let mut line = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        line.starts_with("STORAGE_BACKEND=s3: bucket `missing-bucket`") && line.contains(&endpoint),
        "{line}"
    );
}
