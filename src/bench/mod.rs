//! `callops bench ...`: benchmark commands that print figures (never timed assertions in tests).
//! This file: durable job throughput; `pipeline`: the call-analysis pipeline.

pub mod agent;
pub mod agent_fakes;
pub mod bot;
pub mod call;
pub mod campaign;
pub mod contacts;
pub mod pipeline;
pub mod recordings;
pub mod screening;
pub mod sip_callee;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::jobs::{JobError, JobHandler, PoolOptions, WorkerPool};
use crate::store::{self, Job, NewJob, Store};

/// Process CPU time (user + system) from /proc, in seconds.
pub(crate) fn cpu_seconds() -> Option<f64> {
    stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// User + system seconds from a `/proc/…/stat` line.
fn stat_cpu(stat: &str) -> Option<f64> {
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU seconds of this process's threads named `name` (as `/proc/self/task/*/comm` shows it).
pub(crate) fn thread_cpu_seconds(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .filter_map(|t| stat_cpu(&std::fs::read_to_string(t.path().join("stat")).ok()?))
        .sum()
}

const BENCH_KIND: &str = "bench.noop";

struct Noop;

#[async_trait]
impl JobHandler for Noop {
    fn kind(&self) -> &'static str {
        BENCH_KIND
    }
    async fn run(&self, _job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        Ok(())
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct JobsFigures {
    pub label: String,
    pub jobs: usize,
    pub seconds: f64,
    pub jobs_per_sec: f64,
    pub claim_p50_ms: f64,
    pub claim_p99_ms: f64,
    /// Jobs a claim returned, on average.
    pub jobs_per_claim: f64,
}

impl std::fmt::Display for JobsFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<34} {:>7} jobs in {:>6.2} s = {:>8.0} jobs/s   claim p50 {:>6.2} ms  p99 {:>6.2} ms  {:>4.1} jobs/claim",
            self.label, self.jobs, self.seconds, self.jobs_per_sec, self.claim_p50_ms, self.claim_p99_ms, self.jobs_per_claim
        )
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Enqueues `n` no-op jobs, then runs them on `pools` pools of `per_pool` workers each.
pub async fn run_jobs(
    store: Arc<dyn Store>,
    label: &str,
    n: usize,
    pools: usize,
    per_pool: usize,
) -> anyhow::Result<JobsFigures> {
    for i in 0..n {
        store
            .enqueue(NewJob::new(BENCH_KIND, serde_json::json!({ "i": i })))
            .await?;
    }
    let shutdown = CancellationToken::new();
    let mut stats = Vec::new();
    let mut handles = Vec::new();
    let started = Instant::now();
    for p in 0..pools {
        let mut pool = WorkerPool::new(
            store.clone(),
            PoolOptions {
                name: format!("bench-{p}"),
                concurrency: per_pool,
                lease: Duration::from_secs(30),
                idle_poll: Duration::from_millis(20),
                ..PoolOptions::default()
            },
        );
        pool.register(Arc::new(Noop));
        stats.push(pool.stats());
        handles.push(tokio::spawn(pool.run(shutdown.clone())));
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done: u64 = stats
            .iter()
            .map(|s| s.completed.load(Ordering::Relaxed))
            .sum();
        if done as usize >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    shutdown.cancel();
    for h in handles {
        let _ = h.await;
    }
    let done: u64 = stats
        .iter()
        .map(|s| s.completed.load(Ordering::Relaxed))
        .sum();
    if (done as usize) < n {
        anyhow::bail!("only {done} of {n} jobs completed within 10 minutes");
    }
    let mut lat: Vec<u64> = stats
        .iter()
        .flat_map(|s| {
            s.claim_latencies_us
                .lock()
                .map(|v| v.clone())
                .unwrap_or_default()
        })
        .collect();
    lat.sort_unstable();
    Ok(JobsFigures {
        label: label.to_string(),
        jobs: n,
        seconds,
        jobs_per_sec: n as f64 / seconds,
        claim_p50_ms: percentile(&lat, 0.50),
        claim_p99_ms: percentile(&lat, 0.99),
        jobs_per_claim: n as f64 / lat.len().max(1) as f64,
    })
}

/// `callops bench jobs`: SQLite always, Postgres when a URL is given.
pub async fn bench_jobs(
    n: usize,
    workers: usize,
    postgres_url: Option<String>,
) -> anyhow::Result<()> {
    println!("callops bench jobs: {n} no-op jobs, {workers} workers");
    let shapes = [
        (format!("{workers} pools x 1 worker"), workers, 1),
        (format!("1 pool x {workers} workers"), 1, workers),
    ];

    for (shape, pools, per_pool) in &shapes {
        let dir = tempfile_dir()?;
        let url = format!("sqlite://{}/bench.db", dir.display());
        let store = store::connect(&url).await?;
        store.migrate().await?;
        let figures = run_jobs(
            store.clone(),
            &format!("sqlite, {shape}"),
            n,
            *pools,
            *per_pool,
        )
        .await?;
        println!("{figures}");
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    match postgres_url {
        None => println!("postgres: skipped (set TEST_DATABASE_URL or --database-url)"),
        Some(url) => {
            print_postgres_settings(&url).await?;
            for (shape, pools, per_pool) in &shapes {
                let (store, cleanup) = fresh_postgres_schema(&url).await?;
                let figures = run_jobs(
                    store.clone(),
                    &format!("postgres, {shape}"),
                    n,
                    *pools,
                    *per_pool,
                )
                .await?;
                println!("{figures}");
                store.close().await;
                cleanup.await?;
            }
            for listen in [true, false] {
                let (scoped, cleanup) = fresh_postgres_schema_url(&url).await?;
                let figures = pickup_latency(&scoped, listen).await?;
                println!("{figures}");
                cleanup.await?;
            }
        }
    }
    Ok(())
}

/// The server's version and the settings that move these figures, so a run can be reproduced.
async fn print_postgres_settings(url: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&pool)
        .await?;
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT name, setting, unit FROM pg_settings WHERE name IN
           ('synchronous_commit', 'fsync', 'wal_sync_method', 'shared_buffers', 'max_connections',
            'autovacuum', 'commit_delay', 'full_page_writes', 'wal_level', 'work_mem')
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    println!("postgres: {version}");
    let shown: Vec<String> = rows
        .into_iter()
        .map(|(name, setting, unit)| format!("{name}={setting}{}", unit.unwrap_or_default()))
        .collect();
    println!("postgres settings: {}", shown.join(" "));
    Ok(())
}

/// Enqueue-to-start delay of jobs queued by another instance while a pool idles with the
/// production poll (500 ms): woken by `LISTEN/NOTIFY` or found by the poll.
async fn pickup_latency(url: &str, listen: bool) -> anyhow::Result<String> {
    const JOBS: usize = 100;
    let worker_store = store::connect(url).await?;
    worker_store.migrate().await?;
    let producer = store::connect(url).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut pool = WorkerPool::new(
        worker_store.clone(),
        PoolOptions {
            name: "bench-pickup".into(),
            concurrency: 8,
            listen,
            ..PoolOptions::default()
        },
    );
    pool.register(Arc::new(Stamp(tx)));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(pool.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut delays = Vec::with_capacity(JOBS);
    for i in 0..JOBS {
        let queued = Instant::now();
        producer
            .enqueue(NewJob::new(STAMP_KIND, serde_json::json!({ "i": i })))
            .await?;
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(started)) => delays.push(
                u64::try_from(started.duration_since(queued).as_micros()).unwrap_or(u64::MAX),
            ),
            _ => anyhow::bail!("a job was not picked up within 5 s"),
        }
        // Spread the enqueues over the poll's phase.
        tokio::time::sleep(Duration::from_millis(37)).await;
    }
    shutdown.cancel();
    let _ = running.await;
    worker_store.close().await;
    producer.close().await;
    delays.sort_unstable();
    Ok(format!(
        "postgres, pickup from another instance, NOTIFY {:<3}  p50 {:>7.2} ms  p99 {:>7.2} ms  ({JOBS} jobs, idle poll 500 ms)",
        if listen { "on" } else { "off" },
        percentile(&delays, 0.50),
        percentile(&delays, 0.99)
    ))
}

const STAMP_KIND: &str = "bench.stamp";

/// Says when it started.
struct Stamp(tokio::sync::mpsc::UnboundedSender<Instant>);

#[async_trait::async_trait]
impl JobHandler for Stamp {
    fn kind(&self) -> &'static str {
        STAMP_KIND
    }
    async fn run(&self, _job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let _ = self.0.send(Instant::now());
        Ok(())
    }
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "callops-bench-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A store on a new, empty schema of the database at `url`, and a future that drops the schema.
pub async fn fresh_postgres_schema(
    url: &str,
) -> anyhow::Result<(
    Arc<dyn Store>,
    impl std::future::Future<Output = anyhow::Result<()>>,
)> {
    let (scoped, cleanup) = fresh_postgres_schema_url(url).await?;
    let store = store::connect(&scoped).await?;
    store.migrate().await?;
    Ok((store, cleanup))
}

/// A new, empty schema of the database at `url`: a URL that uses it (for a whole app) and a
/// future that drops it.
pub async fn fresh_postgres_schema_url(
    url: &str,
) -> anyhow::Result<(
    String,
    impl std::future::Future<Output = anyhow::Result<()>>,
)> {
    let schema = format!("callops_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await?;
    let scoped = store::postgres_url_with_schema(url, &schema)?;
    let cleanup = async move {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    };
    Ok((scoped, cleanup))
}
