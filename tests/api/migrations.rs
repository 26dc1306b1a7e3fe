//! Migrations run up, down and up again on a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set).

use sea_orm::{ConnectionTrait, Database};
use vidgen_migrations::{Migrator, MigratorTrait};

use crate::helpers::fresh_database;

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, _cleanup) = fresh_database(dir.path()).await;
    let db = Database::connect(&url).await.expect("connect");
    let total = Migrator::migrations().len();
    assert!(total >= 1);

    Migrator::up(&db, None).await.expect("first up");
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .is_empty()
    );
    for table in [
        "instances",
        "users",
        "refresh_tokens",
        "videos",
        "jobs",
        "idempotency_keys",
    ] {
        db.execute_unprepared(&format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("{table} missing after up: {e}"));
    }

    Migrator::down(&db, None).await.expect("down");
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .len(),
        total
    );
    assert!(
        db.execute_unprepared("SELECT COUNT(*) FROM instances")
            .await
            .is_err(),
        "instances table still exists after down"
    );

    Migrator::up(&db, None).await.expect("second up");
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("pending")
            .is_empty()
    );
    db.close().await.expect("close");
}
