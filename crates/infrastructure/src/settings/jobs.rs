//! Background jobs: how many workers run them and how long a claim lasts.

use super::SettingsError;
use super::source::Source;

/// The job runtime's settings.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// `JOB_WORKERS`: background job workers (and concurrent renders); 0 runs none.
    pub workers: usize,
    /// `JOB_LEASE_SECONDS`: how long a worker's claim on a job lasts without renewal
    /// (renewed every third).
    pub lease_seconds: u64,
    /// `JOB_RETRY_BASE_MS`: the delay before a failed job's first retry (renders, webhook
    /// deliveries); each later retry doubles it, with jitter, up to five minutes.
    pub retry_base_ms: u64,
}

impl JobSettings {
    /// Reads the job variables.
    ///
    /// # Errors
    /// Every invalid value among them, one line each.
    pub fn read(source: &Source) -> Result<Self, SettingsError> {
        let mut r = source.reader();
        let workers: usize = r.number("JOB_WORKERS", 2, 0, 64);
        let lease_seconds: u64 = r.number("JOB_LEASE_SECONDS", 60, 3, 3600);
        let retry_base_ms: u64 = r.number("JOB_RETRY_BASE_MS", 2000, 10, 60_000);
        r.finish(Self {
            workers,
            lease_seconds,
            retry_base_ms,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::settings::test_support::{problems_of, source};

    #[test]
    fn defaults_run_two_workers_with_a_minute_lease() {
        let s = JobSettings::read(&source(&[])).unwrap();
        assert_eq!(s.workers, 2);
        assert_eq!(s.lease_seconds, 60);
        assert_eq!(s.retry_base_ms, 2000);
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("JOB_WORKERS", "-2"),
            ("JOB_WORKERS", "65"),
            ("JOB_LEASE_SECONDS", "1"),
            ("JOB_LEASE_SECONDS", "soon"),
            ("JOB_RETRY_BASE_MS", "5"),
            ("JOB_RETRY_BASE_MS", "later"),
        ];
        for (name, value) in cases {
            let p = problems_of(JobSettings::read(&source(&[(name, value)])));
            assert_eq!(p.len(), 1, "{name}={value} gave {p:?}");
            assert!(
                p[0].starts_with(&format!("{name}: ")),
                "{name}={value} gave {p:?}"
            );
        }
        let p = problems_of(JobSettings::read(&source(&[
            ("JOB_WORKERS", "x"),
            ("JOB_LEASE_SECONDS", "y"),
        ])));
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn overrides_are_kept() {
        let s = JobSettings::read(&source(&[("JOB_WORKERS", "0"), ("JOB_LEASE_SECONDS", "3")]))
            .unwrap();
        assert_eq!(s.workers, 0);
        assert_eq!(s.lease_seconds, 3);
    }
}
