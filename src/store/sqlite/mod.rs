//! SQLite backend: the embedded default. One writer connection (so a claim is a single atomic
//! statement and writers never race) and a small pool of readers, in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use uuid::Uuid;

use crate::domain::{Analysis, Call, CallStatus, Direction, Endpoint};
use crate::store::{Backend, Job, JobState, Store, StoreError};

/// The SQLite store.
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

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

pub(super) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(super) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?
        };
        Ok(Self { writer, reader })
    }
}

impl SqliteStore {
    /// Benchmark data: `n` analysed calls over the year before now, a tenth with feedback.
    pub async fn fill_benchmark_data(&self, n: i64) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1 - 1)
             INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at, duration_secs,
                                status, created_at, updated_at, profile, lead_category, interest_rating, priority,
                                agency_name, last_feedback)
             SELECT 'bench', 'b' || i, CASE WHEN i % 3 = 0 THEN 'outgoing' ELSE 'incoming' END,
                    '+7916' || printf('%07d', i % 10000000), '+74951234567',
                    strftime('%Y-%m-%dT%H:%M:%fZ', ?2 - (i * 31536) / 1000 , 'unixepoch'), 30 + i % 600,
                    CASE WHEN i % 10 = 0 THEN 'skipped' ELSE 'analyzed' END, ?3, ?3,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE 'realty_lead' END,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE
                        CASE i % 4 WHEN 0 THEN 'hot' WHEN 1 THEN 'warm' WHEN 2 THEN 'cold' ELSE 'refusal' END END,
                    CASE WHEN i % 10 = 0 THEN NULL ELSE 1 + i % 10 END,
                    'high', 'Агентство ' || (i % 50),
                    CASE WHEN i % 10 = 1 THEN CASE WHEN i % 3 = 0 THEN 'confirm' ELSE 'warm' END END
             FROM seq",
        )
        .bind(n)
        .bind(Utc::now().timestamp())
        .bind(rfc3339(Utc::now()))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO analyses (call_id, profile, result, lead_category, interest_rating, priority, agency_name,
                                   model, is_current, created_at)
             SELECT id, profile,
                    '{\"summary\":\"Звонок\",\"objections\":[\"Дорого\",\"Нет времени\"]}',
                    lead_category, interest_rating, priority, agency_name, 'gpt-4o', 1, created_at
             FROM calls WHERE provider = 'bench' AND status = 'analyzed'",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO feedback (call_id, user_id, user_name, choice, created_at)
             SELECT id, 1, 'bench', last_feedback, created_at
             FROM calls WHERE provider = 'bench' AND last_feedback IS NOT NULL",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    let payload: String = row.try_get("payload")?;
    let token: Option<String> = row.try_get("lease_token")?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("job state {state:?}")))?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        lease_token: token.and_then(|t| Uuid::parse_str(&t).ok()),
        last_error: row.try_get("last_error")?,
        idempotency_key: row.try_get("idempotency_key")?,
        priority: row.try_get("priority")?,
        run_after: ms_to_time(row.try_get("run_after")?),
        crashes: row.try_get("crashes")?,
        give_up: row.try_get("give_up")?,
        lease: None,
    })
}

pub(super) fn call_from_row(row: &SqliteRow) -> Result<Call, StoreError> {
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    let started: String = row.try_get("started_at")?;
    Ok(Call {
        id: row.try_get("id")?,
        provider: row.try_get("provider")?,
        provider_call_id: row.try_get("provider_call_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("call direction {direction:?}")))?,
        caller: Endpoint::parse(&row.try_get::<String, _>("caller")?),
        called: Endpoint::parse(&row.try_get::<String, _>("called")?),
        started_at: DateTime::parse_from_rfc3339(&started)
            .map_err(|e| StoreError::Corrupt(format!("call started_at {started:?}: {e}")))?
            .with_timezone(&Utc),
        duration_secs: row.try_get("duration_secs")?,
        status: CallStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("call status {status:?}")))?,
        reason: row.try_get("reason")?,
        recording_ref: row.try_get("recording_ref")?,
        operator: row.try_get("operator")?,
    })
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub(super) fn analysis_from_row(r: &SqliteRow) -> Result<Analysis, StoreError> {
    let result: String = r.try_get("result")?;
    let created: String = r.try_get("created_at")?;
    Ok(Analysis {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        profile: r.try_get("profile")?,
        result: serde_json::from_str(&result)
            .map_err(|e| StoreError::Corrupt(format!("analysis json: {e}")))?,
        lead_category: crate::store::fold::category(r.try_get("lead_category")?),
        interest_rating: r.try_get("interest_rating")?,
        priority: r.try_get("priority")?,
        agency_name: r.try_get("agency_name")?,
        model: r.try_get("model")?,
        created_at: parse_time(&created)?,
    })
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.reader)
                .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
            .count())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
