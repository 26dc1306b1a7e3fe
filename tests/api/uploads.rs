//! Uploads end to end: real files probed for their real facts, types decided from the
//! bytes, size limits enforced while streaming, nothing left behind by a refused or
//! interrupted upload, owners only, idempotent replays.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::wait_for_video as wait_for;
use crate::helpers::{
    TestApp, TestUser, assert_problem, eventually, json, media_files, paths, spawn_app,
    spawn_app_with,
};

/// The WebM fixture the project made (see tests/fixtures/README.md).
const WEBM: &[u8] = include_bytes!("../fixtures/sample.webm");

fn form(title: &str, file: Vec<u8>, name: &str, declared: &str) -> Form {
    Form::new().text("title", title.to_owned()).part(
        "file",
        Part::bytes(file)
            .file_name(name.to_owned())
            .mime_str(declared)
            .expect("mime"),
    )
}

/// Renders a short video through the API and downloads it.
async fn rendered_mp4(app: &TestApp, user: &TestUser) -> (Vec<u8>, serde_json::Value) {
    let response = app
        .create_video(
            &user.access_token,
            &json!({"title": "Source", "prompt": "A lake at dawn", "duration_seconds": 1}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    let done = wait_for(app, user, id, "completed").await;
    let bytes = app
        .get_video_content(id, &user.access_token)
        .await
        .bytes()
        .await
        .expect("content")
        .to_vec();
    (bytes, done)
}

async fn upload_count(app: &TestApp, user: &TestUser) -> i64 {
    let response = app.list_videos("source=upload", &user.access_token).await;
    response.headers()["x-total-count"]
        .to_str()
        .expect("count")
        .parse()
        .expect("number")
}

#[tokio::test]
async fn an_uploaded_mp4_gets_its_real_duration_size_and_thumbnail() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let (bytes, source) = rendered_mp4(&app, &jane).await;
    // The declared type and name lie: the bytes decide.
    let response = app
        .upload_video(
            &jane.access_token,
            form("Uploaded", bytes.clone(), "notes.txt", "text/plain").text("description", "Mine"),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let pending = json(response).await;
    assert_eq!(location, paths::video(&pending["id"]));
    assert_eq!(pending["source"], "upload");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["prompt"], serde_json::Value::Null);
    let id = pending["id"].as_i64().expect("id");
    let done = wait_for(&app, &jane, id, "completed").await;
    assert_eq!(done["duration"], source["duration"]);
    assert_eq!(done["file_size"], json!(bytes.len()));
    assert_eq!(done["width"], 1280);
    assert_eq!(done["height"], 720);
    assert_eq!(done["codec"], "h264");
    assert_eq!(done["content_type"], "video/mp4");
    assert_eq!(done["description"], "Mine");
    let content = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(content.status().as_u16(), 200);
    assert_eq!(content.bytes().await.expect("bytes").to_vec(), bytes);
    let thumbnail = app.get_video_thumbnail(id, &jane.access_token).await;
    assert_eq!(thumbnail.status().as_u16(), 200);
    assert_eq!(thumbnail.headers()["content-type"], "image/png");
    let png = thumbnail.bytes().await.expect("png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    // Someone else sees none of it.
    let eve = app.user("eve").await;
    for response in [
        app.get_video(id, &eve.access_token).await,
        app.get_video_content(id, &eve.access_token).await,
        app.get_video_thumbnail(id, &eve.access_token).await,
        app.delete_video(id, &eve.access_token).await,
    ] {
        assert_problem(response, 404, "NOT_FOUND").await;
    }
    // Deleting it removes its files.
    let before = media_files(&app).len();
    let deleted = app.delete_video(id, &jane.access_token).await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(
        media_files(&app).len(),
        before - 2,
        "{:?}",
        media_files(&app)
    );
}

#[tokio::test]
async fn a_webm_upload_is_probed_without_a_thumbnail() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let response = app
        .upload_video(
            &jane.access_token,
            form("Web", WEBM.to_vec(), "clip.mp4", "video/mp4"),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    let done = wait_for(&app, &jane, id, "completed").await;
    assert_eq!(done["content_type"], "video/webm");
    assert_eq!(done["file_size"], json!(WEBM.len()));
    assert!(done["duration"].as_f64().expect("duration") > 0.0);
    assert!(done["width"].as_i64().expect("width") > 0);
    assert!(
        ["vp8", "vp9", "av1"].contains(&done["codec"].as_str().expect("codec")),
        "{done}"
    );
    assert_eq!(done["thumbnail_url"], serde_json::Value::Null);
    let thumbnail = app.get_video_thumbnail(id, &jane.access_token).await;
    assert_problem(thumbnail, 404, "NOT_FOUND").await;
    let content = app.get_video_content(id, &jane.access_token).await;
    assert_eq!(content.headers()["content-type"], "video/webm");
}

#[tokio::test]
async fn bytes_that_are_no_video_are_415_and_nothing_is_kept() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let mut noise = vec![0u8; 200_000];
    let mut state = 0x2545_f491_u32;
    for byte in &mut noise {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *byte = state.to_le_bytes()[0];
    }
    for (bytes, name) in [
        (noise, "clip.mp4"),
        (b"\x89PNG\r\n\x1a\n0000000000000000".to_vec(), "clip.webm"),
        (Vec::new(), "empty.mp4"),
    ] {
        let response = app
            .upload_video(
                &jane.access_token,
                form("Noise", bytes, name, "video/mp4"),
                None,
            )
            .await;
        assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    }
    assert!(media_files(&app).is_empty(), "{:?}", media_files(&app));
    assert_eq!(upload_count(&app, &jane).await, 0);
}

#[tokio::test]
async fn a_truncated_mp4_ends_failed_with_a_reason_and_the_api_keeps_serving() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let (bytes, _) = rendered_mp4(&app, &jane).await;
    let half = bytes[..bytes.len() / 2].to_vec();
    let response = app
        .upload_video(
            &jane.access_token,
            form("Half", half, "half.mp4", "video/mp4"),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let id = json(response).await["id"].as_i64().expect("id");
    let failed = wait_for(&app, &jane, id, "failed").await;
    let reason = failed["error"].as_str().expect("error");
    assert!(!reason.is_empty() && !reason.contains('/'), "{reason}");
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
    assert_eq!(
        app.get_video(id, &jane.access_token)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_failed_upload_keeps_its_reason_but_not_its_file() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    // An `ftyp` box that makes it an MP4 by its bytes, then no movie at all.
    let mut junk = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    for _ in 0..64 {
        junk.extend_from_slice(b"not a movie, only the first box of one. ");
    }
    let response = app
        .upload_video(
            &jane.access_token,
            form("Junk", junk, "junk.mp4", "video/mp4"),
            None,
        )
        .await;
    assert_eq!(response.status().as_u16(), 202, "sniffed as MP4");
    let id = json(response).await["id"].as_i64().expect("id");

    let failed = wait_for(&app, &jane, id, "failed").await;
    let reason = failed["error"].as_str().expect("the reason stays readable");
    assert!(!reason.is_empty(), "{failed}");
    assert!(failed["content_url"].is_null(), "{failed}");
    eventually(Duration::from_secs(10), async || {
        let files = media_files(&app);
        if files.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the failed upload's file is still stored: {files:?}"
            ))
        }
    })
    .await;
    assert_problem(
        app.get_video_content(id, &jane.access_token).await,
        409,
        "VIDEO_NOT_READY",
    )
    .await;
    let kept = json(app.get_video(id, &jane.access_token).await).await;
    assert_eq!(kept["status"], "failed", "the record stays: {kept}");
    assert_eq!(kept["error"], reason, "{kept}");
    // Deleting it still works, with nothing left to remove.
    assert_eq!(
        app.delete_video(id, &jane.access_token)
            .await
            .status()
            .as_u16(),
        204
    );
}

