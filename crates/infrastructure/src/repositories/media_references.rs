//! [`MediaReferences`] on sea-orm: which media keys a video (its file or thumbnail) or a
//! user (their avatar) still refers to.

use std::collections::HashSet;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use vidgen_application::storage::{MediaReferences, RepositoryError};

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
