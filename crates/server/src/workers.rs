//! The job runtime: `JOB_WORKERS` tasks that claim jobs of the registered kinds with a
//! lease, hand each to its kind's handler, renew the lease every third of its length
//! while it runs (flushing progress), and settle it: done, retried after a backoff with
//! jitter, or failed for good after the last attempt (or when its workers died during
//! every attempt). A worker that loses its lease cancels the run and leaves the job to its
//! new holder. Periodic jobs are re-armed after each run. On shutdown workers stop
//! claiming; a running job may finish within the grace period, after that it is cancelled
//! and released, so another worker takes it at once. Nothing here knows what a job does.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use vidgen_application::clock::Clock;
use vidgen_application::jobs::{
    ClaimedJob, JobContext, JobFailure, JobHandler, JobKind, JobQueue, JobRegistry,
    PERIODIC_MAX_ATTEMPTS, retry_delay_from,
};
use vidgen_application::metrics::{self, JobOutcome};
use vidgen_application::storage::RepositoryError;

/// How the workers run.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub count: usize,
    /// This process's id: the lease owner.
    pub owner: String,
    pub lease: Duration,
    pub poll_interval: Duration,
    /// How long a running job may continue after a stop was asked for.
    pub shutdown_grace: Duration,
    /// The delay before a failed job's first retry; each later one doubles it.
    pub retry_base: Duration,
}

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

/// Seeds one job row per periodic kind of `registry`, due now. Every instance calls this
/// at start-up; the queue keeps one row per kind, so the instances share each occurrence.
///
/// # Errors
/// A storage failure.
pub async fn schedule_periodic(
    queue: &dyn JobQueue,
    registry: &JobRegistry,
    now: DateTime<Utc>,
) -> Result<(), RepositoryError> {
    for (kind, _) in registry.periodic() {
        if queue
            .ensure_periodic(kind, PERIODIC_MAX_ATTEMPTS, now)
            .await?
        {
            tracing::info!(kind = kind.as_str(), "periodic job scheduled");
        }
    }
    Ok(())
}

impl Workers {
    pub fn spawn(
        settings: WorkerSettings,
        queue: Arc<dyn JobQueue>,
        registry: Arc<JobRegistry>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let kinds = registry.kinds();
        let handles = (0..settings.count)
            .map(|index| {
                let worker = Worker {
                    settings: settings.clone(),
                    queue: queue.clone(),
                    registry: registry.clone(),
                    kinds: kinds.clone(),
                    clock: clock.clone(),
                    stopped: stopped.clone(),
                };
                tokio::spawn(async move {
                    tracing::debug!(worker = index, "job worker started");
                    worker.run().await;
                })
            })
            .collect();
        Self { stop, handles }
    }

    /// Stops claiming, lets running jobs finish within the grace period (then releases
    /// them) and waits for every worker.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

struct Worker {
    settings: WorkerSettings,
    queue: Arc<dyn JobQueue>,
    registry: Arc<JobRegistry>,
    kinds: Vec<JobKind>,
    clock: Arc<dyn Clock>,
    stopped: watch::Receiver<bool>,
}

/// How a run ended, from the runtime's point of view.
enum Ending {
    Finished(Result<(), JobFailure>),
    /// Another claim holds the job now, or it was cancelled: leave it alone.
    LeaseLost,
    /// Stopped at the shutdown bound: give the job back.
    Released,
}

impl Ending {
    /// The `outcome` label of the job-duration histogram.
    fn outcome(&self) -> JobOutcome {
        match self {
            Self::Finished(Ok(())) => JobOutcome::Succeeded,
            Self::Finished(Err(_)) => JobOutcome::Failed,
            Self::LeaseLost => JobOutcome::LeaseLost,
            Self::Released => JobOutcome::Released,
        }
    }
}

impl Worker {
    async fn run(mut self) {
        loop {
            if *self.stopped.borrow() {
                return;
            }
            let claimed = self
                .queue
                .claim(
                    &self.settings.owner,
                    &self.kinds,
                    self.settings.lease,
                    self.clock.now(),
                )
                .await;
            match claimed {
                Ok(Some(job)) => self.run_job(job).await,
                Ok(None) => self.idle().await,
                Err(error) => {
                    tracing::error!(error = ?error, "claiming a job failed");
                    self.idle().await;
                }
            }
        }
    }

    async fn idle(&mut self) {
        tokio::select! {
            () = tokio::time::sleep(self.settings.poll_interval) => {}
            _ = self.stopped.changed() => {}
        }
    }

    fn lease_end(&self) -> DateTime<Utc> {
        self.clock.now()
            + chrono::Duration::from_std(self.settings.lease)
                .unwrap_or(chrono::Duration::seconds(60))
    }