/// Sends a request by hand: `head` (without the blank line), then `body` in chunks of
/// `chunk` bytes; with `stop_after`, the connection is dropped after that many bytes of
/// the body. Returns the status line the server answered, if any.
async fn raw_upload(
    app: &TestApp,
    head: &str,
    body: &[u8],
    chunk: usize,
    stop_after: Option<usize>,
) -> Option<String> {
    let address = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let answer = tokio::spawn(async move {
        let mut received = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut received)).await;
        String::from_utf8_lossy(&received)
            .lines()
            .next()
            .map(str::to_owned)
    });
    let _ = writer.write_all(format!("{head}\r\n\r\n").as_bytes()).await;
    let mut sent = 0;
    for piece in body.chunks(chunk) {
        if stop_after.is_some_and(|limit| sent >= limit) {
            drop(writer);
            return answer.await.ok().flatten();
        }
        if writer.write_all(piece).await.is_err() {
            break;
        }
        sent += piece.len();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = writer.shutdown().await;
    answer.await.ok().flatten()
}

fn multipart_body(boundary: &str, title: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"v.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn an_oversize_upload_is_cut_off_with_413_and_leaves_no_file() {
    let app = spawn_app_with(|vars| {
        vars.insert("MAX_UPLOAD_BYTES".into(), "100000".into());
    })
    .await;
    let jane = app.user("jane").await;
    // A real video header, then far more bytes than allowed.
    let mut big = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    big.resize(3_000_000, 7);

    // Declared too large: refused before any byte of the body is read.
    let response = app
        .upload_video(
            &jane.access_token,
            form("Big", big.clone(), "big.mp4", "video/mp4"),
            None,
        )
        .await;
    let body = assert_problem(response, 413, "PAYLOAD_TOO_LARGE").await;
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("100000")
    );

    // Streamed without a length: cut off as soon as the file passes the limit.
    let boundary = "vidgenboundary";
    let mut chunked = Vec::new();
    for piece in multipart_body(boundary, "Big", &big).chunks(16 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nTransfer-Encoding: chunked",
        paths::video_upload(),
        jane.access_token
    );
    let status = raw_upload(&app, &head, &chunked, 16 * 1024 + 8, None).await;
    assert!(
        status.as_deref().is_some_and(|s| s.contains(" 413 ")),
        "answered {status:?}"
    );
    eventually(Duration::from_secs(5), async || {
        let files = media_files(&app);
        if files.is_empty() {
            Ok(())
        } else {
            Err(format!("files left behind: {files:?}"))
        }
    })
    .await;
    assert_eq!(upload_count(&app, &jane).await, 0);
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_behind() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let mut file = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    file.resize(2_000_000, 1);
    let boundary = "vidgenboundary";
    let body = multipart_body(boundary, "Cut", &file);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}",
        paths::video_upload(),
        jane.access_token,
        body.len()
    );
    raw_upload(&app, &head, &body, 64 * 1024, Some(1_000_000)).await;
    eventually(Duration::from_secs(10), async || {
        let files = media_files(&app);
        if files.is_empty() {
            Ok(())
        } else {
            Err(format!("files left behind: {files:?}"))
        }
    })
    .await;
    assert_eq!(upload_count(&app, &jane).await, 0);
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
}

