//! Analytics: figures about videos and users, counted by the database
//! ([`ports::AnalyticsRepository`]) and shaped here: every enum member present, one entry
//! per day of the reporting window. Each use case is a method of [`AnalyticsService`] in
//! its own module.

pub mod figures;
pub mod mine;
pub mod overview;
pub mod ports;

use std::sync::Arc;

use crate::clock::Clock;
use ports::AnalyticsRepository;

/// Runs the analytics use cases.
#[derive(Clone)]
pub struct AnalyticsService {
    analytics: Arc<dyn AnalyticsRepository>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AnalyticsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsService").finish_non_exhaustive()
    }
}

impl AnalyticsService {
    pub fn new(analytics: Arc<dyn AnalyticsRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { analytics, clock }
    }
}

#[cfg(test)]
mod tests;
