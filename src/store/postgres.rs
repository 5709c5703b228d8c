//! PostgreSQL backend: production, several callops instances on one database. Jobs are claimed with
//! `FOR UPDATE SKIP LOCKED`; lease times come from the database clock so instances agree.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

use super::types::{join_ids, split_ids};
use super::{
    Backend, CallTokens, ChartRow, Correction, DigestSchedule, EffectClaim, Enqueued, Job,
    JobCount, JobState, NewJob, PeriodStats, Stats, Store, StoreError, TelegramPost, TokenUsage,
    User,
};
use crate::domain::{
    Analysis, Call, CallFilter, CallStatus, CallSummary, Direction, Feedback, NewAnalysis, NewCall,
    Role, Utterance,
};

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

macro_rules! job_columns {
    () => {
        "id, kind, payload, state, attempts, max_attempts, lease_token, last_error, idempotency_key, run_after, priority, crashes, give_up"
    };
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Self { pool })
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

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
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

fn call_from_row(row: &PgRow) -> Result<Call, StoreError> {
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    Ok(Call {
        id: row.try_get("id")?,
        provider: row.try_get("provider")?,
        provider_call_id: row.try_get("provider_call_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("call direction {direction:?}")))?,
        caller: row.try_get("caller")?,
        called: row.try_get("called")?,
        started_at: row.try_get::<DateTime<Utc>, _>("started_at")?,
        duration_secs: row.try_get("duration_secs")?,
        status: CallStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("call status {status:?}")))?,
        reason: row.try_get("reason")?,
        recording_ref: row.try_get("recording_ref")?,
    })
}