#[tokio::test]
async fn an_idempotent_upload_is_replayed_and_a_different_one_refused() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    let jane = app.user("jane").await;
    let first = app
        .upload_video(
            &jane.access_token,
            form("Same", WEBM.to_vec(), "a.webm", "video/webm"),
            Some("upload-1"),
        )
        .await;
    assert_eq!(first.status().as_u16(), 202);
    let first = json(first).await;
    let again = app
        .upload_video(
            &jane.access_token,
            form("Same", WEBM.to_vec(), "a.webm", "video/webm"),
            Some("upload-1"),
        )
        .await;
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(json(again).await, first);
    assert_eq!(upload_count(&app, &jane).await, 1);
    // The same size, one byte different: only the file's hash tells them apart.
    let mut other = WEBM.to_vec();
    let last = other.len() - 1;
    other[last] ^= 0xff;
    let different = app
        .upload_video(
            &jane.access_token,
            form("Same", other, "a.webm", "video/webm"),
            Some("upload-1"),
        )
        .await;
    assert_problem(different, 422, "VALIDATION_ERROR").await;
    assert_eq!(upload_count(&app, &jane).await, 1);
    // One stored file, the first upload's: the replay's and the refused one's are gone.
    assert_eq!(media_files(&app).len(), 1, "{:?}", media_files(&app));
}

#[tokio::test]
async fn every_problem_of_the_form_is_reported_at_once() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let response = app
        .upload_video(
            &jane.access_token,
            Form::new().text("description", "x".repeat(5001)),
            None,
        )
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    let mut fields: Vec<(String, String)> = body["error_details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| {
            (
                d["field"].as_str().expect("field").to_owned(),
                d["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("description".into(), "too_long".into()),
            ("file".into(), "missing".into()),
            ("title".into(), "missing".into()),
        ],
        "{body}"
    );
    assert!(media_files(&app).is_empty());

    // A part the form does not take, or a second one of a name, ends the reading with
    // that one error (the file before it is not kept).
    for (form, field, code) in [
        (
            form("A title", WEBM.to_vec(), "a.webm", "video/webm").text("colour", "blue"),
            "colour",
            "unknown_field",
        ),
        (
            Form::new().text("title", "one").text("title", "two"),
            "title",
            "duplicate",
        ),
    ] {
        let response = app.upload_video(&jane.access_token, form, None).await;
        let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
        assert_eq!(
            body["error_details"],
            json!([{"field": field, "message": body["error_details"][0]["message"], "code": code}]),
            "{body}"
        );
    }
    assert!(media_files(&app).is_empty(), "{:?}", media_files(&app));

    // A valid file with a bad title is refused too, and its file is not kept.
    let response = app
        .upload_video(
            &jane.access_token,
            form(&"t".repeat(201), WEBM.to_vec(), "a.webm", "video/webm"),
            None,
        )
        .await;
    let body = assert_problem(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(body["error_details"][0]["field"], "title");
    assert!(media_files(&app).is_empty(), "{:?}", media_files(&app));

    // Not a form at all.
    let response = app
        .send(
            reqwest::Method::POST,
            &paths::video_upload(),
            &jane.access_token,
            Some(&json!({"title": "t"})),
        )
        .await;
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    // No token.
    let response = app
        .client
        .post(app.url(&paths::video_upload()))
        .multipart(form("t", WEBM.to_vec(), "a.webm", "video/webm"))
        .send()
        .await
        .expect("send");
    assert_problem(response, 401, "UNAUTHORIZED").await;
}
