//! [`MediaReferences`] on sea-orm: which media keys a video (its file or thumbnail) or a
//! user (their avatar) still refers to. A failed video serves no file, so its keys (left
//! on rows failed before failing forgot them) refer to nothing the sweep must keep.

use std::collections::HashSet;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use vidgen_application::storage::{MediaReferences, RepositoryError};
use vidgen_domain::videos::VideoStatus;

use super::storage;
use crate::entities::{user, video};

/// Media keys in the `videos` and `users` tables.
#[derive(Debug, Clone)]
pub struct SeaOrmMediaReferences {
    db: DatabaseConnection,
}

impl SeaOrmMediaReferences {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl MediaReferences for SeaOrmMediaReferences {
    async fn referenced(&self, keys: &[String]) -> Result<HashSet<String>, RepositoryError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let videos: Vec<(Option<String>, Option<String>)> = video::Entity::find()
            .select_only()
            .column(video::Column::MediaKey)
            .column(video::Column::ThumbnailKey)
            .filter(video::Column::Status.ne(VideoStatus::Failed.as_str()))
            .filter(
                Condition::any()
                    .add(video::Column::MediaKey.is_in(keys.iter().cloned()))
                    .add(video::Column::ThumbnailKey.is_in(keys.iter().cloned())),
            )
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        let avatars: Vec<Option<String>> = user::Entity::find()
            .select_only()
            .column(user::Column::AvatarKey)
            .filter(user::Column::AvatarKey.is_in(keys.iter().cloned()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(storage)?;
        let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
        Ok(videos
            .into_iter()
            .flat_map(|(media, thumbnail)| [media, thumbnail])
            .chain(avatars)
            .flatten()
            .filter(|key| wanted.contains(key.as_str()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::database::{self, DatabaseOptions};

    #[tokio::test]
    async fn keys_are_referenced_by_videos_files_thumbnails_and_avatars_but_not_failed_videos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database::connect(&DatabaseOptions {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("refs.db").display()),
            pool_size: 2,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        })
        .await
        .expect("connect");
        database::migrate(&db).await.expect("migrate");
        db.execute_unprepared(
            "INSERT INTO users (username, username_normalized, name, email, password_hash, role, status, token_version, avatar_key, created_at, updated_at) \
             VALUES ('jane', 'jane', 'Jane', 'jane@example.com', 'x', 'user', 'active', 0, 'avatar.png', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
        )
        .await
        .expect("a user");
        db.execute_unprepared(
            "INSERT INTO videos (owner_id, title, source, status, progress, media_key, thumbnail_key, created_at, updated_at) \
             VALUES (1, 'Lake', 'generated', 'completed', 100, 'video.mp4', 'thumb.png', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
        )
        .await
        .expect("a video");
        db.execute_unprepared(
            "INSERT INTO videos (owner_id, title, source, status, progress, error, media_key, created_at, updated_at) \
             VALUES (1, 'Broken', 'upload', 'failed', 0, 'not a video', 'failed-upload.mp4', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')",
        )
        .await
        .expect("a failed upload that still names its file");
        let references = SeaOrmMediaReferences::new(db);
        let asked: Vec<String> = [
            "video.mp4",
            "thumb.png",
            "avatar.png",
            "orphan.mp4",
            "failed-upload.mp4",
        ]
        .map(String::from)
        .to_vec();
        let found = references.referenced(&asked).await.expect("referenced");
        let expected: HashSet<String> = ["video.mp4", "thumb.png", "avatar.png"]
            .map(String::from)
            .into();
        assert_eq!(found, expected);
        assert!(references.referenced(&[]).await.expect("none").is_empty());
    }
}