fn analysis_from_row(r: &PgRow) -> Result<Analysis, StoreError> {
    let Json(result): Json<serde_json::Value> = r.try_get("result")?;
    Ok(Analysis {
        id: r.try_get("id")?,
        call_id: r.try_get("call_id")?,
        profile: r.try_get("profile")?,
        result,
        lead_category: r.try_get("lead_category")?,
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

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, StoreError> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, max_attempts, run_after, idempotency_key, priority)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6)
             ON CONFLICT (kind, idempotency_key) DO NOTHING
             RETURNING id",
        )
        .bind(&job.kind)
        .bind(Json(&job.payload))
        .bind(job.max_attempts)
        .bind(secs(job.delay))
        .bind(&job.idempotency_key)
        .bind(job.priority)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = inserted {
            return Ok(Enqueued { id, created: true });
        }
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM jobs WHERE kind = $1 AND idempotency_key = $2")
                .bind(&job.kind)
                .bind(&job.idempotency_key)
                .fetch_one(&self.pool)
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
        // Urgent jobs (priority > 0) first, then the rest, each oldest first from its own index;
        // a single ORDER BY priority made every claim slower under load.
        const CLAIM_URGENT: &str = "WITH picked AS (
                 SELECT id FROM jobs
                 WHERE state IN ('queued', 'failed') AND priority > 0 AND run_after <= now() AND kind = ANY($1)
                 ORDER BY run_after, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             UPDATE jobs j SET state = 'running',
                    attempts = j.attempts + CASE WHEN j.give_up IS NULL THEN 1 ELSE 0 END,
                    lease_until = now() + make_interval(secs => $3), lease_token = $4, updated_at = now()
             FROM picked WHERE j.id = picked.id
             RETURNING j.id, j.kind, j.payload, j.state, j.attempts, j.max_attempts, j.lease_token,
                       j.last_error, j.idempotency_key, j.run_after, j.priority, j.crashes, j.give_up";
        const CLAIM_NORMAL: &str = "WITH picked AS (
                 SELECT id FROM jobs
                 WHERE state IN ('queued', 'failed') AND priority = 0 AND run_after <= now() AND kind = ANY($1)
                 ORDER BY run_after, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             UPDATE jobs j SET state = 'running',
                    attempts = j.attempts + CASE WHEN j.give_up IS NULL THEN 1 ELSE 0 END,
                    lease_until = now() + make_interval(secs => $3), lease_token = $4, updated_at = now()
             FROM picked WHERE j.id = picked.id
             RETURNING j.id, j.kind, j.payload, j.state, j.attempts, j.max_attempts, j.lease_token,
                       j.last_error, j.idempotency_key, j.run_after, j.priority, j.crashes, j.give_up";
        let token = Uuid::new_v4();
        let mut rows = sqlx::query(CLAIM_URGENT)
            .bind(kinds)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(secs(lease))
            .bind(token)
            .fetch_all(&self.pool)
            .await?;
        if rows.len() < limit {
            let rest = sqlx::query(CLAIM_NORMAL)
                .bind(kinds)
                .bind(i64::try_from(limit - rows.len()).unwrap_or(i64::MAX))
                .bind(secs(lease))
                .bind(token)
                .fetch_all(&self.pool)
                .await?;
            rows.extend(rest);
        }
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
        let r = sqlx::query(
            "UPDATE jobs SET lease_until = now() + make_interval(secs => $1), updated_at = now()
             WHERE id = $2 AND lease_token = $3 AND state = 'running'",
        )
        .bind(secs(lease))
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn complete(&self, id: i64, token: Uuid) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, lease_token = NULL, last_error = NULL,
                    updated_at = now(), finished_at = now()
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(token)
        .execute(&self.pool)
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
        let r = sqlx::query(
            "UPDATE jobs SET
                 state = CASE WHEN give_up IS NOT NULL THEN 'dead' ELSE 'failed' END,
                 give_up = CASE WHEN give_up IS NULL AND ($1::float8 IS NULL OR attempts >= max_attempts)
                                THEN $2 ELSE give_up END,
                 run_after = CASE WHEN give_up IS NULL AND $1::float8 IS NOT NULL AND attempts < max_attempts
                                  THEN now() + make_interval(secs => $1::float8) ELSE now() END,
                 finished_at = CASE WHEN give_up IS NOT NULL THEN now() ELSE NULL END,
                 lease_until = NULL, lease_token = NULL, last_error = $2, updated_at = now()
             WHERE id = $3 AND lease_token = $4 AND state = 'running'",
        )
        .bind(retry_in.map(secs))
        .bind(error)
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release(&self, id: i64, token: Uuid) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), lease_until = NULL,
                    lease_token = NULL, run_after = now(), updated_at = now()
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn reclaim_expired(&self) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE jobs SET
                 crashes = crashes + 1,
                 state = CASE WHEN crashes + 1 >= $1 THEN 'dead' ELSE 'failed' END,
                 finished_at = CASE WHEN crashes + 1 >= $1 THEN now() ELSE NULL END,
                 give_up = COALESCE(give_up, CASE
                     WHEN crashes + 1 >= $2 THEN 'quarantined: its worker stopped mid-job ' || (crashes + 1) || ' times (crash or lost lease)'
                     WHEN attempts >= max_attempts THEN 'out of attempts: the last worker stopped mid-job'
                 END),
                 last_error = 'lease expired: the worker stopped or lost contact mid-job',
                 lease_until = NULL, lease_token = NULL, run_after = now(), updated_at = now()
             WHERE state = 'running' AND lease_until < now()",
        )
        .bind(super::DEAD_AFTER_CRASHES)
        .bind(super::QUARANTINE_AFTER_CRASHES)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_counts(&self) -> Result<Vec<JobCount>, StoreError> {
        let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state")
            .fetch_all(&self.pool)
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
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_after = now(), updated_at = now(),
                    finished_at = NULL, crashes = 0, give_up = NULL
             WHERE id = $1 AND state IN ('dead', 'failed', 'done')",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn begin_effect(&self, key: &str) -> Result<EffectClaim, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO effects (key, state) VALUES ($1, 'started') ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(EffectClaim::Begun);
        }
        let row = sqlx::query("SELECT state, started_at, result FROM effects WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
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
                since: row.try_get("started_at")?,
            }
        })
    }

    async fn finish_effect(&self, key: &str, result: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO effects (key, state, result) VALUES ($1, 'done', $2)
             ON CONFLICT (key) DO UPDATE SET state = 'done', result = $2",
        )
        .bind(key)
        .bind(result)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn abandon_effect(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM effects WHERE key = $1 AND state = 'started'")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn user_role(&self, telegram_id: i64) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE telegram_id = $1")
                .bind(telegram_id)
                .fetch_optional(&self.pool)
                .await?;
        role.map(|r| r.parse().map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn upsert_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (telegram_id, role, name, added_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (telegram_id) DO UPDATE SET role = excluded.role,
                 name = COALESCE(excluded.name, users.name)",
        )
        .bind(user.telegram_id)
        .bind(user.role.as_str())
        .bind(&user.name)
        .bind(user.added_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn remove_user(&self, telegram_id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM users WHERE telegram_id = $1")
            .bind(telegram_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows =
            sqlx::query("SELECT telegram_id, role, name, added_by FROM users ORDER BY telegram_id")
                .fetch_all(&self.pool)
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
            sqlx::query_scalar("SELECT language FROM chat_settings WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(lang.flatten())
    }

    async fn set_chat_language(&self, chat_id: i64, language: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, language) VALUES ($1, $2)
             ON CONFLICT (chat_id) DO UPDATE SET language = excluded.language, updated_at = now()",
        )
        .bind(chat_id)
        .bind(language)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_chat_timezone(&self, chat_id: i64, timezone: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, timezone) VALUES ($1, $2)
             ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone, updated_at = now()",
        )
        .bind(chat_id)
        .bind(timezone)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn chat_timezone(&self, chat_id: i64) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT timezone FROM chat_settings WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn number_profiles(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT number, profile FROM number_profiles ORDER BY number")
            .fetch_all(&self.pool)
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
                    "INSERT INTO number_profiles (number, profile) VALUES ($1, $2)
                     ON CONFLICT (number) DO UPDATE SET profile = excluded.profile, updated_at = now()",
                )
                .bind(number)
                .bind(p)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM number_profiles WHERE number = $1")
                    .bind(number)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn set_digest_time(&self, chat_id: i64, time: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chat_settings (chat_id, digest_time) VALUES ($1, $2)
             ON CONFLICT (chat_id) DO UPDATE SET digest_time = excluded.digest_time, updated_at = now()",
        )
        .bind(chat_id)
        .bind(time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn digest_schedules(&self) -> Result<Vec<DigestSchedule>, StoreError> {
        let rows = sqlx::query(
            "SELECT chat_id, digest_time, timezone, last_digest FROM chat_settings WHERE digest_time IS NOT NULL ORDER BY chat_id",
        )
        .fetch_all(&self.pool)
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
            "UPDATE chat_settings SET last_digest = $1, updated_at = now()
             WHERE chat_id = $2 AND (last_digest IS NULL OR last_digest < $1)",
        )
        .bind(date)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn analysis_results(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT a.result FROM analyses a JOIN calls c ON c.id = a.call_id
             WHERE a.is_current AND c.started_at >= $1 AND c.started_at < $2 ORDER BY c.started_at LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|Json(v)| v).collect())
    }

    async fn telegram_post(&self, post_key: &str) -> Result<Option<TelegramPost>, StoreError> {
        let row = sqlx::query(
            "SELECT post_key, call_id, kind, chat_id, message_id, extra_ids FROM telegram_posts WHERE post_key = $1",
        )
        .bind(post_key)
        .fetch_optional(&self.pool)
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
             WHERE call_id = $1 AND chat_id = $2 AND message_id = $3 AND kind = 'protocol' LIMIT 1",
        )
        .bind(call_id)
        .bind(chat_id)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn record_telegram_post(&self, post: &TelegramPost) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO telegram_posts (post_key, call_id, kind, chat_id, message_id, extra_ids)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_key) DO NOTHING",
        )
        .bind(&post.post_key)
        .bind(post.call_id)
        .bind(&post.kind)
        .bind(post.chat_id)
        .bind(post.message_id)
        .bind(join_ids(&post.extra_ids))
        .execute(&self.pool)
        .await?;
        if let (Some(call_id), "protocol") = (post.call_id, post.kind.as_str()) {
            sqlx::query("UPDATE calls SET posted_at = COALESCE(posted_at, now()) WHERE id = $1")
                .bind(call_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn insert_call(&self, call: &NewCall) -> Result<(Call, bool), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at, duration_secs,
                                recording_ref)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING *",
        )
        .bind(&call.provider)
        .bind(&call.provider_call_id)
        .bind(call.direction.as_str())
        .bind(&call.caller)
        .bind(&call.called)
        .bind(call.started_at)
        .bind(call.duration_secs)
        .bind(&call.recording_ref)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok((call_from_row(&row)?, true));
        }
        let row = sqlx::query("SELECT * FROM calls WHERE provider = $1 AND provider_call_id = $2")
            .bind(&call.provider)
            .bind(&call.provider_call_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((call_from_row(&row)?, false))
    }

    async fn call(&self, id: i64) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query("SELECT * FROM calls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    async fn set_call_status(
        &self,
        id: i64,
        status: CallStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET status = $1, reason = $2, updated_at = now() WHERE id = $3")
            .bind(status.as_str())
            .bind(reason)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn replace_utterances(
        &self,
        call_id: i64,
        items: &[Utterance],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM utterances WHERE call_id = $1")
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        for (seq, u) in items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO utterances (call_id, seq, speaker, start_ms, end_ms, text) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(call_id)
            .bind(i32::try_from(seq).unwrap_or(i32::MAX))
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
            "SELECT speaker, start_ms, end_ms, text FROM utterances WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
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
            sqlx::query_scalar("SELECT cursor FROM provider_cursors WHERE provider = $1")
                .bind(provider)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn save_agent_turns(
        &self,
        call_id: i64,
        turns: &[crate::domain::TurnTiming],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM agent_turns WHERE call_id = $1")
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        for t in turns {
            sqlx::query(
                "INSERT INTO agent_turns (call_id, turn, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
            "SELECT turn::BIGINT, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms FROM agent_turns WHERE call_id = $1 ORDER BY turn",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
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
            "INSERT INTO call_chats (call_id, chat_id) VALUES ($1, $2) ON CONFLICT (call_id) DO UPDATE SET chat_id = excluded.chat_id",
        )
        .bind(call_id)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn call_chat(&self, call_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT chat_id FROM call_chats WHERE call_id = $1")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn save_rehearsal(
        &self,
        chat_id: i64,
        session: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rehearsals (chat_id, session, updated_at) VALUES ($1, $2, now()) ON CONFLICT (chat_id) DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at",
        )
        .bind(chat_id)
        .bind(Json(session))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_rehearsal(&self, chat_id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM rehearsals WHERE chat_id = $1")
            .bind(chat_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rehearsals(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError> {
        let rows: Vec<(i64, Json<serde_json::Value>)> =
            sqlx::query_as("SELECT chat_id, session FROM rehearsals ORDER BY chat_id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(chat, v)| (chat, v.0)).collect())
    }

    async fn add_do_not_call(&self, phone: &str, reason: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("INSERT INTO do_not_call (phone, reason) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING")
            .bind(phone)
            .bind(reason);

        let done = q.execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_do_not_call(&self, phone: &str) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT phone FROM do_not_call WHERE phone = $1")
                .bind(phone)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn set_cursor(&self, provider: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provider_cursors (provider, cursor) VALUES ($1, $2)
             ON CONFLICT (provider) DO UPDATE SET cursor = excluded.cursor, updated_at = now()",
        )
        .bind(provider)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_token_usage(&self, usage: &TokenUsage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_usage (call_id, purpose, model, prompt_tokens, completion_tokens, cost_usd)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(usage.call_id)
        .bind(&usage.purpose)
        .bind(&usage.model)
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.cost_usd)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn call_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query("SELECT * FROM calls WHERE provider = $1 AND provider_call_id = $2")
            .bind(provider)
            .bind(provider_call_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    async fn set_recording_ref(&self, call_id: i64, recording_ref: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET recording_ref = $1, updated_at = now() WHERE id = $2")
            .bind(recording_ref)
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_calls(&self, f: &CallFilter) -> Result<(Vec<CallSummary>, i64), StoreError> {
        const WHERE: &str = "FROM calls c
             WHERE ($1::text IS NULL OR c.status = $1) AND ($2::text IS NULL OR c.lead_category = $2)
               AND ($3::timestamptz IS NULL OR c.started_at >= $3)
               AND ($4::timestamptz IS NULL OR c.started_at < $4)";
        let status = f.status.map(|s| s.as_str());
        let total: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {WHERE}")))
                .bind(status)
                .bind(&f.category)
                .bind(f.from)
                .bind(f.to)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c.* {WHERE}
             ORDER BY c.started_at DESC, c.id DESC LIMIT $5 OFFSET $6"
        )))
        .bind(status)
        .bind(&f.category)
        .bind(f.from)
        .bind(f.to)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE analyses SET is_current = FALSE WHERE call_id = $1 AND is_current")
            .bind(a.call_id)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO analyses (call_id, profile, result, lead_category, interest_rating, priority,
                                   agency_name, model, is_current)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE) RETURNING id",
        )
        .bind(a.call_id)
        .bind(&a.profile)
        .bind(Json(&a.result))
        .bind(&a.lead_category)
        .bind(a.interest_rating)
        .bind(&a.priority)
        .bind(&a.agency_name)
        .bind(&a.model)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE calls SET profile = $1, lead_category = $2, interest_rating = $3, priority = $4, agency_name = $5
             WHERE id = $6",
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
            "SELECT * FROM analyses WHERE call_id = $1 AND id < $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .bind(analysis_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(analysis_from_row).transpose()
    }

    async fn current_analysis(&self, call_id: i64) -> Result<Option<Analysis>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM analyses WHERE call_id = $1 AND is_current ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(analysis_from_row).transpose()
    }

    async fn add_feedback(&self, f: &Feedback) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO feedback (call_id, analysis_id, user_id, user_name, choice, created_at)
             VALUES ($1, (SELECT id FROM analyses WHERE call_id = $1 AND is_current ORDER BY id DESC LIMIT 1),
                     $2, $3, $4, $5)",
        )
        .bind(f.call_id)
        .bind(f.user_id)
        .bind(&f.user_name)
        .bind(&f.choice)
        .bind(f.created_at)
        .execute(&self.pool)
        .await?;
        sqlx::query("UPDATE calls SET last_feedback = $1 WHERE id = $2")
            .bind(&f.choice)
            .bind(f.call_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn feedback(&self, call_id: i64) -> Result<Vec<Feedback>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id, user_id, user_name, choice, created_at FROM feedback WHERE call_id = $1 ORDER BY id",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Feedback {
                    call_id: r.try_get("call_id")?,
                    user_id: r.try_get("user_id")?,
                    user_name: r.try_get("user_name")?,
                    choice: r.try_get("choice")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn call_tokens(&self, call_id: i64) -> Result<CallTokens, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE call_id = $1",
        )
        .bind(call_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(CallTokens {
            prompt_tokens: row.try_get("p")?,
            completion_tokens: row.try_get("c")?,
            cost_usd: row.try_get("cost")?,
        })
    }

    async fn stats_since(&self, since: DateTime<Utc>) -> Result<Stats, StoreError> {
        let pairs = |rows: Vec<PgRow>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?)))
                .collect()
        };
        let by_status = pairs(
            sqlx::query("SELECT status AS k, COUNT(*) AS n FROM calls WHERE started_at >= $1 GROUP BY status ORDER BY status")
                .bind(since)
                .fetch_all(&self.pool)
                .await?,
        )?;
        let by_category = pairs(
            sqlx::query(
                "SELECT a.lead_category AS k, COUNT(*) AS n FROM analyses a JOIN calls c ON c.id = a.call_id
                 WHERE a.is_current AND a.lead_category IS NOT NULL AND c.started_at >= $1
                 GROUP BY a.lead_category ORDER BY a.lead_category",
            )
            .bind(since)
            .fetch_all(&self.pool)
            .await?,
        )?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE created_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
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
        // One pass over the period's calls; the figures are summed up below.
        let groups = sqlx::query(
            "SELECT status, lead_category, profile, COUNT(*)::bigint AS n, SUM(interest_rating)::bigint AS rating_sum,
                    COUNT(interest_rating)::bigint AS rating_n,
                    SUM(CASE WHEN last_feedback IS NOT NULL AND lead_category IS NOT NULL THEN 1 ELSE 0 END)::bigint AS rated,
                    SUM(CASE WHEN last_feedback IS NOT NULL AND lead_category IS NOT NULL
                              AND (last_feedback = 'confirm' OR last_feedback = lead_category) THEN 1 ELSE 0 END)::bigint AS agreed
             FROM calls WHERE started_at >= $1 AND started_at < $2 GROUP BY status, lead_category, profile",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
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
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
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
             WHERE a.profile = $1 AND f.choice <> 'confirm'
               AND (a.lead_category IS NULL OR f.choice <> a.lead_category)
             ORDER BY f.id DESC LIMIT $2",
        )
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let Json(result): Json<serde_json::Value> = r.try_get("result")?;
                let summary = result["summary"].as_str().unwrap_or_default().to_string();
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
        let rows = sqlx::query(
            "SELECT started_at, duration_secs, status, direction, caller, called, profile, lead_category,
                    interest_rating, last_feedback, posted_at
             FROM calls WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at",
        )
        .bind(from).bind(to).fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let started_at: DateTime<Utc> = r.try_get("started_at")?;
                let posted_at: Option<DateTime<Utc>> = r.try_get("posted_at")?;
                Ok(ChartRow {
                    started_at,
                    duration_secs: r.try_get("duration_secs")?,
                    status: r.try_get("status")?,
                    direction: r.try_get("direction")?,
                    caller: r.try_get("caller")?,
                    called: r.try_get("called")?,
                    profile: r.try_get("profile")?,
                    category: r.try_get("lead_category")?,
                    rating: r.try_get("interest_rating")?,
                    last_feedback: r.try_get("last_feedback")?,
                    posted_at,
                })
            })
            .collect()
    }
}
