//! SQLite: outbound call attempts, claimed for dialling in one statement (the single writer makes
//! the capacity check and the claim atomic).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{ms_to_time, now_ms, SqliteStore};
use crate::domain::{
    AnsweredBy, NewOutboundCall, OutboundCall, OutboundLine, OutboundSignals, OutboundStatus,
    StopRequest, REASON_CANCELLED,
};
use crate::store::fold::{
    active_statuses_sql, answered_by, outbound_status, phone, signals, speaker,
};
use crate::store::{millis, DialClaim, OutboundStore, StoreError};

pub(super) fn outbound_from_row(r: &SqliteRow) -> Result<OutboundCall, StoreError> {
    let variables: String = r.try_get("variables")?;
    let opt_time = |v: Option<i64>| v.map(ms_to_time);
    Ok(OutboundCall {
        id: r.try_get("id")?,
        phone: phone(&r.try_get::<String, _>("phone")?)?,
        script: r.try_get("script")?,
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        requested_by: r.try_get("requested_by")?,
        chat_id: r.try_get("chat_id")?,
        status: outbound_status(&r.try_get::<String, _>("status")?)?,
        reason: r.try_get("reason")?,
        outcome: r.try_get("outcome")?,
        call_id: r.try_get("call_id")?,
        created_at: ms_to_time(r.try_get("created_at")?),
        answered_at: opt_time(r.try_get("answered_at")?),
        ended_at: opt_time(r.try_get("ended_at")?),
        status_message_id: r.try_get("status_message_id")?,
        answered_by: r
            .try_get::<Option<String>, _>("answered_by")?
            .as_deref()
            .map(answered_by)
            .transpose()?,
        campaign_contact_id: r.try_get("campaign_contact_id")?,
    })
}

#[async_trait]
impl OutboundStore for SqliteStore {
    async fn queue_outbound(&self, call: &NewOutboundCall) -> Result<OutboundCall, StoreError> {
        let row = sqlx::query(
            "INSERT INTO outbound_calls (phone, script, variables, requested_by, chat_id, status, created_at)
             VALUES (?, ?, ?, ?, ?, 'queued', ?) RETURNING *",
        )
        .bind(call.phone.as_str())
        .bind(&call.script)
        .bind(call.variables.to_string())
        .bind(call.requested_by)
        .bind(call.chat_id)
        .bind(now_ms())
        .fetch_one(&self.writer)
        .await?;
        outbound_from_row(&row)
    }

