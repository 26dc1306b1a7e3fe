//! The account lifecycle end to end: e-mails delivered over real SMTP to a sink on
//! loopback (both parts, the link built from `PUBLIC_BASE_URL`, the URL's credentials),
//! verification and reset with the mailed token, refused tokens (expired, reused,
//! forged, superseded), rate limits, and a recovery that answers alike for known and
//! unknown addresses.

use std::time::{Duration, Instant};

use mail_parser::{MessageParser, PartType};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::{
    PASSWORD, TestApp, access_token, assert_problem, json, paths, refresh_token, spawn_app_with,
};
use crate::mail_sink::{MailSink, Received};

const BASE: &str = "https://app.example.test";
const NEW_PASSWORD: &str = "Brand5NewPass";

/// An app that mails through `sink`, with e-mail verification as asked.
pub(crate) async fn app_mailing_to(sink: &MailSink, require_verification: bool) -> TestApp {
    let url = sink.url("mailer", "s3cret-pw");
    spawn_app_with(move |vars| {
        vars.insert("MAIL_BACKEND".into(), "smtp".into());
        vars.insert("SMTP_URL".into(), url);
        vars.insert("MAIL_FROM".into(), "vidgen <no-reply@vidgen.test>".into());
        vars.insert("PUBLIC_BASE_URL".into(), BASE.into());
        vars.insert("JOB_RETRY_BASE_MS".into(), "50".into());
        vars.insert(
            "REQUIRE_EMAIL_VERIFICATION".into(),
            require_verification.to_string(),
        );
    })
    .await
}

/// The parts of a received e-mail, checked to be a text/plain and a text/html part.
pub(crate) struct Parsed {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

pub(crate) fn parse(mail: &Received) -> Parsed {
    let message = MessageParser::default()
        .parse(&mail.data)
        .unwrap_or_else(|| {
            panic!(
                "not a MIME message: {}",
                String::from_utf8_lossy(&mail.data)
            )
        });
    assert_eq!(message.text_body_count(), 1, "one plain-text part");
    assert_eq!(message.html_body_count(), 1, "one HTML part");
    let text_part = message
        .part(message.text_body[0])
        .unwrap_or_else(|| panic!("no text part"));
    assert!(
        matches!(text_part.body, PartType::Text(_)),
        "text/plain part"
    );
    let html_part = message
        .part(message.html_body[0])
        .unwrap_or_else(|| panic!("no html part"));
    assert!(
        matches!(html_part.body, PartType::Html(_)),
        "text/html part"
    );
    Parsed {
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).unwrap_or_default().into_owned(),
        html: message.body_html(0).unwrap_or_default().into_owned(),
    }
}

/// The token of the link to `page` in `text`.
fn token_in(text: &str, page: &str) -> String {
    let prefix = format!("{BASE}{page}?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in: {text}"))
        + prefix.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Checks a mail's envelope and both parts, and answers the token of its link.
fn mailed_token(mail: &Received, to: &str, page: &str) -> String {
    assert_eq!(mail.from, "no-reply@vidgen.test");
    assert_eq!(mail.to, vec![to.to_owned()]);
    assert_eq!(
        mail.credentials.as_deref(),
        Some("mailer:s3cret-pw"),
        "the SMTP_URL's credentials are used"
    );
    let parsed = parse(mail);
    assert!(!parsed.subject.is_empty());
    let token = token_in(&parsed.text, page);
    assert_eq!(
        token_in(&parsed.html, page),
        token,
        "both parts carry the link"
    );
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    token
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(&paths::verify_email(), &json!({ "token": token }))
        .await
}

