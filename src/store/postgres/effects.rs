//! PostgreSQL: side effects outside the process (effect claims) and the Telegram posts made for jobs.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::domain::PostKind;
use crate::store::types::{join_ids, split_ids};
use crate::store::EffectStore;
use crate::store::{EffectClaim, StoreError, TelegramPost};

#[async_trait]
impl EffectStore for PgStore {
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
                kind: post_kind(&r.try_get::<String, _>("kind")?)?,
                chat_id: r.try_get("chat_id")?,
                message_id: r.try_get("message_id")?,
                extra_ids: split_ids(&extra),
            })
        })
        .transpose()
    }

    async fn message_kinds(
        &self,
        call_id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> Result<Vec<PostKind>, StoreError> {
        let kinds: Vec<String> = sqlx::query_scalar(
            "SELECT kind FROM telegram_posts WHERE call_id = $1 AND chat_id = $2 AND message_id = $3",
        )
        .bind(call_id)
        .bind(chat_id)
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        kinds.iter().map(|k| post_kind(k)).collect()
    }

    async fn record_telegram_post(&self, post: &TelegramPost) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO telegram_posts (post_key, call_id, kind, chat_id, message_id, extra_ids)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_key) DO NOTHING",
        )
        .bind(&post.post_key)
        .bind(post.call_id)
        .bind(post.kind.as_str())
        .bind(post.chat_id)
        .bind(post.message_id)
        .bind(join_ids(&post.extra_ids))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn post_kind(s: &str) -> Result<PostKind, StoreError> {
    PostKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("post kind {s:?}")))
}
