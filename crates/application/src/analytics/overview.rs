//! The overview of every user and video, for admins.

use vidgen_domain::users::policy::{self, Access, Actor};
use vidgen_domain::users::{Role, UserStatus};

use super::AnalyticsService;
use super::figures::{self, Counts, OverviewFigures, UserFigures};
use super::ports::{DayRange, VideoScope};
use crate::storage::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum GetOverviewError {
    #[error("the analytics overview requires the admin role")]
    Forbidden,
    #[error("computing the overview failed")]
    Unexpected(#[from] RepositoryError),
}

impl AnalyticsService {
    /// Figures about every user and every video (admins only); the per-day series end
    /// today by the clock.
    ///
    /// # Errors
    /// `Forbidden` for other roles; `Unexpected` when the storage fails.
    #[tracing::instrument(skip(self))]
    pub async fn overview(&self, actor: Actor) -> Result<OverviewFigures, GetOverviewError> {
        if policy::can_view_analytics_overview(actor) != Access::Allowed {
            return Err(GetOverviewError::Forbidden);
        }
        // One window for both series, even when the request straddles midnight.
        let days = figures::window(self.clock.now());
        let (users, videos) = tokio::try_join!(
            self.user_figures(days),
            self.video_figures(VideoScope::All, days)
        )?;
        Ok(OverviewFigures { users, videos })
    }

    async fn user_figures(&self, days: DayRange) -> Result<UserFigures, RepositoryError> {
        let (groups, signups) = tokio::try_join!(
            self.analytics.user_groups(),
            self.analytics.signups_per_day(days),
        )?;
        let by_status: Vec<(UserStatus, u64)> =
            groups.iter().map(|g| (g.status, g.count)).collect();
        let by_role: Vec<(Role, u64)> = groups.iter().map(|g| (g.role, g.count)).collect();
        Ok(UserFigures {
            total: groups.iter().map(|g| g.count).sum(),
            by_status: Counts::complete(UserStatus::ALL, &by_status),
            by_role: Counts::complete(Role::ALL, &by_role),
            signups_per_day: figures::per_day(days, &signups),
        })
    }
}
