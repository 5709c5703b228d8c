//! Leader leases on PostgreSQL: times from the database clock, so instances agree on expiry.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{secs, PgStore};
use crate::store::{LeaderLease, LeaderRow, LeaderStore, StoreError};

#[async_trait]
impl LeaderStore for PgStore {
    async fn acquire_leader(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaderLease>, StoreError> {
        let row = sqlx::query(
            "INSERT INTO leader_leases (name, holder, token, expires_at)
             VALUES ($1, $2, 1, now() + make_interval(secs => $3))
             ON CONFLICT (name) DO UPDATE SET
                 holder = EXCLUDED.holder, token = leader_leases.token + 1,
                 expires_at = EXCLUDED.expires_at, acquired_at = now()
             WHERE leader_leases.expires_at < now() OR leader_leases.holder = EXCLUDED.holder
             RETURNING token, last_run_at",
        )
        .bind(name)
        .bind(holder)
        .bind(secs(ttl))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(LeaderLease {
                token: r.try_get("token")?,
                last_run: r.try_get("last_run_at")?,
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
            "UPDATE leader_leases SET expires_at = now() + make_interval(secs => $4)
             WHERE name = $1 AND holder = $2 AND token = $3",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .bind(secs(ttl))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn mark_leader_run(&self, name: &str, token: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE leader_leases SET last_run_at = now()
             WHERE name = $1 AND token = $2 AND expires_at >= now()",
        )
        .bind(name)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_leader(&self, name: &str, holder: &str, token: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE leader_leases SET expires_at = now() - interval '1 millisecond'
             WHERE name = $1 AND holder = $2 AND token = $3",
        )
        .bind(name)
        .bind(holder)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn leaders(&self) -> Result<Vec<LeaderRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, holder, token, expires_at, last_run_at FROM leader_leases ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LeaderRow {
                    name: r.try_get("name")?,
                    holder: r.try_get("holder")?,
                    token: r.try_get("token")?,
                    expires_at: r.try_get::<DateTime<Utc>, _>("expires_at")?,
                    last_run: r.try_get("last_run_at")?,
                })
            })
            .collect()
    }
}
