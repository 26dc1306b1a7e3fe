//! `/users/{id}/avatar`: pictures recognised by their bytes, size limits, re-encoding
//! into the 512x512 square without metadata, the decompression bomb refused from its
//! header, the files kept in step with the rows, on both databases.

use std::io::Cursor;

use image::{DynamicImage, GenericImageView, Rgb, RgbImage};
use serde_json::Value;
use vidgen_domain::users::profile::Avatar;

use crate::helpers::{assert_problem, json, spawn_app, spawn_app_with};

fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }))
}

fn encoded(picture: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, format).expect("encode fixture");
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A 68-byte PNG: the signature, an IHDR declaring `width` x `height` RGB pixels (with a
/// correct CRC), an IDAT holding an empty zlib stream, and IEND. Decoded, it would need
/// width x height x 3 bytes.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("short").to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // zlib header, one final stored block of length 0, the Adler-32 of nothing.
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 1],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// `jpeg` with an APP1 Exif segment inserted after SOI: a TIFF block whose GPS IFD holds
/// a latitude (48° 51' 29.8" N) and a longitude (2° 17' 40.2" E).
fn with_exif_gps(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = Vec::new();
    let u16le = |v: u16| v.to_le_bytes();
    let u32le = |v: u32| v.to_le_bytes();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&u32le(8));
    // IFD0 at 8: one entry, the GPS IFD pointer, then no next IFD (8 + 2 + 12 + 4 = 26).
    tiff.extend_from_slice(&u16le(1));
    for part in [u16le(0x8825), u16le(4)] {
        tiff.extend_from_slice(&part);
    }
    tiff.extend_from_slice(&u32le(1));
    tiff.extend_from_slice(&u32le(26));
    tiff.extend_from_slice(&u32le(0));
    // GPS IFD at 26: four entries (26 + 2 + 48 + 4 = 80), rationals from 80.
    tiff.extend_from_slice(&u16le(4));
    let entries: [(u16, u16, u32, [u8; 4]); 4] = [
        (0x0001, 2, 2, *b"N\0\0\0"),
        (0x0002, 5, 3, u32le(80)),
        (0x0003, 2, 2, *b"E\0\0\0"),
        (0x0004, 5, 3, u32le(104)),
    ];
    for (tag, kind, count, value) in entries {
        tiff.extend_from_slice(&u16le(tag));
        tiff.extend_from_slice(&u16le(kind));
        tiff.extend_from_slice(&u32le(count));
        tiff.extend_from_slice(&value);
    }
    tiff.extend_from_slice(&u32le(0));
    for (numerator, denominator) in [(48, 1), (51, 1), (298, 10), (2, 1), (17, 1), (402, 10)] {
        tiff.extend_from_slice(&u32le(numerator));
        tiff.extend_from_slice(&u32le(denominator));
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let length = u16::try_from(payload.len() + 2).expect("short segment");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The APP1 segments of a JPEG, up to its image data.
fn app1_segments(jpeg: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
    let mut found = Vec::new();
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF && jpeg[at + 1] != 0xDA {
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if jpeg[at + 1] == 0xE1 {
            found.push(jpeg[at + 4..at + 2 + length].to_vec());
        }
        at += 2 + length;
    }
    found
}

/// The avatar files in the media folder.
fn avatar_files(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| [".png", ".jpg", ".webp"].iter().any(|ext| n.ends_with(ext)))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn served(response: reqwest::Response) -> (String, Vec<u8>) {
    assert_eq!(response.status().as_u16(), 200, "avatar served");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.bytes().await.expect("avatar bytes").to_vec();
    (content_type, bytes)
}

#[tokio::test]
async fn a_large_png_is_stored_within_512_and_served_with_caching_headers() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["avatar_url"], Value::Null, "no avatar yet: {me}");

    let response = app
        .put_avatar_bytes(
            jane.id,
            &jane.access_token,
            encoded(&gradient(1024, 768), image::ImageFormat::Png),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let user = json(response).await;
    let url = user["avatar_url"].as_str().expect("avatar_url").to_owned();
    let unsigned = app.url(&format!("/api/v1/users/{}/avatar", jane.id));
    assert!(
        url.starts_with(&format!("{unsigned}?expires=")) && url.contains("&signature="),
        "an absolute signed link: {user}"
    );
    assert_eq!(user["email"], "jane@example.com", "the full user: {user}");

    let other = app.user("other").await;
    let public = json(app.get_user_by_username("jane", &other.access_token).await).await;
    assert_eq!(public["avatar_url"], url.as_str(), "public view: {public}");

    let response = app.get_avatar(jane.id, &other.access_token).await;
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an ETag");
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(cache.as_deref(), Some("private, no-cache"));
    assert!(response.headers().contains_key("last-modified"));
    let (content_type, bytes) = served(response).await;
    assert_eq!(content_type, "image/png");
    let picture =
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("a PNG");
    assert_eq!(
        picture.dimensions(),
        (512, 384),
        "scaled to fit, proportions kept"
    );

    let revalidated = app
        .client
        .get(&unsigned)
        .bearer_auth(&other.access_token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(revalidated.status().as_u16(), 304, "revalidated by ETag");
}

#[tokio::test]
async fn jpeg_and_webp_are_accepted_and_kept_in_their_format() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    for (format, content_type, size, stored) in [
        (
            image::ImageFormat::Jpeg,
            "image/jpeg",
            (300, 900),
            (170, 512),
        ),
        (image::ImageFormat::WebP, "image/webp", (64, 48), (64, 48)),
    ] {
        let response = app
            .put_avatar_bytes(
                jane.id,
                &jane.access_token,
                encoded(&gradient(size.0, size.1), format),
            )
            .await;
        assert_eq!(response.status().as_u16(), 200, "{content_type}");
        let (served_type, bytes) = served(app.get_avatar(jane.id, &jane.access_token).await).await;
        assert_eq!(served_type, content_type);
        let picture = image::load_from_memory_with_format(&bytes, format).expect("decodes");
        assert_eq!(picture.dimensions(), stored, "{content_type}");
    }
}