    async fn outbound_call(&self, id: i64) -> Result<Option<OutboundCall>, StoreError> {
        let row = sqlx::query("SELECT * FROM outbound_calls WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
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
        let now = now_ms();
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET status = 'dialling', lease_owner = ?, lease_until = ?, dial_started_at = ?
             WHERE id = ? AND status = 'queued'
               AND (SELECT COUNT(*) FROM outbound_calls WHERE status IN ({})) < ?",
            active_statuses_sql()
        )))
        .bind(owner)
        .bind(now + millis(lease))
        .bind(now)
        .bind(id)
        .bind(max_active)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(DialClaim::Started);
        }
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM outbound_calls WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.writer)
                .await?;
        match status.as_deref().map(outbound_status).transpose()? {
            Some(OutboundStatus::Queued) => Ok(DialClaim::AtCapacity),
            Some(other) => Ok(DialClaim::NotQueued(other)),
            None => Ok(DialClaim::NotQueued(OutboundStatus::Failed)),
        }
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
        let now = now_ms();
        let done = status.is_final();
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET status = ?, reason = COALESCE(?, reason), outcome = COALESCE(?, outcome),
                    lease_until = CASE WHEN ? THEN NULL ELSE ? END,
                    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
                    answered_at = CASE WHEN ? = 'talking' THEN COALESCE(answered_at, ?) ELSE answered_at END,
                    ended_at = CASE WHEN ? THEN ? ELSE ended_at END
             WHERE id = ? AND lease_owner = ? AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(status.as_str())
        .bind(reason)
        .bind(outcome)
        .bind(done)
        .bind(now + millis(lease))
        .bind(done)
        .bind(status.as_str())
        .bind(now)
        .bind(done)
        .bind(now)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn link_outbound_call(&self, id: i64, call_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbound_calls SET call_id = ? WHERE id = ?")
            .bind(call_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn interrupt_expired_outbound(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET status = 'interrupted', lease_owner = NULL, lease_until = NULL, ended_at = ?,
                    reason = 'the instance placing the call stopped during it'
             WHERE status IN ({}) AND lease_until < ?",
            active_statuses_sql()
        )))
        .bind(now)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n)
    }

    async fn open_outbound(&self) -> Result<Vec<OutboundCall>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM outbound_calls WHERE status = 'queued' OR status IN ({}) ORDER BY id",
            active_statuses_sql()
        )))
        .fetch_all(&self.writer)
        .await?;
        rows.iter().map(outbound_from_row).collect()
    }

    async fn set_outbound_message(&self, id: i64, message_id: i32) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbound_calls SET status_message_id = ? WHERE id = ?")
            .bind(message_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn outbound_by_message(
        &self,
        chat_id: i64,
        message_id: i32,
    ) -> Result<Option<OutboundCall>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM outbound_calls WHERE chat_id = ? AND status_message_id = ?")
                .bind(chat_id)
                .bind(message_id)
                .fetch_optional(&self.writer)
                .await?;
        row.as_ref().map(outbound_from_row).transpose()
    }

    async fn request_outbound_stop(&self, id: i64) -> Result<Option<StopRequest>, StoreError> {
        let cancelled = sqlx::query(
            "UPDATE outbound_calls SET status = 'failed', reason = ?, ended_at = ?
             WHERE id = ? AND status = 'queued'",
        )
        .bind(REASON_CANCELLED)
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if cancelled == 1 {
            return Ok(Some(StopRequest::Cancelled));
        }
        let flagged = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbound_calls SET stop_requested = 1 WHERE id = ? AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if flagged == 1 {
            return Ok(Some(StopRequest::Flagged));
        }
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM outbound_calls WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.writer)
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
            "INSERT INTO outbound_hints (outbound_id, text, created_by, created_at)
             SELECT id, ?, ?, ? FROM outbound_calls WHERE id = ? AND status IN ({})",
            active_statuses_sql()
        )))
        .bind(text)
        .bind(by)
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn take_outbound_signals(&self, id: i64) -> Result<OutboundSignals, StoreError> {
        // Read first: nearly always there is nothing to take, and then the writer is not taken.
        let (stop, hints): (Option<bool>, i64) = sqlx::query_as(
            "SELECT (SELECT stop_requested FROM outbound_calls WHERE id = ?),
                    (SELECT COUNT(*) FROM outbound_hints WHERE outbound_id = ? AND taken_at IS NULL)",
        )
        .bind(id)
        .bind(id)
        .fetch_one(&self.reader)
        .await?;
        if hints == 0 {
            return Ok(signals(stop.unwrap_or(false), Vec::new()));
        }
        let mut tx = self.writer.begin().await?;
        let stop: Option<bool> =
            sqlx::query_scalar("SELECT stop_requested FROM outbound_calls WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let hints: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE outbound_hints SET taken_at = ? WHERE outbound_id = ? AND taken_at IS NULL
             RETURNING id, text",
        )
        .bind(now_ms())
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(signals(stop.unwrap_or(false), hints))
    }

    async fn append_outbound_line(&self, id: i64, line: &OutboundLine) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbound_lines (outbound_id, seq, speaker, text, at_ms) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (outbound_id, seq) DO NOTHING",
        )
        .bind(id)
        .bind(line.seq)
        .bind(line.speaker.as_str())
        .bind(&line.text)
        .bind(line.at_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn outbound_lines(&self, id: i64) -> Result<Vec<OutboundLine>, StoreError> {
        let rows: Vec<(i32, String, String, i64)> = sqlx::query_as(
            "SELECT seq, speaker, text, at_ms FROM outbound_lines WHERE outbound_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.writer)
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
        sqlx::query("UPDATE outbound_calls SET answered_by = ? WHERE id = ?")
            .bind(who.as_str())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn save_numbering_table(&self, digit: u8, table: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO numbering_tables (leading_digit, table_text, imported_at) VALUES (?, ?, ?)
             ON CONFLICT (leading_digit) DO UPDATE SET table_text = excluded.table_text,
                 imported_at = excluded.imported_at",
        )
        .bind(i64::from(digit))
        .bind(table)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn numbering_tables(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT table_text FROM numbering_tables ORDER BY leading_digit")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| r.try_get("table_text").map_err(StoreError::from))
            .collect()
    }
}
