//! vidgen's database migrations. One file per change, named by date and order; a
//! migration that has landed on `main` is never edited, only followed by a new one.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_instances;
mod m20261124_000002_create_users;
mod m20261124_000003_create_videos_and_jobs;
mod m20261201_000004_job_leases_and_periodic_jobs;
mod m20261201_000005_bind_refresh_tokens_to_token_version;
mod m20261202_000006_video_codec;
mod m20261202_000007_user_profiles;
mod m20261202_000008_create_account_tokens;
mod m20261202_000009_owner_list_indexes;

/// Applies vidgen's migrations in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_instances::Migration),
            Box::new(m20261124_000002_create_users::Migration),
            Box::new(m20261124_000003_create_videos_and_jobs::Migration),
            Box::new(m20261201_000004_job_leases_and_periodic_jobs::Migration),
            Box::new(m20261201_000005_bind_refresh_tokens_to_token_version::Migration),
            Box::new(m20261202_000006_video_codec::Migration),
            Box::new(m20261202_000008_create_account_tokens::Migration),
            Box::new(m20261202_000007_user_profiles::Migration),
            Box::new(m20261202_000009_owner_list_indexes::Migration),
        ]
    }
}
