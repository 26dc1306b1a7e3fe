//! `JobRegistry`: the handlers of this process, keyed by `JobKind`. The worker runtime
//! claims only the kinds registered here, so a job of a kind nobody handles stays queued
//! for a process that does, instead of failing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{JobHandler, JobKind};

/// A second handler for a kind that already has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a handler for {} jobs is already registered", .0.as_str())]
pub struct DuplicateHandler(pub JobKind);

/// The registered handlers.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: BTreeMap<&'static str, (JobKind, Arc<dyn JobHandler>)>,
}

impl std::fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` under its kind.
    ///
    /// # Errors
    /// `DuplicateHandler` when the kind already has a handler.
    pub fn register(&mut self, handler: Arc<dyn JobHandler>) -> Result<(), DuplicateHandler> {
        let kind = handler.kind();
        if self.handlers.contains_key(kind.as_str()) {
            return Err(DuplicateHandler(kind));
        }
        self.handlers.insert(kind.as_str(), (kind, handler));
        Ok(())
    }

    /// [`register`](Self::register), by value.
    ///
    /// # Errors
    /// As for [`register`](Self::register).
    pub fn with(mut self, handler: Arc<dyn JobHandler>) -> Result<Self, DuplicateHandler> {
        self.register(handler)?;
        Ok(self)
    }

    /// The handler of `kind`, if one is registered.
    pub fn get(&self, kind: JobKind) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind.as_str()).map(|(_, h)| h.clone())
    }

    /// The kinds with a handler: the only ones this process claims.
    pub fn kinds(&self) -> Vec<JobKind> {
        self.handlers.values().map(|(kind, _)| *kind).collect()
    }

    /// The periodic kinds and their periods.
    pub fn periodic(&self) -> Vec<(JobKind, Duration)> {
        self.handlers
            .values()
            .filter_map(|(kind, handler)| handler.period().map(|period| (*kind, period)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::MockJobHandler;

    fn handler(kind: JobKind, period: Option<Duration>) -> Arc<dyn JobHandler> {
        let mut handler = MockJobHandler::new();
        handler.expect_kind().return_const(kind);
        handler.expect_period().return_const(period);
        Arc::new(handler)
    }

    #[test]
    fn handlers_are_found_by_kind_and_only_their_kinds_are_claimed() {
        let hour = Duration::from_secs(3600);
        let registry = JobRegistry::new()
            .with(handler(JobKind::RenderVideo, None))
            .and_then(|r| r.with(handler(JobKind::SweepMedia, Some(hour))))
            .expect("distinct kinds");
        assert!(registry.get(JobKind::RenderVideo).is_some());
        assert!(registry.get(JobKind::DeliverWebhook).is_none());
        let mut kinds = registry.kinds();
        kinds.sort_by_key(|k| k.as_str());
        assert_eq!(kinds, [JobKind::RenderVideo, JobKind::SweepMedia]);
        assert_eq!(registry.periodic(), [(JobKind::SweepMedia, hour)]);
    }

    #[test]
    fn a_kind_is_registered_once() {
        let mut registry = JobRegistry::new();
        registry
            .register(handler(JobKind::RenderVideo, None))
            .expect("first");
        assert_eq!(
            registry.register(handler(JobKind::RenderVideo, None)),
            Err(DuplicateHandler(JobKind::RenderVideo))
        );
        assert_eq!(registry.kinds(), [JobKind::RenderVideo]);
    }
}
