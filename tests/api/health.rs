//! `/health` and `/health/ready`.

use sea_orm::ConnectionTrait;

use crate::helpers::{assert_problem, json, spawn_app};

#[tokio::test]
async fn health_answers_ok_with_the_version() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status().as_u16(), 200);
    let body = json(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn ready_when_the_database_answers_and_is_migrated() {
    let app = spawn_app().await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(json(response).await["status"], "ready");
}

#[tokio::test]
async fn not_ready_when_a_migration_is_missing() {
    let app = spawn_app().await;
    app.db
        .execute_unprepared("DELETE FROM seaql_migrations")
        .await
        .expect("forget the applied migrations");
    let body = assert_problem(app.get("/health/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("migration")),
        "{body}"
    );
}

#[tokio::test]
async fn not_ready_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.server_db.clone().close().await.expect("close the pool");
    let body = assert_problem(app.get("/health/ready").await, 503, "SERVICE_UNAVAILABLE").await;
    assert!(
        !body.to_string().contains("sqlx"),
        "driver details leaked: {body}"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health").await.status().as_u16(), 200);
}
