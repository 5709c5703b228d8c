//! SQLite: the durable job queue: enqueue, lease, heartbeat, complete, fail, reclaim.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use uuid::Uuid;

use super::{job_from_row, now_ms, SqliteStore};
use crate::store::JobStore;
use crate::store::{millis, Enqueued, Job, JobCount, JobState, NewJob, StoreError};

#[async_trait]
impl JobStore for SqliteStore {
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
        // Read first: an idle poll never takes the database's one write lock, so an instance
        // that is stopped (SIGSTOP, a frozen VM) while idle cannot hold the others up.
        let any: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= ?1
               AND kind IN (SELECT value FROM json_each(?2)) LIMIT 1",
        )
        .bind(now)
        .bind(&kinds_json)
        .fetch_optional(&self.reader)
        .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
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
        let any: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM jobs WHERE state = 'running' AND lease_until < ?1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.reader)
        .await?;
        if any.is_none() {
            return Ok(0);
        }
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
        .bind(crate::store::DEAD_AFTER_CRASHES)
        .bind(crate::store::QUARANTINE_AFTER_CRASHES)
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

    async fn oldest_runnable_wait(&self) -> Result<Option<f64>, StoreError> {
        let now = now_ms();
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(run_after) FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= ?",
        )
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        Ok(oldest.map(|t| (now - t).max(0) as f64 / 1000.0))
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
}
