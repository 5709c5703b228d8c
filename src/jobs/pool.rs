//! The worker pool: claims runnable jobs with a lease, renews the lease while a handler works,
//! records the outcome, and on shutdown stops claiming, lets running jobs finish within a grace
//! period and gives back the leases of those that did not.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Backoff, JobError, JobHandler};
use crate::store::{Job, Store};

/// How a pool behaves.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Name in logs.
    pub name: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Lease length; renewed every third of it while the handler runs.
    pub lease: Duration,
    /// Sleep between claims when the queue is empty (an in-process enqueue wakes the pool early).
    pub idle_poll: Duration,
    /// How often expired leases are turned back into runnable jobs.
    pub reclaim_every: Duration,
    /// How long running jobs may finish after shutdown starts.
    pub shutdown_grace: Duration,
    pub backoff: Backoff,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            name: "workers".into(),
            concurrency: 8,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(500),
            reclaim_every: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(8),
            backoff: Backoff::default(),
        }
    }
}

/// Counters a pool keeps while it runs (for logs and benchmarks).
#[derive(Debug, Default)]
pub struct PoolStats {
    /// Round-trip time of every claim that returned at least one job, in microseconds.
    pub claim_latencies_us: Mutex<Vec<u64>>,
    pub completed: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
    pub lost_leases: std::sync::atomic::AtomicU64,
}

/// Runs registered job handlers against the store.
pub struct WorkerPool {
    store: Arc<dyn Store>,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    opts: PoolOptions,
    wake: Arc<Notify>,
    stats: Arc<PoolStats>,
}

impl WorkerPool {
    pub fn new(store: Arc<dyn Store>, opts: PoolOptions) -> Self {
        Self {
            store,
            handlers: HashMap::new(),
            opts,
            wake: Arc::new(Notify::new()),
            stats: Arc::new(PoolStats::default()),
        }
    }

    /// Adds the handler for its kind.
    pub fn register(&mut self, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(handler.kind().to_string(), handler);
    }

    /// A handle that wakes an idle pool at once (call it after enqueueing in-process).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn stats(&self) -> Arc<PoolStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` fires, then drains as described in the module header.
    pub async fn run(self, shutdown: CancellationToken) {
        let kinds: Vec<String> = self.handlers.keys().cloned().collect();
        let handlers = Arc::new(self.handlers);
        let slots = Arc::new(Semaphore::new(self.opts.concurrency.max(1)));
        let abandon = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let mut last_reclaim: Option<Instant> = None;
        let mut store_backoff = Duration::from_millis(200);
        tracing::info!(pool = %self.opts.name, ?kinds, concurrency = self.opts.concurrency, "worker pool started");

        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if last_reclaim.is_none_or(|t| t.elapsed() >= self.opts.reclaim_every) {
                last_reclaim = Some(Instant::now());
                match self.store.reclaim_expired().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(pool = %self.opts.name, jobs = n, "reclaimed jobs whose lease expired")
                    }
                    Err(e) => {
                        tracing::warn!(pool = %self.opts.name, error = %e, "reclaiming expired leases failed")
                    }
                }
            }
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tasks.join_next() => continue,
                }
            }
            let started = Instant::now();
            match self.store.claim(&kinds, free, self.opts.lease).await {
                Ok(jobs) if jobs.is_empty() => {
                    store_backoff = Duration::from_millis(200);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(self.opts.idle_poll) => {}
                    }
                }
                Ok(jobs) => {
                    store_backoff = Duration::from_millis(200);
                    let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    if let Ok(mut v) = self.stats.claim_latencies_us.lock() {
                        v.push(us);
                    }
                    for job in jobs {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            // Cannot happen (we claimed no more than the free slots); give it back.
                            if let Some(token) = job.lease_token {
                                let _ = self.store.release(job.id, token).await;
                            }
                            continue;
                        };
                        let Some(handler) = handlers.get(&job.kind).cloned() else {
                            continue;
                        };
                        let ctx = RunCtx {
                            store: self.store.clone(),
                            opts: self.opts.clone(),
                            stats: self.stats.clone(),
                            abandon: abandon.clone(),
                            wake: self.wake.clone(),
                        };
                        tasks.spawn(async move {
                            ctx.run_one(handler, job).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(pool = %self.opts.name, error = %e, retry_in = ?store_backoff, "claiming jobs failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(store_backoff) => {}
                    }
                    store_backoff = (store_backoff * 2).min(Duration::from_secs(10));
                }
            }
        }

        if !tasks.is_empty() {
            tracing::info!(pool = %self.opts.name, running = tasks.len(), grace = ?self.opts.shutdown_grace, "stopping: letting running jobs finish");
        }
        let grace = tokio::time::sleep(self.opts.shutdown_grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                next = tasks.join_next() => if next.is_none() { break },
                _ = &mut grace => {
                    tracing::warn!(pool = %self.opts.name, running = tasks.len(), "grace period over: releasing leases of unfinished jobs");
                    abandon.cancel();
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        while tasks.join_next().await.is_some() {}
                    })
                    .await;
                    tasks.abort_all();
                    break;
                }
            }
        }
        tracing::info!(pool = %self.opts.name, "worker pool stopped");
    }
}

/// Aborts the heartbeat when the job's task ends in any way, even when it is itself aborted, so a
/// dead worker never keeps renewing its lease.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct RunCtx {
    store: Arc<dyn Store>,
    opts: PoolOptions,
    stats: Arc<PoolStats>,
    abandon: CancellationToken,
    wake: Arc<Notify>,
}

enum Outcome {
    Finished(Result<(), JobError>),
    GaveUp(String),
    Abandoned,
    LeaseLost,
}

