//! SQLite: the voice agent: turn timings, a call's chat, the do-not-call list, rehearsals.

use async_trait::async_trait;
use chrono::Utc;

use super::{rfc3339, SqliteStore};
use crate::domain::PhoneNumber;
use crate::store::fold::{do_not_call_entry, turn_timing, TurnRow};
use crate::store::AgentStore;
use crate::store::StoreError;

#[async_trait]
impl AgentStore for SqliteStore {
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
                "INSERT INTO agent_turns (call_id, turn, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms, stt_vendor, speech_ms, stt_fallback, tts_vendor, tts_chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            .bind(&t.stt_vendor)
            .bind(t.speech_ms)
            .bind(t.stt_fallback)
            .bind(&t.tts_vendor)
            .bind(t.tts_chars)
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
        let rows: Vec<TurnRow> = sqlx::query_as(
            "SELECT turn, caller_end_ms, stt_done_ms, llm_first_token_ms, first_sentence_ms, tts_first_byte_ms, first_audio_ms, barge_in_ms, stt_vendor, speech_ms, stt_fallback, tts_vendor, tts_chars FROM agent_turns WHERE call_id = ? ORDER BY turn",
        )
        .bind(call_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(turn_timing).collect())
    }

    async fn agent_turns_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::domain::TurnTiming>, StoreError> {
        let rows: Vec<TurnRow> = sqlx::query_as(
            "SELECT t.turn, t.caller_end_ms, t.stt_done_ms, t.llm_first_token_ms, t.first_sentence_ms, t.tts_first_byte_ms, t.first_audio_ms, t.barge_in_ms, t.stt_vendor, t.speech_ms, t.stt_fallback, t.tts_vendor, t.tts_chars FROM agent_turns t JOIN calls c ON c.id = t.call_id
             WHERE c.started_at >= ? AND c.started_at < ? ORDER BY t.call_id, t.turn",
        )
        .bind(crate::store::sqlite::rfc3339(from))
        .bind(crate::store::sqlite::rfc3339(to))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(turn_timing).collect())
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

    async fn add_do_not_call(&self, phone: &PhoneNumber, reason: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("INSERT INTO do_not_call (phone, reason, created_at) VALUES (?, ?, ?) ON CONFLICT (phone) DO NOTHING")
            .bind(phone.as_str())
            .bind(reason);
        let q = q.bind(rfc3339(Utc::now()));
        let done = q.execute(&self.writer).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_do_not_call(&self, phone: &PhoneNumber) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT phone FROM do_not_call WHERE phone = ?")
                .bind(phone.as_str())
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn remove_do_not_call(&self, phone: &PhoneNumber) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM do_not_call WHERE phone = ?")
            .bind(phone.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_do_not_call(
        &self,
        limit: i64,
    ) -> Result<(Vec<crate::store::DoNotCallEntry>, i64), StoreError> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM do_not_call")
            .fetch_one(&self.reader)
            .await?;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT phone, reason, created_at FROM do_not_call
             ORDER BY created_at DESC, phone LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let entries = rows
            .into_iter()
            .map(|(p, reason, at)| {
                let added_at = chrono::DateTime::parse_from_rfc3339(&at)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default();
                do_not_call_entry((p, reason, added_at))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((entries, total))
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
}