#[tokio::test]
async fn a_jpeg_with_gps_exif_comes_back_without_it() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let fixture = with_exif_gps(&encoded(&gradient(640, 480), image::ImageFormat::Jpeg));
    // The fixture really carries the position.
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(&fixture))
        .expect("the fixture has EXIF");
    let latitude = exif
        .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
        .expect("the fixture has a GPS latitude");
    assert!(
        latitude.display_value().to_string().contains("48"),
        "{}",
        latitude.display_value()
    );

    let response = app
        .put_avatar_bytes(jane.id, &jane.access_token, fixture)
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let (content_type, bytes) = served(app.get_avatar(jane.id, &jane.access_token).await).await;
    assert_eq!(content_type, "image/jpeg");
    assert!(
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(&bytes))
            .is_err(),
        "the served picture has no EXIF"
    );
    assert!(
        app1_segments(&bytes).is_empty(),
        "no APP1 segment (EXIF or XMP) is left"
    );
    let picture =
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).expect("decodes");
    assert_eq!(picture.dimensions(), (512, 384));
}

#[tokio::test]
async fn anything_but_a_png_jpeg_or_webp_is_415() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let png = encoded(&gradient(32, 32), image::ImageFormat::Png);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text named .png", b"definitely not a picture".to_vec()),
        ("gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec()),
        ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec()),
        ("truncated png", png[..png.len() / 2].to_vec()),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in cases {
        let body = assert_problem(
            app.put_avatar_bytes(jane.id, &jane.access_token, bytes)
                .await,
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains("PNG")),
            "{name}: {body}"
        );
    }
    let not_multipart = app
        .send(
            reqwest::Method::PUT,
            &crate::helpers::paths::user_avatar(jane.id),
            &jane.access_token,
            Some(&serde_json::json!({"file": "x"})),
        )
        .await;
    assert_problem(not_multipart, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    assert!(avatar_files(&app.media_root).is_empty(), "nothing stored");
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["avatar_url"], Value::Null, "{me}");
}

#[tokio::test]
async fn a_decompression_bomb_is_refused_from_its_header() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let bomb = bomb_png(100_000, 100_000);
    assert!(bomb.len() < 100, "a few bytes: {}", bomb.len());
    let body = assert_problem(
        app.put_avatar_bytes(jane.id, &jane.access_token, bomb)
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("100000x100000")),
        "{body}"
    );
    assert!(avatar_files(&app.media_root).is_empty(), "nothing stored");
    // The server is fine afterwards.
    let me = app.get_me(&jane.access_token).await;
    assert_eq!(me.status().as_u16(), 200);
}

#[tokio::test]
async fn a_40_megapixel_png_is_refused_fast_from_its_header() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let picture = bomb_png(8000, 5000);
    let started = std::time::Instant::now();
    let body = assert_problem(
        app.put_avatar_bytes(jane.id, &jane.access_token, picture)
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused without decoding: {:?}",
        started.elapsed()
    );
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("8000x5000"), "{body}");
    assert!(
        message.contains(&Avatar::MAX_SOURCE_PIXELS.to_string())
            && message.contains(&Avatar::MAX_SOURCE_SIDE.to_string()),
        "the message gives the limits: {body}"
    );
    assert!(avatar_files(&app.media_root).is_empty(), "nothing stored");
}

