//! [`VideoRepository`] on sea-orm. Creating a video and enqueuing its job happen in one
//! transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, Set, TransactionTrait,
};
use vidgen_application::idempotency::KeyCompletion;
use vidgen_application::jobs::NewJob;
use vidgen_application::storage::RepositoryError;
use vidgen_application::videos::ports::{
    MediaFacts, NewVideo, VideoQuery, VideoRepository, VideoSortField,
};
use vidgen_application::webhooks::outbox::SettleNotice;
use vidgen_domain::listing::Paged;
use vidgen_domain::users::UserId;
use vidgen_domain::videos::{
    Description, DurationSeconds, JobState, Prompt, Resolution, Title, Video, VideoId, VideoSource,
    VideoStatus,
};

use super::{like_contains, page_with_total, storage};
use crate::entities::job;
use crate::entities::video::{self, Column, Entity as Videos};

/// Videos in the `videos` table.
#[derive(Debug, Clone)]
pub struct SeaOrmVideoRepository {
    db: DatabaseConnection,
}

impl SeaOrmVideoRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Runs the update that settles a video and, when it moved the row, enqueues the job
    /// `notice` builds from the settled row, in one transaction.
    async fn settle(
        &self,
        id: VideoId,
        update: sea_orm::UpdateMany<Videos>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError> {
        let tx = self.db.begin().await.map_err(storage)?;
        let moved = update.exec(&tx).await.map_err(storage)?.rows_affected == 1;
        if !moved {
            tx.rollback().await.map_err(storage)?;
            return Ok(false);
        }
        if let Some(notice) = notice {
            let row = Videos::find_by_id(id.get())
                .one(&tx)
                .await
                .map_err(storage)?
                .map(to_video)
                .transpose()?;
            if let Some(job) = row.as_ref().and_then(notice) {
                job_row(job, id.get()).insert(&tx).await.map_err(storage)?;
            }
        }
        tx.commit().await.map_err(storage)?;
        Ok(true)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("video row {id} is invalid: {field}")]
struct CorruptRow {
    id: i64,
    field: &'static str,
}

fn to_video(row: video::Model) -> Result<Video, RepositoryError> {
    let id = row.id;
    let corrupt = |field| RepositoryError::new(CorruptRow { id, field });
    Ok(Video {
        id: VideoId::new(row.id).ok_or_else(|| corrupt("id"))?,
        owner_id: UserId::new(row.owner_id).ok_or_else(|| corrupt("owner_id"))?,
        title: Title::parse(&row.title).map_err(|_| corrupt("title"))?,
        description: row
            .description
            .map(|d| Description::parse(&d).map_err(|_| corrupt("description")))
            .transpose()?,
        prompt: row
            .prompt
            .map(|p| Prompt::parse(&p).map_err(|_| corrupt("prompt")))
            .transpose()?,
        source: VideoSource::parse(&row.source).ok_or_else(|| corrupt("source"))?,
        status: row.status.parse().map_err(|_| corrupt("status"))?,
        progress: u8::try_from(row.progress.clamp(0, 100)).unwrap_or(0),
        resolution: row
            .resolution
            .map(|r| r.parse::<Resolution>().map_err(|_| corrupt("resolution")))
            .transpose()?,
        fps: row.fps.and_then(|f| u32::try_from(f).ok()),
        requested_duration: row
            .requested_duration
            .map(|d| DurationSeconds::new(i64::from(d)).map_err(|_| corrupt("requested_duration")))
            .transpose()?,
        duration: row.duration,
        width: row.width.and_then(|w| u32::try_from(w).ok()),
        height: row.height.and_then(|h| u32::try_from(h).ok()),
        file_size: row.file_size.and_then(|s| u64::try_from(s).ok()),
        content_type: row.content_type,
        codec: row.codec,
        media_key: row.media_key,
        thumbnail_key: row.thumbnail_key,
        error: row.error,
        webhook_url: row.webhook_url,
        created_at: row.created_at,
        updated_at: row.updated_at,
        completed_at: row.completed_at,
    })
}

fn job_row(job: NewJob, video_id: i64) -> job::ActiveModel {
    job::ActiveModel {
        kind: Set(job.kind.as_str().to_owned()),
        video_id: Set(Some(video_id)),
        payload: Set(job.payload),
        state: Set(JobState::Queued.as_str().to_owned()),
        attempts: Set(0),
        max_attempts: Set(i32::try_from(job.max_attempts).unwrap_or(i32::MAX)),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        run_after: Set(job.run_after),
        last_error: Set(None),
        created_at: Set(job.run_after),
        updated_at: Set(job.run_after),
        ..Default::default()
    }
}

fn sort_column(field: VideoSortField) -> Column {
    match field {
        VideoSortField::CreatedAt => Column::CreatedAt,
        VideoSortField::UpdatedAt => Column::UpdatedAt,
        VideoSortField::Title => Column::Title,
        VideoSortField::Duration => Column::Duration,
    }
}

#[async_trait]
impl VideoRepository for SeaOrmVideoRepository {
    async fn create_with_job(
        &self,
        new: NewVideo,
        job: NewJob,
        key: Option<KeyCompletion<Video>>,
    ) -> Result<Video, RepositoryError> {
        let tx = self.db.begin().await.map_err(storage)?;
        let row = video::ActiveModel {
            owner_id: Set(new.owner_id.get()),
            title: Set(new.title.to_string()),
            description: Set(new.description.map(|d| d.to_string())),
            prompt: Set(new.prompt.map(|p| p.to_string())),
            source: Set(new.source.as_str().to_owned()),
            status: Set(VideoStatus::Pending.as_str().to_owned()),
            progress: Set(0),
            resolution: Set(new.resolution.map(|r| r.as_str().to_owned())),
            fps: Set(new.fps.and_then(|f| i16::try_from(f).ok())),
            requested_duration: Set(new
                .requested_duration
                .and_then(|d| i32::try_from(d.get()).ok())),
            webhook_url: Set(new.webhook_url),
            media_key: Set(new.media_key),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            ..Default::default()
        }
        .insert(&tx)
        .await
        .map_err(storage)?;
        job_row(job, row.id).insert(&tx).await.map_err(storage)?;
        let video = to_video(row)?;
        if let Some(key) = key {
            super::idempotency::complete_key(
                &tx,
                key.record_id,
                (key.respond)(&video),
                key.expires_at,
            )
            .await?;
        }
        tx.commit().await.map_err(storage)?;
        Ok(video)
    }

    async fn get(&self, id: VideoId) -> Result<Option<Video>, RepositoryError> {
        Videos::find_by_id(id.get())
            .one(&self.db)
            .await
            .map_err(storage)?
            .map(to_video)
            .transpose()
    }

    async fn get_many(&self, ids: &[VideoId]) -> Result<Vec<Video>, RepositoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Videos::find()
            .filter(Column::Id.is_in(ids.iter().map(|id| id.get())))
            .all(&self.db)
            .await
            .map_err(storage)?
            .into_iter()
            .map(to_video)
            .collect()
    }

    async fn list(&self, query: &VideoQuery) -> Result<Paged<Video>, RepositoryError> {
        let mut select = Videos::find();
        if let Some(owner) = query.owner_id {
            select = select.filter(Column::OwnerId.eq(owner.get()));
        }
        if let Some(status) = query.status {
            select = select.filter(Column::Status.eq(status.as_str()));
        }
        if let Some(source) = query.source {
            select = select.filter(Column::Source.eq(source.as_str()));
        }
        if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
            let pattern = like_contains(&search.to_lowercase());
            let matches = |column: Column| {
                Expr::expr(Func::lower(Expr::col(column)))
                    .like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            select = select.filter(
                Condition::any()
                    .add(matches(Column::Title))
                    .add(matches(Column::Description)),
            );
        }
        let (rows, total) = page_with_total(
            &self.db,
            select,
            (sort_column(query.sort_by), Column::Id),
            query.sort_order,
            query.page,
        )
        .await
        .map_err(storage)?;
        Ok(Paged {
            items: rows.into_iter().map(to_video).collect::<Result<_, _>>()?,
            total,
            page: query.page,
        })
    }

    async fn update_details(
        &self,
        id: VideoId,
        title: Option<Title>,
        description: Option<Option<Description>>,
        at: DateTime<Utc>,
    ) -> Result<Option<Video>, RepositoryError> {
        let mut update = Videos::update_many()
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()));
        if let Some(title) = title {
            update = update.col_expr(Column::Title, Expr::value(title.to_string()));
        }
        if let Some(description) = description {
            update = update.col_expr(
                Column::Description,
                Expr::value(description.map(|d| d.to_string())),
            );
        }
        update.exec(&self.db).await.map_err(storage)?;
        self.get(id).await
    }

    async fn transition(
        &self,
        id: VideoId,
        from: &[VideoStatus],
        status: VideoStatus,
        progress: u8,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let result = Videos::update_many()
            .col_expr(Column::Status, Expr::value(status.as_str()))
            .col_expr(Column::Progress, Expr::value(i16::from(progress)))
            .col_expr(Column::Error, Expr::value(error))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()))
            .filter(Column::Status.is_in(from.iter().map(|s| s.as_str())))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(result.rows_affected == 1)
    }

    async fn set_progress(
        &self,
        id: VideoId,
        progress: u8,
        at: DateTime<Utc>,
    ) -> Result<(), RepositoryError> {
        Videos::update_many()
            .col_expr(Column::Progress, Expr::value(i16::from(progress)))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()))
            .filter(Column::Status.eq(VideoStatus::Processing.as_str()))
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn complete(
        &self,
        id: VideoId,
        facts: MediaFacts,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError> {
        let update = Videos::update_many()
            .col_expr(Column::Status, Expr::value(VideoStatus::Completed.as_str()))
            .col_expr(Column::Progress, Expr::value(100i16))
            .col_expr(Column::Duration, Expr::value(facts.duration))
            .col_expr(
                Column::Width,
                Expr::value(i32::try_from(facts.width).unwrap_or(i32::MAX)),
            )
            .col_expr(
                Column::Height,
                Expr::value(i32::try_from(facts.height).unwrap_or(i32::MAX)),
            )
            .col_expr(
                Column::FileSize,
                Expr::value(i64::try_from(facts.file_size).unwrap_or(i64::MAX)),
            )
            .col_expr(Column::ContentType, Expr::value(facts.content_type))
            .col_expr(Column::Codec, Expr::value(facts.codec))
            .col_expr(Column::MediaKey, Expr::value(facts.media_key))
            .col_expr(Column::ThumbnailKey, Expr::value(facts.thumbnail_key))
            .col_expr(Column::Error, Expr::value(Option::<String>::None))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .col_expr(Column::CompletedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()))
            .filter(Column::Status.eq(VideoStatus::Processing.as_str()));
        self.settle(id, update, notice).await
    }

    async fn fail(
        &self,
        id: VideoId,
        error: String,
        at: DateTime<Utc>,
        notice: Option<SettleNotice>,
    ) -> Result<bool, RepositoryError> {
        let from = VideoStatus::sources_of(VideoStatus::Failed);
        let update = Videos::update_many()
            .col_expr(Column::Status, Expr::value(VideoStatus::Failed.as_str()))
            .col_expr(Column::Progress, Expr::value(0i16))
            .col_expr(Column::Error, Expr::value(Some(error)))
            .col_expr(Column::MediaKey, Expr::value(Option::<String>::None))
            .col_expr(Column::ThumbnailKey, Expr::value(Option::<String>::None))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()))
            .filter(Column::Status.is_in(from.iter().map(|s| s.as_str())));
        self.settle(id, update, notice).await
    }

    async fn retry_with_job(
        &self,
        id: VideoId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let tx = self.db.begin().await.map_err(storage)?;
        let moved = Videos::update_many()
            .col_expr(Column::Status, Expr::value(VideoStatus::Pending.as_str()))
            .col_expr(Column::Progress, Expr::value(0i16))
            .col_expr(Column::Error, Expr::value(Option::<String>::None))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(id.get()))
            .filter(Column::Status.eq(VideoStatus::Failed.as_str()))
            .exec(&tx)
            .await
            .map_err(storage)?;
        if moved.rows_affected != 1 {
            tx.rollback().await.map_err(storage)?;
            return Ok(false);
        }
        job_row(job, id.get()).insert(&tx).await.map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(true)
    }

    async fn owner_exists(&self, owner: UserId) -> Result<bool, RepositoryError> {
        let found = crate::entities::user::Entity::find_by_id(owner.get())
            .count(&self.db)
            .await
            .map_err(storage)?;
        Ok(found > 0)
    }

    async fn count_active(&self, owner: UserId) -> Result<u64, RepositoryError> {
        Videos::find()
            .filter(Column::OwnerId.eq(owner.get()))
            .filter(Column::Status.is_in([
                VideoStatus::Pending.as_str(),
                VideoStatus::Processing.as_str(),
            ]))
            .count(&self.db)
            .await
            .map_err(storage)
    }

    async fn delete(&self, id: VideoId) -> Result<Option<Video>, RepositoryError> {
        let Some(video) = self.get(id).await? else {
            return Ok(None);
        };
        let result = Videos::delete_by_id(id.get())
            .exec(&self.db)
            .await
            .map_err(storage)?;
        Ok((result.rows_affected == 1).then_some(video))
    }
}
