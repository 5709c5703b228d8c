//! PostgreSQL: calls, transcripts, analyses, feedback and provider cursors.

use async_trait::async_trait;
use sqlx::types::Json;
use sqlx::Row;

use super::{analysis_from_row, call_from_row, PgStore};
use crate::domain::LeadCategory;
use crate::domain::{
    Analysis, Call, CallFilter, CallStatus, CallSummary, Feedback, NewAnalysis, NewCall, Utterance,
};
use crate::store::fold::{choice, speaker, summary};
use crate::store::CallStore;
use crate::store::StoreError;

#[async_trait]
impl CallStore for PgStore {
    async fn insert_call(&self, call: &NewCall) -> Result<(Call, bool), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at, duration_secs,
                                recording_ref, operator)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING *",
        )
        .bind(&call.provider)
        .bind(&call.provider_call_id)
        .bind(call.direction.as_str())
        .bind(call.caller.as_str())
        .bind(call.called.as_str())
        .bind(call.started_at)
        .bind(call.duration_secs)
        .bind(&call.recording_ref)
        .bind(&call.operator)
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

    async fn save_recording(
        &self,
        call_id: i64,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_recordings (call_id, content_type, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (call_id) DO UPDATE SET content_type = excluded.content_type, bytes = excluded.bytes",
        )
        .bind(call_id)
        .bind(content_type)
        .bind(bytes)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn recording(&self, call_id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT content_type, bytes FROM call_recordings WHERE call_id = $1")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?,
        )
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
            .bind(u.speaker.as_str())
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
                    speaker: speaker(&r.try_get::<String, _>("speaker")?)?,
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    text: r.try_get("text")?,
                })
            })
            .collect()
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

    async fn mark_posted(&self, call_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET posted_at = COALESCE(posted_at, now()) WHERE id = $1")
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        Ok(())
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
            .map(|r| summary(r, call_from_row(r)?))
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
        .bind(a.lead_category.map(LeadCategory::as_str))
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
        .bind(a.lead_category.map(LeadCategory::as_str))
        .bind(a.interest_rating)
        .bind(&a.priority)
        .bind(&a.agency_name)
        .bind(a.call_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
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

    async fn add_feedback(&self, f: &Feedback) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO feedback (call_id, analysis_id, user_id, user_name, choice, created_at)
             VALUES ($1, (SELECT id FROM analyses WHERE call_id = $1 AND is_current ORDER BY id DESC LIMIT 1),
                     $2, $3, $4, $5)",
        )
        .bind(f.call_id)
        .bind(f.user_id)
        .bind(&f.user_name)
        .bind(f.choice.as_str())
        .bind(f.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE calls SET last_feedback = $1 WHERE id = $2")
            .bind(f.choice.as_str())
            .bind(f.call_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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
                    choice: choice(&r.try_get::<String, _>("choice")?)?,
                    created_at: r.try_get("created_at")?,
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
}