#[tokio::test]
async fn files_past_max_avatar_bytes_are_413() {
    let app = spawn_app_with(|vars| {
        vars.insert("MAX_AVATAR_BYTES".into(), "2048".into());
    })
    .await;
    let jane = app.user("jane").await;
    // Just past the limit: cut off while the part streams in.
    let mut over = encoded(&gradient(16, 16), image::ImageFormat::Png);
    over.resize(2049, 0);
    let body = assert_problem(
        app.put_avatar_bytes(jane.id, &jane.access_token, over)
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("2048")),
        "{body}"
    );
    // Far past it: refused from Content-Length before the body is read.
    let huge = vec![0u8; 1024 * 1024];
    assert_problem(
        app.put_avatar_bytes(jane.id, &jane.access_token, huge)
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    // Within the limit it works.
    let small = encoded(&gradient(8, 8), image::ImageFormat::Png);
    assert!(small.len() <= 2048);
    let ok = app
        .put_avatar_bytes(jane.id, &jane.access_token, small)
        .await;
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn the_form_needs_exactly_one_file_part() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let form = reqwest::multipart::Form::new().text("title", "me");
    let body = assert_problem(
        app.put_avatar(jane.id, &jane.access_token, form).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let fields: Vec<&str> = body["error_details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    // The first part the form does not take ends the reading: one error, at once.
    assert_eq!(fields, ["title"], "{body}");
    assert_eq!(body["error_details"][0]["code"], "unknown_field", "{body}");
}

#[tokio::test]
async fn avatars_are_changed_by_self_and_admins_and_seen_by_everyone() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let other = app.user("other").await;
    let moderator = app.moderator("mod").await;
    let admin = app.admin().await;
    let png = || encoded(&gradient(20, 20), image::ImageFormat::Png);

    assert_problem(
        app.put_avatar_bytes(jane.id, &moderator.access_token, png())
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        app.put_avatar_bytes(jane.id, &other.access_token, png())
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert_problem(
        app.get_avatar(jane.id, &other.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let by_admin = app
        .put_avatar_bytes(jane.id, &admin.access_token, png())
        .await;
    assert_eq!(by_admin.status().as_u16(), 200);
    for token in [
        &other.access_token,
        &moderator.access_token,
        &jane.access_token,
    ] {
        assert_eq!(app.get_avatar(jane.id, token).await.status().as_u16(), 200);
    }
    assert_problem(
        app.delete_avatar(jane.id, &moderator.access_token).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        app.delete_avatar(jane.id, &other.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let anonymous = app
        .client
        .get(app.url(&crate::helpers::paths::user_avatar(jane.id)))
        .send()
        .await
        .expect("request");
    assert_problem(anonymous, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn replacing_deleting_and_deleting_the_user_remove_the_old_files() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let admin = app.admin().await;

    let first = app
        .put_avatar_bytes(
            jane.id,
            &jane.access_token,
            encoded(&gradient(20, 20), image::ImageFormat::Png),
        )
        .await;
    assert_eq!(first.status().as_u16(), 200);
    let files = avatar_files(&app.media_root);
    assert_eq!(files.len(), 1, "{files:?}");

    let second = app
        .put_avatar_bytes(
            jane.id,
            &jane.access_token,
            encoded(&gradient(30, 30), image::ImageFormat::Jpeg),
        )
        .await;
    assert_eq!(second.status().as_u16(), 200);
    let replaced = avatar_files(&app.media_root);
    assert_eq!(replaced.len(), 1, "the old file is gone: {replaced:?}");
    assert_ne!(replaced, files, "a new file");
    assert!(replaced[0].ends_with(".jpg"), "{replaced:?}");

    let deleted = app.delete_avatar(jane.id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(
        avatar_files(&app.media_root).is_empty(),
        "removed with the avatar"
    );
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["avatar_url"], Value::Null, "{me}");
    assert_problem(
        app.get_avatar(jane.id, &jane.access_token).await,
        404,
        "NOT_FOUND",
    )
    .await;
    let again = app.delete_avatar(jane.id, &jane.access_token).await;
    assert_eq!(
        again.status().as_u16(),
        204,
        "removing no avatar changes nothing"
    );

    let third = app
        .put_avatar_bytes(
            jane.id,
            &jane.access_token,
            encoded(&gradient(20, 20), image::ImageFormat::WebP),
        )
        .await;
    assert_eq!(third.status().as_u16(), 200);
    assert_eq!(avatar_files(&app.media_root).len(), 1);
    let gone = app.delete_user(jane.id, &admin.access_token).await;
    assert_eq!(gone.status().as_u16(), 204);
    assert!(
        avatar_files(&app.media_root).is_empty(),
        "removed with the user: {:?}",
        avatar_files(&app.media_root)
    );
}