    #[tracing::instrument(skip_all, fields(job_id = job.id.0, kind = job.kind.as_str(), attempt = job.attempt))]
    async fn run_job(&mut self, job: ClaimedJob) {
        let Some(handler) = self.registry.get(job.kind) else {
            // Claims ask only for registered kinds; a row whose kind changed under us.
            let failure = JobFailure(format!("no handler runs {} jobs", job.kind.as_str()));
            if let Err(error) = self
                .queue
                .fail(job.id, &job.lease, &failure.0, None, self.clock.now())
                .await
            {
                tracing::error!(error = ?error, "could not fail a job nobody handles");
            }
            return;
        };
        if job.attempts_exhausted() {
            let failure = JobFailure(format!(
                "gave up: the worker stopped during each of the {} attempts",
                job.max_attempts
            ));
            tracing::warn!("every attempt's worker died: failing the job");
            self.settle_failure(handler.as_ref(), &job, &failure, true)
                .await;
            return;
        }
        let started = std::time::Instant::now();
        let ending = self.supervise(handler.as_ref(), &job).await;
        metrics::job_run(job.kind, ending.outcome(), started.elapsed());
        match ending {
            Ending::Finished(Ok(())) => self.settle_success(handler.as_ref(), &job).await,
            Ending::Finished(Err(failure)) => {
                self.settle_failure(handler.as_ref(), &job, &failure, job.is_last_attempt())
                    .await;
            }
            Ending::LeaseLost => {
                tracing::info!("the lease was lost: the job is left to its new holder");
            }
            Ending::Released => {
                match self
                    .queue
                    .release(job.id, &job.lease, self.clock.now())
                    .await
                {
                    Ok(true) => tracing::info!("job released at shutdown"),
                    Ok(false) => tracing::info!("job lost before it could be released"),
                    Err(error) => tracing::warn!(error = ?error, "could not release the job"),
                }
            }
        }
    }

    /// Runs the handler, renewing the lease and flushing progress until it ends.
    async fn supervise(&mut self, handler: &dyn JobHandler, job: &ClaimedJob) -> Ending {
        let context = JobContext::new(job.clone());
        let mut run = std::pin::pin!(handler.run(&context));
        let mut heartbeat = tokio::time::interval(self.settings.lease / 3);
        heartbeat.tick().await;
        let flush_every = (self.settings.lease / 3).min(Duration::from_millis(500));
        let mut flush = tokio::time::interval(flush_every);
        flush.tick().await;
        let mut reported = 0u8;
        let mut lease_lost = false;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                outcome = &mut run => {
                    return if lease_lost { Ending::LeaseLost } else { Ending::Finished(outcome) };
                }
                _ = heartbeat.tick(), if !lease_lost => {
                    match self.queue.extend_lease(job.id, &job.lease, self.lease_end()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!("job cancelled or taken over: stopping it");
                            lease_lost = true;
                            context.cancel.cancel();
                        }
                        Err(error) => tracing::warn!(error = ?error, "could not extend the lease"),
                    }
                }
                _ = flush.tick(), if !lease_lost => {
                    let percent = context.progress.latest();
                    if percent != reported {
                        reported = percent;
                        if let Err(error) = handler.record_progress(job, percent).await {
                            tracing::warn!(error = ?error, "could not record progress");
                        }
                    }
                }
                _ = self.stopped.changed(), if deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + self.settings.shutdown_grace);
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    tracing::info!("shutdown bound reached: cancelling the job");
                    context.cancel.cancel();
                    let _ = (&mut run).await;
                    return if lease_lost { Ending::LeaseLost } else { Ending::Released };
                }
            }
        }
    }

    async fn settle_success(&self, handler: &dyn JobHandler, job: &ClaimedJob) {
        let now = self.clock.now();
        let settled = match handler.period() {
            Some(period) => {
                self.queue
                    .reschedule(job.id, &job.lease, after(now, period), None, now)
                    .await
            }
            None => self.queue.complete(job.id, &job.lease, now).await,
        };
        match settled {
            Ok(true) => {}
            Ok(false) => tracing::info!("the lease was lost before the job could be settled"),
            Err(error) => tracing::error!(error = ?error, "could not mark the job done"),
        }
    }

    /// Records a failed run: retried after a backoff with jitter, or, when `last`, failed
    /// for good (a periodic job then waits for its next period). The handler hears of it
    /// only if this claim still held the job.
    async fn settle_failure(
        &self,
        handler: &dyn JobHandler,
        job: &ClaimedJob,
        failure: &JobFailure,
        last: bool,
    ) {
        tracing::warn!(reason = %failure, last, "job failed");
        let now = self.clock.now();
        let settled = match (last, handler.period()) {
            (false, _) => {
                let delay =
                    retry_delay_from(self.settings.retry_base, job.attempt, rand::random::<f64>());
                self.queue
                    .fail(job.id, &job.lease, &failure.0, Some(after(now, delay)), now)
                    .await
            }
            (true, None) => {
                self.queue
                    .fail(job.id, &job.lease, &failure.0, None, now)
                    .await
            }
            (true, Some(period)) => {
                self.queue
                    .reschedule(
                        job.id,
                        &job.lease,
                        after(now, period),
                        Some(failure.0.clone()),
                        now,
                    )
                    .await
            }
        };
        let recorded = match settled {
            Ok(true) if last => handler.on_final_failure(job, failure).await,
            Ok(true) => handler.on_retry(job, failure).await,
            Ok(false) => {
                tracing::info!("the lease was lost before the failure could be recorded");
                Ok(())
            }
            Err(error) => Err(error),
        };
        if let Err(error) = recorded {
            tracing::error!(error = ?error, "could not record the failure");
        }
    }
}

fn after(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(300))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_jitter_spreads_retries() {
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| retry_delay_from(Duration::from_secs(2), 3, rand::random::<f64>()))
            .collect();
        assert!(delays.len() > 1, "twenty retries came back together");
    }
}
