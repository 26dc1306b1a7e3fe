//! `/analytics/me` and `/analytics/overview`: exact figures over users and videos
//! written straight into the database with chosen days, statuses, sources, durations and
//! sizes, on either backend.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, json, paths, spawn_app};

/// An instant `days_ago` UTC days before `today`, at `time` (`HH:MM:SS`).
fn at(today: NaiveDate, days_ago: u64, time: &str) -> DateTime<Utc> {
    let day = today
        .checked_sub_days(Days::new(days_ago))
        .expect("a day in range");
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S").expect("a valid time");
    day.and_time(time).and_utc()
}

/// A video row to write directly.
struct Row {
    owner: i64,
    source: &'static str,
    status: &'static str,
    duration: Option<f64>,
    file_size: Option<i64>,
    created_at: DateTime<Utc>,
}

/// Writes `row` into `videos` with bound values, as the application would store them.
async fn insert_video(app: &TestApp, row: &Row) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO videos (owner_id, title, source, status, progress, duration, file_size, \
             created_at, updated_at) VALUES ($1, 'seeded', $2, $3, 0, $4, $5, $6, $6)"
        }
        _ => {
            "INSERT INTO videos (owner_id, title, source, status, progress, duration, file_size, \
             created_at, updated_at) VALUES (?1, 'seeded', ?2, ?3, 0, ?4, ?5, ?6, ?6)"
        }
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                Value::from(row.owner),
                Value::from(row.source),
                Value::from(row.status),
                Value::from(row.duration),
                Value::from(row.file_size),
                Value::from(row.created_at),
            ],
        ))
        .await
        .unwrap_or_else(|e| panic!("insert a video: {e}"));
}

/// Sets a user's status and sign-up instant directly.
async fn set_user(app: &TestApp, id: i64, status: &str, created_at: DateTime<Utc>) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE users SET status = $1, created_at = $2 WHERE id = $3",
        _ => "UPDATE users SET status = ?1, created_at = ?2 WHERE id = ?3",
    };
    let done = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                Value::from(status),
                Value::from(created_at),
                Value::from(id),
            ],
        ))
        .await
        .unwrap_or_else(|e| panic!("update user {id}: {e}"));
    assert_eq!(done.rows_affected(), 1, "user {id} exists");
}