async fn recover(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json(&paths::password_recovery(), &json!({ "email": email }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        &paths::password_reset(),
        &json!({"token": token, "new_password": password, "confirm_password": password}),
    )
    .await
}

async fn resend(app: &TestApp, access: &str) -> reqwest::Response {
    app.send(
        reqwest::Method::POST,
        &paths::verify_email_resend(),
        access,
        None,
    )
    .await
}

#[tokio::test]
async fn a_new_user_verifies_the_address_with_the_mailed_link_before_creating_videos() {
    let sink = MailSink::start().await;
    let app = app_mailing_to(&sink, true).await;
    let created = app.register("jane").await;
    assert_eq!(created["status"], "pending_verification");
    let tokens = app.login("jane", PASSWORD).await;
    let access = access_token(&tokens);

    let refused = app
        .create_video(access, &json!({"title": "t", "prompt": "p"}))
        .await;
    let problem = assert_problem(refused, 403, "EMAIL_NOT_VERIFIED").await;
    assert!(
        problem["message"]
            .as_str()
            .is_some_and(|m| m.contains("verify"))
    );
    let form = reqwest::multipart::Form::new().text("title", "clip").part(
        "file",
        reqwest::multipart::Part::bytes(include_bytes!("../fixtures/sample.webm").to_vec())
            .file_name("clip.webm"),
    );
    let refused = app.upload_video(access, form, None).await;
    assert_problem(refused, 403, "EMAIL_NOT_VERIFIED").await;

    let mail = &sink.wait_for("jane@example.com", 1).await[0];
    let token = mailed_token(mail, "jane@example.com", "/verify-email");
    let parsed = parse(mail);
    assert!(parsed.html.contains("jane Name"), "{}", parsed.html);

    let forged = verify(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_problem(forged, 400, "INVALID_TOKEN").await;
    let verified = verify(&app, &token).await;
    assert_eq!(verified.status().as_u16(), 204);
    let me = json(app.get_me(access).await).await;
    assert_eq!(me["status"], "active");
    let again = verify(&app, &token).await;
    assert_problem(again, 400, "INVALID_TOKEN").await;

    let accepted = app
        .create_video(access, &json!({"title": "t", "prompt": "p"}))
        .await;
    assert_eq!(accepted.status().as_u16(), 202);
    let resent = resend(&app, access).await;
    assert_problem(resent, 409, "EMAIL_ALREADY_VERIFIED").await;
}

#[tokio::test]
async fn resend_supersedes_the_earlier_link_and_is_rate_limited() {
    let sink = MailSink::start().await;
    let url = sink.url("mailer", "s3cret-pw");
    let app = spawn_app_with(move |vars| {
        vars.insert("MAIL_BACKEND".into(), "smtp".into());
        vars.insert("SMTP_URL".into(), url);
        vars.insert("MAIL_FROM".into(), "vidgen <no-reply@vidgen.test>".into());
        vars.insert("PUBLIC_BASE_URL".into(), BASE.into());
        vars.insert("REQUIRE_EMAIL_VERIFICATION".into(), "true".into());
        vars.insert("ACCOUNT_MAIL_RATE_LIMIT".into(), "2".into());
    })
    .await;
    app.register("jane").await;
    let tokens = app.login("jane", PASSWORD).await;
    let access = access_token(&tokens);
    let first = mailed_token(
        &sink.wait_for("jane@example.com", 1).await[0],
        "jane@example.com",
        "/verify-email",
    );

    let unauthenticated = app
        .post_json(&paths::verify_email_resend(), &json!({}))
        .await;
    assert_problem(unauthenticated, 401, "UNAUTHORIZED").await;
    let accepted = resend(&app, access).await;
    assert_eq!(accepted.status().as_u16(), 202);
    let body = json(accepted).await;
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(resend(&app, access).await.status().as_u16(), 202);
    let limited = resend(&app, access).await;
    let retry_after = limited.headers().get("retry-after").cloned();
    assert_problem(limited, 429, "RATE_LIMITED").await;
    assert!(retry_after.is_some(), "429 says when to retry");

    let mails = sink.wait_for("jane@example.com", 3).await;
    let latest = mailed_token(&mails[2], "jane@example.com", "/verify-email");
    assert_problem(verify(&app, &first).await, 400, "INVALID_TOKEN").await;
    assert_eq!(verify(&app, &latest).await.status().as_u16(), 204);
}

#[tokio::test]
async fn a_mailed_reset_sets_the_new_password_and_ends_every_session() {
    let sink = MailSink::start().await;
    let app = app_mailing_to(&sink, false).await;
    let jane = app.user("jane").await;

    // Two requests: the second link makes the first stop working.
    assert_eq!(
        recover(&app, "Jane@Example.com").await.status().as_u16(),
        202
    );
    assert_eq!(
        recover(&app, "jane@example.com").await.status().as_u16(),
        202
    );
    let mails = sink.wait_for("jane@example.com", 2).await;
    let first = mailed_token(&mails[0], "jane@example.com", "/reset-password");
    let second = mailed_token(&mails[1], "jane@example.com", "/reset-password");
    assert_ne!(first, second);
    assert_problem(
        reset(&app, &first, NEW_PASSWORD).await,
        400,
        "INVALID_TOKEN",
    )
    .await;

    let weak = reset(&app, &second, "weak").await;
    let problem = assert_problem(weak, 422, "VALIDATION_ERROR").await;
    assert!(
        problem["error_details"]
            .to_string()
            .contains("new_password")
    );
    let mismatch = app
        .post_json(
            &paths::password_reset(),
            &json!({"token": second, "new_password": NEW_PASSWORD, "confirm_password": "Other5Pass"}),
        )
        .await;
    assert_problem(mismatch, 422, "VALIDATION_ERROR").await;

    let done = reset(&app, &second, NEW_PASSWORD).await;
    assert_eq!(done.status().as_u16(), 204);
    assert_problem(
        reset(&app, &second, "Another5Pass").await,
        400,
        "INVALID_TOKEN",
    )
    .await;

    assert_problem(app.get_me(&jane.access_token).await, 401, "UNAUTHORIZED").await;
    assert_problem(app.refresh(&jane.refresh_token).await, 401, "UNAUTHORIZED").await;
    assert_problem(app.post_login("jane", PASSWORD).await, 401, "UNAUTHORIZED").await;
    let tokens = app.login("jane", NEW_PASSWORD).await;
    assert!(!refresh_token(&tokens).is_empty());
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let sink = MailSink::start().await;
    let app = app_mailing_to(&sink, true).await;
    app.register("jane").await;
    assert_eq!(
        recover(&app, "jane@example.com").await.status().as_u16(),
        202
    );
    let mails = sink.wait_for("jane@example.com", 2).await;
    let pages = ["/verify-email", "/reset-password"];
    let tokens: Vec<String> = pages
        .iter()
        .map(|page| {
            let mail = mails
                .iter()
                .find(|m| String::from_utf8_lossy(&m.data).contains(&format!("{BASE}{page}")))
                .unwrap_or_else(|| panic!("no mail with a {page} link"));
            mailed_token(mail, "jane@example.com", page)
        })
        .collect();
    // Move every token's expiry into the past.
    let backend = app.db.get_database_backend();
    let past = "2000-01-01T00:00:00Z";
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            format!("UPDATE account_tokens SET expires_at = '{past}'::timestamptz")
        }
        _ => format!("UPDATE account_tokens SET expires_at = '{past}'"),
    };
    app.db
        .execute_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("expire tokens: {e}"));
    assert_problem(verify(&app, &tokens[0]).await, 400, "INVALID_TOKEN").await;
    assert_problem(
        reset(&app, &tokens[1], NEW_PASSWORD).await,
        400,
        "INVALID_TOKEN",
    )
    .await;
}

