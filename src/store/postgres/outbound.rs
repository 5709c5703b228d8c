//! PostgreSQL: outbound call attempts. The capacity check and the claim run in one transaction
//! under an advisory lock, so instances sharing the database never exceed the limit together.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

use super::PgStore;
use crate::domain::{
    AnsweredBy, NewOutboundCall, OutboundCall, OutboundLine, OutboundSignals, OutboundStatus,
    StopRequest, REASON_CANCELLED,
};
use crate::store::fold::{
    active_statuses_sql, answered_by, outbound_status, phone, signals, speaker,
};
use crate::store::{DialClaim, OutboundStore, StoreError};

/// The advisory lock key of outbound dialling ("callops" + "dial").
pub(super) const DIAL_LOCK: i64 = 0x6361_6c6c_6469_616c;

pub(super) fn outbound_from_row(r: &PgRow) -> Result<OutboundCall, StoreError> {
    let Json(variables): Json<serde_json::Value> = r.try_get("variables")?;
    Ok(OutboundCall {
        id: r.try_get("id")?,
        phone: phone(&r.try_get::<String, _>("phone")?)?,
        script: r.try_get("script")?,
        variables,
        requested_by: r.try_get("requested_by")?,
        chat_id: r.try_get("chat_id")?,
        status: outbound_status(&r.try_get::<String, _>("status")?)?,
        reason: r.try_get("reason")?,
        outcome: r.try_get("outcome")?,
        call_id: r.try_get("call_id")?,
        created_at: r.try_get::<DateTime<Utc>, _>("created_at")?,
        answered_at: r.try_get("answered_at")?,
        ended_at: r.try_get("ended_at")?,
        status_message_id: r.try_get("status_message_id")?,
        answered_by: r
            .try_get::<Option<String>, _>("answered_by")?
            .as_deref()
            .map(answered_by)
            .transpose()?,
        campaign_contact_id: r.try_get("campaign_contact_id")?,
    })
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[async_trait]
impl OutboundStore for PgStore {
    async fn queue_outbound(&self, call: &NewOutboundCall) -> Result<OutboundCall, StoreError> {
        let row = sqlx::query(
            "INSERT INTO outbound_calls (phone, script, variables, requested_by, chat_id, status)
             VALUES ($1, $2, $3, $4, $5, 'queued') RETURNING *",
        )
        .bind(call.phone.as_str())
        .bind(&call.script)
        .bind(Json(&call.variables))
        .bind(call.requested_by)
        .bind(call.chat_id)
        .fetch_one(&self.pool)
        .await?;
        outbound_from_row(&row)
    }

    async fn outbound_call(&self, id: i64) -> Result<Option<OutboundCall>, StoreError> {
        let row = sqlx::query("SELECT * FROM outbound_calls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(outbound_from_row).transpose()
    }

    async fn claim_dial(
        &self,
        id: i64,
        owner: &str,
        lease: Duration,
        max_active: i64,
    ) -> Result<DialClaim, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DIAL_LOCK)
            .execute(&mut *tx)
            .await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM outbound_calls WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        match status.as_deref().map(outbound_status).transpose()? {
            Some(OutboundStatus::Queued) => {}
            Some(other) => return Ok(DialClaim::NotQueued(other)),
            None => return Ok(DialClaim::NotQueued(OutboundStatus::Failed)),
        }
        let active: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM outbound_calls WHERE status IN ({})",
            active_statuses_sql()
        )))
        .fetch_one(&mut *tx)
        .await?;
        if active >= max_active {
            return Ok(DialClaim::AtCapacity);
        }
        sqlx::query(
            "UPDATE outbound_calls SET status = 'dialling', lease_owner = $2,
                    lease_until = now() + make_interval(secs => $3), dial_started_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(owner)
        .bind(secs(lease))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DialClaim::Started)
    }

    async fn update_outbound(
        &self,
        id: i64,
        owner: &str,
        status: OutboundStatus,
        reason: Option<&str>,
        outcome: Option<&str>,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let done = status.is_final();
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET status = $3, reason = COALESCE($4, reason), outcome = COALESCE($5, outcome),
                    lease_until = CASE WHEN $6 THEN NULL ELSE now() + make_interval(secs => $7) END,
                    lease_owner = CASE WHEN $6 THEN NULL ELSE lease_owner END,
                    answered_at = CASE WHEN $3 = 'talking' THEN COALESCE(answered_at, now()) ELSE answered_at END,
                    ended_at = CASE WHEN $6 THEN now() ELSE ended_at END
             WHERE id = $1 AND lease_owner = $2 AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(id)
        .bind(owner)
        .bind(status.as_str())
        .bind(reason)
        .bind(outcome)
        .bind(done)
        .bind(secs(lease))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn link_outbound_call(&self, id: i64, call_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbound_calls SET call_id = $2 WHERE id = $1")
            .bind(id)
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn interrupt_expired_outbound(&self) -> Result<u64, StoreError> {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET status = 'interrupted', lease_owner = NULL, lease_until = NULL,
                    ended_at = now(), reason = 'the instance placing the call stopped during it'
             WHERE status IN ({}) AND lease_until < now()",
            active_statuses_sql()
        )))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn open_outbound(&self) -> Result<Vec<OutboundCall>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM outbound_calls WHERE status = 'queued' OR status IN ({}) ORDER BY id",
            active_statuses_sql()
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbound_from_row).collect()
    }

    async fn set_outbound_message(&self, id: i64, message_id: i32) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbound_calls SET status_message_id = $2 WHERE id = $1")
            .bind(id)
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbound_by_message(
        &self,
        chat_id: i64,
        message_id: i32,
    ) -> Result<Option<OutboundCall>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM outbound_calls WHERE chat_id = $1 AND status_message_id = $2",
        )
        .bind(chat_id)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(outbound_from_row).transpose()
    }

    async fn request_outbound_stop(&self, id: i64) -> Result<Option<StopRequest>, StoreError> {
        let cancelled = sqlx::query(
            "UPDATE outbound_calls SET status = 'failed', reason = $2, ended_at = now()
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(id)
        .bind(REASON_CANCELLED)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if cancelled == 1 {
            return Ok(Some(StopRequest::Cancelled));
        }
        let flagged = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET stop_requested = TRUE WHERE id = $1 AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if flagged == 1 {
            return Ok(Some(StopRequest::Flagged));
        }
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM outbound_calls WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        status
            .as_deref()
            .map(|s| outbound_status(s).map(StopRequest::AlreadyOver))
            .transpose()
    }

    async fn add_outbound_hint(
        &self,
        id: i64,
        text: &str,
        by: Option<i64>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO outbound_hints (outbound_id, text, created_by)
             SELECT id, $2, $3 FROM outbound_calls WHERE id = $1 AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(id)
        .bind(text)
        .bind(by)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn take_outbound_signals(&self, id: i64) -> Result<OutboundSignals, StoreError> {
        let stop: Option<bool> =
            sqlx::query_scalar("SELECT stop_requested FROM outbound_calls WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let hints: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE outbound_hints SET taken_at = now() WHERE outbound_id = $1 AND taken_at IS NULL
             RETURNING id, text",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(signals(stop.unwrap_or(false), hints))
    }

    async fn append_outbound_line(&self, id: i64, line: &OutboundLine) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbound_lines (outbound_id, seq, speaker, text, at_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (outbound_id, seq) DO NOTHING",
        )
        .bind(id)
        .bind(line.seq)
        .bind(line.speaker.as_str())
        .bind(&line.text)
        .bind(line.at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outbound_lines(&self, id: i64) -> Result<Vec<OutboundLine>, StoreError> {
        let rows: Vec<(i32, String, String, i64)> = sqlx::query_as(
            "SELECT seq, speaker, text, at_ms FROM outbound_lines WHERE outbound_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, who, text, at_ms)| {
                Ok(OutboundLine {
                    seq,
                    speaker: speaker(&who)?,
                    text,
                    at_ms,
                })
            })
            .collect()
    }
    async fn set_outbound_answered_by(&self, id: i64, who: AnsweredBy) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbound_calls SET answered_by = $2 WHERE id = $1")
            .bind(id)
            .bind(who.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn save_numbering_table(&self, digit: u8, table: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO numbering_tables (leading_digit, table_text, imported_at) VALUES ($1, $2, now())
             ON CONFLICT (leading_digit) DO UPDATE SET table_text = excluded.table_text,
                 imported_at = excluded.imported_at",
        )
        .bind(i16::from(digit))
        .bind(table)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn numbering_tables(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT table_text FROM numbering_tables ORDER BY leading_digit")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("table_text").map_err(StoreError::from))
            .collect()
    }
}
