//! SQLite: calls, transcripts, analyses, feedback and provider cursors.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;

use super::{analysis_from_row, call_from_row, parse_time, rfc3339, SqliteStore};
use crate::domain::LeadCategory;
use crate::domain::{
    Analysis, Call, CallFilter, CallStatus, CallSummary, Feedback, NewAnalysis, NewCall, Utterance,
};
use crate::store::fold::{choice, speaker, summary};
use crate::store::CallStore;
use crate::store::StoreError;

#[async_trait]
impl CallStore for SqliteStore {
    async fn insert_call(&self, call: &NewCall) -> Result<(Call, bool), StoreError> {
        let now = rfc3339(Utc::now());
        let inserted = sqlx::query(
            "INSERT INTO calls (provider, provider_call_id, direction, caller, called, started_at,
                                duration_secs, recording_ref, operator, status, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)
             ON CONFLICT (provider, provider_call_id) DO NOTHING RETURNING *",
        )
        .bind(&call.provider)
        .bind(&call.provider_call_id)
        .bind(call.direction.as_str())
        .bind(call.caller.as_str())
        .bind(call.called.as_str())
        .bind(rfc3339(call.started_at))
        .bind(call.duration_secs)
        .bind(&call.recording_ref)
        .bind(&call.operator)
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

    async fn save_recording(
        &self,
        call_id: i64,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_recordings (call_id, content_type, bytes, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (call_id) DO UPDATE SET content_type = excluded.content_type, bytes = excluded.bytes",
        )
        .bind(call_id)
        .bind(content_type)
        .bind(bytes)
        .bind(super::now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn recording(&self, call_id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT content_type, bytes FROM call_recordings WHERE call_id = ?")
                .bind(call_id)
                .fetch_optional(&self.writer)
                .await?,
        )
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
            "SELECT speaker, start_ms, end_ms, text FROM utterances WHERE call_id = ? ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(&self.reader)
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
        let row = sqlx::query("SELECT * FROM calls WHERE provider = ? AND provider_call_id = ?")
            .bind(provider)
            .bind(provider_call_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(call_from_row).transpose()
    }

    async fn mark_posted(&self, call_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE calls SET posted_at = COALESCE(posted_at, ?) WHERE id = ?")
            .bind(rfc3339(Utc::now()))
            .bind(call_id)
            .execute(&self.writer)
            .await?;
        Ok(())
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
            .map(|r| summary(r, call_from_row(r)?))
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
        .bind(a.lead_category.map(LeadCategory::as_str))
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
            "SELECT * FROM analyses WHERE call_id = ? AND is_current = 1 ORDER BY id DESC LIMIT 1",
        )
        .bind(call_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(analysis_from_row).transpose()
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

    async fn add_feedback(&self, f: &Feedback) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO feedback (call_id, analysis_id, user_id, user_name, choice, created_at)
             VALUES (?, (SELECT id FROM analyses WHERE call_id = ? AND is_current = 1 ORDER BY id DESC LIMIT 1),
                     ?, ?, ?, ?)",
        )
        .bind(f.call_id)
        .bind(f.call_id)
        .bind(f.user_id)
        .bind(&f.user_name)
        .bind(f.choice.as_str())
        .bind(rfc3339(f.created_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE calls SET last_feedback = ? WHERE id = ?")
            .bind(f.choice.as_str())
            .bind(f.call_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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
                    choice: choice(&r.try_get::<String, _>("choice")?)?,
                    created_at: parse_time(&created)?,
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
}
