//! Hardening, end to end: refresh rotation under races (two refreshes with one token, a
//! refresh against a logout, a password change or a suspension) never leaves a live
//! token, and a flood of logins on a saturated hashing pool is answered 503 with
//! `Retry-After` at once while `/health` keeps answering.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    PASSWORD, TestApp, TestUser, assert_problem, json, paths, spawn_app, spawn_app_with,
};

/// How often each race is run.
const ROUNDS: usize = 8;

/// Rounds of a race whose second side starts [`STAGGER_MICROS`] later each round.
const STAGGERED_ROUNDS: usize = 40;
const STAGGER_MICROS: u64 = 250;

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.refresh(token).await
}

/// The refresh token of a successful refresh answer, `None` for a refused one.
async fn rotated_token(response: reqwest::Response, round: usize) -> Option<String> {
    match response.status().as_u16() {
        200 => Some(
            json(response).await["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("round {round}: a 200 without a refresh token"))
                .to_owned(),
        ),
        401 => None,
        other => panic!("round {round}: refresh answered {other}"),
    }
}

/// Fails unless `token` is dead now.
async fn assert_dead(app: &TestApp, token: &str, what: &str) {
    assert_problem(refresh(app, token).await, 401, "UNAUTHORIZED").await;
    // Refused a second time too: the first refusal did not revive anything.
    assert_eq!(
        refresh(app, token).await.status().as_u16(),
        401,
        "{what} stays dead"
    );
}

#[tokio::test]
async fn two_refreshes_with_one_token_have_one_winner_whose_token_dies_too() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let user = app.user(&format!("racer{round}")).await;
        let (a, b) = tokio::join!(
            refresh(&app, &user.refresh_token),
            refresh(&app, &user.refresh_token)
        );
        let (a, b) = (rotated_token(a, round).await, rotated_token(b, round).await);
        let winners: Vec<String> = [a, b].into_iter().flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one refresh wins");
        // The loser presented a spent token: the family, the winner's new token
        // included, is revoked.
        assert_dead(&app, &winners[0], "the winner's token").await;
        assert_dead(&app, &user.refresh_token, "the spent token").await;
    }
}

#[tokio::test]
async fn a_refresh_racing_a_logout_leaves_no_live_token() {
    let app = spawn_app().await;
    for round in 0..ROUNDS {
        let user = app.user(&format!("racer{round}")).await;
        let body = json!({"refresh_token": user.refresh_token});
        let logout_path = paths::logout();
        let (rotation, logout) = tokio::join!(
            refresh(&app, &user.refresh_token),
            app.send(Method::POST, &logout_path, &user.access_token, Some(&body),)
        );
        assert_eq!(logout.status().as_u16(), 204, "round {round}: logout");
        if let Some(rotated) = rotated_token(rotation, round).await {
            assert_dead(&app, &rotated, "a token rotated during logout").await;
        }
        assert_dead(&app, &user.refresh_token, "the logged-out token").await;
    }
}

#[tokio::test]
async fn a_refresh_racing_a_password_change_leaves_no_live_token() {
    let app = spawn_app().await;
    // The change hashes twice before it writes: the refresh starts a little later each
    // round, so that some rounds land on the write itself.
    for round in 0..STAGGERED_ROUNDS {
        let user: TestUser = app.user(&format!("racer{round}")).await;
        let path = paths::user_password(user.id);
        let body = json!({
            "current_password": PASSWORD,
            "new_password": "N3wPassword",
            "confirm_password": "N3wPassword"
        });
        let delay = Duration::from_micros(STAGGER_MICROS * round as u64);
        let (rotation, change) = tokio::join!(
            async {
                tokio::time::sleep(delay).await;
                refresh(&app, &user.refresh_token).await
            },
            app.send(Method::PUT, &path, &user.access_token, Some(&body))
        );
        assert_eq!(
            change.status().as_u16(),
            204,
            "round {round}: password change"
        );
        if let Some(rotated) = rotated_token(rotation, round).await {
            assert_dead(&app, &rotated, "a token rotated during the change").await;
        }
        assert_dead(&app, &user.refresh_token, "the token of the old password").await;
        app.login(&format!("racer{round}"), "N3wPassword").await;
    }
}

#[tokio::test]
async fn a_refresh_racing_a_suspension_leaves_no_live_token() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for round in 0..ROUNDS {
        let user = app.user(&format!("racer{round}")).await;
        let path = paths::user_status(user.id);
        let body = json!({"status": "suspended"});
        let (rotation, suspension) = tokio::join!(
            refresh(&app, &user.refresh_token),
            app.send(Method::PATCH, &path, &admin.access_token, Some(&body))
        );
        assert_eq!(
            suspension.status().as_u16(),
            200,
            "round {round}: suspension"
        );
        if let Some(rotated) = rotated_token(rotation, round).await {
            assert_dead(&app, &rotated, "a token rotated during the suspension").await;
        }
        assert_dead(&app, &user.refresh_token, "the suspended user's token").await;
    }
}

#[tokio::test]
async fn a_login_flood_on_a_saturated_hasher_gets_503_at_once_while_health_answers() {
    // Costly hashes on the pool (one thread per two cores, eight slots per thread): far
    // more logins than slots arrive together.
    let app = spawn_app_with(|vars| {
        vars.insert("PASSWORD_HASH_MEMORY_KIB".into(), "16384".into());
        vars.insert("PASSWORD_HASH_ITERATIONS".into(), "2".into());
        vars.insert("RATE_LIMIT_REQUESTS".into(), "100000".into());
    })
    .await;
    let flood = 160;
    let bodies: Vec<_> = (0..flood)
        .map(|i| json!({"username": format!("nobody{i}"), "password": "Wr0ngPassword"}))
        .collect();
    let login_path = paths::login();
    let logins = bodies.iter().map(|body| app.post_json(&login_path, body));
    let health = async {
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(app.get("/health").await.status().as_u16());
        }
        statuses
    };
    let (responses, health) = tokio::join!(join_all(logins), health);
    assert!(
        health.iter().all(|s| *s == 200),
        "/health during the flood: {health:?}"
    );

    let mut refused = 0;
    let mut answered = 0;
    for response in responses {
        match response.status().as_u16() {
            401 => answered += 1,
            503 => {
                refused += 1;
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let seconds = retry
                    .as_deref()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("503 without a Retry-After in seconds: {retry:?}"));
                assert!(seconds >= 1, "Retry-After {seconds}");
                assert_problem(response, 503, "SERVICE_UNAVAILABLE").await;
            }
            other => panic!("a flooded login answered {other}"),
        }
    }
    assert!(refused > 0, "a full queue refuses some of {flood} logins");
    assert!(
        answered > 0,
        "the queue still serves some of {flood} logins"
    );

    // Once the burst is over, logins are served again.
    let wrong = app.post_login("nobody", "Wr0ngPassword").await;
    assert_problem(wrong, 401, "UNAUTHORIZED").await;
}