/// Tries of a give-up step that fails (it is dead-lettered after them either way).
const GIVE_UP_TRIES: i32 = 3;

impl RunCtx {
    /// The handler's give-up step, retried a few times; a panic counts as a failed try.
    async fn give_up(&self, handler: &dyn JobHandler, job: &Job, reason: &str) {
        for attempt in 1..=GIVE_UP_TRIES {
            let step = AssertUnwindSafe(handler.give_up(job, reason)).catch_unwind();
            match step.await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => {
                    tracing::warn!(job = job.id, kind = %job.kind, attempt, error = %e, "give-up step failed")
                }
                Err(_) => {
                    tracing::warn!(job = job.id, kind = %job.kind, attempt, "give-up step panicked")
                }
            }
            if attempt < GIVE_UP_TRIES {
                tokio::time::sleep(self.opts.backoff.delay(attempt)).await;
            }
        }
        tracing::error!(job = job.id, kind = %job.kind, "give-up step failed every time; dead-lettering without it");
    }

    async fn run_one(&self, handler: Arc<dyn JobHandler>, job: Job) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(token) = job.lease_token else {
            tracing::error!(job = job.id, "claimed job has no lease token");
            return;
        };
        let job_cancel = self.abandon.child_token();
        let lease_lost = CancellationToken::new();
        let heartbeat = AbortOnDrop({
            let store = self.store.clone();
            let lease = self.opts.lease;
            let job_cancel = job_cancel.clone();
            let lease_lost = lease_lost.clone();
            let id = job.id;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(lease / 3);
                tick.tick().await;
                let mut last_renewed = Instant::now();
                loop {
                    tick.tick().await;
                    match store.renew(id, token, lease).await {
                        Ok(true) => last_renewed = Instant::now(),
                        Ok(false) => {
                            tracing::warn!(
                                job = id,
                                "lease lost: another worker may own this job now"
                            );
                            lease_lost.cancel();
                            job_cancel.cancel();
                            return;
                        }
                        Err(e) if last_renewed.elapsed() >= lease / 2 => {
                            // Half the lease without a renewal: another worker may soon take the
                            // job over, so this one stops before it acts for a job it may not own.
                            tracing::warn!(job = id, error = %e, "lease renewals failing for half the lease: stopping the job");
                            lease_lost.cancel();
                            job_cancel.cancel();
                            return;
                        }
                        Err(e) => tracing::warn!(job = id, error = %e, "renewing lease failed"),
                    }
                }
            })
        });

        let started = Instant::now();
        let outcome = match job.give_up.clone() {
            Some(reason) => {
                let step = self.give_up(handler.as_ref(), &job, &reason);
                tokio::select! {
                    () = step => Outcome::GaveUp(reason),
                    _ = self.abandon.cancelled() => Outcome::Abandoned,
                    _ = lease_lost.cancelled() => Outcome::LeaseLost,
                }
            }
            None => {
                let work = AssertUnwindSafe(handler.run(&job, job_cancel.clone())).catch_unwind();
                tokio::select! {
                    r = work => Outcome::Finished(r.unwrap_or_else(|_| Err(JobError::Retry("job handler panicked".into())))),
                    _ = self.abandon.cancelled() => Outcome::Abandoned,
                    _ = lease_lost.cancelled() => Outcome::LeaseLost,
                }
            }
        };
        drop(heartbeat);
        let elapsed = started.elapsed().as_secs_f64();

        let (label, result) = match outcome {
            Outcome::Abandoned => ("released", self.store.release(job.id, token).await),
            Outcome::LeaseLost => {
                self.stats.lost_leases.fetch_add(1, Relaxed);
                ("lease_lost", Ok(false))
            }
            Outcome::GaveUp(reason) => {
                tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, crashes = job.crashes, reason = %reason, "job given up (dead-lettered)");
                ("dead", self.store.fail(job.id, token, &reason, None).await)
            }
            Outcome::Finished(Ok(())) => ("done", self.store.complete(job.id, token).await),
            Outcome::Finished(Err(err)) => {
                let retry_in = match &err {
                    JobError::Retry(_) => Some(self.opts.backoff.delay(job.attempts)),
                    JobError::RetryAfter(_, d) => Some((*d).max(self.opts.backoff.delay(1) / 4)),
                    JobError::Permanent(_) => None,
                };
                let giving_up = retry_in.is_none() || job.attempts >= job.max_attempts;
                if giving_up {
                    tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %err, "job failed for good; its give-up step runs next");
                } else {
                    tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempts, max = job.max_attempts, retry_in = ?retry_in, error = %err, "job attempt failed; will retry");
                }
                self.stats.failed.fetch_add(1, Relaxed);
                let label = if giving_up { "give_up" } else { "retry" };
                let stored = self
                    .store
                    .fail(job.id, token, &err.to_string(), retry_in)
                    .await;
                if giving_up {
                    self.wake.notify_one();
                }
                (label, stored)
            }
        };
        match result {
            Ok(true) => {
                if label == "done" {
                    self.stats.completed.fetch_add(1, Relaxed);
                }
            }
            Ok(false) if label != "lease_lost" => {
                self.stats.lost_leases.fetch_add(1, Relaxed);
                tracing::warn!(
                    job = job.id,
                    outcome = label,
                    "lease lost before the outcome was stored; the job will run again elsewhere"
                );
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(job = job.id, outcome = label, error = %e, "storing the job outcome failed; it will be retried after its lease")
            }
        }
        metrics::histogram!("callops_job_duration_seconds", "kind" => job.kind.clone(), "outcome" => label)
            .record(elapsed);
        metrics::counter!("callops_jobs_finished_total", "kind" => job.kind.clone(), "outcome" => label)
            .increment(1);
    }
}
