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

use super::types::{join_ids, split_ids};
use super::{
    millis, Backend, CallTokens, ChartRow, Correction, DigestSchedule, EffectClaim, Enqueued, Job,
    JobCount, JobState, NewJob, PeriodStats, Stats, Store, StoreError, TelegramPost, TokenUsage,
    User,
};
use crate::domain::{
    Analysis, Call, CallFilter, CallStatus, CallSummary, Direction, Feedback, NewAnalysis, NewCall,
    Role, Utterance,
};

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

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn ms_to_time(ms: i64) -> DateTime<Utc> {
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

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
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

fn call_from_row(row: &SqliteRow) -> Result<Call, StoreError> {
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    let started: String = row.try_get("started_at")?;
    Ok(Call {
        id: row.try_get("id")?,
        provider: row.try_get("provider")?,
        provider_call_id: row.try_get("provider_call_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("call direction {direction:?}")))?,
        caller: row.try_get("caller")?,
        called: row.try_get("called")?,
        started_at: DateTime::parse_from_rfc3339(&started)
            .map_err(|e| StoreError::Corrupt(format!("call started_at {started:?}: {e}")))?
            .with_timezone(&Utc),
        duration_secs: row.try_get("duration_secs")?,
        status: CallStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("call status {status:?}")))?,
        reason: row.try_get("reason")?,
        recording_ref: row.try_get("recording_ref")?,
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

fn analysis_from_row(r: &SqliteRow) -> Result<Analysis, StoreError> {
    let result: String = r.try_get("result")?;
    let created: String = r.try_get("created_at")?;
    Ok(Analysis {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        profile: r.try_get("profile")?,
        result: serde_json::from_str(&result)
            .map_err(|e| StoreError::Corrupt(format!("analysis json: {e}")))?,
        lead_category: r.try_get("lead_category")?,
        interest_rating: r.try_get("interest_rating")?,
        priority: r.try_get("priority")?,
        agency_name: r.try_get("agency_name")?,
        model: r.try_get("model")?,
        created_at: parse_time(&created)?,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
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

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, StoreError> {
        let now = now_ms();
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, max_attempts, run_after, idempotency_key, created_at, updated_at, priority)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (kind, idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.max_attempts)
        .bind(now + millis(job.delay))
        .bind(&job.idempotency_key)
        .bind(now)
        .bind(now)
        .bind(job.priority)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(id) = inserted {
            return Ok(Enqueued { id, created: true });
        }
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM jobs WHERE kind = ? AND idempotency_key = ?")
                .bind(&job.kind)
                .bind(&job.idempotency_key)
                .fetch_one(&self.writer)
                .await?;
        Ok(Enqueued { id, created: false })
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let kinds_json =
            serde_json::to_string(kinds).map_err(|e| StoreError::Corrupt(format!("kinds: {e}")))?;
        let sql = concat!(
            "UPDATE jobs SET state = 'running',
                    attempts = attempts + CASE WHEN give_up IS NULL THEN 1 ELSE 0 END, lease_until = ?1,
                    lease_token = ?2, updated_at = ?3
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE state IN ('queued', 'failed') AND run_after <= ?3
                   AND kind IN (SELECT value FROM json_each(?4))
                 ORDER BY priority DESC, run_after, id LIMIT ?5)
             RETURNING ",
            job_columns!()
        );
        let rows = sqlx::query(sql)
            .bind(now + millis(lease))
            .bind(Uuid::new_v4().to_string())
            .bind(now)
            .bind(kinds_json)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.writer)
            .await?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                job_from_row(r).map(|j| Job {
                    lease: Some(lease),
                    ..j
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.run_after, j.id));
        Ok(jobs)
    }

    async fn renew(&self, id: i64, token: Uuid, lease: Duration) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = ?, updated_at = ?
             WHERE id = ? AND lease_token = ? AND state = 'running'",
        )
        .bind(now + millis(lease))
        .bind(now)
        .bind(id)
        .bind(token.to_string())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn complete(&self, id: i64, token: Uuid) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, lease_token = NULL, last_error = NULL,
                    updated_at = ?, finished_at = ?
             WHERE id = ? AND lease_token = ? AND state = 'running'",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(token.to_string())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn fail(
        &self,
        id: i64,
        token: Uuid,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN give_up IS NOT NULL THEN 'dead' ELSE 'failed' END,
                 give_up = CASE WHEN give_up IS NULL AND (?1 IS NULL OR attempts >= max_attempts)
                                THEN ?3 ELSE give_up END,
                 run_after = CASE WHEN give_up IS NULL AND ?1 IS NOT NULL AND attempts < max_attempts
                                  THEN ?2 + ?1 ELSE ?2 END,
                 finished_at = CASE WHEN give_up IS NOT NULL THEN ?2 ELSE NULL END,
                 lease_until = NULL, lease_token = NULL, last_error = ?3, updated_at = ?2
             WHERE id = ?4 AND lease_token = ?5 AND state = 'running'",
        )
        .bind(retry_in.map(millis))
        .bind(now)
        .bind(error)
        .bind(id)
        .bind(token.to_string())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release(&self, id: i64, token: Uuid) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), lease_until = NULL,
                    lease_token = NULL, run_after = ?, updated_at = ?
             WHERE id = ? AND lease_token = ? AND state = 'running'",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .bind(token.to_string())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn reclaim_expired(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET
                 crashes = crashes + 1,
                 state = CASE WHEN crashes + 1 >= ?2 THEN 'dead' ELSE 'failed' END,
                 finished_at = CASE WHEN crashes + 1 >= ?2 THEN ?1 ELSE NULL END,
                 give_up = COALESCE(give_up, CASE
                     WHEN crashes + 1 >= ?3 THEN 'quarantined: its worker stopped mid-job ' || (crashes + 1) || ' times (crash or lost lease)'
                     WHEN attempts >= max_attempts THEN 'out of attempts: the last worker stopped mid-job'
                 END),
                 last_error = 'lease expired: the worker stopped or lost contact mid-job',
                 lease_until = NULL, lease_token = NULL, run_after = ?1, updated_at = ?1
             WHERE state = 'running' AND lease_until < ?1",
        )
        .bind(now)
        .bind(super::DEAD_AFTER_CRASHES)
        .bind(super::QUARANTINE_AFTER_CRASHES)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_counts(&self) -> Result<Vec<JobCount>, StoreError> {
        let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                Ok(JobCount {
                    kind: r.try_get("kind")?,
                    state: JobState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("job state {state:?}")))?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn requeue(&self, id: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, updated_at = ?,
                    finished_at = NULL, crashes = 0, give_up = NULL
             WHERE id = ? AND state IN ('dead', 'failed', 'done')",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn begin_effect(&self, key: &str) -> Result<EffectClaim, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO effects (key, state, started_at) VALUES (?, 'started', ?)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(EffectClaim::Begun);
        }
        let row = sqlx::query("SELECT state, started_at, result FROM effects WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.writer)
            .await?;
        let Some(row) = row else {
            // Withdrawn between the two statements: try once more.
            return Box::pin(self.begin_effect(key)).await;
        };
        let state: String = row.try_get("state")?;
        Ok(if state == "done" {
            EffectClaim::Done(row.try_get("result")?)
        } else {
            EffectClaim::InDoubt {
                since: ms_to_time(row.try_get("started_at")?),
            }
        })
    }

    async fn finish_effect(&self, key: &str, result: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO effects (key, state, started_at, result) VALUES (?1, 'done', ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET state = 'done', result = ?3",
        )
        .bind(key)
        .bind(now_ms())
        .bind(result)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn abandon_effect(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM effects WHERE key = ? AND state = 'started'")
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn user_role(&self, telegram_id: i64) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE telegram_id = ?")
                .bind(telegram_id)
                .fetch_optional(&self.reader)
                .await?;
        role.map(|r| r.parse().map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn upsert_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (telegram_id, role, name, added_by, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (telegram_id) DO UPDATE SET role = excluded.role,
                 name = COALESCE(excluded.name, users.name)",
        )
        .bind(user.telegram_id)
        .bind(user.role.as_str())
        .bind(&user.name)
        .bind(user.added_by)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn remove_user(&self, telegram_id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM users WHERE telegram_id = ?")
            .bind(telegram_id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows =
            sqlx::query("SELECT telegram_id, role, name, added_by FROM users ORDER BY telegram_id")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(User {
                    telegram_id: r.try_get("telegram_id")?,
                    role: role.parse().map_err(StoreError::Corrupt)?,
                    name: r.try_get("name")?,
                    added_by: r.try_get("added_by")?,
                })
            })
            .collect()
    }

    async fn chat_language(&self, chat_id: i64) -> Result<Option<String>, StoreError> {
        let lang: Option<Option<String>> =
            sqlx::query_scalar("SELECT language FROM chat_settings WHERE chat_id = ?")
                .bind(chat_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(lang.flatten())
    }

    async fn set_chat_language(&self, chat_id: i64, language: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, language, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(language)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn set_chat_timezone(&self, chat_id: i64, timezone: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, timezone, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(timezone)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn chat_timezone(&self, chat_id: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT timezone FROM chat_settings WHERE chat_id = ?")
                .bind(chat_id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn number_profiles(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT number, profile FROM number_profiles ORDER BY number")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("number")?, r.try_get("profile")?)))
            .collect()
    }

    async fn set_number_profile(
        &self,
        number: &str,
        profile: Option<&str>,
    ) -> Result<(), StoreError> {
        match profile {
            Some(p) => {
                sqlx::query(
                    "INSERT INTO number_profiles (number, profile, updated_at) VALUES (?, ?, ?)
                     ON CONFLICT (number) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
                )
                .bind(number)
                .bind(p)
                .bind(rfc3339(Utc::now()))
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM number_profiles WHERE number = ?")
                    .bind(number)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    async fn set_digest_time(&self, chat_id: i64, time: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, digest_time, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (chat_id) DO UPDATE SET digest_time = excluded.digest_time, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(time)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn digest_schedules(&self) -> Result<Vec<DigestSchedule>, StoreError> {
        let rows = sqlx::query(
            "SELECT chat_id, digest_time, timezone, last_digest FROM chat_settings WHERE digest_time IS NOT NULL ORDER BY chat_id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DigestSchedule {
                    chat_id: r.try_get("chat_id")?,
                    time: r.try_get("digest_time")?,
                    timezone: r.try_get("timezone")?,
                    last_sent: r.try_get("last_digest")?,
                })
            })
            .collect()
    }

    async fn mark_digest(&self, chat_id: i64, date: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE chat_settings SET last_digest = ?, updated_at = ?
             WHERE chat_id = ? AND (last_digest IS NULL OR last_digest < ?)",
        )
        .bind(date)
        .bind(rfc3339(Utc::now()))
        .bind(chat_id)
        .bind(date)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn analysis_results(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT a.result FROM calls c CROSS JOIN analyses a ON a.call_id = c.id
             WHERE a.is_current = 1 AND c.started_at >= ?1 AND c.started_at < ?2 ORDER BY c.started_at LIMIT ?3",
        )
        .bind(rfc3339(from))
        .bind(rfc3339(to))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }

    async fn telegram_post(&self, post_key: &str) -> Result<Option<TelegramPost>, StoreError> {
        let row = sqlx::query(
            "SELECT post_key, call_id, kind, chat_id, message_id, extra_ids FROM telegram_posts WHERE post_key = ?",
        )
        .bind(post_key)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| {
            let extra: String = r.try_get("extra_ids")?;
            Ok(TelegramPost {
                post_key: r.try_get("post_key")?,
                call_id: r.try_get("call_id")?,
                kind: r.try_get("kind")?,
                chat_id: r.try_get("chat_id")?,
                message_id: r.try_get("message_id")?,
                extra_ids: split_ids(&extra),
            })
        })
        .transpose()
    }

    async fn is_protocol_message(
        &self,
        call_id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM telegram_posts
             WHERE call_id = ? AND chat_id = ? AND message_id = ? AND kind = 'protocol' LIMIT 1",
        )
        .bind(call_id)
        .bind(chat_id)
        .bind(message_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn record_telegram_post(&self, post: &TelegramPost) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO telegram_posts (post_key, call_id, kind, chat_id, message_id, extra_ids, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (post_key) DO NOTHING",
        )
        .bind(&post.post_key)
        .bind(post.call_id)
        .bind(&post.kind)
        .bind(post.chat_id)
        .bind(post.message_id)
        .bind(join_ids(&post.extra_ids))
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        if let (Some(call_id), "protocol") = (post.call_id, post.kind.as_str()) {
            sqlx::query("UPDATE calls SET posted_at = COALESCE(posted_at, ?) WHERE id = ?")
                .bind(rfc3339(Utc::now()))
                .bind(call_id)
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    async fn insert_call(&self, call: &NewCall) -> Result<(Call, bool), StoreError> {
        let now = rfc3339(Utc::now());
        let inserted = sqlx::query(
            "INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at,
                                duration_secs, recording_ref, status, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)
             ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING *",
        )
        .bind(&call.provider)
        .bind(&call.provider_call_id)
        .bind(call.direction.as_str())
        .bind(&call.caller)
        .bind(&call.called)
        .bind(rfc3339(call.started_at))
        .bind(call.duration_secs)
        .bind(&call.recording_ref)
        .bind(&now)
        .bind(&now)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(row) = inserted {
            return Ok((call_from_row(&row)?, true));
        }
        let row = sqlx::query("SELECT * FROM calls WHERE provider = ? AND provider_call_id = ?")
            .bind(&call.provider)
            .bind(&call.provider_call_id)
            .fetch_one(&self.writer)
            .await?;
        Ok((call_from_row(&row)?, false))
    }

    async fn call(&self, id: i64) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query("SELECT * FROM calls WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    async fn set_call_status(
        &self,
        id: i64,
        status: CallStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET status = ?, reason = ?, updated_at = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(reason)
            .bind(rfc3339(Utc::now()))
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn replace_utterances(
        &self,
        call_id: i64,
        items: &[Utterance],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM utterances WHERE call_id = ?")
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        for (seq, u) in items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO utterances (call_id, seq, speaker, start_ms, end_ms, text) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(call_id)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(&u.speaker)
            .bind(u.start_ms)
            .bind(u.end_ms)
            .bind(&u.text)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn utterances(&self, call_id: i64) -> Result<Vec<Utterance>, StoreError> {
        let rows = sqlx::query(
            "SELECT speaker, start_ms, end_ms, text FROM utterances WHERE call_id = ? ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Utterance {
                    speaker: r.try_get("speaker")?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }

    async fn cursor(&self, provider: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT cursor FROM provider_cursors WHERE provider = ?")
                .bind(provider)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn save_agent_turns(
        &self,
        call_id: i64,
        turns: &[crate::domain::TurnTiming],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM agent_turns WHERE call_id = ?")
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        for t in turns {
            sqlx::query(
                "INSERT INTO agent_turns (call_id, turn, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(call_id)
            .bind(i64::from(t.turn))
            .bind(t.caller_end_ms)
            .bind(t.stt_done_ms)
            .bind(t.llm_first_token_ms)
            .bind(t.first_sentence_ms)
            .bind(t.tts_first_byte_ms)
            .bind(t.first_audio_ms)
            .bind(t.barge_in_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn agent_turns(
        &self,
        call_id: i64,
    ) -> Result<Vec<crate::domain::TurnTiming>, StoreError> {
        type Row = (
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT turn, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms FROM agent_turns WHERE call_id = ? ORDER BY turn",
        )
        .bind(call_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| crate::domain::TurnTiming {
                turn: r.0 as u32,
                caller_end_ms: r.1,
                stt_done_ms: r.2,
                llm_first_token_ms: r.3,
                first_sentence_ms: r.4,
                tts_first_byte_ms: r.5,
                first_audio_ms: r.6,
                barge_in_ms: r.7,
            })
            .collect())
    }

    async fn set_call_chat(&self, call_id: i64, chat_id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_chats (call_id, chat_id) VALUES (?, ?) ON CONFLICT (call_id) DO UPDATE SET chat_id = excluded.chat_id",
        )
        .bind(call_id)
        .bind(chat_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn call_chat(&self, call_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT chat_id FROM call_chats WHERE call_id = ?")
                .bind(call_id)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn save_rehearsal(
        &self,
        chat_id: i64,
        session: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rehearsals (chat_id, session, updated_at) VALUES (?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(session.to_string())
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn delete_rehearsal(&self, chat_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rehearsals WHERE chat_id = ?")
            .bind(chat_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn rehearsals(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT chat_id, session FROM rehearsals ORDER BY chat_id")
                .fetch_all(&self.reader)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(chat, text)| match serde_json::from_str(&text) {
                Ok(v) => Some((chat, v)),
                Err(e) => {
                    tracing::warn!(chat, error = %e, "a stored rehearsal is not valid JSON; dropped");
                    None
                }
            })
            .collect())
    }

    async fn add_do_not_call(&self, phone: &str, reason: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("INSERT INTO do_not_call (phone, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (phone) DO NOTHING")
            .bind(phone)
            .bind(reason);
        let q = q.bind(rfc3339(Utc::now()));
        let done = q.execute(&self.writer).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_do_not_call(&self, phone: &str) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT phone FROM do_not_call WHERE phone = ?")
                .bind(phone)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn set_cursor(&self, provider: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provider_cursors (provider, cursor, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (provider) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(value)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn record_token_usage(&self, usage: &TokenUsage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_usage (call_id, purpose, model, prompt_tokens, completion_tokens, cost_usd, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(usage.call_id)
        .bind(&usage.purpose)
        .bind(&usage.model)
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.cost_usd)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn call_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query("SELECT * FROM calls WHERE provider = ? AND provider_call_id = ?")
            .bind(provider)
            .bind(provider_call_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    async fn set_recording_ref(&self, call_id: i64, recording_ref: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET recording_ref = ?, updated_at = ? WHERE id = ?")
            .bind(recording_ref)
            .bind(rfc3339(Utc::now()))
            .bind(call_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn list_calls(&self, f: &CallFilter) -> Result<(Vec<CallSummary>, i64), StoreError> {
        // Only the filters given go into the statement (constant fragments; values are bound), so
        // SQLite can use the date and category indexes.
        let status = f.status.map(|s| s.as_str());
        let from = f.from.map(rfc3339);
        let to = f.to.map(rfc3339);
        let mut clauses: Vec<&str> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        if let Some(s) = status {
            clauses.push("c.status = ?");
            binds.push(s.to_string());
        }
        if let Some(c) = &f.category {
            clauses.push("c.lead_category = ?");
            binds.push(c.clone());
        }
        if let Some(t) = &from {
            clauses.push("c.started_at >= ?");
            binds.push(t.clone());
        }
        if let Some(t) = &to {
            clauses.push("c.started_at < ?");
            binds.push(t.clone());
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let mut count = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM calls c {filter}"
        )));
        for b in &binds {
            count = count.bind(b);
        }
        let total: i64 = count.fetch_one(&self.reader).await?;
        let mut page = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.* FROM calls c {filter} ORDER BY c.started_at DESC, c.id DESC LIMIT ? OFFSET ?"
        )));
        for b in &binds {
            page = page.bind(b);
        }
        let rows = page
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.reader)
            .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(CallSummary {
                    call: call_from_row(r)?,
                    lead_category: r.try_get("lead_category")?,
                    interest_rating: r.try_get("interest_rating")?,
                    priority: r.try_get("priority")?,
                    agency_name: r.try_get("agency_name")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((items, total))
    }

    async fn save_analysis(&self, a: &NewAnalysis) -> Result<i64, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE analyses SET is_current = 0 WHERE call_id = ? AND is_current = 1")
            .bind(a.call_id)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO analyses (call_id, profile, result, lead_category, interest_rating, priority,
                                   agency_name, model, is_current, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id",
        )
        .bind(a.call_id)
        .bind(&a.profile)
        .bind(a.result.to_string())
        .bind(&a.lead_category)
        .bind(a.interest_rating)
        .bind(&a.priority)
        .bind(&a.agency_name)
        .bind(&a.model)
        .bind(rfc3339(Utc::now()))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE calls SET profile = ?, lead_category = ?, interest_rating = ?, priority = ?, agency_name = ?
             WHERE id = ?",
        )
        .bind(&a.profile)
        .bind(&a.lead_category)
        .bind(a.interest_rating)
        .bind(&a.priority)
        .bind(&a.agency_name)
        .bind(a.call_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn previous_analysis(
        &self,
        call_id: i64,
        analysis_id: i64,
    ) -> Result<Option<Analysis>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM analyses WHERE call_id = ? AND id < ? ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .bind(analysis_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(analysis_from_row).transpose()
    }

    async fn current_analysis(&self, call_id: i64) -> Result<Option<Analysis>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM analyses WHERE call_id = ? AND is_current = 1 ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(analysis_from_row).transpose()
    }

    async fn add_feedback(&self, f: &Feedback) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO feedback (call_id, analysis_id, user_id, user_name, choice, created_at)
             VALUES (?, (SELECT id FROM analyses WHERE call_id = ? AND is_current = 1 ORDER BY id DESC LIMIT 1),
                     ?, ?, ?, ?)",
        )
        .bind(f.call_id)
        .bind(f.call_id)
        .bind(f.user_id)
        .bind(&f.user_name)
        .bind(&f.choice)
        .bind(rfc3339(f.created_at))
        .execute(&self.writer)
        .await?;
        sqlx::query("UPDATE calls SET last_feedback = ? WHERE id = ?")
            .bind(&f.choice)
            .bind(f.call_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn feedback(&self, call_id: i64) -> Result<Vec<Feedback>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, user_id, user_name, choice, created_at FROM feedback WHERE call_id = ? ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let created: String = r.try_get("created_at")?;
                Ok(Feedback {
                    call_id: r.try_get("call_id")?,
                    user_id: r.try_get("user_id")?,
                    user_name: r.try_get("user_name")?,
                    choice: r.try_get("choice")?,
                    created_at: parse_time(&created)?,
                })
            })
            .collect()
    }

    async fn call_tokens(&self, call_id: i64) -> Result<CallTokens, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE call_id = ?",
        )
        .bind(call_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(CallTokens {
            prompt_tokens: row.try_get("p")?,
            completion_tokens: row.try_get("c")?,
            cost_usd: row.try_get("cost")?,
        })
    }

    async fn stats_since(&self, since: DateTime<Utc>) -> Result<Stats, StoreError> {
        let since = rfc3339(since);
        let pairs = |rows: Vec<SqliteRow>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?)))
                .collect()
        };
        let by_status = pairs(
            sqlx::query("SELECT status AS k, COUNT(*) AS n FROM calls WHERE started_at >= ? GROUP BY status ORDER BY status")
                .bind(&since)
                .fetch_all(&self.reader)
                .await?,
        )?;
        let by_category = pairs(
            sqlx::query(
                "SELECT a.lead_category AS k, COUNT(*) AS n FROM calls c CROSS JOIN analyses a ON a.call_id = c.id
                 WHERE a.is_current = 1 AND a.lead_category IS NOT NULL AND c.started_at >= ?
                 GROUP BY a.lead_category ORDER BY a.lead_category",
            )
            .bind(&since)
            .fetch_all(&self.reader)
            .await?,
        )?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE created_at >= ?",
        )
        .bind(&since)
        .fetch_one(&self.reader)
        .await?;
        Ok(Stats {
            by_status,
            by_category,
            tokens: CallTokens {
                prompt_tokens: row.try_get("p")?,
                completion_tokens: row.try_get("c")?,
                cost_usd: row.try_get("cost")?,
            },
        })
    }

    async fn period_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<PeriodStats, StoreError> {
        let (from, to) = (rfc3339(from), rfc3339(to));
        // One pass over the period's calls; the figures are summed up below.
        let groups = sqlx::query(
            "SELECT status, lead_category, profile, COUNT(*) AS n, SUM(interest_rating) AS rating_sum,
                    COUNT(interest_rating) AS rating_n,
                    SUM(CASE WHEN last_feedback IS NOT NULL AND lead_category IS NOT NULL THEN 1 ELSE 0 END) AS rated,
                    SUM(CASE WHEN last_feedback IS NOT NULL AND lead_category IS NOT NULL
                              AND (last_feedback = 'confirm' OR last_feedback = lead_category) THEN 1 ELSE 0 END) AS agreed
             FROM calls WHERE started_at >= ?1 AND started_at < ?2 GROUP BY status, lead_category, profile",
        )
        .bind(&from)
        .bind(&to)
        .fetch_all(&self.reader)
        .await?;
        let mut by_status: std::collections::BTreeMap<String, i64> = Default::default();
        let mut by_category: std::collections::BTreeMap<String, i64> = Default::default();
        let (mut rating_sum, mut rating_n, mut rated, mut agreed) = (0i64, 0i64, 0i64, 0i64);
        let mut by_profile: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for g in &groups {
            let n: i64 = g.try_get("n")?;
            *by_status
                .entry(g.try_get::<String, _>("status")?)
                .or_default() += n;
            if let Some(c) = g.try_get::<Option<String>, _>("lead_category")? {
                *by_category.entry(c).or_default() += n;
            }
            rating_sum += g.try_get::<Option<i64>, _>("rating_sum")?.unwrap_or(0);
            rating_n += g.try_get::<i64, _>("rating_n")?;
            let group_rated = g.try_get::<Option<i64>, _>("rated")?.unwrap_or(0);
            let group_agreed = g.try_get::<Option<i64>, _>("agreed")?.unwrap_or(0);
            rated += group_rated;
            agreed += group_agreed;
            if group_rated > 0 {
                if let Some(profile) = g.try_get::<Option<String>, _>("profile")? {
                    let e = by_profile.entry(profile).or_default();
                    e.0 += group_rated;
                    e.1 += group_agreed;
                }
            }
        }
        let by_status: Vec<(String, i64)> = by_status.into_iter().collect();
        let by_category: Vec<(String, i64)> = by_category.into_iter().collect();
        let avg_rating = (rating_n > 0).then(|| rating_sum as f64 / rating_n as f64);
        let tokens = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE created_at >= ?1 AND created_at < ?2",
        )
        .bind(&from)
        .bind(&to)
        .fetch_one(&self.reader)
        .await?;
        Ok(PeriodStats {
            by_status,
            by_category,
            avg_rating,
            rated,
            agreed,
            agreement_by_profile: by_profile
                .into_iter()
                .map(|(p, (r, a))| (p, r, a))
                .collect(),
            tokens: CallTokens {
                prompt_tokens: tokens.try_get("p")?,
                completion_tokens: tokens.try_get("c")?,
                cost_usd: tokens.try_get("cost")?,
            },
        })
    }

    async fn corrections(&self, profile: &str, limit: i64) -> Result<Vec<Correction>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.lead_category AS ai, f.choice AS human, a.result AS result
             FROM feedback f JOIN analyses a ON a.id = f.analysis_id
             WHERE a.profile = ?1 AND f.choice <> 'confirm'
               AND (a.lead_category IS NULL OR f.choice <> a.lead_category)
             ORDER BY f.id DESC LIMIT ?2",
        )
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let result: String = r.try_get("result")?;
                let summary = serde_json::from_str::<serde_json::Value>(&result)
                    .ok()
                    .and_then(|v| v["summary"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(Correction {
                    ai_category: r.try_get("ai")?,
                    human_category: r.try_get("human")?,
                    summary,
                })
            })
            .collect()
    }

    async fn chart_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ChartRow>, StoreError> {
        // sqlx hands SQLite rows over one at a time (a few µs each); a week of a busy PBX is
        // tens of thousands of rows, so they come back joined into one text value instead
        // (fields split by U+001F, rows by U+001E, NULL as an empty field) and are split here.
        let packed: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(
                        started_at || char(31) || duration_secs || char(31) || status || char(31) ||
                        direction || char(31) || caller || char(31) || called || char(31) ||
                        ifnull(profile, '') || char(31) || ifnull(lead_category, '') || char(31) ||
                        ifnull(interest_rating, '') || char(31) || ifnull(last_feedback, '') || char(31) ||
                        ifnull(posted_at, ''),
                        char(30))
             FROM (SELECT * FROM calls WHERE started_at >= ?1 AND started_at < ?2 ORDER BY started_at)",
        )
        .bind(rfc3339(from))
        .bind(rfc3339(to))
        .fetch_one(&self.reader)
        .await?;
        let Some(packed) = packed else {
            return Ok(Vec::new());
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        packed
            .split('\u{1e}')
            .map(|row| {
                let f: Vec<&str> = row.split('\u{1f}').collect();
                if f.len() != 11 {
                    return Err(StoreError::Corrupt(format!(
                        "chart row with {} fields",
                        f.len()
                    )));
                }
                Ok(ChartRow {
                    started_at: parse_time(f[0])?,
                    duration_secs: f[1].parse().unwrap_or(0),
                    status: f[2].to_string(),
                    direction: f[3].to_string(),
                    caller: f[4].to_string(),
                    called: f[5].to_string(),
                    profile: opt(f[6]),
                    category: opt(f[7]),
                    rating: f[8].parse().ok(),
                    last_feedback: opt(f[9]),
                    posted_at: opt(f[10]).as_deref().map(parse_time).transpose()?,
                })
            })
            .collect()
    }
}
