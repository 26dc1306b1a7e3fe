//! The `Clock` port: the one place use cases read the time from, so tests can fix it.

use chrono::{DateTime, SubsecRound, Utc};

/// Source of the current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock, to the microsecond (the precision every supported database
/// keeps, so a value reads back exactly as it was written).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
