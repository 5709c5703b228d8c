//! The worker pool: claims runnable jobs with a lease, renews the lease while a handler works,
//! records the outcome, and on shutdown stops claiming, lets running jobs finish within a grace
//! period and gives back the leases of those that did not.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

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
    /// Whether new jobs queued by other instances wake the pool at once (PostgreSQL
    /// `LISTEN/NOTIFY`); the idle poll stays as the safety net either way.
    pub listen: bool,
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
            listen: true,
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
    /// When the pool last went to the queue (Unix ms; 0 before it started), for readiness.
    pub last_poll_ms: std::sync::atomic::AtomicI64,
}

impl PoolStats {
    /// Notes that the pool is at the queue now.
    fn mark_visit(&self) {
        self.last_poll_ms.store(
            chrono::Utc::now().timestamp_millis(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Whether the pool went to the queue within `within` (false before it started).
    pub fn polled_within(&self, within: Duration) -> bool {
        let last = self.last_poll_ms.load(std::sync::atomic::Ordering::Relaxed);
        let age = chrono::Utc::now().timestamp_millis() - last;
        last > 0 && age >= 0 && u128::try_from(age).unwrap_or(u128::MAX) <= within.as_millis()
    }
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
        let listener = self.opts.listen.then(|| {
            tokio::spawn(listen(
                self.store.clone(),
                self.wake.clone(),
                shutdown.clone(),
            ))
        });
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let completer = tokio::spawn(complete_in_batches(self.store.clone(), done_rx));

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
            let mut free = slots.available_permits();
            let all = self.opts.concurrency.max(1);
            if free > 0 && free < all && !tasks.is_empty() {
                // Slots free one by one as short jobs end: gather them for one claim, for at
                // most GATHER, so a busy pool claims in batches instead of one by one.
                let want = u32::try_from(all).unwrap_or(u32::MAX);
                let _ = tokio::time::timeout(GATHER, slots.acquire_many(want)).await;
                free = slots.available_permits();
            }
            if free == 0 {
                self.stats.mark_visit();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = slots.acquire() => continue,
                    // Busy, not stuck: readiness looks at this mark.
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            }
            let started = Instant::now();
            self.stats.mark_visit();
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
                            done: done_tx.clone(),
                        };
                        tasks.spawn(async move {
                            ctx.run_one(handler, job, permit).await;
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
        drop(done_tx);
        let _ = completer.await;
        if let Some(l) = listener {
            l.abort();
        }
        tracing::info!(pool = %self.opts.name, "worker pool stopped");
    }
}

/// Keeps a listener for jobs queued elsewhere, reconnecting with backoff while it fails.
async fn listen(store: Arc<dyn Store>, wake: Arc<Notify>, stop: CancellationToken) {
    let mut delay = Duration::from_secs(1);
    while !stop.is_cancelled() {
        match store.listen_for_jobs(wake.clone(), stop.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "listening for new jobs failed; the idle poll covers meanwhile");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// A finished job waiting for its completion to be stored, and where to say how it went:
/// `Some(held)` when stored, `None` when the batch failed and the job should be stored alone.
type Done = (i64, Uuid, oneshot::Sender<Option<bool>>);

/// Most completions stored in one statement.
const COMPLETE_BATCH: usize = 256;

/// Stores completions as they come, all those waiting in one statement: while one batch is
/// written the next gathers, so nothing waits for a timer and a busy pool commits far less.
async fn complete_in_batches(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Done>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < COMPLETE_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pairs: Vec<(i64, Uuid)> = batch.iter().map(|(id, token, _)| (*id, *token)).collect();
        match store.complete_many(&pairs).await {
            Ok(held) => {
                let held: HashSet<i64> = held.into_iter().collect();
                for (id, _, reply) in batch {
                    let _ = reply.send(Some(held.contains(&id)));
                }
            }
            Err(e) => {
                tracing::warn!(jobs = batch.len(), error = %e, "storing completions together failed; storing them one by one");
                for (_, _, reply) in batch {
                    let _ = reply.send(None);
                }
            }
        }
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
    done: mpsc::UnboundedSender<Done>,
}

enum Outcome {
    Finished(Result<(), JobError>),
    GaveUp(String),
    Abandoned,
    LeaseLost,
}

/// Longest wait for more free slots before a claim (see the pool's loop).
const GATHER: Duration = Duration::from_millis(2);

/// Tries of a give-up step that fails (it is dead-lettered after them either way).
const GIVE_UP_TRIES: i32 = 3;

impl RunCtx {
    /// Stores a completion through the batcher, or alone when that fails.
    async fn complete(&self, id: i64, token: Uuid) -> Result<bool, crate::store::StoreError> {
        let (tx, rx) = oneshot::channel();
        if self.done.send((id, token, tx)).is_ok() {
            if let Ok(Some(held)) = rx.await {
                return Ok(held);
            }
        }
        self.store.complete(id, token).await
    }

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

    /// Runs one job; its slot frees as soon as the handler is done, so the next claim overlaps
    /// with storing this outcome.
    async fn run_one(
        &self,
        handler: Arc<dyn JobHandler>,
        job: Job,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
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
        drop(slot);
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
            Outcome::Finished(Ok(())) => ("done", self.complete(job.id, token).await),
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
