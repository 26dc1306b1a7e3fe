//! The job workers: `JOB_WORKERS` tasks that claim jobs with a lease, keep the lease
//! alive while a render runs (and record its progress), and stop claiming on shutdown.
//! A render still running at shutdown may finish within the shutdown bound; after that
//! it is cancelled and its lease released, so another worker takes it at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vidgen_application::clock::Clock;
use vidgen_application::jobs::{ClaimedJob, JobKind, JobQueue};
use vidgen_application::videos::render::{CancelFlag, RenderProgress};
use vidgen_application::videos::render_job::{JobFailure, RenderJob};

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
}

/// The running workers.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn spawn(
        settings: WorkerSettings,
        queue: Arc<dyn JobQueue>,
        render: RenderJob,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let handles = (0..settings.count)
            .map(|index| {
                let worker = Worker {
                    settings: settings.clone(),
                    queue: queue.clone(),
                    render: render.clone(),
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

/// Latest progress of a render, flushed to the database with each lease renewal.
#[derive(Debug, Default)]
struct LatestProgress(AtomicU8);

impl RenderProgress for LatestProgress {
    fn report(&self, percent: u8) {
        self.0.store(percent, Ordering::Relaxed);
    }
}

struct Worker {
    settings: WorkerSettings,
    queue: Arc<dyn JobQueue>,
    render: RenderJob,
    clock: Arc<dyn Clock>,
    stopped: watch::Receiver<bool>,
}

impl Worker {
    async fn run(mut self) {
        loop {
            if *self.stopped.borrow() {
                return;
            }
            let claimed = self
                .queue
                .claim(&self.settings.owner, self.settings.lease, self.clock.now())
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

    #[tracing::instrument(skip_all, fields(job_id = job.id.0, kind = job.kind.as_str(), attempt = job.attempt))]
    async fn run_job(&mut self, job: ClaimedJob) {
        if job.kind != JobKind::RenderVideo {
            let failure = JobFailure(format!("no worker handles {} jobs yet", job.kind.as_str()));
            self.record_failure(&job, &failure).await;
            return;
        }
        let owner = self.settings.owner.clone();
        let cancel = CancelFlag::new();
        let progress = Arc::new(LatestProgress::default());
        let render = self.render.clone();
        let mut run = std::pin::pin!(render.run(&job, progress.clone(), cancel.clone()));
        let mut heartbeat = tokio::time::interval(self.settings.lease / 3);
        heartbeat.tick().await;
        let mut progress_tick = tokio::time::interval(Duration::from_millis(500));
        progress_tick.tick().await;
        let mut reported = 0u8;
        let mut deadline: Option<tokio::time::Instant> = None;
        let outcome = loop {
            tokio::select! {
                outcome = &mut run => break outcome,
                _ = heartbeat.tick() => {
                    let now = self.clock.now();
                    let until = now + chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::seconds(60));
                    match self.queue.extend_lease(job.id, &owner, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!("job cancelled or taken over: stopping the render");
                            cancel.cancel();
                        }
                        Err(error) => tracing::warn!(error = ?error, "could not extend the lease"),
                    }
                }
                _ = progress_tick.tick() => {
                    let percent = progress.0.load(Ordering::Relaxed);
                    if percent != reported {
                        reported = percent;
                        if let Err(error) = self.render.record_progress(&job, percent).await {
                            tracing::warn!(error = ?error, "could not record progress");
                        }
                    }
                }
                _ = self.stopped.changed(), if deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + self.settings.shutdown_grace);
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    tracing::info!("shutdown bound reached: releasing the job");
                    cancel.cancel();
                    let _ = (&mut run).await;
                    if let Err(error) = self.queue.release(job.id, &owner, self.clock.now()).await {
                        tracing::warn!(error = ?error, "could not release the job");
                    }
                    return;
                }
            }
        };
        match outcome {
            Ok(()) => {
                if let Err(error) = self.queue.complete(job.id, &owner, self.clock.now()).await {
                    tracing::error!(error = ?error, "could not mark the job done");
                }
            }
            Err(failure) => self.record_failure(&job, &failure).await,
        }
    }

    async fn record_failure(&self, job: &ClaimedJob, failure: &JobFailure) {
        tracing::warn!(reason = %failure, "job failed");
        if let Err(error) = self
            .render
            .record_failure(job, &self.settings.owner, failure)
            .await
        {
            tracing::error!(error = ?error, "could not record the failure");
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
