//! Leader leases on SQLite: the same contract as PostgreSQL; one embedded instance always leads.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;

use super::{ms_to_time, now_ms, SqliteStore};
use crate::store::{millis, LeaderLease, LeaderRow, LeaderStore, StoreError};

#[async_trait]
impl LeaderStore for SqliteStore {
    async fn acquire_leader(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaderLease>, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO leader_leases (name, holder, token, expires_at, acquired_at)
             VALUES (?1, ?2, 1, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET
                 holder = excluded.holder, token = leader_leases.token + 1,
                 expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
             WHERE leader_leases.expires_at < ?4 OR leader_leases.holder = excluded.holder
             RETURNING token, last_run_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now + millis(ttl))
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| {
            Ok(LeaderLease {
                token: r.try_get("token")?,
                last_run: r.try_get::<Option<i64>, _>("last_run_at")?.map(ms_to_time),
            })
        })
        .transpose()
    }

    async fn renew_leader(
        &self,
        name: &str,
        holder: &str,
        token: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE leader_leases SET expires_at = ?4 WHERE name = ?1 AND holder = ?2 AND token = ?3",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(now_ms() + millis(ttl))
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn mark_leader_run(&self, name: &str, token: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE leader_leases SET last_run_at = ?3
             WHERE name = ?1 AND token = ?2 AND expires_at >= ?3",
        )
        .bind(name)
        .bind(token)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_leader(&self, name: &str, holder: &str, token: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE leader_leases SET expires_at = ?4 WHERE name = ?1 AND holder = ?2 AND token = ?3",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(now_ms() - 1)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn leaders(&self) -> Result<Vec<LeaderRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, holder, token, expires_at, last_run_at FROM leader_leases ORDER BY name",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaderRow {
                    name: r.try_get("name")?,
                    holder: r.try_get("holder")?,
                    token: r.try_get("token")?,
                    expires_at: ms_to_time(r.try_get("expires_at")?),
                    last_run: r.try_get::<Option<i64>, _>("last_run_at")?.map(ms_to_time),
                })
            })
            .collect()
    }
}