/// The per-day series a response must have: the 30 days ending on its last day, each
/// with the number of `instants` on it. The last day must be today as the test saw it
/// before or after the requests (a run may cross midnight).
fn expected_per_day(
    series: &serde_json::Value,
    today: (NaiveDate, NaiveDate),
    instants: &[DateTime<Utc>],
) -> serde_json::Value {
    let days = series.as_array().expect("a per-day array");
    assert_eq!(days.len(), 30, "{series}");
    let last: NaiveDate = days[29]["date"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("a date: {}", days[29]));
    assert!(
        last == today.0 || last == today.1,
        "the series ends on {last}, not today ({today:?})"
    );
    let first = last
        .checked_sub_days(Days::new(29))
        .expect("a day in range");
    json!(
        first
            .iter_days()
            .take(30)
            .map(|date| json!({
                "date": date.format("%Y-%m-%d").to_string(),
                "count": instants.iter().filter(|at| at.date_naive() == date).count(),
            }))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn figures_count_exactly_what_the_database_holds() {
    let app = spawn_app().await;
    let before = Utc::now().date_naive();
    let admin = app.admin().await;
    let jane = app.user("jane").await;
    let bob = app.user("bob").await;
    let carl = app.user("carl").await;
    let dana = app.user("dana").await;
    let moderator = app.moderator("maude").await;

    // Users: admin and maude sign up today; jane and bob three days ago; dana yesterday
    // (still pending verification); carl before the window, now suspended.
    let today = before;
    set_user(&app, jane.id, "active", at(today, 3, "08:00:00")).await;
    set_user(&app, bob.id, "active", at(today, 3, "23:59:59")).await;
    set_user(&app, carl.id, "suspended", at(today, 40, "12:00:00")).await;
    set_user(
        &app,
        dana.id,
        "pending_verification",
        at(today, 1, "00:00:00"),
    )
    .await;
    set_user(&app, admin.id, "active", at(today, 0, "00:00:01")).await;
    set_user(&app, moderator.id, "active", at(today, 0, "00:00:02")).await;
    let signups = [
        at(today, 3, "08:00:00"),
        at(today, 3, "23:59:59"),
        at(today, 40, "12:00:00"),
        at(today, 1, "00:00:00"),
        at(today, 0, "00:00:01"),
        at(today, 0, "00:00:02"),
    ];

    let janes = [
        Row {
            owner: jane.id,
            source: "generated",
            status: "completed",
            duration: Some(10.5),
            file_size: Some(1000),
            created_at: at(today, 0, "00:00:01"),
        },
        // Either side of midnight: two different days.
        Row {
            owner: jane.id,
            source: "generated",
            status: "failed",
            duration: None,
            file_size: None,
            created_at: at(today, 1, "23:59:59"),
        },
        Row {
            owner: jane.id,
            source: "upload",
            status: "completed",
            duration: Some(4.25),
            file_size: Some(3000),
            created_at: at(today, 1, "00:00:00"),
        },
        // The first day of the window, and the day before it.
        Row {
            owner: jane.id,
            source: "upload",
            status: "pending",
            duration: None,
            file_size: None,
            created_at: at(today, 29, "00:00:00"),
        },
        Row {
            owner: jane.id,
            source: "generated",
            status: "processing",
            duration: Some(2.0),
            file_size: Some(500),
            created_at: at(today, 30, "23:59:59"),
        },
    ];
    let bobs = [
        Row {
            owner: bob.id,
            source: "upload",
            status: "completed",
            duration: Some(7.0),
            file_size: Some(2000),
            created_at: at(today, 0, "00:00:03"),
        },
        Row {
            owner: bob.id,
            source: "generated",
            status: "pending",
            duration: None,
            file_size: None,
            created_at: at(today, 10, "12:00:00"),
        },
    ];
    for row in janes.iter().chain(&bobs) {
        insert_video(&app, row).await;
    }

    let mine = app.get_my_analytics(&jane.access_token).await;
    assert_eq!(mine.status().as_u16(), 200);
    let mine = json(mine).await;
    let bobs_figures = json(app.get_my_analytics(&bob.access_token).await).await;
    let mos = json(app.get_my_analytics(&moderator.access_token).await).await;
    let overview = app.get_analytics_overview(&admin.access_token).await;
    assert_eq!(overview.status().as_u16(), 200);
    let overview = json(overview).await;
    let after = Utc::now().date_naive();
    let days = (before, after);

    let janes_days: Vec<_> = janes.iter().map(|r| r.created_at).collect();
    assert_eq!(
        mine,
        json!({
            "total": 5,
            "by_status": {"pending": 1, "processing": 1, "completed": 2, "failed": 1},
            "by_source": {"generated": 3, "upload": 2},
            "total_duration_seconds": 16.75,
            "total_bytes": 4500,
            "per_day": expected_per_day(&mine["per_day"], days, &janes_days),
        })
    );
    // Exactly four of jane's videos fall in the window.
    let in_window: u64 = mine["per_day"]
        .as_array()
        .expect("per_day")
        .iter()
        .filter_map(|d| d["count"].as_u64())
        .sum();
    assert_eq!(in_window, 4, "{mine}");

    let bobs_days: Vec<_> = bobs.iter().map(|r| r.created_at).collect();
    assert_eq!(
        bobs_figures,
        json!({
            "total": 2,
            "by_status": {"pending": 1, "processing": 0, "completed": 1, "failed": 0},
            "by_source": {"generated": 1, "upload": 1},
            "total_duration_seconds": 7.0,
            "total_bytes": 2000,
            "per_day": expected_per_day(&bobs_figures["per_day"], days, &bobs_days),
        })
    );

    // A user without videos: every member present, all zero.
    assert_eq!(
        mos,
        json!({
            "total": 0,
            "by_status": {"pending": 0, "processing": 0, "completed": 0, "failed": 0},
            "by_source": {"generated": 0, "upload": 0},
            "total_duration_seconds": 0.0,
            "total_bytes": 0,
            "per_day": expected_per_day(&mos["per_day"], days, &[]),
        })
    );

    let every_video: Vec<_> = janes_days.iter().chain(&bobs_days).copied().collect();
    assert_eq!(
        overview,
        json!({
            "users": {
                "total": 6,
                "by_status": {
                    "active": 4,
                    "inactive": 0,
                    "suspended": 1,
                    "pending_verification": 1,
                },
                "by_role": {"user": 4, "moderator": 1, "admin": 1},
                "signups_per_day": expected_per_day(
                    &overview["users"]["signups_per_day"],
                    days,
                    &signups,
                ),
            },
            "videos": {
                "total": 7,
                "by_status": {"pending": 2, "processing": 1, "completed": 3, "failed": 1},
                "by_source": {"generated": 4, "upload": 3},
                "total_duration_seconds": 23.75,
                "total_bytes": 6500,
                "per_day": expected_per_day(&overview["videos"]["per_day"], days, &every_video),
            },
        })
    );
}

#[tokio::test]
async fn an_empty_service_answers_zeros_for_every_member() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let overview = json(app.get_analytics_overview(&admin.access_token).await).await;
    let today = Utc::now().date_naive();
    assert_eq!(overview["users"]["total"], 1, "{overview}");
    assert_eq!(
        overview["videos"]["by_status"],
        json!({"pending": 0, "processing": 0, "completed": 0, "failed": 0})
    );
    assert_eq!(
        overview["videos"]["by_source"],
        json!({"generated": 0, "upload": 0})
    );
    assert_eq!(overview["videos"]["total_duration_seconds"], 0.0);
    let days = overview["videos"]["per_day"].as_array().expect("per_day");
    assert_eq!(days.len(), 30);
    assert!(days.iter().all(|d| d["count"] == 0), "{overview}");
    assert!(
        overview["users"]["signups_per_day"][29]["date"]
            .as_str()
            .is_some_and(|d| d == today.format("%Y-%m-%d").to_string()
                || d == Utc::now().date_naive().format("%Y-%m-%d").to_string()),
        "{overview}"
    );
}

#[tokio::test]
async fn the_overview_is_for_admins_and_both_need_a_token() {
    let app = spawn_app().await;
    let jane = app.user("jane").await;
    let moderator = app.moderator("maude").await;
    for (who, token) in [
        ("user", &jane.access_token),
        ("moderator", &moderator.access_token),
    ] {
        let response = app.get_analytics_overview(token).await;
        assert_eq!(response.status().as_u16(), 403, "{who}");
        assert_problem(response, 403, "FORBIDDEN").await;
    }
    for path in [paths::my_analytics(), paths::analytics_overview()] {
        let response = app.get(&path).await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{path}"
        );
        assert_problem(response, 401, "UNAUTHORIZED").await;
    }
}