#[tokio::test]
async fn a_mail_server_that_refuses_delays_the_mail_but_never_fails_the_request() {
    let sink = MailSink::start().await;
    sink.refuse_next(2);
    let app = app_mailing_to(&sink, false).await;
    app.register("jane").await;
    let started = Instant::now();
    let answer = recover(&app, "jane@example.com").await;
    assert_eq!(answer.status().as_u16(), 202);
    let mail = &sink.wait_for("jane@example.com", 1).await[0];
    mailed_token(mail, "jane@example.com", "/reset-password");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_new_address_is_verified_before_videos_again() {
    let sink = MailSink::start().await;
    let app = app_mailing_to(&sink, true).await;
    let jane = app.user("jane").await;
    let token = mailed_token(
        &sink.wait_for("jane@example.com", 1).await[0],
        "jane@example.com",
        "/verify-email",
    );
    assert_eq!(verify(&app, &token).await.status().as_u16(), 204);

    let changed = app
        .update_user(
            jane.id,
            &jane.access_token,
            &json!({"email": "jane.new@example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status().as_u16(), 200);
    assert_eq!(json(changed).await["status"], "pending_verification");
    let token = mailed_token(
        &sink.wait_for("jane.new@example.com", 1).await[0],
        "jane.new@example.com",
        "/verify-email",
    );
    assert_eq!(verify(&app, &token).await.status().as_u16(), 204);
    let me = json(app.get_me(&jane.access_token).await).await;
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn recovery_is_rate_limited_per_address_and_per_client() {
    let app = spawn_app_with(|vars| {
        vars.insert("ACCOUNT_MAIL_RATE_LIMIT".into(), "2".into());
        vars.insert("PASSWORD_RECOVERY_RATE_LIMIT".into(), "4".into());
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    for _ in 0..2 {
        assert_eq!(recover(&app, "a@example.com").await.status().as_u16(), 202);
    }
    let per_address = recover(&app, "A@example.com").await;
    assert!(per_address.headers().contains_key("retry-after"));
    assert_problem(per_address, 429, "RATE_LIMITED").await;
    assert_eq!(recover(&app, "b@example.com").await.status().as_u16(), 202);
    let per_client = recover(&app, "c@example.com").await;
    assert_problem(per_client, 429, "RATE_LIMITED").await;

    let invalid = recover(&app, "not an address").await;
    assert_problem(invalid, 422, "VALIDATION_ERROR").await;
    let extra = app
        .post_json(
            &paths::password_recovery(),
            &json!({"email": "a@example.com", "role": "admin"}),
        )
        .await;
    assert_problem(extra, 422, "VALIDATION_ERROR").await;
}

/// Headers that differ between any two answers, whatever they answer.
const PER_RESPONSE: &[&str] = &[
    "date",
    "x-request-id",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
];

/// What a client sees of an answer: status, the headers that do not change per response,
/// and the body.
type Answer = (u16, Vec<(String, String)>, String);

async fn timed_recovery(app: &TestApp, email: &str) -> (Duration, Answer) {
    let started = Instant::now();
    let response = recover(app, email).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !PER_RESPONSE.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    headers.sort();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("body: {e}"));
    (elapsed, (status, headers, body))
}

#[tokio::test]
async fn recovery_answers_known_and_unknown_addresses_alike() {
    let app = spawn_app_with(|vars| {
        vars.insert("JOB_WORKERS".into(), "0".into());
    })
    .await;
    app.register("jane").await;
    const ROUNDS: u32 = 30;
    const ATTEMPTS: u32 = 3;
    let mut first: Option<Answer> = None;
    let mut unknown_address = 0u32;
    // Warm-up, then alternate so both paths see the same conditions.
    timed_recovery(&app, "warm@example.com").await;
    // Lower quartiles, which requests slowed by a busy machine do not move; the paths may
    // differ by a few milliseconds or a quarter of the time, far below what work done on
    // one path only (a password hash, a mail sent inline) would show. A machine busy for
    // a whole round can still skew one: an asymmetry of the code shows in every attempt,
    // so the check fails only when all of them do.
    let quartile = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 4]
    };
    let mut attempts = Vec::new();
    let mut alike = false;
    for _ in 0..ATTEMPTS {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for _ in 0..ROUNDS {
            unknown_address += 1;
            for (address, times) in [
                ("jane@example.com", &mut known),
                (
                    &*format!("nobody{unknown_address}@example.com"),
                    &mut unknown,
                ),
            ] {
                let (elapsed, answer) = timed_recovery(&app, address).await;
                times.push(elapsed);
                assert_eq!(answer.0, 202, "{address}: {}", answer.2);
                match &first {
                    None => first = Some(answer),
                    Some(seen) => assert_eq!(seen, &answer, "{address} answers differently"),
                }
            }
        }
        let (known, unknown) = (quartile(&mut known), quartile(&mut unknown));
        let tolerance = Duration::from_millis(5).max(known.min(unknown) / 4);
        attempts.push((known, unknown));
        if known.abs_diff(unknown) < tolerance {
            alike = true;
            break;
        }
    }
    assert!(
        alike,
        "known vs unknown (lower quartiles) differ in every attempt: {attempts:?}"
    );
    // Both paths wrote a mail job (the unknown ones send nothing).
    let backend = app.db.get_database_backend();
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'send_mail'",
        ))
        .await
        .unwrap_or_else(|e| panic!("count jobs: {e}"))
        .unwrap_or_else(|| panic!("no count"));
    let jobs: i64 = row
        .try_get("", "n")
        .unwrap_or_else(|e| panic!("count: {e}"));
    assert_eq!(
        jobs,
        i64::from(unknown_address) * 2 + 1,
        "one mail job per recovery"
    );
}
