//! PostgreSQL: users and roles, chat settings (language, time zone, digest), number profiles.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::domain::Role;
use crate::store::ChatStore;
use crate::store::{DigestSchedule, StoreError, User};

#[async_trait]
impl ChatStore for PgStore {
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

    async fn first_sight_of_update(&self, update_id: i64) -> Result<bool, StoreError> {
        if update_id % PRUNE_EVERY == 0 {
            sqlx::query("DELETE FROM telegram_updates WHERE seen_at < now() - interval '2 days'")
                .execute(&self.pool)
                .await?;
        }
        let r = sqlx::query(
            "INSERT INTO telegram_updates (update_id) VALUES ($1) ON CONFLICT DO NOTHING",
        )
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// One update in this many prunes those seen more than two days ago.
const PRUNE_EVERY: i64 = 500;
