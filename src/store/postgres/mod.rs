//! PostgreSQL backend: production, several callops instances on one database. Jobs are claimed with
//! `FOR UPDATE SKIP LOCKED`; lease times come from the database clock so instances agree.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::Row;

use crate::domain::{Analysis, Call, CallStatus, Direction, Endpoint};
use crate::store::{Backend, Job, JobState, Store, StoreError};

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// A few connections for the queue's own bookkeeping (claims and completions), which commit
    /// without waiting for the WAL flush: every side effect a job records commits synchronously
    /// and so flushes them first, and one lost to a database crash only runs an idempotent job
    /// again (as a worker crash would).
    queue: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

macro_rules! job_columns {
    () => {
        "id, kind, payload, state, attempts, max_attempts, lease_token, last_error, idempotency_key, run_after, priority, crashes, give_up"
    };
}

mod agent;
mod calls;
mod campaigns;
mod chats;
mod dialer;
mod effects;
mod jobs;
mod leaders;
mod outbound;
mod stats;

pub(super) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let options = url
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .options([("synchronous_commit", "off")]);
        let queue = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        Ok(Self { pool, queue })
    }

    /// Benchmark data: `n` analysed calls over the year before now, a tenth with feedback.
    pub async fn fill_benchmark_data(&self, n: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at, duration_secs, status,
                                profile, lead_category, interest_rating, priority, agency_name, last_feedback)
             SELECT 'bench', 'b' || i, CASE WHEN i % 3 = 0 THEN 'outgoing' ELSE 'incoming' END,
                    '+7916' || lpad((i % 10000000)::text, 7, '0'), '+74951234567',
                    now() - make_interval(secs => (i * 31536.0) / 1000.0), 30 + i % 600,
                    CASE WHEN i % 10 = 0 THEN 'skipped' ELSE 'analyzed' END,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE 'realty_lead' END,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE
                        CASE i % 4 WHEN 0 THEN 'hot' WHEN 1 THEN 'warm' WHEN 2 THEN 'cold' ELSE 'refusal' END END,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + i % 10 END,
                    'high', 'Агентство ' || (i % 50),
                    CASE WHEN i % 10 = 1 THEN CASE WHEN i % 3 = 0 THEN 'confirm' ELSE 'warm' END END
             FROM generate_series(0, $1 - 1) AS i",
        )
        .bind(n)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO analyses (call_id, profile, result, lead_category, interest_rating, priority, agency_name, model, is_current)
             SELECT id, profile, '{\"summary\":\"Звонок\",\"objections\":[\"Дорого\",\"Нет времени\"]}'::jsonb,
                    lead_category, interest_rating, priority, agency_name, 'gpt-4o', TRUE
             FROM calls WHERE provider = 'bench' AND status = 'analyzed'",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO feedback (call_id, user_id, user_name, choice)
             SELECT id, 1, 'bench', last_feedback
             FROM calls WHERE provider = 'bench' AND last_feedback IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool, for tests and benchmarks that need raw access.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

pub(super) fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    let Json(payload): Json<serde_json::Value> = row.try_get("payload")?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("job state {state:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        lease_token: row.try_get("lease_token")?,
        last_error: row.try_get("last_error")?,
        idempotency_key: row.try_get("idempotency_key")?,
        priority: row.try_get("priority")?,
        run_after: row.try_get("run_after")?,
        crashes: row.try_get("crashes")?,
        give_up: row.try_get("give_up")?,
        lease: None,
    })
}

pub(super) fn call_from_row(row: &PgRow) -> Result<Call, StoreError> {
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    Ok(Call {
        id: row.try_get("id")?,
        provider: row.try_get("provider")?,
        provider_call_id: row.try_get("provider_call_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("call direction {direction:?}")))?,
        caller: Endpoint::parse(&row.try_get::<String, _>("caller")?),
        called: Endpoint::parse(&row.try_get::<String, _>("called")?),
        started_at: row.try_get::<DateTime<Utc>, _>("started_at")?,
        duration_secs: row.try_get("duration_secs")?,
        status: CallStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("call status {status:?}")))?,
        reason: row.try_get("reason")?,
        recording_ref: row.try_get("recording_ref")?,
        operator: row.try_get("operator")?,
    })
}

pub(super) fn analysis_from_row(r: &PgRow) -> Result<Analysis, StoreError> {
    let Json(result): Json<serde_json::Value> = r.try_get("result")?;
    Ok(Analysis {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        profile: r.try_get("profile")?,
        result,
        lead_category: crate::store::fold::category(r.try_get("lead_category")?),
        interest_rating: r.try_get("interest_rating")?,
        priority: r.try_get("priority")?,
        agency_name: r.try_get("agency_name")?,
        model: r.try_get("model")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .count())
    }

    async fn close(&self) {
        self.pool.close().await;
        self.queue.close().await;
    }
}
