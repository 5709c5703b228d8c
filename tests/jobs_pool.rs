//! The worker pool against both backends: exactly-once under two pools, retries with backoff,
//! dead letters, a crashed worker's job taken over after its lease, graceful release.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callops::jobs::{Backoff, JobError, JobHandler, PoolOptions, WorkerPool};
use callops::store::{Job, JobState, NewJob, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Counts completed runs per job id; the side effect a real handler would make once.
#[derive(Default)]
struct Counting {
    runs: Mutex<HashMap<i64, usize>>,
}

#[async_trait]
impl JobHandler for Counting {
    fn kind(&self) -> &'static str {
        "count"
    }
    async fn run(&self, job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_micros(200)).await;
        *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
        Ok(())
    }
}

fn fast_opts(name: &str, concurrency: usize) -> PoolOptions {
    PoolOptions {
        name: name.into(),
        concurrency,
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(20),
        reclaim_every: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
        },
        listen: true,
    }
}

async fn wait_all_done(store: &Arc<dyn Store>, ids: &[i64], secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let counts = store.job_counts().await.unwrap();
        let done: i64 = counts
            .iter()
            .filter(|c| c.state == JobState::Done)
            .map(|c| c.count)
            .sum();
        if done as usize >= ids.len() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {done} of {} done",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn two_pools_run_each_job_exactly_once(store: Arc<dyn Store>) {
    let mut ids = Vec::new();
    for i in 0..1000 {
        ids.push(
            store
                .enqueue(NewJob::new("count", json!({"i": i})))
                .await
                .unwrap()
                .id,
        );
    }
    let handler = Arc::new(Counting::default());
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for name in ["pool-a", "pool-b"] {
        let mut pool = WorkerPool::new(store.clone(), fast_opts(name, 4));
        pool.register(handler.clone());
        tasks.push(tokio::spawn(pool.run(stop.clone())));
    }
    wait_all_done(&store, &ids, 120).await;
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    let runs = handler.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 1000, "every job ran");
    assert!(runs.values().all(|&n| n == 1), "no job ran twice");
    for id in ids {
        assert_eq!(store.job(id).await.unwrap().unwrap().state, JobState::Done);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_sqlite() {
    let (store, _d) = common::sqlite_store().await;
    two_pools_run_each_job_exactly_once(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_postgres() {
    let Some((store, cleanup)) = common::pg_store("exactly_once_postgres").await else {
        return;
    };
    two_pools_run_each_job_exactly_once(store.clone()).await;
    store.close().await;
    cleanup.await.unwrap();
}

/// Fails a set number of times, then succeeds (or always fails permanently, or panics).
struct Flaky {
    fail_times: usize,
    mode: &'static str,
    calls: AtomicUsize,
}

#[async_trait]
impl JobHandler for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    async fn run(&self, _job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.mode {
            "permanent" => Err(JobError::Permanent("the file is not audio".into())),
            "panic" if n < self.fail_times => panic!("handler bug"),
            _ if n < self.fail_times => Err(JobError::Retry(format!("provider 503 #{n}"))),
            _ => Ok(()),
        }
    }
}

async fn run_flaky(store: Arc<dyn Store>, flaky: Arc<Flaky>, max_attempts: i32) -> Job {
    let id = store
        .enqueue(NewJob::new("flaky", json!({})).max_attempts(max_attempts))
        .await
        .unwrap()
        .id;
    let mut pool = WorkerPool::new(store.clone(), fast_opts("flaky", 2));
    pool.register(flaky);
    let stop = CancellationToken::new();
    let task = tokio::spawn(pool.run(stop.clone()));
    let s = store.clone();
    common::eventually(20, "job finished", || {
        let s = s.clone();
        async move {
            matches!(
                s.job(id).await.unwrap().unwrap().state,
                JobState::Done | JobState::Dead
            )
        }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    store.job(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let (store, _d) = common::sqlite_store().await;
    let flaky = Arc::new(Flaky {
        fail_times: 2,
        mode: "retry",
        calls: AtomicUsize::new(0),
    });
    let job = run_flaky(store, flaky.clone(), 5).await;
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.attempts, 3);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn exhausted_retries_dead_letter_with_the_last_error() {
    let (store, _d) = common::sqlite_store().await;
    let flaky = Arc::new(Flaky {
        fail_times: 100,
        mode: "retry",
        calls: AtomicUsize::new(0),
    });
    let job = run_flaky(store, flaky.clone(), 3).await;
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    assert_eq!(job.last_error.as_deref(), Some("provider 503 #2"));
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let (store, _d) = common::sqlite_store().await;
    let flaky = Arc::new(Flaky {
        fail_times: 0,
        mode: "permanent",
        calls: AtomicUsize::new(0),
    });
    let job = run_flaky(store, flaky.clone(), 5).await;
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_handler_does_not_kill_the_pool() {
    let (store, _d) = common::sqlite_store().await;
    let flaky = Arc::new(Flaky {
        fail_times: 1,
        mode: "panic",
        calls: AtomicUsize::new(0),
    });
    let job = run_flaky(store, flaky, 5).await;
    assert_eq!(job.state, JobState::Done);
    assert_eq!(job.attempts, 2);
}

/// Hangs on its first run (a worker that died mid-job), succeeds afterwards.
struct HangsOnce {
    calls: AtomicUsize,
    finished: AtomicUsize,
}

#[async_trait]
impl JobHandler for HangsOnce {
    fn kind(&self) -> &'static str {
        "hang"
    }
    async fn run(&self, _job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

async fn crashed_worker_job_is_taken_over(store: Arc<dyn Store>) {
    let id = store
        .enqueue(NewJob::new("hang", json!({})))
        .await
        .unwrap()
        .id;
    let handler = Arc::new(HangsOnce {
        calls: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
    });
    let mut opts = fast_opts("doomed", 1);
    opts.lease = Duration::from_millis(600);
    let mut doomed = WorkerPool::new(store.clone(), opts.clone());
    doomed.register(handler.clone());
    let doomed_task = tokio::spawn(doomed.run(CancellationToken::new()));
    let s = store.clone();
    common::eventually(10, "job claimed", || {
        let s = s.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Running }
    })
    .await;
    // The process "dies": its tasks stop without a word (no release, no heartbeat).
    doomed_task.abort();
    let _ = doomed_task.await;

    opts.name = "survivor".into();
    let mut survivor = WorkerPool::new(store.clone(), opts);
    survivor.register(handler.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(survivor.run(stop.clone()));
    common::eventually(20, "job done by the survivor", || {
        let s = store.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Done }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(
        handler.finished.load(Ordering::SeqCst),
        1,
        "completed exactly once"
    );
    assert_eq!(store.job(id).await.unwrap().unwrap().attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_worker_sqlite() {
    let (store, _d) = common::sqlite_store().await;
    crashed_worker_job_is_taken_over(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_worker_postgres() {
    let Some((store, cleanup)) = common::pg_store("crashed_worker_postgres").await else {
        return;
    };
    crashed_worker_job_is_taken_over(store.clone()).await;
    store.close().await;
    cleanup.await.unwrap();
}

/// Never finishes on its own; honours nothing (the pool must release its lease on shutdown).
struct Stuck;

#[async_trait]
impl JobHandler for Stuck {
    fn kind(&self) -> &'static str {
        "stuck"
    }
    async fn run(&self, _job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn shutdown_releases_unfinished_jobs_within_the_grace_period() {
    let (store, _d) = common::sqlite_store().await;
    let id = store
        .enqueue(NewJob::new("stuck", json!({})))
        .await
        .unwrap()
        .id;
    let mut opts = fast_opts("stuck", 1);
    opts.shutdown_grace = Duration::from_millis(300);
    let mut pool = WorkerPool::new(store.clone(), opts);
    pool.register(Arc::new(Stuck));
    let stop = CancellationToken::new();
    let task = tokio::spawn(pool.run(stop.clone()));
    let s = store.clone();
    common::eventually(10, "job running", || {
        let s = s.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Running }
    })
    .await;
    let t = std::time::Instant::now();
    stop.cancel();
    task.await.unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        t.elapsed()
    );
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Queued, 0),
        "released, attempt not counted"
    );
}

/// Kills its worker on every run (hangs until the pool is aborted); records its give-up step.
#[derive(Default)]
struct KillsItsWorker {
    runs: AtomicUsize,
    gave_up: Mutex<Vec<String>>,
}

#[async_trait]
impl JobHandler for KillsItsWorker {
    fn kind(&self) -> &'static str {
        "poison"
    }
    async fn run(&self, _job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
        Ok(())
    }
    async fn give_up(&self, _job: &Job, reason: &str) -> Result<(), JobError> {
        self.gave_up.lock().unwrap().push(reason.to_string());
        Ok(())
    }
}

/// A job that takes its worker down is quarantined after its second crash: its give-up step runs
/// (the same path as an ordinary final failure), the job itself never runs again.
async fn a_poison_job_is_quarantined_after_two_crashes(store: Arc<dyn Store>) {
    let id = store
        .enqueue(NewJob::new("poison", json!({})).max_attempts(6))
        .await
        .unwrap()
        .id;
    let handler = Arc::new(KillsItsWorker::default());
    let mut opts = fast_opts("victim", 1);
    opts.lease = Duration::from_millis(400);
    for crash in 1..=2 {
        let mut pool = WorkerPool::new(store.clone(), opts.clone());
        pool.register(handler.clone());
        let task = tokio::spawn(pool.run(CancellationToken::new()));
        common::eventually(10, "the job runs", || async {
            handler.runs.load(Ordering::SeqCst) == crash
        })
        .await;
        task.abort(); // the process dies mid-job
        let _ = task.await;
        tokio::time::sleep(Duration::from_millis(500)).await; // the lease runs out
    }
    let mut pool = WorkerPool::new(store.clone(), opts);
    pool.register(handler.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(pool.run(stop.clone()));
    common::eventually(10, "the job is dead-lettered", || {
        let s = store.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Dead }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(
        handler.runs.load(Ordering::SeqCst),
        2,
        "not run a third time"
    );
    let gave_up = handler.gave_up.lock().unwrap().clone();
    assert_eq!(gave_up.len(), 1, "{gave_up:?}");
    assert!(gave_up[0].starts_with("quarantined"), "{gave_up:?}");
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!((job.attempts, job.crashes), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_job_sqlite() {
    let (store, _d) = common::sqlite_store().await;
    a_poison_job_is_quarantined_after_two_crashes(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_job_postgres() {
    let Some((store, cleanup)) = common::pg_store("poison_job_postgres").await else {
        return;
    };
    a_poison_job_is_quarantined_after_two_crashes(store.clone()).await;
    store.close().await;
    cleanup.await.unwrap();
}

/// Fails for good; records its give-up step.
#[derive(Default)]
struct FailsForGood {
    gave_up: Mutex<Vec<String>>,
}

#[async_trait]
impl JobHandler for FailsForGood {
    fn kind(&self) -> &'static str {
        "doomed"
    }
    async fn run(&self, _job: &Job, _c: CancellationToken) -> Result<(), JobError> {
        Err(JobError::Permanent("the file is broken".into()))
    }
    async fn give_up(&self, _job: &Job, reason: &str) -> Result<(), JobError> {
        self.gave_up.lock().unwrap().push(reason.to_string());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_final_failure_runs_the_give_up_step_once() {
    let (store, _d) = common::sqlite_store().await;
    let id = store
        .enqueue(NewJob::new("doomed", json!({})))
        .await
        .unwrap()
        .id;
    let handler = Arc::new(FailsForGood::default());
    let mut pool = WorkerPool::new(store.clone(), fast_opts("p", 2));
    pool.register(handler.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(pool.run(stop.clone()));
    common::eventually(10, "dead", || {
        let s = store.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Dead }
    })
    .await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(
        handler.gave_up.lock().unwrap().clone(),
        vec!["the file is broken".to_string()]
    );
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("the file is broken"));
}

/// Runs long; records when it is stopped (its future dropped).
#[derive(Default)]
struct WaitsForCancel {
    started: AtomicUsize,
    stopped: AtomicUsize,
}

#[async_trait]
impl JobHandler for WaitsForCancel {
    fn kind(&self) -> &'static str {
        "long"
    }
    async fn run(&self, _job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        struct OnStop<'a>(&'a AtomicUsize);
        impl Drop for OnStop<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.started.fetch_add(1, Ordering::SeqCst);
        let _stop = OnStop(&self.stopped);
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    }
}

/// A worker that cannot renew its lease (the database is gone) stops its handler after half the
/// lease, before another worker could take the job over and both act.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_renewals_stop_the_handler_within_half_the_lease() {
    let (store, _d) = common::sqlite_store().await;
    store.enqueue(NewJob::new("long", json!({}))).await.unwrap();
    let handler = Arc::new(WaitsForCancel::default());
    let mut opts = fast_opts("cut-off", 1);
    opts.lease = Duration::from_millis(900);
    let mut pool = WorkerPool::new(store.clone(), opts);
    pool.register(handler.clone());
    let stop = CancellationToken::new();
    let task = tokio::spawn(pool.run(stop.clone()));
    common::eventually(10, "the job runs", || async {
        handler.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let cut = std::time::Instant::now();
    store.close().await; // every renewal fails from now on
    common::eventually(5, "the handler is told to stop", || async {
        handler.stopped.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(
        cut.elapsed() < Duration::from_millis(900),
        "stopped after {:?}, before the lease ran out",
        cut.elapsed()
    );
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}
